//! The `@connections` management API, at `/{stage}/@connections/{id}` (and without
//! the stage): POST sends the body to the connection, GET describes it, DELETE
//! closes it; an unknown connection is 410 Gone, as API Gateway answers. The
//! handlers' real `aws-sdk-apigatewaymanagement` client is pointed here unchanged.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

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

/// `POST`: sends the body as one text frame.
pub async fn post(State(gw): State<Arc<Gateway>>, Path(id): Path<String>, body: Bytes) -> Response {
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
        Some(c) => c.tx.send(Outbound::Text(text)).is_ok(),
        None => false,
    };
    if !sent {
        return gone_response();
    }
    gw.touch(&id);
    StatusCode::OK.into_response()
}

/// `GET`: when the connection opened, its last activity, and the client's identity.
pub async fn info(State(gw): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    match gw.connections().get(&id) {
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
pub async fn delete(State(gw): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    // Gone at once for the API, as in API Gateway; the socket closes behind it.
    let removed = gw.connections().remove(&id);
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
    body: Bytes,
) -> Response {
    post(gw, Path(id), body).await
}

/// `GET` with the stage in the path.
pub async fn staged_info(
    gw: State<Arc<Gateway>>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    info(gw, Path(id)).await
}

/// `DELETE` with the stage in the path.
pub async fn staged_delete(
    gw: State<Arc<Gateway>>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    delete(gw, Path(id)).await
}
