//! One test per validation rule, plus the shipped example.

use super::*;
use crate::domain::{AgentId, RuleId, TeamId};

pub(super) fn targets() -> Targets {
    Targets {
        agents: ["ana", "ben", "cleo"]
            .into_iter()
            .map(|a| AgentId::parse(a).unwrap())
            .collect(),
        teams: [TeamId::parse("sales").unwrap()].into_iter().collect(),
        rules: [RuleId::parse("enterprise").unwrap()].into_iter().collect(),
    }
}

/// A dialog from the YAML list of its cards, starting at `start`.
pub(super) fn dialog(start: &str, cards: &str) -> Dialog {
    let yaml = format!("id: d\nname: D\nstart: {start}\ncards:\n{cards}");
    Dialog::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn errors(dialog: &Dialog) -> Vec<String> {
    match validate(dialog, &targets()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn assert_refused(dialog: &Dialog, expected: &str) {
    let errors = errors(dialog);
    assert!(
        errors.iter().any(|e| e == expected),
        "expected {expected:?} among {errors:#?}"
    );
}

const BYE: &str = "  - {id: bye, type: message, text: Bye}\n";

#[test]
fn the_sales_example_validates() {
    // Arrange
    let yaml = include_str!("../../../examples/sales-dialog.yaml");

    // Act
    let dialog = Dialog::from_path_contents("sales-dialog.yaml", yaml).unwrap();
    let valid = validate(&dialog, &targets());

    // Assert
    let valid = valid.unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(valid.needs_availability());
    assert_eq!(valid.start().as_str(), "greeting");
}

#[test]
fn a_dialog_without_an_availability_branch_needs_no_availability_lookup() {
    // Arrange
    let d = dialog("bye", BYE);

    // Act
    let valid = validate(&d, &targets()).unwrap();

    // Assert
    assert!(!valid.needs_availability());
}

#[test]
fn a_live_chat_card_in_the_middle_of_a_branch_is_refused() {
    // Arrange
    let d = dialog(
        "talk",
        "  - {id: talk, type: live_chat, routing: {mode: round_robin}, next: thanks}\n  \
         - {id: thanks, type: message, text: Thanks}\n",
    );

    // Assert
    assert_refused(
        &d,
        r#"card "talk": a live chat card must be the last card of its branch (it has next "thanks")"#,
    );
}

#[test]
fn duplicate_card_ids_are_refused() {
    // Arrange
    let d = dialog("bye", &format!("{BYE}{BYE}"));

    // Assert
    assert_refused(
        &d,
        r#"card "bye": 2 cards have this id; card ids must be unique"#,
    );
}

#[test]
fn a_missing_start_card_is_refused() {
    // Arrange
    let d = dialog("hello", BYE);

    // Assert
    assert_refused(&d, r#"dialog: the start card "hello" does not exist"#);
}

#[test]
fn a_reference_to_a_missing_card_is_refused() {
    // Arrange
    let d = dialog(
        "ask",
        "  - id: ask\n    type: question\n    prompt: Talk?\n    answers:\n      \
         - {label: 'Yes', next: talk}\n      - {label: 'No'}\n",
    );

    // Assert
    assert_refused(
        &d,
        r#"card "ask": answer 1 leads to "talk", which does not exist"#,
    );
}

#[test]
fn a_branch_to_a_missing_card_is_refused() {
    // Arrange
    let d = dialog(
        "check",
        &format!(
            "  - {{id: check, type: branch, branches: [{{when_agents_available: true, next: nowhere}}], otherwise: bye}}\n{BYE}"
        ),
    );

    // Assert
    assert_refused(
        &d,
        r#"card "check": branch 1 leads to "nowhere", which does not exist"#,
    );
}

#[test]
fn an_unreachable_card_is_refused() {
    // Arrange
    let d = dialog(
        "bye",
        &format!("{BYE}  - {{id: orphan, type: message, text: Lost}}\n"),
    );

    // Assert
    assert_refused(
        &d,
        r#"card "orphan": no path from the start card leads to this card"#,
    );
}

#[test]
fn a_cycle_is_refused() {
    // Arrange
    let d = dialog(
        "a",
        "  - {id: a, type: message, text: A, next: b}\n  - {id: b, type: message, text: B, next: a}\n",
    );

    // Assert
    assert_refused(
        &d,
        r#"card "a": the dialog loops back to this card (a → b → a)"#,
    );
}

#[test]
fn a_branch_card_without_otherwise_is_refused() {
    // Arrange
    let d = dialog(
        "check",
        &format!(
            "  - {{id: check, type: branch, branches: [{{when_agents_available: true, next: bye}}]}}\n{BYE}"
        ),
    );

    // Assert
    assert_refused(
        &d,
        r#"card "check": a branch card needs `otherwise`, so that every visitor has a path"#,
    );
}

#[test]
fn a_branch_card_without_branches_is_refused() {
    // Arrange
    let d = dialog(
        "check",
        &format!("  - {{id: check, type: branch, branches: [], otherwise: bye}}\n{BYE}"),
    );

    // Assert
    assert_refused(
        &d,
        r#"card "check": a branch card needs at least one branch"#,
    );
}

#[test]
fn a_malformed_branch_condition_is_refused() {
    // Arrange
    let d = dialog(
        "check",
        &format!(
            "  - id: check\n    type: branch\n    branches:\n      - when: {{conditions: [{{attribute: company_size, operator: greater, value: big}}]}}\n        next: bye\n    otherwise: bye\n{BYE}"
        ),
    );

    // Assert
    assert_refused(
        &d,
        r#"card "check": branch 1: condition on company_size: operator Greater needs a number"#,
    );
}

#[test]
fn a_question_with_one_answer_is_refused() {
    // Arrange
    let d = dialog(
        "ask",
        "  - {id: ask, type: question, prompt: Talk?, answers: [{label: 'Yes'}]}\n",
    );

    // Assert
    assert_refused(
        &d,
        r#"card "ask": a question needs at least 2 answers (it has 1)"#,
    );
}

#[test]
fn a_question_with_two_identical_labels_is_refused() {
    // Arrange
    let d = dialog(
        "ask",
        "  - {id: ask, type: question, prompt: Talk?, answers: [{label: 'Yes'}, {label: 'Yes', value: y}]}\n",
    );

    // Assert
    assert_refused(
        &d,
        r#"card "ask": two answers are labelled "Yes"; labels must differ"#,
    );
}

#[test]
fn a_picklist_with_one_option_is_refused() {
    // Arrange
    let d = dialog(
        "size",
        "  - {id: size, type: capture, field: picklist, prompt: Size?, attribute: company_size, options: [Small]}\n",
    );

    // Assert
    assert_refused(
        &d,
        r#"card "size": a picklist needs at least 2 options (it has 1)"#,
    );
}

#[test]
fn options_on_a_field_that_is_not_a_picklist_are_refused() {
    // Arrange
    let d = dialog(
        "mail",
        "  - {id: mail, type: capture, field: email, prompt: Email?, attribute: email, options: [a, b]}\n",
    );

    // Assert
    assert_refused(
        &d,
        r#"card "mail": only a picklist has options (this field is Email)"#,
    );
}

#[test]
fn an_email_capture_must_map_to_an_attribute() {
    // Arrange: the attribute is required by the format itself.
    let yaml = "id: d\nname: D\nstart: mail\ncards:\n  - {id: mail, type: capture, field: email, prompt: Email?}\n";

    // Act
    let err = Dialog::from_yaml(yaml).unwrap_err();

    // Assert
    assert!(err.to_string().contains("attribute"), "{err}");
}

#[test]
fn a_goal_score_above_three_is_refused() {
    // Arrange
    let d = dialog("goal", "  - {id: goal, type: goal, name: Won, score: 4}\n");

    // Assert
    assert_refused(&d, r#"card "goal": a goal's score is 0 to 3, not 4"#);
}

#[test]
fn routing_to_an_unknown_agent_team_or_rule_is_refused() {
    // Arrange
    let d = dialog(
        "ask",
        "  - id: ask\n    type: question\n    prompt: Who?\n    answers:\n      \
         - {label: Zed, next: zed}\n      - {label: Ops, next: ops}\n      - {label: Rule, next: rule}\n\
         \x20 - {id: zed, type: live_chat, routing: {mode: agent, agent: zed}}\n\
         \x20 - {id: ops, type: live_chat, routing: {mode: team, team: ops}}\n\
         \x20 - {id: rule, type: live_chat, routing: {mode: custom_rules, rules: [enterprise, smb]}}\n",
    );

    // Assert
    assert_refused(
        &d,
        r#"card "zed": routes to agent "zed", who does not exist"#,
    );
    assert_refused(
        &d,
        r#"card "ops": routes to team "ops", which does not exist"#,
    );
    assert_refused(
        &d,
        r#"card "rule": routes by rule "smb", which does not exist"#,
    );
    assert_eq!(errors(&d).len(), 3, "{:#?}", errors(&d));
}

#[test]
fn custom_rules_routing_without_rules_is_refused() {
    // Arrange
    let d = dialog(
        "talk",
        "  - {id: talk, type: live_chat, routing: {mode: custom_rules, rules: []}}\n",
    );

    // Assert
    assert_refused(
        &d,
        r#"card "talk": custom rules routing needs at least one rule"#,
    );
}

#[test]
fn a_token_with_an_invalid_attribute_name_is_refused() {
    // Arrange
    let d = dialog(
        "hi",
        "  - {id: hi, type: message, text: 'Hi {{visitor.First Name}}'}\n",
    );

    // Act
    let errors = errors(&d);

    // Assert
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]
            .starts_with(r#"card "hi": the token {{visitor.First Name}} in the text is not valid"#),
        "{errors:#?}"
    );
}

#[test]
fn blank_texts_are_refused() {
    // Arrange
    let d = dialog("hi", "  - {id: hi, type: message, text: '  '}\n");

    // Assert
    assert_refused(&d, r#"card "hi": the text is empty"#);
}

#[test]
fn every_error_is_reported_at_once() {
    // Arrange: a missing start, a dangling next and a bad score.
    let d = dialog(
        "nowhere",
        "  - {id: a, type: message, text: A, next: gone}\n  - {id: g, type: goal, name: G, score: 9}\n",
    );

    // Act
    let errors = validate(&d, &targets()).unwrap_err();

    // Assert
    assert!(errors.len() >= 3, "{errors:#?}");
    assert!(errors.iter().any(|e| e.card().is_none()));
}

/// A two-language dialog (`languages: [en, de]`) from the YAML of its cards.
fn bilingual(cards: &str) -> Dialog {
    let yaml = format!(
        "id: d\nname: D\nlanguages: [en, de]\nfallback_language: en\nstart: hello\ncards:\n{cards}"
    );
    Dialog::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

#[test]
fn a_card_missing_a_declared_language_is_named_with_the_text_and_the_language() {
    let d = bilingual(concat!(
        "  - {id: hello, type: message, text: {en: Hi, de: Hallo}, next: ask}\n",
        "  - id: ask\n    type: question\n    prompt: {en: Talk to sales?}\n",
        "    answers:\n      - {label: {en: 'Yes', de: Ja}, value: 'yes', next: bye}\n",
        "      - {label: {en: 'No'}, value: 'no'}\n",
        "  - {id: bye, type: message, text: Bye}\n",
    ));
    let errors = errors(&d);
    assert_eq!(
        errors,
        [
            "card \"ask\": the prompt has no de text (the dialog declares languages: en, de)",
            "card \"ask\": the label of answer 2 has no de text (the dialog declares languages: en, de)",
        ],
        "a plain text serves every language"
    );
}

#[test]
fn a_fallback_language_the_dialog_does_not_declare_is_refused() {
    let yaml = "id: d\nname: D\nlanguages: [en, de]\nfallback_language: fr\nstart: bye\ncards:\n  - {id: bye, type: message, text: Bye}\n";
    assert_refused(
        &Dialog::from_yaml(yaml).unwrap(),
        "dialog: the fallback language fr is not among the languages it declares (en, de)",
    );
}

#[test]
fn answer_labels_must_differ_within_each_language_only() {
    let d = bilingual(concat!(
        "  - id: hello\n    type: question\n    prompt: {en: Size?, de: Größe?}\n",
        "    answers:\n      - {label: {en: Small, de: Klein}, value: s}\n",
        "      - {label: {en: Big, de: Klein}, value: b}\n",
    ));
    assert_eq!(
        errors(&d),
        ["card \"hello\": two answers are labelled \"Klein\"; labels must differ"]
    );
}
