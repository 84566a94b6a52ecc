//! API Gateway WebSocket events, shaped as API Gateway sends them to Lambda: the
//! `requestContext` fields (`routeKey`, `eventType`, `connectionId`, `domainName`,
//! `stage`, `connectedAt`, `requestTimeEpoch`, `messageId`, `identity`…), headers
//! and query string on `$connect`, the body on messages.

use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// What stays the same for every event of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    /// API Gateway's connection id.
    pub connection_id: String,
    /// The API's domain (the gateway's host and port).
    pub domain_name: String,
    /// The stage name.
    pub stage: String,
    /// The API id.
    pub api_id: String,
    /// When the connection was opened, in milliseconds.
    pub connected_at_ms: i64,
    /// The client's address.
    pub source_ip: String,
    /// The client's `User-Agent`.
    pub user_agent: String,
}

/// A connection id in the style of API Gateway's (16 characters, base64-like), from
/// the operating system's random source: an id is the handle to a socket, so one
/// must not be guessable from the ids seen before.
pub fn connection_id() -> Result<String, getrandom::Error> {
    const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = crate::sigv4::random_token(15, URL_SAFE)?;
    id.push('=');
    Ok(id)
}

/// A request or message id in the style of API Gateway's: unique, not secret.
pub fn random_id(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id: String = (0..len - 1)
        .map(|_| CHARS[fastrand::usize(..CHARS.len())] as char)
        .collect();
    id.push('=');
    id
}

fn request_context(
    ctx: &ConnectionContext,
    route_key: &str,
    event_type: &str,
    now: Timestamp,
) -> Map<String, Value> {
    let mut rc = Map::new();
    rc.insert("routeKey".into(), json!(route_key));
    rc.insert("eventType".into(), json!(event_type));
    rc.insert("extendedRequestId".into(), json!(random_id(16)));
    rc.insert(
        "requestTime".into(),
        json!(now.strftime("%d/%b/%Y:%H:%M:%S %z").to_string()),
    );
    rc.insert("messageDirection".into(), json!("IN"));
    rc.insert("stage".into(), json!(ctx.stage));
    rc.insert("connectedAt".into(), json!(ctx.connected_at_ms));
    rc.insert("requestTimeEpoch".into(), json!(now.as_millisecond()));
    rc.insert(
        "identity".into(),
        json!({ "sourceIp": ctx.source_ip, "userAgent": ctx.user_agent }),
    );
    rc.insert("requestId".into(), json!(random_id(16)));
    rc.insert("domainName".into(), json!(ctx.domain_name));
    rc.insert("connectionId".into(), json!(ctx.connection_id));
    rc.insert("apiId".into(), json!(ctx.api_id));
    rc
}

/// The `$connect` event, with the upgrade request's headers and query string.
pub fn connect(
    ctx: &ConnectionContext,
    headers: &[(String, String)],
    query: &HashMap<String, Vec<String>>,
    now: Timestamp,
) -> Value {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in headers {
        single.insert(k.clone(), json!(v));
        match multi.get_mut(k) {
            Some(Value::Array(values)) => values.push(json!(v)),
            _ => {
                multi.insert(k.clone(), json!([v]));
            }
        }
    }
    let query_single: Map<String, Value> = query
        .iter()
        .filter_map(|(k, vs)| vs.last().map(|v| (k.clone(), json!(v))))
        .collect();
    let query_multi: Map<String, Value> =
        query.iter().map(|(k, vs)| (k.clone(), json!(vs))).collect();
    let mut event = json!({
        "headers": single,
        "multiValueHeaders": multi,
        "requestContext": request_context(ctx, "$connect", "CONNECT", now),
        "isBase64Encoded": false,
    });
    if !query_single.is_empty() {
        event["queryStringParameters"] = Value::Object(query_single);
        event["multiValueQueryStringParameters"] = Value::Object(query_multi);
    }
    event
}

/// A message event on `route_key`.
pub fn message(
    ctx: &ConnectionContext,
    route_key: &str,
    body: &str,
    is_base64: bool,
    now: Timestamp,
) -> Value {
    let mut rc = request_context(ctx, route_key, "MESSAGE", now);
    rc.insert("messageId".into(), json!(random_id(16)));
    json!({ "requestContext": rc, "body": body, "isBase64Encoded": is_base64 })
}

/// The `$disconnect` event, with the close code and reason.
pub fn disconnect(
    ctx: &ConnectionContext,
    status_code: u16,
    reason: &str,
    now: Timestamp,
) -> Value {
    let mut rc = request_context(ctx, "$disconnect", "DISCONNECT", now);
    rc.insert("disconnectStatusCode".into(), json!(status_code));
    rc.insert("disconnectReason".into(), json!(reason));
    json!({
        "headers": { "Host": ctx.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": "" },
        "multiValueHeaders": {},
        "requestContext": rc,
        "isBase64Encoded": false,
    })
}

/// An SQS event delivering `bodies` (one record each), as the delay queue would.
pub fn sqs(bodies: &[String], now: Timestamp) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|body| {
            json!({
                "messageId": livechat_core::domain::new_ulid(),
                "receiptHandle": random_id(32),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now.as_millisecond().to_string(),
                    "ApproximateFirstReceiveTimestamp": now.as_millisecond().to_string(),
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:local:000000000000:livechat-delays",
                "awsRegion": "local",
            })
        })
        .collect();
    json!({ "Records": records })
}
