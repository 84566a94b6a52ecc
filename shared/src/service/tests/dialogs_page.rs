//! The inbox's Dialogs page: Marketing and Sales Admins read the applied dialogs,
//! one at a time with its diagram; nobody else does.

use serde_json::json;

use super::Harness;

#[tokio::test]
async fn a_marketing_admin_lists_the_dialogs_then_reads_one_with_its_diagram() {
    let h = Harness::new();
    let mia = h.agent("mia").await;
    h.frames(&mia);
    h.send(&mia, json!({"action": "dialogs"})).await;
    let frames = h.frames(&mia);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "dialogs");
    let dialogs = frames[0]["dialogs"].as_array().unwrap();
    assert!(!dialogs.is_empty());
    assert!(
        dialogs.iter().all(|d| d.get("svg").is_none()),
        "no diagrams in the list"
    );
    let id = dialogs[0]["id"].as_str().unwrap().to_string();

    h.send(&mia, json!({"action": "dialogs", "dialog": id}))
        .await;
    let frames = h.frames(&mia);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "dialog");
    assert_eq!(frames[0]["dialog"]["id"], json!(id));
    let svg = frames[0]["dialog"]["svg"].as_str().unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
}

#[tokio::test]
async fn an_unknown_dialog_is_not_found_and_a_live_agent_is_refused_both_keeping_the_socket() {
    let h = Harness::new();
    let mia = h.agent("mia").await;
    h.frames(&mia);
    h.send(&mia, json!({"action": "dialogs", "dialog": "nope"}))
        .await;
    let frames = h.frames(&mia);
    assert_eq!(frames[0]["code"], "not_found", "{frames:?}");

    let ben = h.agent("ben").await;
    h.frames(&ben);
    h.send(&ben, json!({"action": "dialogs"})).await;
    let frames = h.frames(&ben);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["code"], "forbidden");
    h.send(&ben, json!({"action": "ping"})).await;
    assert_eq!(h.frames(&ben)[0]["type"], "pong");
}
