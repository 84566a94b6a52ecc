//! What one visitor can make the service keep and send: attributes capped per
//! session, summaries bounded, and lists to agents paged so that no frame outgrows
//! API Gateway's 128 KB and no entry is lost; message text relayed without the
//! characters that spoof how it is shown.

use serde_json::{Map, Value, json};

use super::{Harness, conversation_of};
use crate::domain::ConnectionId;
use crate::limits::{MAX_SESSION_ATTRIBUTE_BYTES, MISSED_PAGE_SIZE};
use crate::protocol::MAX_FRAME_BYTES;

/// `count` attributes named `<prefix><n>`, each a 500-character value that costs
/// twice its size in JSON.
fn heavy(prefix: &str, count: usize) -> Map<String, Value> {
    (0..count)
        .map(|i| (format!("{prefix}{i}"), json!("\"".repeat(500))))
        .collect()
}

/// The session's attributes as stored.
async fn stored_attributes(h: &Harness, conversation: &str) -> crate::domain::Attributes {
    let conv = h.stored(conversation).await;
    let session = h
        .chat
        .ports
        .store
        .session(conv.visitor(), h.clock.now())
        .await
        .unwrap()
        .unwrap();
    session.dialog.attributes
}

use crate::ports::Clock;

#[tokio::test]
async fn repeated_starts_cannot_grow_a_visitors_attributes_past_the_session_cap() {
    let h = Harness::new();
    let v = h.connect(&[]).await.unwrap();
    h.send(&v, json!({"action": "start", "attributes": heavy("a", 20)}))
        .await;
    let conversation = conversation_of(&h.frames(&v));

    h.send(&v, json!({"action": "start", "attributes": heavy("b", 20)}))
        .await;

    let refused = h.frames(&v);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["code"], "bad_field");
    let message = refused[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "\"start\" frame, field \"attributes\": a visitor's attributes hold at most 16384 bytes"
        ),
        "{message}"
    );
    let kept = stored_attributes(&h, &conversation).await;
    assert!(kept.bytes() <= MAX_SESSION_ATTRIBUTE_BYTES);
    assert!(
        kept.get("b0").is_none(),
        "nothing of the refused start is kept"
    );
    h.send(&v, json!({"action": "start", "attributes": heavy("a", 20)}))
        .await;
    let resumed = h.frames(&v);
    assert!(
        resumed.iter().all(|f| f["type"] != "error"),
        "the same attributes again still resume: {resumed:?}"
    );
}

#[tokio::test]
async fn an_attribute_with_control_characters_is_refused_with_its_name() {
    let h = Harness::new();
    let v = h.connect(&[]).await.unwrap();
    h.send(
        &v,
        json!({"action": "start", "attributes": {"first_name": "Jo\u{1b}[2J"}}),
    )
    .await;
    let frames = h.frames(&v);
    assert_eq!(frames[0]["code"], "bad_field");
    assert_eq!(
        frames[0]["message"],
        "\"start\" frame, field \"attributes.first_name\": an attribute value must not contain control characters (found U+001B)"
    );
}

/// Visitor `v` sends the largest `start` the caps allow, then asks for a live chat:
/// the connection and the conversation.
async fn heaviest_visitor_asking_for_chat(h: &Harness, v: ConnectionId) -> (ConnectionId, String) {
    let mut attributes = heavy("x", 20);
    for k in ["first_name", "last_name", "name", "job_title", "phone"] {
        attributes.insert(k.into(), json!("\"".repeat(500)));
    }
    let page_url = format!("https://acme.example/{}", "\"".repeat(2_000));
    h.send(
        &v,
        json!({"action": "start", "page_url": page_url, "attributes": attributes}),
    )
    .await;
    h.send(&v, json!({"action": "answer", "card": "ask", "answer": 0}))
        .await;
    h.send(
        &v,
        json!({"action": "submit", "card": "email", "value": "jo@small.example"}),
    )
    .await;
    let frames = h.frames(&v);
    assert!(
        frames.iter().all(|f| f["type"] != "error"),
        "within the caps: {frames:?}"
    );
    (v, conversation_of(&frames))
}

/// Every frame pushed to `conn` so far, checked to fit, as JSON values.
fn fitting_frames(h: &Harness, conn: &ConnectionId) -> Vec<Value> {
    h.push
        .take(conn)
        .iter()
        .map(|json| {
            assert!(json.len() <= MAX_FRAME_BYTES, "{} bytes", json.len());
            serde_json::from_str(json).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn after_two_100_kb_starts_the_visitors_offer_still_reaches_the_agent() {
    let h = Harness::new();
    let ana = h.agent("ana").await;
    h.frames(&ana);
    let v = h.connect(&[]).await.unwrap();
    for prefix in ["a", "b"] {
        let attributes: Map<String, Value> = (0..50)
            .map(|i| (format!("{prefix}{i}"), json!("😀".repeat(500))))
            .collect();
        let frame = json!({"action": "start", "attributes": attributes});
        assert!(frame.to_string().len() > 100_000);
        h.send(&v, frame).await;
    }
    let frames = h.frames(&v);
    assert!(
        frames.iter().all(|f| f["code"] == "bad_field"),
        "{frames:?}"
    );
    let (_, conversation) = heaviest_visitor_asking_for_chat(&h, v).await;
    h.pump().await;
    let frames = fitting_frames(&h, &ana);
    let offer = frames.iter().find(|f| f["type"] == "offer").unwrap();
    assert_eq!(offer["conversation"], conversation.as_str());
    h.send(
        &ana,
        json!({"action": "accept", "conversation": conversation}),
    )
    .await;
    let frames = fitting_frames(&h, &ana);
    assert_eq!(frames[0]["type"], "chat_started", "{frames:?}");
}

#[tokio::test]
async fn the_heaviest_visitors_cannot_break_the_missed_list_every_entry_is_listed_in_pages() {
    let h = Harness::new();
    let ana = h.agent("ana").await;
    let visitors = 2 * MISSED_PAGE_SIZE + 3;
    let mut asked = std::collections::BTreeSet::new();
    for _ in 0..visitors {
        let v = h.connect(&[]).await.unwrap();
        let (_, conversation) = heaviest_visitor_asking_for_chat(&h, v).await;
        h.pump().await;
        h.send(
            &ana,
            json!({"action": "decline", "conversation": conversation}),
        )
        .await;
        h.pump().await;
        let frames = fitting_frames(&h, &ana);
        assert!(frames.iter().any(|f| f["type"] == "missed"), "{frames:?}");
        asked.insert(conversation);
    }
    let ben = h.agent("ben").await;
    h.frames(&ben);

    let mut listed = Vec::new();
    let mut before = Value::Null;
    let mut pages = 0;
    loop {
        let mut frame = json!({"action": "missed"});
        if !before.is_null() {
            frame["before"] = before.clone();
        }
        h.send(&ben, frame).await;
        let page = fitting_frames(&h, &ben).remove(0);
        assert_eq!(page["type"], "missed", "{page}");
        assert_eq!(page["before"], before);
        let chats = page["chats"].as_array().unwrap();
        assert!(chats.len() <= MISSED_PAGE_SIZE);
        listed.extend(
            chats
                .iter()
                .map(|c| c["conversation"].as_str().unwrap().to_string()),
        );
        pages += 1;
        before = page["next"].clone();
        if before.is_null() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(listed.len(), visitors, "each entry once");
    assert_eq!(
        listed
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        asked
    );
}

#[tokio::test]
async fn a_message_with_an_override_reaches_the_agent_isolated_and_without_controls() {
    let h = Harness::new();
    let (ana, visitor, _, _) = super::accepted_by_ana(&h).await;
    h.frames(&ana);
    h.send(
        &visitor,
        json!({"action": "send_message", "id": "v1", "text": "see \u{202E}fdp.exe\u{1b}[2J"}),
    )
    .await;
    let frames = h.frames(&ana);
    let message = frames.iter().find(|f| f["type"] == "message").unwrap();
    assert_eq!(message["message"]["text"], "see \u{2067}fdp.exe[2J\u{2069}");
}
