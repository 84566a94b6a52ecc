//! The visitor's language (`start`'s `lang`): the texts the server makes come in
//! it, from the frame that set it on, and an unknown language is English.

use serde_json::{Value, json};

use super::{Harness, conversation_of};
use crate::domain::EmailDomain;
use crate::routing::Directory;

/// Starts a visitor with `lang` (none: no field), answers Yes, gives a name and
/// submits `email`: the connection, the frames the submit brought and the
/// conversation.
async fn submit_email(
    h: &Harness,
    lang: Option<&str>,
    email: &str,
) -> (crate::domain::ConnectionId, Vec<Value>, String) {
    let v = h.connect(&[]).await.unwrap();
    let mut start = json!({"action": "start"});
    if let Some(lang) = lang {
        start["lang"] = json!(lang);
    }
    h.send(&v, start).await;
    h.send(&v, json!({"action": "answer", "card": "ask", "answer": 0}))
        .await;
    h.send(
        &v,
        json!({"action": "submit", "card": "first_name", "value": "Jo"}),
    )
    .await;
    let conversation = conversation_of(&h.frames(&v));
    h.send(
        &v,
        json!({"action": "submit", "card": "email", "value": email}),
    )
    .await;
    let frames = h.frames(&v);
    (v, frames, conversation)
}

fn card_error(frames: &[Value]) -> String {
    assert_eq!(frames.len(), 1, "{frames:?}");
    frames[0]["cards"][0]["error"].as_str().unwrap().to_string()
}

fn blocking_gmail(d: &mut Directory) {
    d.settings.blocked_email_domains = vec![EmailDomain::parse("gmail.com").unwrap()];
}

#[tokio::test]
async fn a_german_start_gets_german_capture_errors() {
    let h = Harness::with(blocking_gmail);
    let (_, frames, _) = submit_email(&h, Some("de-AT"), "jo@example").await;
    assert_eq!(
        card_error(&frames),
        "Geben Sie eine E-Mail-Adresse wie name@example.com ein"
    );
    let (_, frames, _) = submit_email(&h, Some("de"), "jo@gmail.com").await;
    assert_eq!(
        card_error(&frames),
        "Adressen bei gmail.com können wir nicht annehmen: Bitte geben Sie Ihre geschäftliche E-Mail-Adresse ein"
    );
}

#[tokio::test]
async fn an_unknown_or_absent_language_gets_english_capture_errors() {
    let h = Harness::new();
    for lang in [Some("ja-JP"), Some("en-GB"), None] {
        let (_, frames, _) = submit_email(&h, lang, "jo@example").await;
        assert_eq!(
            card_error(&frames),
            "enter an email address like name@example.com",
            "{lang:?}"
        );
    }
}

#[tokio::test]
async fn the_language_stays_with_the_session_when_a_later_start_sends_none() {
    let h = Harness::new();
    let v = h.connect(&[]).await.unwrap();
    h.send(&v, json!({"action": "start", "lang": "fr"})).await;
    h.send(&v, json!({"action": "answer", "card": "ask", "answer": 0}))
        .await;
    // A reload whose widget sent no language (an older widget) keeps French.
    h.send(&v, json!({"action": "start"})).await;
    h.send(
        &v,
        json!({"action": "submit", "card": "first_name", "value": "Jo"}),
    )
    .await;
    h.frames(&v);
    h.send(
        &v,
        json!({"action": "submit", "card": "email", "value": "jo@"}),
    )
    .await;
    assert_eq!(
        card_error(&h.frames(&v)),
        "saisissez une adresse e-mail comme nom@example.com"
    );
}

#[tokio::test]
async fn a_german_visitor_gets_the_standard_fallback_and_the_blocked_domain_refusal_in_german() {
    let h = Harness::with(blocking_gmail);
    // Ana declines the request: nobody else is online, so it falls back.
    let ana = h.agent("ana").await;
    let (visitor, _, conversation) = submit_email(&h, Some("de"), "jo@small.example").await;
    h.pump().await;
    h.send(
        &ana,
        json!({"action": "decline", "conversation": conversation}),
    )
    .await;
    h.pump().await;
    let frames = h.frames(&visitor);
    let fallback = frames
        .iter()
        .find(|f| f["type"] == "fallback")
        .expect("a fallback");
    assert_eq!(
        fallback["text"],
        crate::texts::standard_fallback(crate::domain::UiLang::De)
    );
    assert!(fallback["text"].as_str().unwrap().starts_with("Leider"));

    h.send(
        &visitor,
        json!({"action": "leave_details", "email": "jo@gmail.com"}),
    )
    .await;
    let frames = h.frames(&visitor);
    assert_eq!(frames[0]["code"], "email_domain_blocked");
    assert_eq!(
        frames[0]["message"],
        "Adressen bei gmail.com können wir nicht annehmen: Bitte geben Sie Ihre geschäftliche E-Mail-Adresse ein"
    );
}

#[tokio::test]
async fn an_account_fallback_text_is_shown_as_written_whatever_the_language() {
    let h = Harness::with(|d| {
        d.settings.fallback =
            crate::domain::FallbackMessage::Custom("Write to sales@acme.example".into());
    });
    let ana = h.agent("ana").await;
    let (visitor, _, conversation) = submit_email(&h, Some("es"), "jo@small.example").await;
    h.pump().await;
    h.send(
        &ana,
        json!({"action": "decline", "conversation": conversation}),
    )
    .await;
    h.pump().await;
    let frames = h.frames(&visitor);
    let fallback = frames.iter().find(|f| f["type"] == "fallback").unwrap();
    assert_eq!(fallback["text"], "Write to sales@acme.example");
}

#[tokio::test]
async fn an_emailed_answer_to_a_portuguese_visitors_missed_request_has_a_portuguese_subject() {
    let h = Harness::new();
    let ana = h.agent("ana").await;
    let (_, _, conversation) = submit_email(&h, Some("pt-BR"), "jo@small.example").await;
    h.pump().await;
    h.send(
        &ana,
        json!({"action": "decline", "conversation": conversation}),
    )
    .await;
    h.pump().await;
    let ben = h.agent("ben").await;
    h.frames(&ben);
    let before = h.notifier.sent().len();
    h.send(&ben, json!({"action": "reply_by_email", "conversation": conversation, "id": "r1", "text": "Olá Jo"})).await;
    assert_eq!(h.frames(&ben)[0]["type"], "email_sent");
    let email = h.notifier.sent()[before].clone();
    assert_eq!(email.subject, "Re: sua solicitação de chat");
    assert_eq!(
        email.body, "Olá Jo\n\nBen Okafor",
        "the agent's words as written"
    );
}
