//! Security settings end to end: signed identify (docs/identify.md) with
//! verified-only attributes, and blocked email domains in a capture card and in the
//! fallback form.

use jiff::SignedDuration;
use serde_json::{Value, json};

use super::{Harness, IDENTIFY_SECRET, conversation_of};
use crate::dialog::{Card, DialogState};
use crate::domain::{AttributeName, Attributes, EmailDomain, RoutingMode, RuleId};
use crate::identify::IdentifyKey;
use crate::ports::Clock;
use crate::routing::Directory;

fn name(n: &str) -> AttributeName {
    AttributeName::parse(n).unwrap()
}

/// The demo account with `company_size` verified-only: the dialog's branch to the
/// enterprise executive and the `enterprise` rule both read it.
fn verified_company_size(d: &mut Directory) {
    d.settings.verified_attributes = vec![name("company_size")];
}

/// A signed identify of `pairs` (with `user_id` u-42) expiring `ttl` seconds from
/// the harness's now, signed with `secret`.
fn identity(h: &Harness, pairs: &[(&str, &str)], ttl: i64, secret: &[u8]) -> Value {
    let mut attributes = Attributes::new();
    attributes.set(name("user_id"), "u-42");
    for (k, v) in pairs {
        attributes.set(name(k), *v);
    }
    let expires = h.clock.now().as_second() + ttl;
    let signature = IdentifyKey::new(secret).unwrap().sign(&attributes, expires);
    let attributes: serde_json::Map<String, Value> = attributes
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({"attributes": attributes, "expires": expires, "signature": signature})
}

/// Starts a visitor with `start` (more fields of the frame), answers Yes, gives a
/// name and an email: the frames they got.
async fn walk_to_live_chat(h: &Harness, start: Value) -> (crate::domain::ConnectionId, Vec<Value>) {
    let v = h.connect(&[]).await.unwrap();
    let mut frame = json!({"action": "start"});
    for (k, val) in start.as_object().unwrap() {
        frame[k] = val.clone();
    }
    h.send(&v, frame).await;
    h.send(&v, json!({"action": "answer", "card": "ask", "answer": 0}))
        .await;
    h.send(
        &v,
        json!({"action": "submit", "card": "first_name", "value": "Jo"}),
    )
    .await;
    h.send(
        &v,
        json!({"action": "submit", "card": "email", "value": "jo@small.example"}),
    )
    .await;
    let frames = h.frames(&v);
    (v, frames)
}

/// The live chat card the visitor reached.
fn live_chat_card(frames: &[Value]) -> String {
    frames
        .iter()
        .filter(|f| f["type"] == "cards")
        .flat_map(|f| f["cards"].as_array().unwrap().clone())
        .find(|c| c["type"] == "live_chat")
        .map(|c| c["card"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn session_frame(frames: &[Value]) -> &Value {
    frames.iter().find(|f| f["type"] == "session").unwrap()
}

async fn dialog_state(h: &Harness, conversation: &str) -> DialogState {
    let conv = h.stored(conversation).await;
    h.chat
        .ports
        .store
        .session(conv.visitor(), h.clock.now())
        .await
        .unwrap()
        .unwrap()
        .dialog
}

#[tokio::test]
async fn a_signed_verified_only_attribute_is_trusted_by_a_branch() {
    let h = Harness::with(verified_company_size);
    let _ben = h.agent("ben").await;
    let signed = identity(&h, &[("company_size", "1000")], 600, IDENTIFY_SECRET);
    let (_, frames) = walk_to_live_chat(&h, json!({"identity": signed})).await;
    assert_eq!(session_frame(&frames)["identity"], "verified");
    assert_eq!(live_chat_card(&frames), "talk_enterprise");
    let state = dialog_state(&h, &conversation_of(&frames)).await;
    assert!(state.unverified.is_empty(), "{state:?}");
    assert_eq!(state.attributes.get("user_id"), Some("u-42"));
}

#[tokio::test]
async fn an_unsigned_verified_only_attribute_is_ignored_by_a_branch_and_marked_unverified() {
    let h = Harness::with(verified_company_size);
    let _ben = h.agent("ben").await;
    let (_, frames) = walk_to_live_chat(&h, json!({"attributes": {"company_size": 1000}})).await;
    assert_eq!(
        session_frame(&frames).get("identity"),
        None,
        "no identity, no outcome"
    );
    assert_eq!(
        live_chat_card(&frames),
        "talk",
        "the branch read it as unknown"
    );
    let state = dialog_state(&h, &conversation_of(&frames)).await;
    assert_eq!(state.attributes.get("company_size"), Some("1000"), "kept");
    assert_eq!(
        state.unverified.iter().collect::<Vec<_>>(),
        [&name("company_size")]
    );

    // Without the setting the same start takes the enterprise branch: the
    // difference is the verified-only mark, not the value.
    let open = Harness::new();
    let _ben = open.agent("ben").await;
    let (_, frames) = walk_to_live_chat(&open, json!({"attributes": {"company_size": 1000}})).await;
    assert_eq!(live_chat_card(&frames), "talk_enterprise");
}

#[tokio::test]
async fn a_forged_an_expired_or_a_malformed_identify_counts_as_unsigned() {
    for (case, make, outcome) in [
        (
            "another secret",
            (|h: &Harness| {
                identity(
                    h,
                    &[("company_size", "1000")],
                    600,
                    b"not-the-account-secret-at-all-xxxx",
                )
            }) as fn(&Harness) -> Value,
            "bad_signature",
        ),
        (
            "a changed attribute",
            |h: &Harness| {
                let mut id = identity(h, &[("company_size", "10")], 600, IDENTIFY_SECRET);
                id["attributes"]["company_size"] = json!("1000");
                id
            },
            "bad_signature",
        ),
        (
            "another visitor",
            |h: &Harness| {
                let mut id = identity(h, &[("company_size", "1000")], 600, IDENTIFY_SECRET);
                id["attributes"]["user_id"] = json!("u-43");
                id
            },
            "bad_signature",
        ),
        (
            "expired",
            |h: &Harness| identity(h, &[("company_size", "1000")], 0, IDENTIFY_SECRET),
            "expired",
        ),
        (
            "malformed",
            |h: &Harness| {
                let mut id = identity(h, &[("company_size", "1000")], 600, IDENTIFY_SECRET);
                id["signature"] = json!("not hex");
                id
            },
            "malformed",
        ),
    ] {
        let h = Harness::with(verified_company_size);
        let _ben = h.agent("ben").await;
        let (_, frames) = walk_to_live_chat(&h, json!({"identity": make(&h)})).await;
        assert_eq!(session_frame(&frames)["identity"], outcome, "{case}");
        assert_eq!(live_chat_card(&frames), "talk", "{case}");
        let state = dialog_state(&h, &conversation_of(&frames)).await;
        assert_eq!(
            state.unverified.iter().collect::<Vec<_>>(),
            [&name("company_size")],
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_replay_after_the_expiry_is_refused_but_what_was_verified_stays_verified() {
    let h = Harness::with(verified_company_size);
    let signed = identity(&h, &[("company_size", "1000")], 60, IDENTIFY_SECRET);
    let v = h.connect(&[]).await.unwrap();
    h.send(&v, json!({"action": "start", "identity": signed.clone()}))
        .await;
    let frames = h.frames(&v);
    assert_eq!(session_frame(&frames)["identity"], "verified");
    let conversation = conversation_of(&frames);

    h.clock.advance(SignedDuration::from_secs(60));
    // The same page reloaded: the same identify, now expired, and an unsigned
    // value trying to replace the verified one.
    h.send(
        &v,
        json!({"action": "start", "identity": signed, "attributes": {"company_size": "5"}}),
    )
    .await;
    assert_eq!(session_frame(&h.frames(&v))["identity"], "expired");
    let state = dialog_state(&h, &conversation).await;
    assert_eq!(state.attributes.get("company_size"), Some("1000"));
    assert!(state.unverified.is_empty(), "{state:?}");
}

#[tokio::test]
async fn an_unsigned_verified_only_attribute_is_ignored_by_routing_and_shown_unverified() {
    // The live chat cards route by the `enterprise` rule (company_size > 500), sent
    // to cleo; the branch before them reads nothing verified-only.
    let by_rule = |d: &mut Directory| {
        verified_company_size(d);
        d.rules[0].target =
            crate::domain::RuleTarget::Agents(vec![crate::domain::AgentId::parse("cleo").unwrap()]);
        for card in d.dialogs.iter_mut().flat_map(|d| d.dialog.cards.iter_mut()) {
            if let Card::LiveChat(l) = card {
                l.routing = RoutingMode::CustomRules {
                    rules: vec![RuleId::parse("enterprise").unwrap()],
                };
            }
        }
    };
    for signed in [true, false] {
        let h = Harness::with(by_rule);
        let ana = h.agent("ana").await;
        let cleo = h.agent("cleo").await;
        h.frames(&ana);
        h.frames(&cleo);
        let start = if signed {
            json!({"identity": identity(&h, &[("company_size", "1000")], 600, IDENTIFY_SECRET)})
        } else {
            json!({"attributes": {"company_size": "1000"}})
        };
        walk_to_live_chat(&h, start).await;
        h.pump().await;
        // Signed, the rule matches and cleo is offered the chat; unsigned, no rule
        // matches and the request is missed (the list every agent gets).
        let frames = h.frames(&cleo);
        let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
        let visitor = if signed {
            assert_eq!(kinds, ["offer"], "signed");
            assert_eq!(h.types(&ana), Vec::<String>::new(), "signed");
            frames[0]["visitor"].clone()
        } else {
            assert_eq!(kinds, ["missed"], "unsigned");
            frames[0]["chats"][0]["visitor"].clone()
        };
        let size = visitor["answers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["label"] == "company_size")
            .unwrap()
            .clone();
        assert_eq!(size["value"], "1000");
        assert_eq!(size.get("unverified").is_some(), !signed, "{size}");
    }
}

/// The demo account blocking gmail.com (and its subdomains).
fn blocking_gmail(d: &mut Directory) {
    d.settings.blocked_email_domains = vec![EmailDomain::parse("gmail.com").unwrap()];
}

#[tokio::test]
async fn a_blocked_domain_is_refused_by_a_capture_card_and_nothing_is_stored() {
    let h = Harness::with(blocking_gmail);
    let v = h.connect(&[]).await.unwrap();
    h.send(&v, json!({"action": "start"})).await;
    h.send(&v, json!({"action": "answer", "card": "ask", "answer": 0}))
        .await;
    h.send(
        &v,
        json!({"action": "submit", "card": "first_name", "value": "Jo"}),
    )
    .await;
    let conversation = conversation_of(&h.frames(&v));
    let before = dialog_state(&h, &conversation).await;
    for address in ["jo@gmail.com", "Jo@Mail.GMAIL.com"] {
        h.send(
            &v,
            json!({"action": "submit", "card": "email", "value": address}),
        )
        .await;
        let frames = h.frames(&v);
        assert_eq!(frames.len(), 1, "{frames:?}");
        let card = &frames[0]["cards"][0];
        assert_eq!(card["card"], "email", "the same card again");
        let error = card["error"].as_str().unwrap();
        assert!(error.contains("gmail.com"), "{error}");
        assert!(!error.contains("jo@"), "the domain only: {error}");
        assert_eq!(dialog_state(&h, &conversation).await, before, "{address}");
    }
    h.send(
        &v,
        json!({"action": "submit", "card": "email", "value": "jo@notgmail.com"}),
    )
    .await;
    assert_eq!(
        dialog_state(&h, &conversation)
            .await
            .attributes
            .get("email"),
        Some("jo@notgmail.com")
    );
}

#[tokio::test]
async fn a_blocked_domain_is_refused_by_the_fallback_form_and_the_connection_goes_on() {
    let h = Harness::with(blocking_gmail);
    // Ana declines the request: nobody else is online, so it falls back.
    let ana = h.agent("ana").await;
    let (visitor, frames) = h.visitor_reaching_live_chat().await;
    let conversation = conversation_of(&frames);
    h.pump().await;
    h.send(
        &ana,
        json!({"action": "decline", "conversation": conversation}),
    )
    .await;
    h.pump().await;
    assert!(h.types(&visitor).contains(&"fallback".to_string()));
    let (before_state, before_conv) = (
        dialog_state(&h, &conversation).await,
        h.stored(&conversation).await,
    );

    h.send(
        &visitor,
        json!({"action": "leave_details", "email": "jo@gmail.com", "message": "Call me"}),
    )
    .await;
    let frames = h.frames(&visitor);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["code"], "email_domain_blocked");
    assert_eq!(
        frames[0]["message"],
        "we cannot accept addresses at gmail.com: please enter your work email"
    );
    assert_eq!(dialog_state(&h, &conversation).await, before_state);
    assert_eq!(h.stored(&conversation).await, before_conv);

    h.send(
        &visitor,
        json!({"action": "leave_details", "email": "jo@small.example", "message": "Call me"}),
    )
    .await;
    assert_eq!(h.types(&visitor), ["details_received"]);
}
