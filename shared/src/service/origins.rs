//! Which pages may open sockets, by the `Origin` header of the upgrade request: the
//! Agent Inbox's only from the inbox's origin; visitors' from the sites the account
//! allows (`settings.allowed_origins`) and the chat's own pages (the inbox's origin,
//! which serves the demo page too), or from any site while the account lists none.
//! A request with no `Origin` is not a browser's (a browser always sends one on a
//! WebSocket upgrade) and is accepted: the check keeps other sites' pages from using
//! a visitor's or an agent's browser, it does not authenticate clients.

use crate::domain::Origin;

/// Who a socket is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opener {
    Visitor,
    Agent,
}

/// Whether a socket for `opener` whose request carried `origin` is accepted.
/// `inbox`: the inbox's origins, `None` when the process was given none (a local
/// run only: then any origin may open an inbox socket). `allowed`: the account's
/// `settings.allowed_origins`.
pub(crate) fn accepts(
    origin: Option<&str>,
    opener: Opener,
    inbox: Option<&[Origin]>,
    allowed: Option<&[Origin]>,
) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    // `null` (a sandboxed frame, a file) and anything else unparseable match nothing.
    let origin = Origin::parse(origin.trim()).ok();
    let listed = |list: &[Origin]| origin.as_ref().is_some_and(|o| list.contains(o));
    match opener {
        Opener::Agent => inbox.is_none_or(listed),
        Opener::Visitor => allowed.is_none_or(|a| listed(a) || inbox.is_some_and(listed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> Vec<Origin> {
        list.iter().map(|o| Origin::parse(o).unwrap()).collect()
    }

    #[test]
    fn an_agent_socket_is_accepted_only_from_the_inbox_or_without_an_origin() {
        let inbox = origins(&["https://d111.cloudfront.net"]);
        let inbox = Some(inbox.as_slice());
        let any_site = origins(&["https://evil.example"]);
        let agent = |origin| accepts(origin, Opener::Agent, inbox, Some(&any_site));
        assert!(agent(Some("https://d111.cloudfront.net")));
        assert!(agent(Some("https://D111.cloudfront.net:443")));
        assert!(agent(None));
        // The account's list is for visitors: it never opens the inbox.
        assert!(!agent(Some("https://evil.example")));
        assert!(!agent(Some("http://d111.cloudfront.net")));
        assert!(!agent(Some("null")));
        assert!(!agent(Some("")));
        // A process told no inbox origin (a local run) takes any.
        assert!(accepts(
            Some("https://evil.example"),
            Opener::Agent,
            None,
            None
        ));
    }

    #[test]
    fn a_visitor_socket_is_accepted_from_the_allowed_sites_and_the_chats_own_pages() {
        let inbox = origins(&["http://127.0.0.1:8080"]);
        let allowed = origins(&["https://www.acme.example", "https://acme.example"]);
        let visitor = |origin| {
            accepts(
                origin,
                Opener::Visitor,
                Some(inbox.as_slice()),
                Some(&allowed),
            )
        };
        assert!(visitor(Some("https://www.acme.example")));
        assert!(visitor(Some("https://acme.example")));
        assert!(visitor(Some("http://127.0.0.1:8080")));
        assert!(visitor(None));
        assert!(!visitor(Some("https://evil.example")));
        assert!(!visitor(Some("https://www.acme.example.evil.example")));
        assert!(!visitor(Some("http://www.acme.example")));
        assert!(!visitor(Some("https://www.acme.example:8443")));
        assert!(!visitor(Some("null")));

        // An empty list: only the chat's own pages and non-browser clients.
        let none: [Origin; 0] = [];
        let strict = |origin| accepts(origin, Opener::Visitor, Some(inbox.as_slice()), Some(&none));
        assert!(strict(Some("http://127.0.0.1:8080")));
        assert!(strict(None));
        assert!(!strict(Some("https://www.acme.example")));
    }

    #[test]
    fn with_no_list_a_visitor_socket_is_accepted_from_any_site() {
        let inbox = origins(&["http://127.0.0.1:8080"]);
        for origin in [Some("https://evil.example"), Some("null"), None] {
            assert!(accepts(
                origin,
                Opener::Visitor,
                Some(inbox.as_slice()),
                None
            ));
        }
    }
}
