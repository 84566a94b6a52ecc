//! The WebSocket API at `/ws`, behaving like API Gateway's.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{
    CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::events::{self, ConnectionContext};
use crate::invoke::Function;
use crate::{Gateway, OpenConnection, Outbound};

/// API Gateway's close code for a message over the size limit.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// API Gateway's close code for the idle timeout and the maximum connection time.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// API Gateway's close code for a binary frame on a text API.
pub const CLOSE_UNSUPPORTED: u16 = 1003;
/// Ours for a client that reads no frames while more than
/// [`crate::MAX_QUEUED_BYTES`] wait for it (policy violation).
pub const CLOSE_NOT_READING: u16 = 1008;
/// How long the last queued frames and the close frame may take to go out.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Each socket's read buffer. The library's default (128 KiB, allocated up front)
/// made a thousand idle sockets cost 140 MB; chat frames are a few hundred bytes,
/// and a larger message is still read whole, in several reads.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

fn status_of(response: &Value) -> u16 {
    response
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(500)
}

/// `GET /ws`: runs `$connect` before upgrading; a refusal is answered with its
/// status and no upgrade, as API Gateway does. A plain GET (no upgrade) that the
/// `connect` function accepts is answered 426 and disconnected again, so a client
/// can check a token without opening a socket.
pub async fn upgrade(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let now = Timestamp::now();
    let Ok(connection_id) = events::connection_id() else {
        error!("the operating system's random source failed");
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error").into_response();
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let ctx = ConnectionContext {
        connection_id,
        domain_name: gw.domain.clone(),
        stage: gw.options.stage.clone(),
        api_id: "local".into(),
        connected_at_ms: now.as_millisecond(),
        source_ip: peer.ip().to_string(),
        user_agent: header("user-agent"),
    };
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        query.entry(k).or_default().push(v);
    }
    let event = events::connect(&ctx, &header_pairs, &query, now);
    let (status, body) = match gw.invoker.invoke(Function::CONNECT, event).await {
        Ok(response) => {
            let body = response
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            (status_of(&response), body)
        }
        Err(e) => {
            error!(error = %e, "the connect function failed");
            (500, "Internal server error".to_string())
        }
    };
    if !(200..300).contains(&status) {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (code, body).into_response();
    }
    match ws {
        Ok(ws) => {
            // The connection exists for `@connections` from the moment `$connect`
            // accepted it, as in API Gateway: a push that comes before the socket's
            // task runs waits in its queue instead of finding it gone (which would
            // make the functions forget it).
            let opened = Timestamp::now();
            let (connection, rx) =
                OpenConnection::new(opened, ctx.source_ip.clone(), ctx.user_agent.clone());
            gw.connections()
                .insert(ctx.connection_id.clone(), connection);
            let (failed_gw, failed_ctx) = (gw.clone(), ctx.clone());
            // The limit is ours to enforce with API Gateway's close code, so the
            // library's own limit sits well above it.
            let library_limit = gw.options.max_message_bytes.saturating_mul(4);
            ws.max_message_size(library_limit)
                .max_frame_size(library_limit)
                .read_buffer_size(READ_BUFFER_BYTES)
                .on_failed_upgrade(move |e| {
                    warn!(connection = %failed_ctx.connection_id, error = %e, "the WebSocket upgrade failed");
                    failed_gw.connections().remove(&failed_ctx.connection_id);
                    tokio::spawn(async move {
                        disconnect(&failed_gw, &failed_ctx, 1006, "upgrade failed").await;
                    });
                })
                .on_upgrade(move |socket| run(gw, ctx, socket, rx, opened))
        }
        Err(_) => {
            disconnect(&gw, &ctx, 1000, "not a WebSocket upgrade").await;
            (StatusCode::UPGRADE_REQUIRED, "connect with a WebSocket").into_response()
        }
    }
}

async fn disconnect(gw: &Gateway, ctx: &ConnectionContext, code: u16, reason: &str) {
    let event = events::disconnect(ctx, code, reason, Timestamp::now());
    if let Err(e) = gw.invoker.invoke(Function::CONNECT, event).await {
        error!(connection = %ctx.connection_id, error = %e, "the $disconnect invocation failed");
    }
}

/// One connection's life: messages in order, each invoked on its route; the limits;
/// `$disconnect` at the end, whoever closed.
async fn run(
    gw: Arc<Gateway>,
    ctx: ConnectionContext,
    socket: WebSocket,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
    opened: Timestamp,
) {
    let id = ctx.connection_id.clone();
    let (mut sink, mut stream) = socket.split();
    let Some(connection) = gw.connections().get(&id).cloned() else {
        // Closed by a DELETE before the socket got here: what was queued goes out,
        // its close frame last.
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, forward(&mut rx, &mut sink, None)).await;
        disconnect(&gw, &ctx, 1000, "closed by the server").await;
        return;
    };
    let tx = connection.tx.clone();
    info!(connection = %id, "connected");
    let queued = connection.queued.clone();
    let writer = tokio::spawn(async move { forward(&mut rx, &mut sink, Some(&queued)).await });

    let limits = &gw.options;
    let hard_deadline = tokio::time::Instant::now() + limits.max_connection;
    let (code, reason) = loop {
        let idle_for = {
            let last = gw.connections().get(&id).map_or(opened, |c| c.last_active);
            let elapsed = Timestamp::now().duration_since(last).unsigned_abs();
            limits.idle_timeout.saturating_sub(elapsed)
        };
        tokio::select! {
            incoming = stream.next() => match incoming {
                None | Some(Err(_)) => break (1006, "connection lost".to_string()),
                Some(Ok(Message::Close(frame))) => {
                    break frame.map_or((1005, String::new()), |f| (f.code, f.reason.to_string()));
                }
                Some(Ok(Message::Text(text))) => {
                    if text.len() > limits.max_message_bytes {
                        let _ = tx.send(Outbound::Close(CLOSE_TOO_BIG, "Message too big".into()));
                        break (CLOSE_TOO_BIG, "Message too big".to_string());
                    }
                    gw.touch(&id);
                    on_message(&gw, &ctx, text.as_str(), false).await;
                }
                Some(Ok(Message::Binary(_))) => {
                    // A WebSocket API whose routes take text closes on a binary frame.
                    let _ = tx.send(Outbound::Close(CLOSE_UNSUPPORTED, "Unsupported data".into()));
                    break (CLOSE_UNSUPPORTED, "binary frame".to_string());
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => gw.touch(&id),
            },
            () = tokio::time::sleep(idle_for) => {
                let still_idle = gw.connections().get(&id).is_none_or(|c| {
                    Timestamp::now().duration_since(c.last_active).unsigned_abs() >= limits.idle_timeout
                });
                if still_idle {
                    let _ = tx.send(Outbound::Close(CLOSE_GOING_AWAY, "Going away".into()));
                    break (CLOSE_GOING_AWAY, "idle timeout".to_string());
                }
            }
            () = connection.overflow.notified() => {
                warn!(connection = %id, "closing a connection that reads no frames");
                break (CLOSE_NOT_READING, "the client reads no frames".to_string());
            }
            () = tokio::time::sleep_until(hard_deadline) => {
                let _ = tx.send(Outbound::Close(CLOSE_GOING_AWAY, "Going away".into()));
                break (CLOSE_GOING_AWAY, "maximum connection duration".to_string());
            }
        }
    };
    gw.connections().remove(&id);
    if code == CLOSE_NOT_READING {
        // The socket is full: neither the queue nor a close frame can go out.
        writer.abort();
    } else {
        drop(tx);
        drop(connection);
        let abort = writer.abort_handle();
        if tokio::time::timeout(FLUSH_TIMEOUT, writer).await.is_err() {
            abort.abort();
        }
    }
    info!(connection = %id, code, reason = %reason, "disconnected");
    disconnect(&gw, &ctx, code, &reason).await;
}

/// Sends the queued frames down the socket until a close frame, a send error, or
/// the end of the queue.
async fn forward(
    rx: &mut mpsc::UnboundedReceiver<Outbound>,
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    queued: Option<&std::sync::atomic::AtomicUsize>,
) {
    while let Some(out) = rx.recv().await {
        match out {
            Outbound::Text(text) => {
                let len = text.len();
                let sent = sink.send(Message::Text(text.into())).await;
                if let Some(q) = queued {
                    q.fetch_sub(len, std::sync::atomic::Ordering::AcqRel);
                }
                if sent.is_err() {
                    break;
                }
            }
            Outbound::Close(code, reason) => {
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
        }
    }
}

async fn on_message(gw: &Gateway, ctx: &ConnectionContext, body: &str, is_base64: bool) {
    // As API Gateway selects on `$request.body.action`, with the template's routes.
    let (route, function) = livechat_aws::topology::select_route(body);
    let event = events::message(ctx, &route, body, is_base64, Timestamp::now());
    match gw.invoker.invoke(function, event).await {
        Ok(response) if status_of(&response) >= 500 => {
            warn!(connection = %ctx.connection_id, route = %route, "the integration answered an error");
        }
        Ok(_) => {}
        Err(e) => {
            error!(connection = %ctx.connection_id, route = %route, error = %e, "integration failed");
            // API Gateway tells the client when its integration fails.
            let frame = r#"{"message": "Internal server error", "connectionId":"#.to_string()
                + &serde_json::to_string(&ctx.connection_id).unwrap_or_default()
                + "}";
            if let Some(c) = gw.connections().get(&ctx.connection_id) {
                c.send_text(frame);
            }
        }
    }
}
