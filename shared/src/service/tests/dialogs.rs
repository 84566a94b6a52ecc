//! Targeted dialogs on `start`: the server confirms the audience of the dialogs
//! the widget names and starts the highest priority; a completed one is not
//! started again; a visitor mid-dialog continues whatever the widget names; none
//! matching is `no_dialog`, and the connection goes on.

use serde_json::{Value, json};

use super::{Harness, conversation_of};

const PRICING_PAGE: &str = "https://acme.example/pricing.html";
const HOME_PAGE: &str = "https://acme.example/";

fn session(frames: &[Value]) -> &Value {
    frames.iter().find(|f| f["type"] == "session").unwrap()
}

fn first_card_text(frames: &[Value]) -> String {
    let cards = frames.iter().find(|f| f["type"] == "cards").unwrap();
    cards["cards"][0]["text"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn two_pages_start_two_different_dialogs_and_the_session_names_its_dialog() {
    let h = Harness::new();
    let pricing = h.connect(&[]).await.unwrap();
    h.send(
        &pricing,
        json!({"action": "start", "page_url": PRICING_PAGE, "dialogs": ["sales", "pricing"]}),
    )
    .await;
    let frames = h.frames(&pricing);
    assert_eq!(session(&frames)["dialog"], "pricing");
    assert_eq!(
        first_card_text(&frames),
        "Comparing plans? We can help you pick one."
    );
    let conversation = conversation_of(&frames);
    assert_eq!(h.stored(&conversation).await.dialog().as_str(), "pricing");

    let home = h.connect(&[]).await.unwrap();
    h.send(
        &home,
        json!({"action": "start", "page_url": HOME_PAGE, "dialogs": ["sales", "pricing"]}),
    )
    .await;
    let frames = h.frames(&home);
    assert_eq!(session(&frames)["dialog"], "sales");
    assert!(first_card_text(&frames).starts_with("Hi there!"));
}

#[tokio::test]
async fn a_named_dialog_whose_page_does_not_match_is_no_dialog_and_the_connection_goes_on() {
    let h = Harness::new();
    let v = h.connect(&[]).await.unwrap();
    h.send(
        &v,
        json!({"action": "start", "page_url": HOME_PAGE, "dialogs": ["pricing"]}),
    )
    .await;
    let frames = h.frames(&v);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["code"], "no_dialog");

    h.send(
        &v,
        json!({"action": "start", "page_url": HOME_PAGE, "dialogs": ["sales"]}),
    )
    .await;
    assert_eq!(session(&h.frames(&v))["dialog"], "sales");
}

#[tokio::test]
async fn a_completed_dialog_is_not_started_again_and_a_visitor_mid_dialog_continues_it() {
    let h = Harness::new();
    let v = h.connect(&[]).await.unwrap();
    let start = json!({"action": "start", "page_url": PRICING_PAGE, "dialogs": ["pricing"]});
    h.send(&v, start.clone()).await;
    let first = conversation_of(&h.frames(&v));

    // On the home page, naming sales only, the pricing walk goes on.
    h.send(
        &v,
        json!({"action": "start", "page_url": HOME_PAGE, "dialogs": ["sales"]}),
    )
    .await;
    let frames = h.frames(&v);
    assert_eq!(conversation_of(&frames), first);
    assert_eq!(session(&frames)["dialog"], "pricing");

    // "No thanks" walks it to its end.
    h.send(&v, json!({"action": "answer", "card": "ask", "answer": 1}))
        .await;
    let types = h.types(&v);
    assert!(types.contains(&"chat_ended".to_string()), "{types:?}");

    // Completed: not again, and sales is not for the pricing page.
    h.send(&v, start).await;
    let frames = h.frames(&v);
    assert_eq!(frames[0]["code"], "no_dialog", "{frames:?}");
    h.send(
        &v,
        json!({"action": "start", "page_url": HOME_PAGE, "dialogs": ["pricing", "sales"]}),
    )
    .await;
    let frames = h.frames(&v);
    assert_eq!(session(&frames)["dialog"], "sales");
    assert_ne!(conversation_of(&frames), first);
}
