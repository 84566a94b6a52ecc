//! The deployment's topology, in one table: which Lambda function serves which
//! WebSocket route. The core names the actions ([`VisitorFrame::ACTIONS`],
//! [`AgentFrame::ACTIONS`]) and knows nothing of functions; the template declares
//! these routes (a test compares them), the local gateway invokes by them, and each
//! function refuses a route it does not serve.
//!
//! Only the dialog's routes are listed by name: every other client action, and
//! `$default`, goes to `agent-message`, so a new action needs no entry here unless
//! another function is to serve it.

use livechat_core::protocol::{AgentFrame, RouteKey, VisitorFrame, route_key};

/// A Lambda function of the stack, and whether its IAM policy lets it post to
/// `@connections` (`execute-api:ManageConnections`; a test checks the template).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Function {
    /// The crate, binary and template name.
    pub name: &'static str,
    /// Whether it pushes frames. `connect` does not: API Gateway refuses posts
    /// inside `$connect`, and `$disconnect` has nobody to tell.
    pub pushes: bool,
}

impl Function {
    /// `$connect` and `$disconnect`.
    pub const CONNECT: Self = Self {
        name: "connect",
        pushes: false,
    };
    /// The visitor's dialog steps and the fallback form.
    pub const CARD_ADVANCE: Self = Self {
        name: "card-advance",
        pushes: true,
    };
    /// Routing requests and timers from the delay queue (no WebSocket route).
    pub const ROUTE_TO_AGENT: Self = Self {
        name: "route-to-agent",
        pushes: true,
    };
    /// Chat messages, agent actions and `$default`.
    pub const AGENT_MESSAGE: Self = Self {
        name: "agent-message",
        pushes: true,
    };
    /// The table's stream: the analytics' sheets and counters, and the live view
    /// it pushes (no WebSocket route).
    pub const ANALYTICS: Self = Self {
        name: "analytics",
        pushes: true,
    };
    /// Every function the template deploys.
    pub const ALL: [Self; 5] = [
        Self::CONNECT,
        Self::CARD_ADVANCE,
        Self::ROUTE_TO_AGENT,
        Self::AGENT_MESSAGE,
        Self::ANALYTICS,
    ];

    /// Whether this function serves the WebSocket route `route` (a route key as
    /// API Gateway sends it in `requestContext.routeKey`).
    pub fn serves(self, route: &str) -> bool {
        serving(route) == Some(self)
    }
}

/// The routes `card-advance` serves: the visitor's dialog steps and fallback form.
pub const CARD_ADVANCE_ROUTES: [&str; 4] = ["start", "answer", "submit", "leave_details"];

/// The connection's own routes, served by `connect`.
pub const CONNECTION_ROUTES: [&str; 2] = ["$connect", "$disconnect"];

/// The function serving `route`: `None` for a key that is no route of the API (an
/// action nobody declared goes to `$default` before any function sees it).
pub fn serving(route: &str) -> Option<Function> {
    if CONNECTION_ROUTES.contains(&route) {
        Some(Function::CONNECT)
    } else if CARD_ADVANCE_ROUTES.contains(&route) {
        Some(Function::CARD_ADVANCE)
    } else if route == RouteKey::DEFAULT || is_action(route) {
        Some(Function::AGENT_MESSAGE)
    } else {
        None
    }
}

fn is_action(route: &str) -> bool {
    VisitorFrame::ACTIONS.contains(&route) || AgentFrame::ACTIONS.contains(&route)
}

/// Every route the WebSocket API declares, with its function, in a stable order:
/// the connection's, the client actions (each once, visitor's first), `$default`.
pub fn routes() -> Vec<(&'static str, Function)> {
    let mut keys: Vec<&'static str> = CONNECTION_ROUTES.to_vec();
    for action in VisitorFrame::ACTIONS
        .iter()
        .chain(AgentFrame::ACTIONS.iter())
    {
        if !keys.contains(action) {
            keys.push(action);
        }
    }
    keys.push(RouteKey::DEFAULT);
    keys.into_iter()
        .filter_map(|key| serving(key).map(|f| (key, f)))
        .collect()
}

/// The route API Gateway selects for a message body, and the function it invokes:
/// the body's `action` when a route of that name exists, `$default` otherwise.
pub fn select_route(body: &str) -> (String, Function) {
    match route_key(body) {
        RouteKey::Action(action) => match serving(&action) {
            Some(function) if !CONNECTION_ROUTES.contains(&action.as_str()) => (action, function),
            _ => (RouteKey::DEFAULT.to_string(), Function::AGENT_MESSAGE),
        },
        RouteKey::Default => (RouteKey::DEFAULT.to_string(), Function::AGENT_MESSAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_action_has_exactly_one_function_and_dialog_steps_go_to_card_advance() {
        for action in VisitorFrame::ACTIONS
            .iter()
            .chain(AgentFrame::ACTIONS.iter())
        {
            let serving: Vec<_> = Function::ALL.iter().filter(|f| f.serves(action)).collect();
            assert_eq!(serving.len(), 1, "{action}: {serving:?}");
        }
        assert!(Function::CARD_ADVANCE.serves("answer"));
        assert!(Function::AGENT_MESSAGE.serves("send_message"));
        assert!(Function::AGENT_MESSAGE.serves("$default"));
        assert!(Function::CONNECT.serves("$disconnect"));
        assert!(!Function::CARD_ADVANCE.serves("accept"));
        assert!(!Function::AGENT_MESSAGE.serves("start"));
        assert!(!Function::ROUTE_TO_AGENT.serves("$default"));
        assert_eq!(serving("no_such_route"), None);
    }

    #[test]
    fn a_body_goes_to_its_actions_route_or_to_default() {
        assert_eq!(
            select_route(r#"{"action":"submit"}"#),
            ("submit".to_string(), Function::CARD_ADVANCE)
        );
        assert_eq!(
            select_route(r#"{"action":"sync"}"#),
            ("sync".to_string(), Function::AGENT_MESSAGE)
        );
        for body in [
            r#"{"action":"nope"}"#,
            "not json",
            r#"{"action":"$connect"}"#,
        ] {
            assert_eq!(
                select_route(body),
                ("$default".to_string(), Function::AGENT_MESSAGE),
                "{body}"
            );
        }
    }

    #[test]
    fn the_routes_list_each_key_once_with_connect_first_and_default_last() {
        let routes = routes();
        let keys: Vec<&str> = routes.iter().map(|(k, _)| *k).collect();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), keys.len());
        assert_eq!(keys[..2], ["$connect", "$disconnect"]);
        assert_eq!(keys.last(), Some(&"$default"));
    }
}
