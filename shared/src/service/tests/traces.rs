//! Explainable routing: every decision's trace is kept with the chat, and a Sales
//! Admin (only) reads why it went to whom.

use serde_json::{Value, json};

use super::Harness;

fn offered_conversation(frames: &[Value]) -> String {
    frames
        .iter()
        .find(|f| f["type"] == "offer")
        .map(|f| f["conversation"].as_str().unwrap().to_string())
        .expect("an offer")
}

#[tokio::test]
async fn a_sales_admin_reads_why_each_offer_went_to_whom_and_why_the_fallback_came() {
    let h = Harness::new();
    let ana = h.agent("ana").await;
    h.frames(&ana);
    let (_visitor, _) = h.visitor_reaching_live_chat().await;
    h.pump().await;
    let conversation = offered_conversation(&h.frames(&ana));

    // ana, the only agent online, declines; nobody is left: the fallback.
    h.send(
        &ana,
        json!({"action": "decline", "conversation": conversation}),
    )
    .await;
    h.pump().await;
    h.frames(&ana);

    h.send(
        &ana,
        json!({"action": "routing_trace", "conversation": conversation}),
    )
    .await;
    let frames = h.frames(&ana);
    assert_eq!(frames.len(), 1, "{frames:?}");
    let traces = frames[0]["traces"].as_array().unwrap();
    assert_eq!(
        traces.len(),
        2,
        "the offer's decision and the fallback's: {traces:?}"
    );
    assert_eq!(
        traces[0]["outcome"],
        json!({"outcome": "offer", "agent": "ana"})
    );
    let verdict_of = |trace: &Value, agent: &str| {
        trace["pools"][0]["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["agent"] == agent)
            .map(|c| c["verdict"].clone())
    };
    assert_eq!(verdict_of(&traces[0], "ana"), Some(json!("chosen")));
    assert_eq!(verdict_of(&traces[0], "ben"), Some(json!("offline")));
    assert_eq!(traces[1]["outcome"], json!({"outcome": "nobody"}));
    assert_eq!(
        verdict_of(&traces[1], "ana"),
        Some(json!("already_offered"))
    );
}

#[tokio::test]
async fn only_a_sales_admin_may_read_a_trace_and_an_unknown_chat_is_named() {
    let h = Harness::new();
    let ben = h.agent("ben").await;
    let ana = h.agent("ana").await;
    h.frames(&ben);
    h.frames(&ana);
    let (_visitor, _) = h.visitor_reaching_live_chat().await;
    h.pump().await;
    let offered = [h.frames(&ana), h.frames(&ben)].concat();
    let conversation = offered_conversation(&offered);

    h.send(
        &ben,
        json!({"action": "routing_trace", "conversation": conversation}),
    )
    .await;
    let refused = h.frames(&ben);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["code"], "forbidden");
    assert!(h.push.is_open(&ben), "a Live Agent keeps the connection");

    h.send(
        &ana,
        json!({"action": "routing_trace", "conversation": "01JQ8Z5Y0W3H7G2E6D9C4B1A0F"}),
    )
    .await;
    assert_eq!(h.frames(&ana)[0]["code"], "not_found");
}
