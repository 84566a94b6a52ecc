//! The card engine, one behaviour per test.

use super::validate_tests::{dialog, targets};
use super::*;
use crate::domain::{AttributeName, Attributes, CardId, RoutingMode, TeamId};

fn valid(start: &str, cards: &str) -> ValidDialog {
    validate(&dialog(start, cards), &targets()).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn sales() -> ValidDialog {
    let yaml = include_str!("../../../examples/sales-dialog.yaml");
    validate(&Dialog::from_yaml(yaml).unwrap(), &targets()).unwrap()
}

fn id(s: &str) -> CardId {
    CardId::parse(s).unwrap()
}

fn attr(s: &str) -> AttributeName {
    AttributeName::parse(s).unwrap()
}

fn attrs(pairs: &[(&str, &str)]) -> Attributes {
    let mut a = Attributes::new();
    for (k, v) in pairs {
        a.set(attr(k), *v);
    }
    a
}

const AVAILABLE: Context = Context {
    any_agent_available: true,
    blocked_email_domains: &[],
};
const NOBODY: Context = Context {
    any_agent_available: false,
    blocked_email_domains: &[],
};

fn start(d: &ValidDialog, state: &DialogState, ctx: &Context) -> Step {
    advance(d, state, &VisitorAction::Start, ctx).unwrap()
}

fn answer(d: &ValidDialog, state: &DialogState, card: &str, answer: usize) -> Step {
    let action = VisitorAction::Answer {
        card: id(card),
        answer,
    };
    advance(d, state, &action, &AVAILABLE).unwrap()
}

fn submit(d: &ValidDialog, state: &DialogState, card: &str, value: &str, ctx: &Context) -> Step {
    let action = VisitorAction::Submit {
        card: id(card),
        value: value.into(),
    };
    advance(d, state, &action, ctx).unwrap()
}

fn waiting(card: &str) -> Position {
    Position::Waiting { card: id(card) }
}

const CAPTURE_EMAIL: &str = "  - {id: mail, type: capture, field: email, prompt: Email?, attribute: email, next: bye}\n  - {id: bye, type: message, text: 'Bye {{visitor.email}}'}\n";

#[test]
fn message_cards_chain_until_the_branch_ends() {
    // Arrange
    let d = valid(
        "a",
        "  - {id: a, type: message, text: A, next: b}\n  - {id: b, type: message, text: B}\n",
    );

    // Act
    let step = start(&d, &DialogState::default(), &AVAILABLE);

    // Assert
    assert_eq!(
        step.cards,
        vec![
            CardView::Message {
                card: id("a"),
                text: "A".into()
            },
            CardView::Message {
                card: id("b"),
                text: "B".into()
            },
        ]
    );
    assert_eq!(step.events, vec![DialogEvent::Finished]);
    assert_eq!(step.state.position, Position::Finished);
}

#[test]
fn a_message_renders_its_token_default_for_an_anonymous_visitor() {
    // Arrange
    let d = sales();

    // Act
    let anonymous = start(&d, &DialogState::default(), &AVAILABLE);
    let known = start(
        &d,
        &DialogState::new(attrs(&[("first_name", "Ana")])),
        &AVAILABLE,
    );

    // Assert
    assert!(matches!(&anonymous.cards[0], CardView::Message { text, .. }
        if text == "Hi there! Thanks for taking a look at our pricing."));
    assert!(matches!(&known.cards[0], CardView::Message { text, .. }
        if text == "Hi Ana! Thanks for taking a look at our pricing."));
}

#[test]
fn a_question_waits_and_its_answer_stores_the_value_and_follows_the_branch() {
    // Arrange
    let d = sales();
    let at_question = start(&d, &DialogState::default(), &AVAILABLE);

    // Act
    let step = answer(&d, &at_question.state, "ask", 0);

    // Assert
    assert!(
        matches!(&at_question.cards[1], CardView::Question { answers, .. }
        if answers == &["Yes".to_string(), "No thanks".to_string()])
    );
    assert_eq!(at_question.state.position, waiting("ask"));
    assert_eq!(step.state.attributes.get("wants_sales"), Some("yes"));
    assert_eq!(
        step.events,
        vec![DialogEvent::Captured {
            attribute: attr("wants_sales"),
            value: "yes".into()
        }]
    );
    assert_eq!(step.state.position, waiting("first_name"));
}

#[test]
fn a_question_without_an_attribute_stores_nothing() {
    // Arrange
    let d = valid(
        "ask",
        "  - {id: ask, type: question, prompt: Talk?, answers: [{label: 'Yes'}, {label: 'No'}]}\n",
    );
    let at = start(&d, &DialogState::default(), &AVAILABLE);

    // Act
    let step = answer(&d, &at.state, "ask", 1);

    // Assert
    assert_eq!(step.state.attributes, Attributes::new());
    assert_eq!(step.events, vec![DialogEvent::Finished]);
}

#[test]
fn a_valid_email_is_captured_normalised_and_the_dialog_goes_on() {
    // Arrange
    let d = valid("mail", CAPTURE_EMAIL);
    let at = start(&d, &DialogState::default(), &AVAILABLE);

    // Act
    let step = submit(&d, &at.state, "mail", " Ana@ACME.com ", &AVAILABLE);

    // Assert
    assert_eq!(
        step.events,
        vec![
            DialogEvent::Captured {
                attribute: attr("email"),
                value: "Ana@acme.com".into()
            },
            DialogEvent::Finished
        ]
    );
    assert!(matches!(&step.cards[0], CardView::Message { text, .. } if text == "Bye Ana@acme.com"));
}

#[test]
fn a_bad_email_is_refused_with_a_clear_message_and_the_same_card_again() {
    // Arrange
    let d = valid("mail", CAPTURE_EMAIL);
    let at = start(&d, &DialogState::default(), &AVAILABLE);

    // Act
    let step = submit(&d, &at.state, "mail", "ana@example", &AVAILABLE);

    // Assert
    assert_eq!(step.state, at.state);
    assert!(step.events.is_empty());
    assert_eq!(
        step.cards,
        vec![CardView::Capture {
            card: id("mail"),
            field: FieldType::Email,
            prompt: "Email?".into(),
            placeholder: None,
            options: Vec::new(),
            optional: false,
            error: Some("enter an email address like name@example.com".into()),
        }]
    );
}

#[test]
fn a_phone_number_needs_six_to_twenty_phone_characters_with_six_digits() {
    // Arrange
    let d = valid(
        "phone",
        "  - {id: phone, type: capture, field: phone, prompt: Phone?, attribute: phone}\n",
    );
    let at = start(&d, &DialogState::default(), &AVAILABLE);
    let error_of = |value: &str| match &submit(&d, &at.state, "phone", value, &AVAILABLE).cards[..]
    {
        [CardView::Capture { error, .. }] => error.clone(),
        _ => None,
    };

    // Act + Assert
    assert_eq!(error_of("+1 (555) 123-4567"), None);
    assert_eq!(
        error_of("12345"),
        Some("enter a phone number like +1 555 123 4567".into())
    );
    assert!(error_of("+1 555 CALL NOW").is_some());
    assert!(error_of("+-() 12345").is_some());
    assert!(error_of("123456789012345678901").is_some());
}

#[test]
fn a_picklist_accepts_only_its_options() {
    // Arrange
    let d = valid(
        "size",
        "  - {id: size, type: capture, field: picklist, prompt: Size?, attribute: company_size, options: [1-50, 51-500, 500+]}\n",
    );
    let at = start(&d, &DialogState::default(), &AVAILABLE);

    // Act
    let refused = submit(&d, &at.state, "size", "lots", &AVAILABLE);
    let accepted = submit(&d, &at.state, "size", "51-500", &AVAILABLE);

    // Assert
    assert!(
        matches!(&refused.cards[..], [CardView::Capture { error: Some(e), options, .. }]
        if e == "choose one of the options" && options.len() == 3)
    );
    assert_eq!(
        accepted.state.attributes.get("company_size"),
        Some("51-500")
    );
}

#[test]
fn a_text_must_be_non_blank_and_at_most_500_characters() {
    // Arrange
    let d = valid(
        "name",
        "  - {id: name, type: capture, field: text, prompt: Name?, attribute: first_name}\n",
    );
    let at = start(&d, &DialogState::default(), &AVAILABLE);

    // Act
    let blank = submit(&d, &at.state, "name", "   ", &AVAILABLE);
    let long = submit(&d, &at.state, "name", &"a".repeat(501), &AVAILABLE);
    let ok = submit(&d, &at.state, "name", " Ana ", &AVAILABLE);

    // Assert
    assert_eq!(blank.state, at.state);
    assert!(
        matches!(&blank.cards[..], [CardView::Capture { error: Some(e), .. }] if e == "enter a value")
    );
    assert!(
        matches!(&long.cards[..], [CardView::Capture { error: Some(e), .. }] if e == "enter at most 500 characters")
    );
    assert_eq!(ok.state.attributes.get("first_name"), Some("Ana"));
}

#[test]
fn a_text_with_control_characters_is_refused_and_not_captured() {
    // Arrange
    let d = valid(
        "name",
        "  - {id: name, type: capture, field: text, prompt: Name?, attribute: first_name}\n",
    );
    let at = start(&d, &DialogState::default(), &AVAILABLE);

    // Act
    let bell = submit(&d, &at.state, "name", "Ana\u{7}", &AVAILABLE);

    // Assert
    assert_eq!(bell.state, at.state);
    assert!(
        matches!(&bell.cards[..], [CardView::Capture { error: Some(e), .. }] if e.contains("control characters"))
    );
}

#[test]
fn an_optional_capture_accepts_an_empty_submit_and_stores_nothing() {
    // Arrange
    let d = valid(
        "phone",
        "  - {id: phone, type: capture, field: phone, prompt: Phone?, attribute: phone, required: false}\n",
    );
    let at = start(&d, &DialogState::default(), &AVAILABLE);

    // Act
    let step = submit(&d, &at.state, "phone", "", &AVAILABLE);

    // Assert
    assert_eq!(step.events, vec![DialogEvent::Finished]);
    assert!(!step.state.attributes.is_known("phone"));
}

#[test]
fn a_known_attribute_skips_its_capture_card_by_default() {
    // Arrange
    let d = valid("mail", CAPTURE_EMAIL);
    let known = DialogState::new(attrs(&[("email", "ana@acme.com")]));

    // Act
    let step = start(&d, &known, &AVAILABLE);

    // Assert
    assert_eq!(step.events, vec![DialogEvent::Finished]);
    assert!(
        matches!(&step.cards[..], [CardView::Message { text, .. }] if text == "Bye ana@acme.com")
    );
}

#[test]
fn a_known_attribute_is_asked_again_when_the_card_overwrites() {
    // Arrange
    let d = valid(
        "mail",
        &CAPTURE_EMAIL.replace(
            "attribute: email,",
            "attribute: email, if_known: overwrite,",
        ),
    );
    let known = DialogState::new(attrs(&[("email", "old@acme.com")]));

    // Act
    let at = start(&d, &known, &AVAILABLE);
    let step = submit(&d, &at.state, "mail", "new@acme.com", &AVAILABLE);

    // Assert
    assert_eq!(at.state.position, waiting("mail"));
    assert_eq!(step.state.attributes.get("email"), Some("new@acme.com"));
}

#[test]
fn a_goal_is_recorded_without_being_shown() {
    // Arrange
    let d = valid(
        "goal",
        "  - {id: goal, type: goal, name: Engaged, score: 2, next: bye}\n  - {id: bye, type: message, text: Bye}\n",
    );

    // Act
    let step = start(&d, &DialogState::default(), &AVAILABLE);

    // Assert
    assert_eq!(step.cards.len(), 1);
    assert_eq!(
        step.events,
        vec![
            DialogEvent::GoalReached {
                card: id("goal"),
                name: "Engaged".into(),
                score: Some(2)
            },
            DialogEvent::Finished
        ]
    );
}

#[test]
fn a_live_chat_card_shows_its_text_and_requests_routing() {
    // Arrange
    let d = valid(
        "talk",
        "  - {id: talk, type: live_chat, routing: {mode: team, team: sales}}\n",
    );

    // Act
    let step = start(&d, &DialogState::default(), &AVAILABLE);

    // Assert
    assert_eq!(
        step.cards,
        vec![CardView::LiveChat {
            card: id("talk"),
            text: DEFAULT_CONNECTING_TEXT.into()
        }]
    );
    assert_eq!(
        step.events,
        vec![DialogEvent::LiveChatRequested {
            card: id("talk"),
            routing: RoutingMode::Team {
                team: TeamId::parse("sales").unwrap()
            }
        }]
    );
    assert_eq!(step.state.position, Position::LiveChat { card: id("talk") });
}

#[test]
fn a_branch_follows_the_first_matching_condition_on_attributes() {
    // Arrange
    let d = valid(
        "size",
        "  - id: size\n    type: branch\n    branches:\n      \
         - when: {match: any, conditions: [{attribute: company_size, operator: greater, value: 500}]}\n        next: big\n    otherwise: small\n\
         \x20 - {id: big, type: message, text: Big}\n  - {id: small, type: message, text: Small}\n",
    );
    let text_for = |size: &str| {
        let step = start(
            &d,
            &DialogState::new(attrs(&[("company_size", size)])),
            &AVAILABLE,
        );
        match &step.cards[..] {
            [CardView::Message { text, .. }] => text.clone(),
            other => panic!("{other:?}"),
        }
    };

    // Act + Assert
    assert_eq!(text_for("1000"), "Big");
    assert_eq!(text_for("20"), "Small");
    assert_eq!(text_for("unknown"), "Small");
}

#[test]
fn a_branch_on_agent_availability_offers_live_chat_only_when_someone_is_there() {
    // Arrange: the sales dialog up to the email capture.
    let d = sales();
    let s = start(&d, &DialogState::default(), &AVAILABLE).state;
    let s = answer(&d, &s, "ask", 0).state;
    let s = submit(&d, &s, "first_name", "Ana", &AVAILABLE).state;

    // Act
    let with_agents = submit(&d, &s, "email", "ana@acme.com", &AVAILABLE);
    let without = submit(&d, &s, "email", "ana@acme.com", &NOBODY);

    // Assert
    assert_eq!(
        with_agents.state.position,
        Position::LiveChat { card: id("talk") }
    );
    assert!(
        matches!(&with_agents.cards[..], [CardView::LiveChat { text, .. }]
        if text == "Connecting you with someone from our sales team, Ana…")
    );
    assert!(without.events.contains(&DialogEvent::Finished));
    assert!(
        matches!(&without.cards[..], [CardView::Message { text, .. }]
        if text.contains("ana@acme.com"))
    );
}

#[test]
fn a_refresh_reshows_the_current_card_without_repeating_events() {
    // Arrange
    let d = sales();
    let s = start(&d, &DialogState::default(), &AVAILABLE).state;
    let s = answer(&d, &s, "ask", 0).state;
    let at_email = submit(&d, &s, "first_name", "Ana", &AVAILABLE);

    // Act
    let resumed = start(&d, &at_email.state, &AVAILABLE);

    // Assert
    assert_eq!(resumed.state, at_email.state);
    assert!(resumed.events.is_empty());
    assert_eq!(resumed.cards, at_email.cards);
}

#[test]
fn a_refresh_in_live_chat_reshows_the_live_chat_card_without_routing_again() {
    // Arrange
    let d = valid(
        "talk",
        "  - {id: talk, type: live_chat, routing: {mode: round_robin}}\n",
    );
    let reached = start(&d, &DialogState::default(), &AVAILABLE);

    // Act
    let resumed = start(&d, &reached.state, &AVAILABLE);

    // Assert
    assert_eq!(resumed.cards, reached.cards);
    assert!(resumed.events.is_empty());
}

#[test]
fn the_no_thanks_branch_records_its_goal_and_finishes() {
    // Arrange
    let d = sales();
    let at = start(&d, &DialogState::default(), &AVAILABLE);

    // Act
    let step = answer(&d, &at.state, "ask", 1);

    // Assert
    assert_eq!(step.state.position, Position::Finished);
    assert!(step.events.iter().any(|e| matches!(e, DialogEvent::GoalReached { name, score: Some(0), .. } if name == "Declined a sales chat")));
}

#[test]
fn actions_that_do_not_fit_the_state_are_errors_and_change_nothing() {
    // Arrange
    let d = sales();
    let fresh = DialogState::default();
    let at_ask = start(&d, &fresh, &AVAILABLE).state;
    let finished = answer(&d, &at_ask, "ask", 1).state;
    let act = |state: &DialogState, action: VisitorAction| advance(&d, state, &action, &AVAILABLE);

    // Act + Assert
    assert_eq!(
        act(
            &fresh,
            VisitorAction::Answer {
                card: id("ask"),
                answer: 0
            }
        ),
        Err(ActionError::NotStarted)
    );
    assert!(matches!(
        act(
            &at_ask,
            VisitorAction::Answer {
                card: id("email"),
                answer: 0
            }
        ),
        Err(ActionError::NotCurrentCard { .. })
    ));
    assert_eq!(
        act(
            &at_ask,
            VisitorAction::Answer {
                card: id("ask"),
                answer: 2
            }
        ),
        Err(ActionError::NoSuchAnswer {
            card: id("ask"),
            answer: 2,
            count: 2
        })
    );
    assert_eq!(
        act(
            &at_ask,
            VisitorAction::Submit {
                card: id("ask"),
                value: "x".into()
            }
        ),
        Err(ActionError::NotACapture { card: id("ask") })
    );
    assert_eq!(
        act(&finished, VisitorAction::Start),
        Err(ActionError::Finished)
    );
}

#[test]
fn a_saved_position_the_dialog_no_longer_has_is_reported() {
    // Arrange
    let d = sales();
    let stale = DialogState {
        position: waiting("removed"),
        attributes: Attributes::new(),
        ..Default::default()
    };

    // Act
    let result = advance(&d, &stale, &VisitorAction::Start, &AVAILABLE);

    // Assert
    assert_eq!(
        result,
        Err(ActionError::StaleState {
            card: id("removed")
        })
    );
}

#[test]
fn the_state_round_trips_through_json_for_storage() {
    // Arrange
    let d = sales();
    let state = start(
        &d,
        &DialogState::new(attrs(&[("page_url", "https://x.y")])),
        &AVAILABLE,
    )
    .state;

    // Act
    let json = serde_json::to_string(&state).unwrap();
    let back: DialogState = serde_json::from_str(&json).unwrap();

    // Assert
    assert_eq!(back, state);
    assert!(json.contains(r#""at":"waiting""#), "{json}");
}

/// A dialog in English and German with a Portuguese greeting too, falling back to
/// German: a greeting, a question, a capture card and a live chat card.
fn multilingual() -> ValidDialog {
    let yaml = concat!(
        "id: d\nname: D\nlanguages: [en, de]\nfallback_language: de\nstart: hello\ncards:\n",
        "  - {id: hello, type: message, text: {en: Hi, de: Hallo, pt: Olá}, next: ask}\n",
        "  - id: ask\n    type: question\n    prompt: {en: Talk to sales?, de: Mit dem Vertrieb sprechen?}\n",
        "    attribute: wants\n",
        "    answers:\n      - {label: {en: 'Yes', de: Ja}, next: email}\n",
        "      - {label: {en: 'No', de: Nein}, value: 'no'}\n",
        "  - id: email\n    type: capture\n    field: email\n    attribute: email\n",
        "    prompt: {en: Your email?, de: Ihre E-Mail?}\n    placeholder: {en: you@work, de: sie@arbeit}\n",
        "    next: talk\n",
        "  - {id: talk, type: live_chat, routing: {mode: round_robin}}\n",
    );
    validate(&Dialog::from_yaml(yaml).unwrap(), &targets()).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn speaking(tag: &str) -> DialogState {
    DialogState {
        lang: crate::domain::Lang::parse(tag).unwrap(),
        ..DialogState::default()
    }
}

#[test]
fn per_language_texts_come_in_the_visitors_language_else_the_fallback() {
    let d = multilingual();
    for (tag, greeting, prompt, yes) in [
        ("de-AT", "Hallo", "Mit dem Vertrieb sprechen?", "Ja"),
        ("en", "Hi", "Talk to sales?", "Yes"),
        ("pt-BR", "Olá", "Mit dem Vertrieb sprechen?", "Ja"),
        ("ja", "Hallo", "Mit dem Vertrieb sprechen?", "Ja"),
    ] {
        let step = start(&d, &speaking(tag), &AVAILABLE);
        assert_eq!(
            step.cards[..2],
            [
                CardView::Message {
                    card: id("hello"),
                    text: greeting.into()
                },
                CardView::Question {
                    card: id("ask"),
                    prompt: prompt.into(),
                    answers: vec![yes.into(), if yes == "Yes" { "No" } else { "Nein" }.into()],
                },
            ],
            "{tag}"
        );
    }
}

#[test]
fn an_answer_with_a_per_language_label_stores_the_fallback_languages_label() {
    let d = multilingual();
    let asked = start(&d, &speaking("en"), &AVAILABLE).state;
    let step = answer(&d, &asked, "ask", 0);
    assert_eq!(
        step.state.attributes.get("wants"),
        Some("Ja"),
        "the same for everyone"
    );
    let CardView::Capture {
        prompt,
        placeholder,
        ..
    } = &step.cards[0]
    else {
        panic!("{:?}", step.cards)
    };
    assert_eq!(
        (prompt.as_str(), placeholder.as_deref()),
        ("Your email?", Some("you@work"))
    );
}

#[test]
fn capture_errors_and_the_default_connecting_text_come_in_the_visitors_language() {
    let d = multilingual();
    let asked = start(&d, &speaking("es"), &AVAILABLE).state;
    let at_email = answer(&d, &asked, "ask", 0).state;
    let refused = submit(&d, &at_email, "email", "jo@", &AVAILABLE);
    let CardView::Capture { error, .. } = &refused.cards[0] else {
        panic!("{:?}", refused.cards)
    };
    assert_eq!(
        error.as_deref(),
        Some("introduce una dirección de correo como nombre@example.com")
    );
    let accepted = submit(&d, &at_email, "email", "jo@acme.example", &AVAILABLE);
    assert_eq!(
        accepted.cards,
        [CardView::LiveChat {
            card: id("talk"),
            text: "Te estamos conectando con alguien de nuestro equipo…".into()
        }]
    );
    assert_eq!(
        accepted.state.lang.as_str(),
        "es",
        "the state keeps the language"
    );
}
