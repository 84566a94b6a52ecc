//! Which route API Gateway selects for a body, and which function serves it.
//!
//! The WebSocket API's route selection expression is `$request.body.action`: a body
//! that is a JSON object with a string `action` goes to the route of that name, and
//! everything else (not JSON, no `action`, `action` not a string, or an action with
//! no route) goes to `$default`. The local gateway uses this to route exactly as API
//! Gateway does.

use std::fmt;

use serde_json::Value;

/// The route key API Gateway would select for a body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteKey {
    /// The body's string `action`, e.g. `send_message`.
    Action(String),
    /// `$default`: the body has no usable `action`.
    Default,
}

impl RouteKey {
    /// The name of the default route.
    pub const DEFAULT: &'static str = "$default";

    /// The key as API Gateway spells it.
    pub fn as_str(&self) -> &str {
        match self {
            RouteKey::Action(action) => action,
            RouteKey::Default => Self::DEFAULT,
        }
    }

    /// The function that serves this key with the routes the template declares
    /// ([`CARD_ADVANCE_ACTIONS`] and [`AGENT_MESSAGE_ACTIONS`]); an action with no
    /// route falls to `$default`, which `agent-message` serves.
    pub fn function(&self) -> Function {
        match self {
            RouteKey::Action(a) if CARD_ADVANCE_ACTIONS.contains(&a.as_str()) => {
                Function::CardAdvance
            }
            _ => Function::AgentMessage,
        }
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The route key for a body: its `action` when the body is a JSON object whose
/// `action` is a non-empty string, `$default` otherwise. The size limit is not
/// checked here: API Gateway refuses an oversized message before routing.
pub fn route_key(body: &str) -> RouteKey {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(mut fields)) => match fields.remove("action") {
            Some(Value::String(action)) if !action.is_empty() => RouteKey::Action(action),
            _ => RouteKey::Default,
        },
        _ => RouteKey::Default,
    }
}

/// A Lambda function that serves WebSocket routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// Visitor dialog steps and the fallback form.
    CardAdvance,
    /// Chat messages from both sides, agent actions, `ping`, and `$default` (which
    /// answers with an `error` frame).
    AgentMessage,
}

impl Function {
    /// The function's name: crate, binary and template resource name.
    pub fn name(self) -> &'static str {
        match self {
            Function::CardAdvance => "card-advance",
            Function::AgentMessage => "agent-message",
        }
    }
}

/// Routes served by `card-advance`: the visitor's dialog steps and fallback form.
pub const CARD_ADVANCE_ACTIONS: [&str; 4] = ["start", "answer", "submit", "leave_details"];

/// Routes served by `agent-message`. `send_message`, `typing` and `ping` come from
/// both visitors and agents: the handler tells them apart by the connection's party,
/// never by the frame.
pub const AGENT_MESSAGE_ACTIONS: [&str; 16] = [
    "send_message",
    "typing",
    "end_chat",
    "accept",
    "decline",
    "end_session",
    "set_availability",
    "score",
    "history",
    "ping",
    "sync",
    "missed",
    "pick_up",
    "past_chats",
    "reply_by_email",
    "renew_token",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{AgentFrame, VisitorFrame};

    #[test]
    fn a_json_object_with_a_string_action_routes_to_that_action() {
        assert_eq!(
            route_key(r#"{"action":"send_message","text":"hi"}"#),
            RouteKey::Action("send_message".into())
        );
    }

    #[test]
    fn a_body_that_is_not_json_routes_to_default() {
        assert_eq!(route_key("hello"), RouteKey::Default);
        assert_eq!(route_key(""), RouteKey::Default);
        assert_eq!(route_key("hello").as_str(), "$default");
    }

    #[test]
    fn json_without_an_action_routes_to_default() {
        assert_eq!(route_key(r#"{"text":"hi"}"#), RouteKey::Default);
        assert_eq!(route_key(r#"["action"]"#), RouteKey::Default);
        assert_eq!(route_key(r#"{"action":null}"#), RouteKey::Default);
    }

    #[test]
    fn an_action_that_is_not_a_string_routes_to_default() {
        assert_eq!(route_key(r#"{"action":1}"#), RouteKey::Default);
        assert_eq!(route_key(r#"{"action":{"x":1}}"#), RouteKey::Default);
        assert_eq!(route_key(r#"{"action":true}"#), RouteKey::Default);
    }

    #[test]
    fn every_client_action_has_a_route_and_dialog_steps_go_to_card_advance() {
        for action in VisitorFrame::ACTIONS
            .iter()
            .chain(AgentFrame::ACTIONS.iter())
        {
            assert!(
                CARD_ADVANCE_ACTIONS.contains(action) || AGENT_MESSAGE_ACTIONS.contains(action),
                "{action} has no route"
            );
        }
        let route = |a: &str| RouteKey::Action(a.into()).function();
        assert_eq!(route("answer"), Function::CardAdvance);
        assert_eq!(route("leave_details").name(), "card-advance");
        assert_eq!(route("send_message").name(), "agent-message");
        assert_eq!(route("no_such_route"), Function::AgentMessage);
        assert_eq!(RouteKey::Default.function(), Function::AgentMessage);
    }
}
