//! Property tests: the validator and the engine never panic on any dialog or action
//! sequence, and every dialog that validates lets a visitor reach an end.

use proptest::prelude::*;

use super::*;
use crate::domain::{
    AgentId, AttributeName, Attributes, CardId, Combine, Condition, ConditionSet, ConditionValue,
    DialogId, Operator, RoutingMode, TeamId,
};

const ATTRIBUTES: [&str; 3] = ["email", "first_name", "company_size"];

fn card_id(i: usize) -> CardId {
    CardId::parse(format!("c{i}")).unwrap_or_else(|_| unreachable!())
}

fn attribute(i: usize) -> AttributeName {
    AttributeName::parse(ATTRIBUTES[i % ATTRIBUTES.len()]).unwrap_or_else(|_| unreachable!())
}

/// A reference: to any of `n` cards (ids c0..), one past the end (dangling), or none.
/// `acyclic_from` restricts targets to later cards, so the graph has no cycle, and
/// favours the next card, so that most cards are reachable.
fn reference(n: usize, acyclic_from: Option<usize>) -> BoxedStrategy<Option<CardId>> {
    match acyclic_from {
        None => {
            prop_oneof![1 => Just(None), 3 => (0..n + 1).prop_map(|i| Some(card_id(i)))].boxed()
        }
        Some(i) if i + 1 >= n => Just(None).boxed(),
        Some(i) => prop_oneof![
            1 => Just(None),
            4 => Just(Some(card_id(i + 1))),
            2 => (i + 1..n).prop_map(|j| Some(card_id(j))),
        ]
        .boxed(),
    }
}

fn required_ref(n: usize, acyclic_from: Option<usize>) -> BoxedStrategy<CardId> {
    match acyclic_from {
        None => (0..n + 1).prop_map(card_id).boxed(),
        // The last card has nowhere to go: a dangling reference, refused.
        Some(i) if i + 1 >= n => Just(card_id(n)).boxed(),
        Some(i) => (i + 1..n).prop_map(card_id).boxed(),
    }
}

fn routing() -> impl Strategy<Value = RoutingMode> {
    prop_oneof![
        Just(RoutingMode::RoundRobin),
        prop::sample::select(vec!["ana", "zed"]).prop_map(|a| RoutingMode::Agent {
            agent: AgentId::parse(a).unwrap_or_else(|_| unreachable!())
        }),
        prop::sample::select(vec!["sales", "ops"]).prop_map(|t| RoutingMode::Team {
            team: TeamId::parse(t).unwrap_or_else(|_| unreachable!())
        }),
    ]
}

fn condition_set() -> impl Strategy<Value = ConditionSet> {
    let condition =
        (0..3usize, any::<bool>(), "[0-9]{1,3}|[a-z]{0,3}").prop_map(|(a, eq, v)| Condition {
            attribute: attribute(a),
            operator: if eq {
                Operator::Equals
            } else {
                Operator::Greater
            },
            value: Some(ConditionValue::One(v)),
        });
    (any::<bool>(), prop::collection::vec(condition, 0..3)).prop_map(|(all, conditions)| {
        ConditionSet {
            combine: if all { Combine::All } else { Combine::Any },
            conditions,
        }
    })
}

/// Card number `i` of `n`; with `acyclic`, it only links to later cards.
fn card(i: usize, n: usize, acyclic: bool) -> BoxedStrategy<Card> {
    let from = acyclic.then_some(i);
    let id = card_id(i);
    let mut texts = vec![
        "Hi".to_string(),
        r#"Hi {{visitor.first_name:"there"}}"#.to_string(),
    ];
    if !acyclic {
        texts.extend(["{{visitor.Bad}} {{".to_string(), String::new()]);
    }
    let text = prop::sample::select(texts);
    let labels = if acyclic {
        prop::sample::subsequence(vec!["Yes", "No", "Maybe"], 2..=3).boxed()
    } else {
        prop::collection::vec(prop::sample::select(vec!["Yes", "No", "Maybe"]), 0..4).boxed()
    };
    let answers = labels.prop_flat_map(move |labels| {
        let count = labels.len();
        (
            Just(labels),
            prop::collection::vec(reference(n, from), count),
        )
    });
    let answers = answers.prop_map(|(labels, nexts)| {
        labels
            .into_iter()
            .zip(nexts)
            .map(|(label, next)| Answer {
                label: label.into(),
                value: None,
                next,
            })
            .collect::<Vec<_>>()
    });
    let field = prop::sample::select(vec![
        FieldType::Email,
        FieldType::Phone,
        FieldType::Text,
        FieldType::Picklist,
    ]);
    let branch = (
        prop_oneof![
            any::<bool>().prop_map(BranchTest::AgentsAvailable),
            condition_set().prop_map(BranchTest::When),
        ],
        required_ref(n, from),
    )
        .prop_map(|(test, next)| Branch { test, next });
    prop_oneof![
        (text.clone(), reference(n, from)).prop_map({
            let id = id.clone();
            move |(text, next)| {
                Card::Message(MessageCard {
                    id: id.clone(),
                    text: text.into(),
                    next,
                })
            }
        }),
        (text, answers, any::<Option<bool>>()).prop_map({
            let id = id.clone();
            move |(prompt, answers, store)| {
                Card::Question(QuestionCard {
                    id: id.clone(),
                    prompt: prompt.into(),
                    answers,
                    attribute: store.map(|_| attribute(2)),
                })
            }
        }),
        (
            field,
            0..3usize,
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..4),
            reference(n, from)
        )
            .prop_map({
                let id = id.clone();
                move |(field, a, overwrite, required, options, next)| {
                    Card::Capture(CaptureCard {
                        id: id.clone(),
                        field,
                        prompt: "Tell us".into(),
                        placeholder: None,
                        attribute: attribute(a),
                        if_known: if overwrite {
                            IfKnown::Overwrite
                        } else {
                            IfKnown::Skip
                        },
                        options: options.into_iter().map(String::from).collect(),
                        required,
                        next,
                    })
                }
            }),
        (0..if acyclic { 4u8 } else { 5 }, reference(n, from)).prop_map({
            let id = id.clone();
            move |(score, next)| {
                Card::Goal(GoalCard {
                    id: id.clone(),
                    name: "Goal".into(),
                    score: Some(score),
                    next,
                })
            }
        }),
        (prop::collection::vec(branch, 0..3), reference(n, from)).prop_map({
            let id = id.clone();
            move |(branches, otherwise)| {
                Card::Branch(BranchCard {
                    id: id.clone(),
                    branches,
                    otherwise,
                })
            }
        }),
        (routing(), reference(n, from)).prop_map(move |(routing, next)| Card::LiveChat(
            LiveChatCard {
                id: id.clone(),
                routing,
                text: None,
                // Mostly last, as the rule wants, so that some dialogs validate.
                next: next.filter(|_| !acyclic),
            }
        )),
    ]
    .boxed()
}

fn dialog(acyclic: bool) -> impl Strategy<Value = Dialog> {
    (1..8usize)
        .prop_flat_map(move |n| {
            let cards: Vec<_> = (0..n).map(|i| card(i, n, acyclic)).collect();
            (cards, 0..n + 1)
        })
        .prop_map(move |(cards, start)| Dialog {
            id: DialogId::parse("d").unwrap_or_else(|_| unreachable!()),
            name: "D".into(),
            start: if acyclic { card_id(0) } else { card_id(start) },
            cards,
            languages: Vec::new(),
            fallback_language: None,
        })
}

fn action() -> impl Strategy<Value = VisitorAction> {
    prop_oneof![
        Just(VisitorAction::Start),
        (0..9usize, 0..4usize).prop_map(|(c, answer)| VisitorAction::Answer {
            card: card_id(c),
            answer
        }),
        (0..9usize, ".{0,30}").prop_map(|(c, value)| VisitorAction::Submit {
            card: card_id(c),
            value
        }),
    ]
}

fn targets() -> Targets {
    super::validate_tests::targets()
}

/// A value the capture card accepts.
fn good_value(card: &CaptureCard) -> String {
    match card.field {
        FieldType::Email => "ana@example.com".into(),
        FieldType::Phone => "+1 555 123 4567".into(),
        FieldType::Text => "Ana".into(),
        FieldType::Picklist => card.options.first().cloned().unwrap_or_default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_validator_and_the_engine_never_panic(
        d in dialog(false),
        actions in prop::collection::vec(action(), 0..12),
        available in any::<bool>(),
        known in any::<bool>(),
    ) {
        let result = validate(&d, &targets());
        if let Ok(valid) = result {
            let ctx = Context { any_agent_available: available, blocked_email_domains: &[], };
            let mut attributes = Attributes::new();
            if known {
                attributes.set(attribute(0), "ana@example.com");
            }
            let mut state = DialogState::new(attributes);
            for action in &actions {
                if let Ok(step) = advance(&valid, &state, action, &ctx) {
                    state = step.state;
                }
            }
        }
    }

    #[test]
    fn every_valid_dialog_lets_a_visitor_reach_an_end(
        d in dialog(true),
        available in any::<bool>(),
        known in any::<bool>(),
    ) {
        let Ok(valid) = validate(&d, &targets()) else {
            return Ok(());
        };
        let ctx = Context { any_agent_available: available, blocked_email_domains: &[], };
        let mut attributes = Attributes::new();
        if known {
            attributes.set(attribute(1), "Ana");
        }
        let mut step = advance(&valid, &DialogState::new(attributes), &VisitorAction::Start, &ctx)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for _ in 0..=valid.len() {
            let ended = step.events.iter().any(|e| matches!(e,
                DialogEvent::Finished | DialogEvent::LiveChatRequested { .. }));
            if ended {
                return Ok(());
            }
            let Position::Waiting { card } = &step.state.position else {
                return Err(TestCaseError::fail(format!("stuck at {:?}", step.state.position)));
            };
            let action = match valid.card(card) {
                Some(Card::Question(_)) => VisitorAction::Answer { card: card.clone(), answer: 0 },
                Some(Card::Capture(c)) => VisitorAction::Submit { card: card.clone(), value: good_value(c) },
                other => return Err(TestCaseError::fail(format!("waiting on {other:?}"))),
            };
            let next = advance(&valid, &step.state, &action, &ctx)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_ne!(&next.state, &step.state, "a valid value must move the visitor on");
            step = next;
        }
        prop_assert!(false, "no end reached within {} actions", valid.len() + 1);
    }
}

#[test]
fn the_acyclic_generator_produces_dialogs_that_validate() {
    // Arrange: property (b) would pass vacuously if no generated dialog validated.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = dialog(true);
    let mut valid = 0;

    // Act
    for _ in 0..500 {
        let d = strategy
            .new_tree(&mut runner)
            .map(|t| proptest::strategy::ValueTree::current(&t))
            .unwrap_or_else(|e| panic!("{e}"));
        if validate(&d, &targets()).is_ok() {
            valid += 1;
        }
    }

    // Assert
    assert!(
        valid >= 100,
        "only {valid} of 500 generated dialogs validate"
    );
}
