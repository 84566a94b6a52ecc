//! Per-connection and per-visitor rate limits, and the cap on a conversation's
//! messages: a refused frame gets `rate_limited` with `retry_after` (or
//! `conversation_full`), the connection keeps working, and nothing stored is lost.

use jiff::SignedDuration;
use serde_json::{Value, json};

use super::{Harness, accepted_by_ana};
use crate::domain::Rate;
use crate::ports::Clock;

fn limited(change: impl FnOnce(&mut crate::domain::RateLimits)) -> Harness {
    Harness::with(|d| change(&mut d.settings.rate_limits))
}

fn say(id: &str) -> Value {
    json!({"action": "send_message", "id": id, "text": id})
}

fn error_of(frames: &[Value]) -> &Value {
    frames
        .iter()
        .find(|f| f["type"] == "error")
        .unwrap_or_else(|| panic!("no error in {frames:?}"))
}

async fn stored_texts(h: &Harness, conversation: &str) -> Vec<String> {
    let id = crate::domain::ConversationId::parse(conversation.to_string()).unwrap();
    h.chat
        .ports
        .store
        .messages(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text.as_str().to_string())
        .collect()
}

#[tokio::test]
async fn messages_past_the_connections_limit_are_refused_with_retry_after_and_none_is_lost() {
    let h = limited(|l| l.messages_per_connection = Rate::new(3, 10));
    let (ana, visitor, conversation, _) = accepted_by_ana(&h).await;
    h.frames(&visitor);
    for id in ["m1", "m2", "m3"] {
        h.send(&visitor, say(id)).await;
    }
    assert_eq!(h.types(&visitor).iter().filter(|t| *t == "ack").count(), 3);

    h.send(&visitor, say("m4")).await;
    let frames = h.frames(&visitor);
    let refused = error_of(&frames);
    assert_eq!(refused["code"], "rate_limited");
    let wait = refused["retry_after"].as_u64().unwrap();
    assert!((1..=10).contains(&wait), "{refused}");
    assert_eq!(stored_texts(&h, &conversation).await, ["m1", "m2", "m3"]);

    // The agent's tab has its own counter; the visitor's page works again later.
    h.send(
        &ana,
        json!({"action": "send_message", "conversation": conversation, "id": "a1", "text": "a1"}),
    )
    .await;
    assert!(h.types(&ana).contains(&"ack".to_string()));
    h.clock.advance(SignedDuration::from_secs(wait as i64));
    h.send(&visitor, say("m4")).await;
    assert!(h.types(&visitor).contains(&"ack".to_string()));
    assert_eq!(
        stored_texts(&h, &conversation).await,
        ["m1", "m2", "m3", "a1", "m4"]
    );
}

#[tokio::test]
async fn a_visitors_pages_share_the_visitors_limit_and_it_holds_across_processes() {
    let h = limited(|l| l.messages_per_visitor = Rate::new(2, 60));
    let (_ana, page1, conversation, token) = accepted_by_ana(&h).await;
    let page2 = h.connect(&[("visitor_token", &token)]).await.unwrap();
    h.send(&page2, json!({"action": "start"})).await;
    h.frames(&page1);
    h.frames(&page2);
    h.send(&page1, say("m1")).await;

    // Another process (a second Lambda instance) over the same store.
    let other = crate::service::Chat::new(
        h.chat.ports().clone(),
        crate::demo::dialog(&crate::demo::directory().unwrap()).unwrap(),
        crate::auth::AgentVerifier::hs256(super::SECRET, "test", "inbox"),
        crate::auth::VisitorTokens::new(super::SECRET, "test"),
    );
    other.message(&page2, &say("m2").to_string()).await;
    other.message(&page2, &say("m3").to_string()).await;
    let frames = h.frames(&page2);
    assert_eq!(error_of(&frames)["code"], "rate_limited");
    assert_eq!(stored_texts(&h, &conversation).await, ["m1", "m2"]);
}

#[tokio::test]
async fn typing_past_the_limit_is_dropped_silently() {
    let h = limited(|l| l.typing_per_connection = Rate::new(2, 10));
    let (ana, visitor, _conversation, _) = accepted_by_ana(&h).await;
    h.frames(&ana);
    h.frames(&visitor);
    for _ in 0..5 {
        h.send(&visitor, json!({"action": "typing", "typing": true}))
            .await;
    }
    assert_eq!(h.types(&ana), ["typing", "typing"]);
    assert!(h.frames(&visitor).is_empty(), "no error frame for typing");
    h.clock.advance(SignedDuration::from_secs(10));
    h.send(&visitor, json!({"action": "typing", "typing": false}))
        .await;
    assert_eq!(h.types(&ana), ["typing"]);
}

#[tokio::test]
async fn starts_past_the_visitors_limit_are_refused_and_the_page_keeps_working() {
    let h = limited(|l| l.starts_per_visitor = Rate::new(2, 60));
    let v = h.connect(&[]).await.unwrap();
    h.send(&v, json!({"action": "start"})).await;
    h.send(&v, json!({"action": "start"})).await;
    h.frames(&v);
    h.send(&v, json!({"action": "start"})).await;
    let frames = h.frames(&v);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["code"], "rate_limited");
    assert!(frames[0]["retry_after"].as_u64().unwrap() >= 1);
    h.send(&v, json!({"action": "ping"})).await;
    assert_eq!(h.types(&v), ["pong"]);
}

#[tokio::test]
async fn reconnects_past_the_visitors_limit_are_refused_with_429() {
    let h = limited(|l| l.reconnects_per_visitor = Rate::new(2, 60));
    let v = h.connect(&[]).await.unwrap();
    h.send(&v, json!({"action": "start"})).await;
    let token = super::visitor_token(&h.frames(&v));
    h.connect(&[("visitor_token", &token)]).await.unwrap();
    h.connect(&[("visitor_token", &token)]).await.unwrap();
    let refused = h.connect(&[("visitor_token", &token)]).await.unwrap_err();
    assert_eq!(refused.status(), 429);
    // A new visitor is never counted (nothing is limited per address).
    for _ in 0..5 {
        h.connect(&[]).await.unwrap();
    }
    h.clock.advance(SignedDuration::from_secs(60));
    h.connect(&[("visitor_token", &token)]).await.unwrap();
}

#[tokio::test]
async fn the_default_limits_let_a_brisk_visitor_through() {
    let h = Harness::new();
    let (_ana, visitor, conversation, _) = accepted_by_ana(&h).await;
    h.frames(&visitor);
    // Ten messages in ten seconds, each with a few typing frames.
    for i in 0..10 {
        for _ in 0..3 {
            h.send(&visitor, json!({"action": "typing", "typing": true}))
                .await;
        }
        h.send(&visitor, say(&format!("m{i}"))).await;
        h.clock.advance(SignedDuration::from_secs(1));
    }
    let frames = h.frames(&visitor);
    assert!(frames.iter().all(|f| f["type"] != "error"), "{frames:?}");
    assert_eq!(stored_texts(&h, &conversation).await.len(), 10);
}

#[tokio::test]
async fn a_conversation_holding_the_most_messages_refuses_more_with_conversation_full() {
    use crate::limits::MAX_CONVERSATION_MESSAGES;
    let h = Harness::new();
    let (_ana, visitor, conversation, _) = accepted_by_ana(&h).await;
    let id = crate::domain::ConversationId::parse(conversation.clone()).unwrap();
    for i in 0..MAX_CONVERSATION_MESSAGES {
        let message = crate::ports::NewMessage {
            id: crate::domain::MessageId::parse(format!("f{i}")).unwrap(),
            conversation: id.clone(),
            sender: crate::domain::Sender::Visitor,
            text: crate::domain::MessageText::parse("x").unwrap(),
            at: h.clock.now(),
            windows: None,
        };
        let store = &h.chat.ports.store;
        let hub = store.hub(&id).await.unwrap().unwrap();
        crate::ports::append_once(&**store, &hub, message)
            .await
            .unwrap();
    }
    h.frames(&visitor);
    h.send(&visitor, say("one-too-many")).await;
    let frames = h.frames(&visitor);
    assert_eq!(error_of(&frames)["code"], "conversation_full");
    assert_eq!(
        stored_texts(&h, &conversation).await.len() as u64,
        MAX_CONVERSATION_MESSAGES
    );
}

#[tokio::test]
async fn history_comes_latest_page_first_and_older_pages_on_request() {
    use crate::limits::HISTORY_PAGE_SIZE;
    let h = limited(|l| {
        l.messages_per_connection = Rate::new(1_000, 10);
        l.messages_per_visitor = Rate::new(1_000, 10);
    });
    let (ana, visitor, conversation, token) = accepted_by_ana(&h).await;
    let total = 2 * HISTORY_PAGE_SIZE + 10;
    for i in 1..=total {
        h.send(&visitor, say(&format!("m{i}"))).await;
    }
    h.frames(&ana);
    let again = h.connect(&[("visitor_token", &token)]).await.unwrap();
    h.send(&again, json!({"action": "start"})).await;
    let frames = h.frames(&again);
    let latest = frames.iter().find(|f| f["type"] == "history").unwrap();
    let seqs = |f: &Value| -> Vec<u64> {
        f["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect()
    };
    let page = seqs(latest);
    assert_eq!(page.len(), HISTORY_PAGE_SIZE);
    assert_eq!(*page.last().unwrap(), total as u64);
    let next = latest["next"].as_u64().unwrap();
    assert_eq!(next, page[0]);

    h.send(&again, json!({"action": "history", "before": next}))
        .await;
    let older = h.frames(&again);
    assert_eq!(older[0]["before"], next);
    let older_page = seqs(&older[0]);
    assert_eq!(older_page.len(), HISTORY_PAGE_SIZE);
    assert_eq!(*older_page.last().unwrap(), next - 1);

    // The agent pages the same way; all pages together are the whole transcript.
    let mut before: Option<u64> = None;
    let mut all = Vec::new();
    loop {
        let mut ask = json!({"action": "history", "conversation": conversation});
        if let Some(b) = before {
            ask["before"] = json!(b);
        }
        h.send(&ana, ask).await;
        let frames = h.frames(&ana);
        let t = frames.iter().find(|f| f["type"] == "transcript").unwrap();
        assert!(seqs(t).len() <= HISTORY_PAGE_SIZE);
        all.splice(0..0, seqs(t));
        match t["next"].as_u64() {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    assert_eq!(all, (1..=all.len() as u64).collect::<Vec<_>>());
    assert_eq!(all.len(), total, "the pages hold every message");

    h.send(&again, json!({"action": "history", "before": 0}))
        .await;
    assert_eq!(h.frames(&again)[0]["code"], "bad_field");
}

#[tokio::test]
async fn reports_past_the_connections_limit_are_refused_with_retry_after_and_the_tab_keeps_working()
{
    let h = limited(|l| l.reports_per_connection = Rate::new(2, 60));
    let cleo = h.agent("cleo").await;
    let other_tab = h.agent("cleo").await;
    h.frames(&cleo);
    h.frames(&other_tab);
    let report = json!({"action": "report", "from": "2026-03-01", "to": "2026-03-31", "by": "day"});
    for _ in 0..2 {
        h.send(&cleo, report.clone()).await;
        assert_eq!(h.types(&cleo), ["report"]);
    }
    h.send(&cleo, report.clone()).await;
    let frames = h.frames(&cleo);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["code"], "rate_limited");
    let wait = frames[0]["retry_after"].as_u64().unwrap();
    assert!((1..=60).contains(&wait), "{frames:?}");

    // The connection keeps working; another tab has its own counter; the window
    // passes.
    h.send(&cleo, json!({"action": "ping"})).await;
    assert_eq!(h.types(&cleo), ["pong"]);
    h.send(&other_tab, report.clone()).await;
    assert_eq!(h.types(&other_tab), ["report"]);
    h.clock.advance(SignedDuration::from_secs(60));
    h.send(&cleo, report).await;
    assert_eq!(h.types(&cleo), ["report"]);
}
