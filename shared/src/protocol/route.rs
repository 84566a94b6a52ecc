//! Which route API Gateway selects for a body, and which function serves it.
//!
//! The WebSocket API's route selection expression is `$request.body.action`: a body
//! that is a JSON object with a string `action` goes to the route of that name, and
//! everything else (not JSON, no `action`, `action` not a string, or an action with
//! no route) goes to `$default`. Which function serves a route is the deployment's
//! business, not the protocol's (`livechat_aws::topology`).

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
