//! The `@connections` management API, at `/{stage}/@connections/{id}` (and without
//! the stage): POST sends the body to the connection, GET describes it, DELETE
//! closes it; an unknown connection is 410 Gone, as API Gateway answers. The
//! handlers' real `aws-sdk-apigatewaymanagement` client is pointed here unchanged.
//!
//! As in AWS, only a request signed (SigV4) with the gateway's credentials is
//! served, and only with the gateway's own address as its Host: a web page can
//! neither sign nor (through DNS rebinding) reach it under another name. A refusal
//! is 403 with API Gateway's `x-amzn-ErrorType` and message.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::sigv4::{self, Refusal};
use crate::{Gateway, Outbound};

fn gone_response() -> Response {
    let mut r = (
        StatusCode::GONE,
        Json(json!({ "message": "GoneException" })),
    )
        .into_response();
    r.headers_mut().insert(
        "x-amzn-errortype",
        axum::http::HeaderValue::from_static("GoneException"),
    );
    r
}

fn forbidden(error_type: &'static str, message: String) -> Response {
    let mut r = (StatusCode::FORBIDDEN, Json(json!({ "message": message }))).into_response();
    r.headers_mut().insert(
        "x-amzn-errortype",
        axum::http::HeaderValue::from_static(error_type),
    );
    r
}

/// Whether `host` (a Host header) names this gateway: its listening address, or
/// `localhost` on its port. A gateway listening on every interface takes any IP
/// literal on its port, but never a DNS name, which a rebinding attack would use.
pub fn is_own_host(listen: std::net::SocketAddr, host: &str) -> bool {
    let Some((name, port)) = host.rsplit_once(':') else {
        return false;
    };
    if port.parse::<u16>().ok() != Some(listen.port()) {
        return false;
    }
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if name.eq_ignore_ascii_case("localhost") {
        return listen.ip().is_loopback() || listen.ip().is_unspecified();
    }
    match name.parse::<std::net::IpAddr>() {
        Ok(ip) => ip == listen.ip() || listen.ip().is_unspecified(),
        Err(_) => false,
    }
}

/// The request, as the handlers need it checked.
pub struct Signed {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Signed {
    /// The refusal of the request, if any: Host first, then the signature over
    /// method, path, headers and `body`.
    fn refusal(&self, gw: &Gateway, body: &[u8]) -> Option<Response> {
        let host = self
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !is_own_host(gw.listen_addr(), host) {
            return Some(forbidden(
                "ForbiddenException",
                "Forbidden: the Host is not this gateway".into(),
            ));
        }
        sigv4::verify(
            &gw.credentials,
            &self.method,
            &self.uri,
            &self.headers,
            body,
            jiff::Timestamp::now(),
        )
        .err()
        .map(|refusal: Refusal| forbidden(refusal.error_type(), refusal.to_string()))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Signed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
        })
    }
}

/// `POST`: sends the body as one text frame.
pub async fn post(
    gw: State<Arc<Gateway>>,
    Path(id): Path<String>,
    signed: Signed,
    body: Bytes,
) -> Response {
    push(gw, id, signed, body)
}

fn push(State(gw): State<Arc<Gateway>>, id: String, signed: Signed, body: Bytes) -> Response {
    if let Some(refused) = signed.refusal(&gw, &body) {
        return refused;
    }
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "message": "the data must be UTF-8 text" })),
        )
            .into_response();
    };
    if text.len() > gw.options.max_message_bytes {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(json!({ "message": "PayloadTooLargeException" })),
        )
            .into_response();
    }
    let sent = match gw.connections().get(&id) {
        Some(c) => c.send_text(text),
        None => false,
    };
    if !sent {
        return gone_response();
    }
    gw.touch(&id);
    StatusCode::OK.into_response()
}

/// `GET`: when the connection opened, its last activity, and the client's identity.
pub async fn info(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    signed: Signed,
) -> Response {
    describe(&gw, &id, &signed)
}

fn describe(gw: &Gateway, id: &str, signed: &Signed) -> Response {
    if let Some(refused) = signed.refusal(gw, b"") {
        return refused;
    }
    match gw.connections().get(id) {
        Some(c) => Json(json!({
            "connectedAt": c.connected_at.to_string(),
            "lastActiveAt": c.last_active.to_string(),
            "identity": { "sourceIp": c.source_ip, "userAgent": c.user_agent },
        }))
        .into_response(),
        None => gone_response(),
    }
}

/// `DELETE`: closes the connection (its `$disconnect` follows).
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    signed: Signed,
) -> Response {
    close(&gw, &id, &signed)
}

fn close(gw: &Gateway, id: &str, signed: &Signed) -> Response {
    if let Some(refused) = signed.refusal(gw, b"") {
        return refused;
    }
    // Gone at once for the API, as in API Gateway; the socket closes behind it.
    let removed = gw.connections().remove(id);
    match removed {
        Some(c) => {
            let _ =
                c.tx.send(Outbound::Close(1000, "closed by the server".into()));
            StatusCode::NO_CONTENT.into_response()
        }
        None => gone_response(),
    }
}

/// `POST` with the stage in the path.
pub async fn staged_post(
    gw: State<Arc<Gateway>>,
    Path((_, id)): Path<(String, String)>,
    signed: Signed,
    body: Bytes,
) -> Response {
    push(gw, id, signed, body)
}

/// `GET` with the stage in the path.
pub async fn staged_info(
    State(gw): State<Arc<Gateway>>,
    Path((_, id)): Path<(String, String)>,
    signed: Signed,
) -> Response {
    describe(&gw, &id, &signed)
}

/// `DELETE` with the stage in the path.
pub async fn staged_delete(
    State(gw): State<Arc<Gateway>>,
    Path((_, id)): Path<(String, String)>,
    signed: Signed,
) -> Response {
    close(&gw, &id, &signed)
}
