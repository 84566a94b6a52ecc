//! `$connect` by the page's `Origin`: visitor sockets from the sites the account
//! allows, inbox sockets from the inbox's origin, anything without an `Origin`.

use std::collections::HashMap;

use super::Harness;
use crate::domain::{ConnectionId, Origin};
use crate::ports::{Clock, Party};
use crate::service::ConnectError;

const INBOX: &str = "https://d111.cloudfront.net";

/// The demo account with `allowed` as its `allowed_origins`, its inbox at [`INBOX`].
fn harness(allowed: Option<&[&str]>) -> Harness {
    let allowed = allowed.map(|list| list.iter().map(|o| Origin::parse(o).unwrap()).collect());
    let mut h = Harness::with(|d| d.settings.allowed_origins = allowed);
    h.chat = h
        .chat
        .with_inbox_origins(vec![Origin::parse(INBOX).unwrap()]);
    h
}

/// Connects with `query` from a page of `origin`: the connection and the outcome.
async fn connect_from(
    h: &Harness,
    query: &[(&str, &str)],
    origin: Option<&str>,
) -> (ConnectionId, Result<Party, ConnectError>) {
    let id = h.new_connection();
    let query: HashMap<String, String> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let outcome = h.chat.connect(&id, &query, origin).await;
    (id, outcome)
}

async fn stored(h: &Harness, id: &ConnectionId) -> bool {
    let now = h.clock.now();
    h.chat
        .ports
        .store
        .connection(id, now)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_visitor_page_of_a_site_the_account_does_not_allow_is_refused_with_403_and_nothing_stored()
 {
    let h = harness(Some(&["https://www.acme.example"]));
    let (id, refused) = connect_from(&h, &[], Some("https://evil.example")).await;
    assert_eq!(refused.unwrap_err().status(), 403);
    assert!(!stored(&h, &id).await);

    // A resuming visitor too: the origin is checked before the token.
    let (id, refused) = connect_from(
        &h,
        &[("visitor_token", "not-checked")],
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(refused.unwrap_err().status(), 403);
    assert!(!stored(&h, &id).await);

    let (id, ok) = connect_from(&h, &[], Some("https://www.acme.example")).await;
    assert!(ok.is_ok());
    assert!(stored(&h, &id).await);

    // The chat's own pages, and clients that are not browsers.
    for origin in [Some(INBOX), None] {
        let (id, ok) = connect_from(&h, &[], origin).await;
        assert!(ok.is_ok(), "{origin:?}");
        assert!(stored(&h, &id).await);
    }
}

#[tokio::test]
async fn without_allowed_origins_a_visitor_page_of_any_site_is_accepted() {
    let h = harness(None);
    for origin in ["https://evil.example", "null"] {
        let (id, ok) = connect_from(&h, &[], Some(origin)).await;
        assert!(ok.is_ok(), "{origin}");
        assert!(stored(&h, &id).await);
    }
}

#[tokio::test]
async fn an_inbox_socket_is_accepted_only_from_the_inbox_origin() {
    // The account's list is the visitors': it never opens the inbox.
    let h = harness(Some(&["https://evil.example"]));
    let token = h.token("ana");
    let (id, refused) =
        connect_from(&h, &[("agent_token", &token)], Some("https://evil.example")).await;
    assert_eq!(refused.unwrap_err().status(), 403);
    assert!(!stored(&h, &id).await);

    for origin in [Some(INBOX), None] {
        let (id, ok) = connect_from(&h, &[("agent_token", &token)], origin).await;
        assert!(matches!(ok, Ok(Party::Agent { .. })), "{origin:?}: {ok:?}");
        assert!(stored(&h, &id).await);
    }
}
