//! Internal notes: agents see them; nothing a visitor can read ever carries one.

use serde_json::{Value, json};

use super::{Harness, accepted_by_ana};

const NOTE: &str = "Budget approved by their CFO: offer the annual plan";

fn names_the_note(frames: &[Value]) -> bool {
    frames.iter().any(|f| f.to_string().contains(NOTE))
}

fn note(conversation: &str, id: &str) -> Value {
    json!({"action": "add_note", "conversation": conversation, "id": id, "text": NOTE})
}

#[tokio::test]
async fn a_note_reaches_the_agents_tabs_once_per_id_and_no_path_a_visitor_reads() {
    let h = Harness::new();
    let (ana, visitor, conversation, token) = accepted_by_ana(&h).await;
    let second_tab = h.agent("ana").await;
    h.frames(&ana);
    h.frames(&visitor);
    h.frames(&second_tab);

    h.send(&ana, note(&conversation, "n-1")).await;
    let frames = h.frames(&ana);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "note");
    assert_eq!(frames[0]["note"]["agent"], "ana");
    assert_eq!(frames[0]["note"]["text"], NOTE);
    assert!(names_the_note(&h.frames(&second_tab)), "ana's other tab");
    // A resend is stored once and answered with the note as stored.
    h.send(&ana, note(&conversation, "n-1")).await;
    assert_eq!(h.frames(&ana)[0]["note"]["at"], frames[0]["note"]["at"]);
    let id = crate::domain::ConversationId::parse(conversation.clone()).unwrap();
    assert_eq!(h.chat.ports.store.notes(&id).await.unwrap().len(), 1);

    // The visitor: no push, not in their history, not on a page that resumes, not
    // among the messages stored (and so in no transcript or count made of them).
    assert!(h.frames(&visitor).is_empty());
    h.send(
        &visitor,
        json!({"action": "send_message", "id": "v-1", "text": "Any discount?"}),
    )
    .await;
    h.send(&visitor, json!({"action": "history", "before": 99}))
        .await;
    assert!(!names_the_note(&h.frames(&visitor)));
    let resumed = h
        .connect(&[("visitor_token", token.as_str())])
        .await
        .unwrap();
    h.send(&resumed, json!({"action": "start"})).await;
    let frames = h.frames(&resumed);
    assert!(frames.iter().any(|f| f["type"] == "history"), "{frames:?}");
    assert!(!names_the_note(&frames));
    let stored = h.chat.ports.store.messages(&id).await.unwrap();
    assert!(stored.iter().all(|m| m.text.as_str() != NOTE));

    // The agent's own transcript shows it.
    h.frames(&ana);
    h.send(
        &ana,
        json!({"action": "history", "conversation": conversation}),
    )
    .await;
    let frames = h.frames(&ana);
    let kinds: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
    assert_eq!(kinds, ["transcript", "note"]);
}

#[tokio::test]
async fn an_agent_with_no_part_in_the_chat_cannot_add_or_read_its_notes() {
    let h = Harness::new();
    let (ana, _visitor, conversation, _) = accepted_by_ana(&h).await;
    let ben = h.agent("ben").await;
    h.send(&ana, note(&conversation, "n-1")).await;
    h.frames(&ben);

    h.send(&ben, note(&conversation, "n-2")).await;
    let refused = h.frames(&ben);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["code"], "not_found");
    h.send(
        &ben,
        json!({"action": "history", "conversation": conversation}),
    )
    .await;
    assert!(!names_the_note(&h.frames(&ben)));
    assert!(h.push.is_open(&ben));
}
