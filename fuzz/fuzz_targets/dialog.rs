//! A dialog file, as `livechat validate` and the functions' cold start read it: JSON
//! and YAML ([`Dialog::from_json`], [`Dialog::from_yaml`]), then [`validate`].
//!
//! Beyond "no panic":
//! - a dialog read serialises to JSON and reads back to the same dialog (the store
//!   and the functions keep dialogs as JSON);
//! - a format error's line is 1-based (serde_json gives column 0 at the start of a
//!   line, e.g. for an empty file);
//! - a dialog that validates can be walked: `start`, then each waiting card answered
//!   (question: answer `i`, capture: a value), never meets an [`ActionError`], and
//!   never runs longer than the dialog has cards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livechat_core::dialog::{
    Card, Context, Dialog, DialogState, FormatError, Position, Targets, ValidDialog, VisitorAction,
    advance, validate,
};
use livechat_core::domain::RoutingMode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(Dialog::from_json(text));
    check(Dialog::from_yaml(text));
});

fn check(read: Result<Dialog, FormatError>) {
    let dialog = match read {
        Ok(dialog) => dialog,
        Err(e) => {
            if let Some((line, _column)) = e.position() {
                assert!(line >= 1, "line {line} of {e}");
            }
            return;
        }
    };
    let json = serde_json::to_string(&dialog).expect("a dialog serialises");
    let again = Dialog::from_json(&json).unwrap_or_else(|e| panic!("{e} reading back {json}"));
    assert_eq!(again, dialog, "{json}");

    // Once with nothing to route to (every live chat card but round robin refused),
    // once with every target the dialog names, so that routing does not hide the
    // other rules.
    let _ = validate(&dialog, &Targets::default());
    if let Ok(valid) = validate(&dialog, &targets_named_by(&dialog)) {
        assert_eq!(valid.len(), dialog.cards.len());
        for available in [false, true] {
            walk(
                &valid,
                Context {
                    any_agent_available: available,
                    blocked_email_domains: &[],
                },
            );
        }
    }
}

fn targets_named_by(dialog: &Dialog) -> Targets {
    let mut targets = Targets::default();
    for card in &dialog.cards {
        if let Card::LiveChat(c) = card {
            match &c.routing {
                RoutingMode::RoundRobin => {}
                RoutingMode::Agent { agent } => {
                    targets.agents.insert(agent.clone());
                }
                RoutingMode::CustomRules { rules } => targets.rules.extend(rules.iter().cloned()),
                RoutingMode::Team { team } => {
                    targets.teams.insert(team.clone());
                }
            }
        }
    }
    targets
}

fn walk(dialog: &ValidDialog, ctx: Context) {
    let mut state = DialogState::default();
    let mut action = VisitorAction::Start;
    // Each step leaves a card behind for good (the dialog is acyclic), so a walk
    // has at most one step per card, plus the start.
    for turn in 0..=dialog.len() {
        let step = advance(dialog, &state, &action, &ctx)
            .unwrap_or_else(|e| panic!("turn {turn}: {action:?} at {state:?}: {e}"));
        if step.state == state {
            // A refused value re-shows its card: an outcome, and the walk ends here.
            return;
        }
        state = step.state;
        let Position::Waiting { card } = &state.position else {
            return;
        };
        action = match dialog.card(card) {
            Some(Card::Question(q)) => VisitorAction::Answer {
                card: card.clone(),
                answer: turn % q.answers.len().max(1),
            },
            Some(Card::Capture(c)) => VisitorAction::Submit {
                card: card.clone(),
                value: c
                    .options
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "ana@acme.com".to_string()),
            },
            other => panic!("waiting at {card}, which is {other:?}"),
        };
    }
    panic!("the walk took more steps than the dialog has cards");
}
