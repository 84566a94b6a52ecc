//! Canned responses: the account's come from the configuration, each agent keeps
//! their own, and applying the configuration again keeps the agents' own.

use serde_json::{Value, json};

use super::Harness;
use crate::domain::{CannedResponse, Shortcut};

fn shortcuts(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["shortcut"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_agent_lists_the_accounts_and_keeps_their_own_across_a_new_configuration() {
    let h = Harness::with(|d| {
        d.canned_responses = vec![
            CannedResponse::new(
                Shortcut::parse("pricing").unwrap(),
                "Our plans: https://acme.example/plans".into(),
            )
            .unwrap(),
        ]
    });
    let ana = h.agent("ana").await;
    h.frames(&ana);
    h.send(&ana, json!({"action": "canned"})).await;
    let frames = h.frames(&ana);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(shortcuts(&frames[0]["account"]), ["pricing"]);
    assert_eq!(frames[0]["own"], json!([]));

    h.send(&ana, json!({"action": "save_canned", "shortcut": "hi", "text": "Hi {{visitor.first_name:\"there\"}}!"}))
        .await;
    h.send(
        &ana,
        json!({"action": "save_canned", "shortcut": "bye", "text": "Thanks, bye"}),
    )
    .await;
    // Saving a shortcut again replaces its text.
    h.send(
        &ana,
        json!({"action": "save_canned", "shortcut": "bye", "text": "Thanks for chatting"}),
    )
    .await;
    let last = h.frames(&ana).pop().unwrap();
    assert_eq!(shortcuts(&last["own"]), ["bye", "hi"]);
    assert_eq!(last["own"][0]["text"], "Thanks for chatting");

    // An admin applies the configuration again: ana's own stay.
    let directory = h.chat.ports.store.directory().await.unwrap();
    h.chat.ports.store.put_directory(&directory).await.unwrap();
    h.send(&ana, json!({"action": "delete_canned", "shortcut": "hi"}))
        .await;
    let last = h.frames(&ana).pop().unwrap();
    assert_eq!(shortcuts(&last["own"]), ["bye"]);

    // Another agent's are their own.
    let ben = h.agent("ben").await;
    h.frames(&ben);
    h.send(&ben, json!({"action": "canned"})).await;
    assert_eq!(h.frames(&ben)[0]["own"], json!([]));
}

#[tokio::test]
async fn a_bad_shortcut_or_token_is_refused_by_field_and_nothing_is_kept() {
    let h = Harness::new();
    let ana = h.agent("ana").await;
    h.frames(&ana);
    for bad in [
        json!({"action": "save_canned", "shortcut": "Has Space", "text": "x"}),
        json!({"action": "save_canned", "shortcut": "ok", "text": "Hi {{first_name}}"}),
        json!({"action": "save_canned", "shortcut": "ok", "text": "   "}),
    ] {
        h.send(&ana, bad.clone()).await;
        let frames = h.frames(&ana);
        assert_eq!(frames.len(), 1, "{bad}: {frames:?}");
        assert_eq!(frames[0]["code"], "bad_field", "{bad}: {frames:?}");
    }
    let ana_id = crate::domain::AgentId::parse("ana").unwrap();
    assert!(
        h.chat
            .ports
            .store
            .agent_canned(&ana_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(h.push.is_open(&ana));
}
