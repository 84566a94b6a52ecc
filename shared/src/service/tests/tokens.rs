//! Authorization over a connection's life: an agent's connection is held to its
//! token's expiry and to the agent's permissions frame by frame, and renewed on the
//! open socket; a visitor's token is replaced on every use, refused after a short
//! overlap, and revoked when the chat ends; the page URL is stored without its query.

use jiff::SignedDuration;
use serde_json::json;

use super::{Harness, accepted_by_ana, conversation_of, visitor_token};
use crate::auth::VISITOR_TOKEN_OVERLAP;
use crate::domain::{AgentId, ConnectionId, Role};
use crate::ports::Clock;

/// An agent connection opened with a token lasting `ttl`.
async fn agent_for(h: &Harness, agent: &str, ttl: SignedDuration) -> ConnectionId {
    let token = h
        .issuer
        .issue(&AgentId::parse(agent).unwrap(), h.clock.now(), ttl);
    let conn = h.connect(&[("agent_token", &token)]).await.unwrap();
    h.send(&conn, json!({"action": "sync"})).await;
    h.frames(&conn);
    conn
}

fn codes(frames: &[serde_json::Value]) -> Vec<String> {
    frames
        .iter()
        .map(|f| {
            f["code"]
                .as_str()
                .unwrap_or(f["type"].as_str().unwrap())
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_frame_after_the_agent_token_expires_gets_token_expired_and_the_connection_is_closed() {
    let h = Harness::new();
    let ana = agent_for(&h, "ana", SignedDuration::from_hours(1)).await;
    h.send(&ana, json!({"action": "ping"})).await;
    assert_eq!(h.types(&ana), ["pong"], "served while the token is valid");

    h.clock.advance(SignedDuration::from_mins(61));
    h.send(
        &ana,
        json!({"action": "set_availability", "available": false}),
    )
    .await;

    let frames = h.frames(&ana);
    assert_eq!(codes(&frames), ["token_expired"]);
    assert!(!h.push.is_open(&ana), "the server closed the connection");
}

#[tokio::test]
async fn an_agent_message_after_the_token_expires_is_refused_and_not_stored() {
    let h = Harness::new();
    let ana = agent_for(&h, "ana", SignedDuration::from_hours(1)).await;
    let (visitor, frames) = h.visitor_reaching_live_chat().await;
    let conversation = conversation_of(&frames);
    h.pump().await;
    h.send(
        &ana,
        json!({"action": "accept", "conversation": conversation}),
    )
    .await;
    h.frames(&ana);
    h.frames(&visitor);

    h.clock.advance(SignedDuration::from_mins(61));
    h.send(
        &ana,
        json!({"action": "send_message", "conversation": conversation, "id": "late", "text": "hi"}),
    )
    .await;

    assert_eq!(codes(&h.frames(&ana)), ["token_expired"]);
    assert!(h.frames(&visitor).is_empty(), "nothing relayed");
    let id = crate::domain::ConversationId::parse(conversation).unwrap();
    assert!(h.chat.ports.store.messages(&id).await.unwrap().is_empty());
    assert!(!h.push.is_open(&ana));
}

#[tokio::test]
async fn an_agent_whose_live_chat_permission_is_removed_is_refused_once_the_directory_is_read_again()
 {
    let h = Harness::new();
    let ana = agent_for(&h, "ana", SignedDuration::from_hours(8)).await;
    let mut directory = h.chat.ports.store.directory().await.unwrap();
    let agent = directory
        .agents
        .iter_mut()
        .find(|a| a.id.as_str() == "ana")
        .unwrap();
    agent.roles = [Role::MarketingAdmin].into();
    h.chat.ports.store.put_directory(&directory).await.unwrap();

    // At most DIRECTORY_REFRESH later, every process has read the change.
    h.chat.forget_directory().await;
    h.send(&ana, json!({"action": "missed"})).await;

    assert_eq!(codes(&h.frames(&ana)), ["forbidden"]);
    assert!(!h.push.is_open(&ana));
}

#[tokio::test]
async fn renew_token_holds_the_open_connection_to_the_new_tokens_expiry() {
    let h = Harness::new();
    let ana = agent_for(&h, "ana", SignedDuration::from_hours(1)).await;
    h.clock.advance(SignedDuration::from_mins(50));
    let fresh = h.issuer.issue(
        &AgentId::parse("ana").unwrap(),
        h.clock.now(),
        SignedDuration::from_hours(12),
    );

    h.send(&ana, json!({"action": "renew_token", "token": fresh}))
        .await;
    let renewed = h.frames(&ana);
    assert_eq!(renewed[0]["type"], "token_renewed");
    assert_eq!(
        renewed[0]["expires_at"],
        (h.clock.now() + SignedDuration::from_hours(12)).to_string()
    );

    h.clock.advance(SignedDuration::from_mins(20));
    h.send(&ana, json!({"action": "ping"})).await;
    assert_eq!(
        h.types(&ana),
        ["pong"],
        "the old token's expiry no longer applies"
    );
    assert!(h.push.is_open(&ana));
}

#[tokio::test]
async fn renew_token_refuses_a_token_for_another_agent_or_a_forged_one() {
    let h = Harness::new();
    let ana = agent_for(&h, "ana", SignedDuration::from_hours(1)).await;
    let ben = h.token("ben");
    let forged =
        crate::auth::AgentTokenIssuer::hs256(b"not-the-secret-not-the-secret-xxx", "test", "inbox")
            .issue(
                &AgentId::parse("ana").unwrap(),
                h.clock.now(),
                SignedDuration::from_hours(12),
            );

    h.send(&ana, json!({"action": "renew_token", "token": ben}))
        .await;
    h.send(&ana, json!({"action": "renew_token", "token": forged}))
        .await;
    assert_eq!(codes(&h.frames(&ana)), ["forbidden", "forbidden"]);

    h.clock.advance(SignedDuration::from_mins(61));
    h.send(&ana, json!({"action": "ping"})).await;
    assert_eq!(
        codes(&h.frames(&ana)),
        ["token_expired"],
        "still the old expiry"
    );
}

/// A new visitor's first `start`: the connection and its token.
async fn first_visit(h: &Harness) -> (ConnectionId, String, String) {
    let v = h.connect(&[]).await.unwrap();
    h.send(&v, json!({"action": "start"})).await;
    let frames = h.frames(&v);
    (v, visitor_token(&frames), conversation_of(&frames))
}

/// Connects with `token` and sends `start`: the new token and the conversation.
async fn resume(h: &Harness, token: &str) -> (String, String) {
    let v = h.connect(&[("visitor_token", token)]).await.unwrap();
    h.send(&v, json!({"action": "start"})).await;
    let frames = h.frames(&v);
    (visitor_token(&frames), conversation_of(&frames))
}

async fn refused(h: &Harness, token: &str) -> bool {
    h.connect(&[("visitor_token", token)])
        .await
        .is_err_and(|e| e.status() == 401)
}

#[tokio::test]
async fn a_used_visitor_token_is_replaced_and_refused_once_the_overlap_is_over() {
    let h = Harness::new();
    let (_, first, conversation) = first_visit(&h).await;

    let (second, resumed) = resume(&h, &first).await;
    assert_eq!(resumed, conversation);
    assert_ne!(second, first, "a fresh token on use");
    assert!(
        !refused(&h, &first).await,
        "a second tab, or a lost session frame: the old token still works a while"
    );

    h.clock
        .advance(VISITOR_TOKEN_OVERLAP + SignedDuration::from_secs(1));
    assert!(
        refused(&h, &first).await,
        "a stolen token does not renew forever"
    );
    let (_, still) = resume(&h, &second).await;
    assert_eq!(still, conversation, "the newest token resumes the chat");
}

#[tokio::test]
async fn end_chat_revokes_every_token_of_the_visitor() {
    let h = Harness::new();
    let (v, first, _) = first_visit(&h).await;
    let (second, _) = resume(&h, &first).await;

    h.send(&v, json!({"action": "end_chat"})).await;

    assert!(refused(&h, &second).await);
    assert!(refused(&h, &first).await, "nor the one in its overlap");
}

#[tokio::test]
async fn a_new_chat_refuses_the_tokens_of_the_one_before_at_once() {
    let h = Harness::new();
    let (ana, visitor, conversation, token) = accepted_by_ana(&h).await;
    h.send(
        &ana,
        json!({"action": "end_session", "conversation": conversation}),
    )
    .await;
    h.frames(&visitor);

    h.send(&visitor, json!({"action": "start"})).await;
    let frames = h.frames(&visitor);
    assert_ne!(conversation_of(&frames), conversation, "a new chat");

    assert!(
        refused(&h, &token).await,
        "no overlap for the ended chat's token"
    );
    assert!(!refused(&h, &visitor_token(&frames)).await);
}

#[tokio::test]
async fn the_page_url_is_stored_without_query_and_fragment_and_utm_parameters_as_attributes() {
    let h = Harness::new();
    let v = h.connect(&[]).await.unwrap();
    h.send(
        &v,
        json!({"action": "start", "page_url": "https://acme.example/pricing?reset=tok3n&utm_source=ads&utm_campaign=spring%20sale#access_token=x"}),
    )
    .await;
    let conversation = conversation_of(&h.frames(&v));

    let conv = h.stored(&conversation).await;
    let session = h
        .chat
        .ports
        .store
        .session(conv.visitor(), h.clock.now())
        .await
        .unwrap()
        .unwrap();
    let attributes = &session.dialog.attributes;
    assert_eq!(
        attributes.get("page_url"),
        Some("https://acme.example/pricing")
    );
    assert_eq!(attributes.get("utm_source"), Some("ads"));
    assert_eq!(attributes.get("utm_campaign"), Some("spring sale"));
    assert_eq!(attributes.get("reset"), None);
}

#[tokio::test]
async fn a_marketing_admin_signs_in_for_the_reports_only_and_is_never_offered_nor_counted_available()
 {
    let h = Harness::new();
    let token = h.issuer.issue(
        &AgentId::parse("mia").unwrap(),
        h.clock.now(),
        SignedDuration::from_hours(8),
    );
    let mia = h.connect(&[("agent_token", &token)]).await.unwrap();
    h.send(&mia, json!({"action": "sync"})).await;
    assert_eq!(
        h.frames(&mia),
        [json!({"type": "reports_only", "scope": "funnel"})],
        "no availability, offer or chat"
    );

    // mia is the only agent online: the dialog's "is an agent available" branch
    // finds nobody, and nothing reaches her.
    let (_visitor, frames) = h.visitor_reaching_live_chat().await;
    h.pump().await;
    let kinds: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
    assert!(!kinds.contains(&"waiting"), "{kinds:?}");
    assert_eq!(h.types(&mia), Vec::<String>::new());

    h.send(
        &mia,
        json!({"action": "report", "from": "2026-03-01", "to": "2026-03-02", "by": "dialog"}),
    )
    .await;
    let report = h.frames(&mia);
    assert_eq!(report.len(), 1);
    assert_eq!(
        (&report[0]["type"], &report[0]["scope"]),
        (&json!("report"), &json!("funnel"))
    );
    h.send(
        &mia,
        json!({"action": "report", "from": "2026-03-01", "to": "2026-03-02", "by": "agent"}),
    )
    .await;
    assert_eq!(codes(&h.frames(&mia)), ["forbidden"]);
    assert!(
        h.push.is_open(&mia),
        "a report she may not see is only refused"
    );

    h.send(&mia, json!({"action": "past_chats"})).await;
    assert_eq!(codes(&h.frames(&mia)), ["forbidden"]);
    assert!(!h.push.is_open(&mia), "a chat action closes her socket");
}
