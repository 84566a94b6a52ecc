//! The validator: checks a dialog when it is saved and, when every rule holds, turns it
//! into a [`ValidDialog`], the only thing the card engine accepts. Every error is
//! collected, so a designer fixes a dialog in one pass.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::FieldType;
use super::format::{Branch, BranchTest, Card, Dialog};
use super::localized::Localized;
use super::tokens::{TokenProblem, bad_tokens};
use crate::domain::{AgentId, CardId, ConditionError, Lang, RoutingMode, RuleId, TeamId};

/// What a live chat card may route to. The routing layer builds it from the agents,
/// teams and custom rules that exist when the dialog is saved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Agents that exist.
    pub agents: BTreeSet<AgentId>,
    /// Teams that exist.
    pub teams: BTreeSet<TeamId>,
    /// Custom routing rules that exist.
    pub rules: BTreeSet<RuleId>,
}

/// One broken rule of a dialog. Each names the card at fault (or the dialog) and says
/// what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// The start card is not among the cards.
    #[error("dialog: the start card \"{start}\" does not exist")]
    StartMissing {
        /// The dialog's `start`.
        start: CardId,
    },
    /// Two or more cards share an id.
    #[error("card \"{card}\": {count} cards have this id; card ids must be unique")]
    DuplicateId {
        /// The shared id.
        card: CardId,
        /// How many cards have it.
        count: usize,
    },
    /// A `next`, answer, branch or `otherwise` names a card that does not exist.
    #[error("card \"{card}\": {link} leads to \"{target}\", which does not exist")]
    MissingTarget {
        /// The card holding the reference.
        card: CardId,
        /// Which of its references.
        link: String,
        /// The missing card.
        target: CardId,
    },
    /// No path from the start card leads here.
    #[error("card \"{card}\": no path from the start card leads to this card")]
    Unreachable {
        /// The unreachable card.
        card: CardId,
    },
    /// Following links from this card comes back to it.
    #[error("card \"{card}\": the dialog loops back to this card ({})", path_text(.path))]
    Cycle {
        /// A card on the loop.
        card: CardId,
        /// The loop, starting and ending with `card`.
        path: Vec<CardId>,
    },
    /// A live chat card has a `next`.
    #[error(
        "card \"{card}\": a live chat card must be the last card of its branch (it has next \"{next}\")"
    )]
    LiveChatNotLast {
        /// The live chat card.
        card: CardId,
        /// The card it wrongly leads to.
        next: CardId,
    },
    /// A branch card without `otherwise` would leave some visitors with no path.
    #[error("card \"{card}\": a branch card needs `otherwise`, so that every visitor has a path")]
    NoOtherwise {
        /// The branch card.
        card: CardId,
    },
    /// A branch card with no branch.
    #[error("card \"{card}\": a branch card needs at least one branch")]
    NoBranches {
        /// The branch card.
        card: CardId,
    },
    /// A branch's conditions are malformed.
    #[error("card \"{card}\": branch {}: {source}", .branch + 1)]
    BadCondition {
        /// The branch card.
        card: CardId,
        /// The branch, 0-based.
        branch: usize,
        /// What is wrong.
        #[source]
        source: ConditionError,
    },
    /// A question with fewer than two answers.
    #[error("card \"{card}\": a question needs at least 2 answers (it has {count})")]
    TooFewAnswers {
        /// The question card.
        card: CardId,
        /// How many it has.
        count: usize,
    },
    /// Two answers of a question have the same label.
    #[error("card \"{card}\": two answers are labelled \"{label}\"; labels must differ")]
    DuplicateAnswer {
        /// The question card.
        card: CardId,
        /// The repeated label.
        label: String,
    },
    /// A picklist with fewer than two options.
    #[error("card \"{card}\": a picklist needs at least 2 options (it has {count})")]
    TooFewOptions {
        /// The capture card.
        card: CardId,
        /// How many it has.
        count: usize,
    },
    /// Two options of a picklist are the same.
    #[error("card \"{card}\": the option \"{option}\" is listed twice")]
    DuplicateOption {
        /// The capture card.
        card: CardId,
        /// The repeated option.
        option: String,
    },
    /// Options on a field that is not a picklist.
    #[error("card \"{card}\": only a picklist has options (this field is {field:?})")]
    OptionsOnNonPicklist {
        /// The capture card.
        card: CardId,
        /// Its field type.
        field: FieldType,
    },
    /// A text the visitor must see is blank.
    #[error("card \"{card}\": the {what} is empty")]
    Blank {
        /// The card.
        card: CardId,
        /// Which text (`text`, `prompt`, `label of answer 2`, `goal name`, ...).
        what: String,
    },
    /// A goal's score is outside 0-3.
    #[error("card \"{card}\": a goal's score is 0 to 3, not {score}")]
    BadScore {
        /// The goal card.
        card: CardId,
        /// The score written.
        score: u8,
    },
    /// A live chat card routes to an agent that does not exist.
    #[error("card \"{card}\": routes to agent \"{agent}\", who does not exist")]
    UnknownAgent {
        /// The live chat card.
        card: CardId,
        /// The missing agent.
        agent: AgentId,
    },
    /// A live chat card routes to a team that does not exist.
    #[error("card \"{card}\": routes to team \"{team}\", which does not exist")]
    UnknownTeam {
        /// The live chat card.
        card: CardId,
        /// The missing team.
        team: TeamId,
    },
    /// A live chat card lists a custom rule that does not exist.
    #[error("card \"{card}\": routes by rule \"{rule}\", which does not exist")]
    UnknownRule {
        /// The live chat card.
        card: CardId,
        /// The missing rule.
        rule: RuleId,
    },
    /// A live chat card with custom rules routing lists no rule.
    #[error("card \"{card}\": custom rules routing needs at least one rule")]
    NoRules {
        /// The live chat card.
        card: CardId,
    },
    /// A text given per language lacks a language the dialog's `languages` declares.
    #[error("card \"{card}\": the {what} has no {lang} text (the dialog declares languages: {})", langs_text(.declared))]
    MissingLanguage {
        /// The card.
        card: CardId,
        /// Which text (`text`, `prompt`, `label of answer 2`, ...).
        what: String,
        /// The language it lacks.
        lang: Lang,
        /// The dialog's `languages`.
        declared: Vec<Lang>,
    },
    /// The dialog's `fallback_language` is not among its `languages`.
    #[error("dialog: the fallback language {fallback} is not among the languages it declares ({})", langs_text(.declared))]
    FallbackNotDeclared {
        /// The dialog's `fallback_language`.
        fallback: Lang,
        /// The dialog's `languages`.
        declared: Vec<Lang>,
    },
    /// A `{{visitor.…}}` token in a card's text cannot be read.
    #[error("card \"{card}\": the token {token} in the {what} is not valid: {problem}")]
    BadToken {
        /// The card.
        card: CardId,
        /// Which text holds it.
        what: &'static str,
        /// The token as written.
        token: String,
        /// What is wrong.
        problem: TokenProblem,
    },
}

fn langs_text(langs: &[Lang]) -> String {
    langs
        .iter()
        .map(Lang::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn path_text(path: &[CardId]) -> String {
    path.iter()
        .map(CardId::as_str)
        .collect::<Vec<_>>()
        .join(" → ")
}

impl DialogError {
    /// The card at fault; `None` for errors of the whole dialog.
    pub fn card(&self) -> Option<&CardId> {
        match self {
            Self::StartMissing { .. } | Self::FallbackNotDeclared { .. } => None,
            Self::DuplicateId { card, .. }
            | Self::MissingTarget { card, .. }
            | Self::Unreachable { card }
            | Self::Cycle { card, .. }
            | Self::LiveChatNotLast { card, .. }
            | Self::NoOtherwise { card }
            | Self::NoBranches { card }
            | Self::BadCondition { card, .. }
            | Self::TooFewAnswers { card, .. }
            | Self::DuplicateAnswer { card, .. }
            | Self::TooFewOptions { card, .. }
            | Self::DuplicateOption { card, .. }
            | Self::OptionsOnNonPicklist { card, .. }
            | Self::Blank { card, .. }
            | Self::BadScore { card, .. }
            | Self::UnknownAgent { card, .. }
            | Self::UnknownTeam { card, .. }
            | Self::UnknownRule { card, .. }
            | Self::NoRules { card }
            | Self::MissingLanguage { card, .. }
            | Self::BadToken { card, .. } => Some(card),
        }
    }
}

/// A dialog that passed [`validate`]: ids unique, every reference resolves, every card
/// reachable, no cycle, every rule of every card kept. Only the validator makes one,
/// and the card engine takes nothing else.
#[derive(Debug, Clone)]
pub struct ValidDialog {
    dialog: Dialog,
    index: HashMap<CardId, usize>,
    needs_availability: bool,
}

impl ValidDialog {
    /// The dialog as written.
    pub fn dialog(&self) -> &Dialog {
        &self.dialog
    }

    /// Gives the dialog back, e.g. to edit it.
    pub fn into_inner(self) -> Dialog {
        self.dialog
    }

    /// The card with this id.
    pub fn card(&self, id: &CardId) -> Option<&Card> {
        self.index.get(id).and_then(|&i| self.dialog.cards.get(i))
    }

    /// The start card's id.
    pub fn start(&self) -> &CardId {
        &self.dialog.start
    }

    /// How many cards the dialog has; no walk through it is longer.
    pub fn len(&self) -> usize {
        self.dialog.cards.len()
    }

    /// Always false: a valid dialog has at least its start card.
    pub fn is_empty(&self) -> bool {
        self.dialog.cards.is_empty()
    }

    /// Whether some branch card tests agent availability, i.e. whether the caller must
    /// compute [`super::Context::any_agent_available`] (a store lookup) before advancing.
    pub fn needs_availability(&self) -> bool {
        self.needs_availability
    }
}

/// Checks every rule of a dialog against the routing targets that exist; returns the
/// dialog as a [`ValidDialog`], or every broken rule (shape rules in card
/// order, then reachability and cycles).
pub fn validate(dialog: &Dialog, targets: &Targets) -> Result<ValidDialog, Vec<DialogError>> {
    let mut errors = Vec::new();

    let mut index: HashMap<CardId, usize> = HashMap::new();
    let mut counts: HashMap<&CardId, usize> = HashMap::new();
    for (i, card) in dialog.cards.iter().enumerate() {
        index.entry(card.id().clone()).or_insert(i);
        *counts.entry(card.id()).or_default() += 1;
    }
    let mut reported = HashSet::new();
    for card in &dialog.cards {
        let count = counts.get(card.id()).copied().unwrap_or(0);
        if count > 1 && reported.insert(card.id()) {
            errors.push(DialogError::DuplicateId {
                card: card.id().clone(),
                count,
            });
        }
    }

    if !index.contains_key(&dialog.start) {
        errors.push(DialogError::StartMissing {
            start: dialog.start.clone(),
        });
    }
    if let Some(fallback) = &dialog.fallback_language
        && !dialog.languages.is_empty()
        && !dialog.languages.contains(fallback)
    {
        errors.push(DialogError::FallbackNotDeclared {
            fallback: fallback.clone(),
            declared: dialog.languages.clone(),
        });
    }

    for card in &dialog.cards {
        for (link, target) in card.links() {
            if !index.contains_key(target) {
                errors.push(DialogError::MissingTarget {
                    card: card.id().clone(),
                    link: link.to_string(),
                    target: target.clone(),
                });
            }
        }
        check_card(card, targets, &mut errors);
        check_languages(card, &dialog.languages, &mut errors);
    }

    check_graph(dialog, &index, &mut errors);

    if errors.is_empty() {
        let needs_availability = dialog.cards.iter().any(|card| {
            matches!(card, Card::Branch(b) if b.branches.iter()
                .any(|br| matches!(br.test, BranchTest::AgentsAvailable(_))))
        });
        Ok(ValidDialog {
            dialog: dialog.clone(),
            index,
            needs_availability,
        })
    } else {
        Err(errors)
    }
}

/// A blank text (any of its languages: one blank is reported once).
fn blank(card: &CardId, what: impl Into<String>, text: &Localized, errors: &mut Vec<DialogError>) {
    if text.texts().iter().any(|(_, t)| t.trim().is_empty()) {
        errors.push(DialogError::Blank {
            card: card.clone(),
            what: what.into(),
        });
    }
}

/// A blank plain string (an option, a goal's name).
fn blank_str(card: &CardId, what: impl Into<String>, text: &str, errors: &mut Vec<DialogError>) {
    blank(card, what, &Localized::from(text), errors);
}

fn tokens(card: &CardId, what: &'static str, text: &Localized, errors: &mut Vec<DialogError>) {
    for (_, text) in text.texts() {
        for bad in bad_tokens(text) {
            errors.push(DialogError::BadToken {
                card: card.clone(),
                what,
                token: bad.written,
                problem: bad.problem,
            });
        }
    }
}

/// Every per-language text of `card` gives every language of `declared`.
fn check_languages(card: &Card, declared: &[Lang], errors: &mut Vec<DialogError>) {
    if declared.is_empty() {
        return;
    }
    let mut texts: Vec<(String, &Localized)> = Vec::new();
    match card {
        Card::Message(m) => texts.push(("text".into(), &m.text)),
        Card::Question(q) => {
            texts.push(("prompt".into(), &q.prompt));
            for (i, a) in q.answers.iter().enumerate() {
                texts.push((format!("label of answer {}", i + 1), &a.label));
            }
        }
        Card::Capture(c) => {
            texts.push(("prompt".into(), &c.prompt));
            texts.extend(c.placeholder.iter().map(|p| ("placeholder".to_string(), p)));
        }
        Card::LiveChat(l) => texts.extend(l.text.iter().map(|t| ("text".to_string(), t))),
        Card::Goal(_) | Card::Branch(_) => {}
    }
    for (what, text) in texts {
        for lang in text.missing(declared) {
            errors.push(DialogError::MissingLanguage {
                card: card.id().clone(),
                what: what.clone(),
                lang: lang.clone(),
                declared: declared.to_vec(),
            });
        }
    }
}

/// The rules that concern one card alone.
fn check_card(card: &Card, targets: &Targets, errors: &mut Vec<DialogError>) {
    let id = card.id();
    match card {
        Card::Message(m) => {
            blank(id, "text", &m.text, errors);
            tokens(id, "text", &m.text, errors);
        }
        Card::Question(q) => {
            blank(id, "prompt", &q.prompt, errors);
            tokens(id, "prompt", &q.prompt, errors);
            if q.answers.len() < 2 {
                errors.push(DialogError::TooFewAnswers {
                    card: id.clone(),
                    count: q.answers.len(),
                });
            }
            let mut seen = HashSet::new();
            for (i, answer) in q.answers.iter().enumerate() {
                blank(
                    id,
                    format!("label of answer {}", i + 1),
                    &answer.label,
                    errors,
                );
                // Labels must differ within each language (a plain label counts in
                // every one).
                for (lang, label) in answer.label.texts() {
                    if !seen.insert((lang, label.trim())) {
                        errors.push(DialogError::DuplicateAnswer {
                            card: id.clone(),
                            label: label.to_owned(),
                        });
                    }
                }
            }
        }
        Card::Capture(c) => {
            blank(id, "prompt", &c.prompt, errors);
            tokens(id, "prompt", &c.prompt, errors);
            if c.field == FieldType::Picklist {
                if c.options.len() < 2 {
                    errors.push(DialogError::TooFewOptions {
                        card: id.clone(),
                        count: c.options.len(),
                    });
                }
                let mut seen = HashSet::new();
                for (i, option) in c.options.iter().enumerate() {
                    blank_str(id, format!("option {}", i + 1), option, errors);
                    if !seen.insert(option.trim().to_lowercase()) {
                        errors.push(DialogError::DuplicateOption {
                            card: id.clone(),
                            option: option.clone(),
                        });
                    }
                }
            } else if !c.options.is_empty() {
                errors.push(DialogError::OptionsOnNonPicklist {
                    card: id.clone(),
                    field: c.field,
                });
            }
        }
        Card::Goal(g) => {
            blank_str(id, "goal name", &g.name, errors);
            if let Some(score) = g.score.filter(|s| *s > 3) {
                errors.push(DialogError::BadScore {
                    card: id.clone(),
                    score,
                });
            }
        }
        Card::Branch(b) => {
            if b.branches.is_empty() {
                errors.push(DialogError::NoBranches { card: id.clone() });
            }
            if b.otherwise.is_none() {
                errors.push(DialogError::NoOtherwise { card: id.clone() });
            }
            for (i, Branch { test, .. }) in b.branches.iter().enumerate() {
                if let BranchTest::When(set) = test
                    && let Err(source) = set.validate()
                {
                    errors.push(DialogError::BadCondition {
                        card: id.clone(),
                        branch: i,
                        source,
                    });
                }
            }
        }
        Card::LiveChat(l) => {
            if let Some(next) = &l.next {
                errors.push(DialogError::LiveChatNotLast {
                    card: id.clone(),
                    next: next.clone(),
                });
            }
            if let Some(text) = &l.text {
                blank(id, "text", text, errors);
                tokens(id, "text", text, errors);
            }
            check_routing(id, &l.routing, targets, errors);
        }
    }
}

fn check_routing(
    id: &CardId,
    routing: &RoutingMode,
    targets: &Targets,
    errors: &mut Vec<DialogError>,
) {
    match routing {
        RoutingMode::RoundRobin => {}
        RoutingMode::Agent { agent } => {
            if !targets.agents.contains(agent) {
                errors.push(DialogError::UnknownAgent {
                    card: id.clone(),
                    agent: agent.clone(),
                });
            }
        }
        RoutingMode::Team { team } => {
            if !targets.teams.contains(team) {
                errors.push(DialogError::UnknownTeam {
                    card: id.clone(),
                    team: team.clone(),
                });
            }
        }
        RoutingMode::CustomRules { rules } => {
            if rules.is_empty() {
                errors.push(DialogError::NoRules { card: id.clone() });
            }
            for rule in rules.iter().filter(|r| !targets.rules.contains(*r)) {
                errors.push(DialogError::UnknownRule {
                    card: id.clone(),
                    rule: rule.clone(),
                });
            }
        }
    }
}

/// Reachability from the start card and cycles anywhere. Iterative, so that a long
/// dialog cannot overflow a Lambda's stack.
fn check_graph(dialog: &Dialog, index: &HashMap<CardId, usize>, errors: &mut Vec<DialogError>) {
    let successors = |i: usize| -> Vec<usize> {
        dialog.cards.get(i).map_or_else(Vec::new, |card| {
            card.links()
                .into_iter()
                .filter_map(|(_, target)| index.get(target).copied())
                .collect()
        })
    };

    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let n = dialog.cards.len();
    let mut mark = vec![Mark::New; n];
    let mut reachable = vec![false; n];
    let mut cycle_reported = HashSet::new();

    // The start card's walk first, so that it alone decides reachability.
    let start = index.get(&dialog.start).copied();
    let roots = start.into_iter().chain(0..n);
    for root in roots {
        let from_start = Some(root) == start;
        if mark[root] != Mark::New {
            continue;
        }
        // Each frame: a card and the successors still to visit.
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(root, successors(root))];
        mark[root] = Mark::OnPath;
        reachable[root] |= from_start;
        while let Some((node, pending)) = stack.last_mut() {
            let node = *node;
            match pending.pop() {
                Some(next) => match mark[next] {
                    Mark::New => {
                        mark[next] = Mark::OnPath;
                        reachable[next] |= from_start;
                        stack.push((next, successors(next)));
                    }
                    Mark::OnPath => {
                        if cycle_reported.insert(next) {
                            let from = stack.iter().position(|(c, _)| *c == next).unwrap_or(0);
                            let mut path: Vec<CardId> = stack[from..]
                                .iter()
                                .filter_map(|(c, _)| dialog.cards.get(*c).map(|c| c.id().clone()))
                                .collect();
                            if let Some(card) = path.first().cloned() {
                                path.push(card.clone());
                                errors.push(DialogError::Cycle { card, path });
                            }
                        }
                    }
                    Mark::Done => {}
                },
                None => {
                    mark[node] = Mark::Done;
                    stack.pop();
                }
            }
        }
    }

    if start.is_some() {
        let mut reported = HashSet::new();
        for (i, card) in dialog.cards.iter().enumerate() {
            // Duplicates are reported once, as duplicates; unreachable only by first copy.
            if !reachable[i] && index.get(card.id()) == Some(&i) && reported.insert(card.id()) {
                errors.push(DialogError::Unreachable {
                    card: card.id().clone(),
                });
            }
        }
    }
}
