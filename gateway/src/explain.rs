//! `POST /explain`: "who would get this visitor right now, and why?" answered by a
//! running local gateway, whose in-memory store no other process can read: the
//! router's own choice ([`livechat_core::routing::explain`]) over the gateway's
//! stored directory (or a configuration sent with the question, not applied) and
//! the presence, loads, toggles and cursors its store holds. Claims nothing.
//!
//! Asked as an agent, as `livechat report --gateway` asks: the request carries an
//! agent token (`Authorization: Bearer`) signed with the gateway's key, whose agent
//! the stored directory gives the routing permission (a Sales Admin), since the
//! answer names every agent's status and load. Only under the gateway's own Host
//! (no DNS rebinding) and, when a browser sends an `Origin`, only from the
//! gateway's own pages. [`ask`] is the client `livechat explain --gateway` uses.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use livechat_core::domain::{Attributes, CardId, DialogId, Permission, RoutingMode};
use livechat_core::routing::{Directory, Trace};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Gateway;
use crate::invoke::Invoker;

/// The largest question accepted, in bytes (a larger body is refused with 413
/// before it is read whole): a configuration is stored as one DynamoDB item of at
/// most 400 KB, with room for the visitor.
pub const MAX_REQUEST_BYTES: usize = 512 * 1024;

/// The most visitor attributes a question may carry (as many as a session keeps).
pub const MAX_ATTRIBUTES: usize = livechat_core::limits::MAX_SESSION_ATTRIBUTES;

/// The question.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// The visitor's attributes.
    pub visitor: Attributes,
    /// The moment to judge availability at; the gateway's clock's now when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<jiff::Timestamp>,
    /// The dialog whose card to route by; the first when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialog: Option<DialogId>,
    /// The live chat card to route by; the dialog's first when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardId>,
    /// A configuration to try instead of the stored one (validated again here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Directory>,
}

/// The answer: the card routed by, its routing, and the trace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExplainAnswer {
    /// The live chat card whose routing was used.
    pub card: CardId,
    /// Its routing.
    pub mode: RoutingMode,
    /// Each pool tried, each agent's verdict, the outcome.
    pub trace: Trace,
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "message": message.into() }))).into_response()
}

/// The caller's refusal, if any: Host, Origin, then the token (at `now`, the
/// functions' clock, as at `$connect`) and its agent's permission in `directory`
/// (the stored one).
fn refusal(
    gw: &Gateway,
    headers: &HeaderMap,
    directory: &Directory,
    now: jiff::Timestamp,
) -> Option<Response> {
    let text = |name| headers.get(name).and_then(|h| h.to_str().ok());
    if !crate::management::is_own_host(gw.listen_addr(), text(header::HOST).unwrap_or("")) {
        return Some(refuse(
            StatusCode::FORBIDDEN,
            "the Host is not this gateway",
        ));
    }
    if let Some(origin) = text(header::ORIGIN) {
        let own = crate::own_origins(gw.listen_addr());
        if !own.iter().any(|o| o.as_str() == origin) {
            return Some(refuse(
                StatusCode::FORBIDDEN,
                "not from the gateway's own pages",
            ));
        }
    }
    let Some(token) = text(header::AUTHORIZATION).and_then(|a| a.strip_prefix("Bearer ")) else {
        return Some(refuse(
            StatusCode::UNAUTHORIZED,
            "an agent token is needed (Authorization: Bearer)",
        ));
    };
    let verifier = livechat_core::auth::AgentVerifier::hs256(
        crate::LOCAL_AGENT_SECRET.as_bytes(),
        crate::LOCAL_ISSUER,
        crate::LOCAL_AUDIENCE,
    );
    let agent = match verifier.verify(token, now) {
        Ok(agent) => agent,
        Err(e) => return Some(refuse(StatusCode::UNAUTHORIZED, e.to_string())),
    };
    let may = directory
        .agent(&agent)
        .is_some_and(|a| a.has_permission(Permission::ManageRouting));
    if !may {
        return Some(refuse(
            StatusCode::FORBIDDEN,
            "only a Sales Admin may ask why routing decides as it does",
        ));
    }
    None
}

/// `POST /explain`: the body is an [`ExplainRequest`], the answer an
/// [`ExplainAnswer`]; refusals are JSON `{message}` with 400, 401, 403, 422 (no
/// live chat card to route by), 500 (the store failed) or 501 (the functions run
/// out of process: their store is theirs to read, `--table`).
pub async fn explain(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let chat = match &gw.invoker {
        Invoker::InProcess(chat) => chat.clone(),
        Invoker::Echo(_) | Invoker::LambdaApi { .. } => {
            return refuse(
                StatusCode::NOT_IMPLEMENTED,
                "the functions run out of process: ask their table (livechat explain --table)",
            );
        }
    };
    let ports = chat.ports();
    let stored = match ports.store.directory().await {
        Ok(directory) => directory,
        Err(e) => {
            tracing::error!(error = %livechat_core::service::cause_chain(&e), "explain: the directory could not be read");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "the store failed");
        }
    };
    if let Some(refused) = refusal(&gw, &headers, &stored, ports.clock.now()) {
        return refused;
    }
    let request: ExplainRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if request.visitor.iter().count() > MAX_ATTRIBUTES {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!("at most {MAX_ATTRIBUTES} visitor attributes"),
        );
    }
    let directory = match request.config {
        Some(config) => match config.validate() {
            Ok(()) => config,
            Err(errors) => {
                let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                return refuse(StatusCode::BAD_REQUEST, errors.join("; "));
            }
        },
        None => stored,
    };
    let (card, mode) = match livechat_core::routing::card_routing(
        &directory,
        request.dialog.as_ref(),
        request.card.as_ref(),
    ) {
        Ok(found) => found,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let at = request.at.unwrap_or_else(|| ports.clock.now());
    match livechat_core::routing::explain(&*ports.store, &directory, &mode, &request.visitor, at)
        .await
    {
        Ok(trace) => Json(ExplainAnswer { card, mode, trace }).into_response(),
        Err(e) => {
            tracing::error!(error = %livechat_core::service::cause_chain(&e), "explain: the store could not be read");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "the store failed")
        }
    }
}

/// Why a running gateway did not answer.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("could not reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the gateway refused ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the gateway's answer is not an explanation: {0}")]
    Answer(String),
}

/// `POST /explain` of the gateway at `gateway`: its base URL (`http://127.0.0.1:8080`)
/// or its WebSocket URL (`ws://127.0.0.1:8080/ws`, as `livechat report --gateway`
/// takes it), asked as the agent `token` names.
pub async fn ask(
    gateway: &str,
    token: &str,
    request: &ExplainRequest,
) -> Result<ExplainAnswer, AskError> {
    let url = explain_url(gateway);
    let connect = |e: reqwest::Error| AskError::Connect {
        url: url.clone(),
        reason: e.to_string(),
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(connect)?;
    let response = client
        .post(&url)
        .bearer_auth(token)
        .json(request)
        .send()
        .await
        .map_err(connect)?;
    let status = response.status();
    let body = response.bytes().await.map_err(connect)?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        return Err(AskError::Refused {
            status: status.as_u16(),
            message,
        });
    }
    serde_json::from_slice(&body).map_err(|e| AskError::Answer(e.to_string()))
}

/// The `/explain` URL of a gateway given by its base or WebSocket URL.
pub fn explain_url(gateway: &str) -> String {
    let base = gateway.trim_end_matches('/');
    let base = base.strip_suffix("/ws").unwrap_or(base);
    let base = match base.split_once("://") {
        Some(("ws", rest)) => format!("http://{rest}"),
        Some(("wss", rest)) => format!("https://{rest}"),
        _ => base.to_string(),
    };
    format!("{base}/explain")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_explain_url_comes_from_the_gateways_base_or_websocket_url() {
        for given in [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "ws://127.0.0.1:8080/ws",
        ] {
            assert_eq!(
                super::explain_url(given),
                "http://127.0.0.1:8080/explain",
                "{given}"
            );
        }
        assert_eq!(
            super::explain_url("wss://chat.example/ws"),
            "https://chat.example/explain"
        );
    }
}
