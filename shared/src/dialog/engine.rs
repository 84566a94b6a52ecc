//! The card engine: a pure function from (dialog, state, visitor action, context) to
//! the next state, the cards to show and the events to record. The caller stores the
//! state between actions (the visitor may refresh, reconnect or open another page).
//!
//! Message cards chain; goal and branch cards are invisible and followed; the walk
//! stops at the first card that waits for the visitor (a question, or a capture card
//! that is not skipped), at a live chat card, or at the end of a branch.

use serde::{Deserialize, Serialize};

use super::format::{BranchTest, CaptureCard, Card, IfKnown, QuestionCard};
use super::localized::Localized;
use super::tokens::render;
use super::validate::ValidDialog;
use super::{CardView, FieldType, VisitorAction};
use std::collections::BTreeSet;

use crate::domain::{
    AttributeName, Attributes, CardId, Email, EmailDomain, Lang, RoutingMode, UiLang,
};
use crate::texts;

/// Where a visitor is in a dialog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum Position {
    /// The dialog has not been opened yet.
    #[default]
    NotStarted,
    /// A question or capture card is waiting for the visitor.
    Waiting {
        /// The waiting card.
        card: CardId,
    },
    /// A live chat card was reached; the dialog's part is over and routing takes over.
    LiveChat {
        /// The live chat card.
        card: CardId,
    },
    /// A branch ended without live chat.
    Finished,
}

/// A visitor's progress through one dialog; the caller stores it between actions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogState {
    /// Where the visitor is.
    #[serde(default)]
    pub position: Position,
    /// Everything known about the visitor: what the host page passed and what the
    /// dialog captured. Tokens, skip rules and branch conditions read it.
    #[serde(default)]
    pub attributes: Attributes,
    /// What the visitor did in this walk, for the dialog funnel (docs/analytics.md).
    #[serde(default, skip_serializing_if = "Progress::is_empty")]
    pub progress: Progress,
    /// Attributes of `attributes` that `settings.verified_attributes` lists but that
    /// no valid signed identify set (docs/identify.md): kept and shown to agents as
    /// unverified, read as unknown by branch cards and routing.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unverified: BTreeSet<AttributeName>,
    /// Attributes whose value came from a valid signed identify. The engine does
    /// not read it: the service counts `unverified` from it and the settings.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub verified: BTreeSet<AttributeName>,
    /// The visitor's language (the widget's `start` sends it): the language of the
    /// cards' texts when the dialog has it, and of the errors the engine makes.
    /// Kept here, on the visitor's session, so that every later step has it.
    #[serde(default, skip_serializing_if = "Lang::is_default")]
    pub lang: Lang,
}

impl DialogState {
    /// A dialog not yet opened by a visitor already known by these attributes.
    pub fn new(attributes: Attributes) -> Self {
        Self {
            position: Position::NotStarted,
            attributes,
            progress: Progress::default(),
            unverified: BTreeSet::new(),
            verified: BTreeSet::new(),
            lang: Lang::english(),
        }
    }

    /// The attributes routing rules and branch cards may trust: all of them but the
    /// unverified ones.
    pub fn trusted_attributes(&self) -> Attributes {
        self.attributes.without(&self.unverified)
    }
}

/// What a visitor did in one walk of the dialog, recorded by the engine as it
/// happens so that the stored state alone tells the dialog funnel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The visitor answered a question or submitted a capture card (an accepted
    /// value, or an optional card left empty) at least once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub engaged: bool,
    /// The goal cards passed, in order, each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<CardId>,
    /// A capture card of type email accepted an address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub email_captured: bool,
}

impl Progress {
    /// Nothing done yet.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Facts of the moment the engine needs, computed by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context<'a> {
    /// Whether any live agent is available now. Only read by branch cards testing
    /// availability; see [`ValidDialog::needs_availability`].
    pub any_agent_available: bool,
    /// The account's `settings.blocked_email_domains`: an email capture card
    /// refuses an address at one of them (or a subdomain), as it refuses a
    /// malformed one.
    pub blocked_email_domains: &'a [EmailDomain],
}

/// Something that happened in the dialog, for the caller to record or act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DialogEvent {
    /// A value was stored in a visitor attribute, by a capture card or by a question
    /// card with an `attribute`.
    Captured {
        /// The attribute.
        attribute: AttributeName,
        /// The value stored (an email normalised, text trimmed).
        value: String,
    },
    /// A goal card was passed.
    GoalReached {
        /// The goal card.
        card: CardId,
        /// The goal's name.
        name: String,
        /// Its score, 0 to 3, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        score: Option<u8>,
    },
    /// A live chat card was reached: route the visitor now.
    LiveChatRequested {
        /// The live chat card.
        card: CardId,
        /// How to pick the agent.
        routing: RoutingMode,
    },
    /// A branch ended without live chat.
    Finished,
}

/// The outcome of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The state to store.
    pub state: DialogState,
    /// The cards to show, in order.
    pub cards: Vec<CardView>,
    /// What happened, in order.
    pub events: Vec<DialogEvent>,
}

/// An action that does not fit the visitor's state. The state is unchanged; the
/// caller answers with an error frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// An answer or submit before the dialog was opened.
    #[error("the dialog has not started")]
    NotStarted,
    /// Any action after the dialog finished.
    #[error("the dialog has finished")]
    Finished,
    /// An answer or submit after live chat was requested.
    #[error("the dialog handed over to live chat")]
    InLiveChat,
    /// The action is for a card other than the one waiting (a stale or double click).
    #[error("card \"{got}\" is not the current card (\"{current}\" is)")]
    NotCurrentCard {
        /// The waiting card.
        current: CardId,
        /// The card the action named.
        got: CardId,
    },
    /// An answer for a card that is not a question.
    #[error("card \"{card}\" is not a question")]
    NotAQuestion {
        /// The card.
        card: CardId,
    },
    /// A submit for a card that is not an information capture card.
    #[error("card \"{card}\" does not capture a value")]
    NotACapture {
        /// The card.
        card: CardId,
    },
    /// An answer index the question does not have.
    #[error("card \"{card}\" has {count} answers; there is no answer {answer}")]
    NoSuchAnswer {
        /// The question card.
        card: CardId,
        /// The index given (0-based).
        answer: usize,
        /// How many answers there are.
        count: usize,
    },
    /// The stored state names a card the dialog no longer has, or one that cannot
    /// wait (the dialog was edited since).
    #[error("the saved position (card \"{card}\") does not fit the dialog")]
    StaleState {
        /// The card the state names.
        card: CardId,
    },
    /// The walk took more steps than the dialog has cards. Impossible for a validated
    /// (acyclic) dialog; kept as a guard so that a bug never spins a Lambda.
    #[error("the dialog walk exceeded {limit} steps")]
    Runaway {
        /// The step budget.
        limit: usize,
    },
}

/// What a visitor is told, in their language, when their address is at a blocked
/// domain: the domain they typed (no more of the address), and what to do instead.
/// The fallback form's refusal (`email_domain_blocked`) says the same.
pub fn blocked_domain_message(email: &Email, lang: &Lang) -> String {
    texts::email_domain_blocked(UiLang::of(lang), email.domain())
}
/// Longest text a text capture accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// Applies one visitor action to a state. Pure: the same inputs give the same step.
///
/// - `Start` on a fresh state walks from the start card; on a state in progress it
///   re-shows the current card (refresh, another page) without repeating events.
/// - `Answer` stores the answer's value in the question's attribute (if set) and
///   follows the answer's branch.
/// - `Submit` validates the value by field type; a refused value re-shows the same
///   card with `error` set and leaves the state as it was (that is an outcome, not an
///   [`ActionError`]). An empty submit on an optional card stores nothing.
pub fn advance(
    dialog: &ValidDialog,
    state: &DialogState,
    action: &VisitorAction,
    ctx: &Context<'_>,
) -> Result<Step, ActionError> {
    match (&state.position, action) {
        (Position::Finished, _) => Err(ActionError::Finished),
        (Position::NotStarted, VisitorAction::Start) => {
            Walk::new(dialog, state, ctx).from(Some(dialog.start()))
        }
        (Position::NotStarted, _) => Err(ActionError::NotStarted),
        (Position::Waiting { card } | Position::LiveChat { card }, VisitorAction::Start) => {
            let voice = Voice::of(dialog, state);
            let view = match (&state.position, dialog.card(card)) {
                (Position::Waiting { .. }, Some(Card::Question(q))) => {
                    question_view(q, &state.attributes, &voice)
                }
                (Position::Waiting { .. }, Some(Card::Capture(c))) => {
                    capture_view(c, &state.attributes, &voice, None)
                }
                (Position::LiveChat { .. }, Some(Card::LiveChat(l))) => CardView::LiveChat {
                    card: l.id.clone(),
                    text: render(
                        l.connecting_text(&voice.lang, &voice.fallback),
                        &state.attributes,
                    ),
                },
                _ => return Err(ActionError::StaleState { card: card.clone() }),
            };
            Ok(Step {
                state: state.clone(),
                cards: vec![view],
                events: Vec::new(),
            })
        }
        (Position::LiveChat { .. }, _) => Err(ActionError::InLiveChat),
        (Position::Waiting { card: current }, VisitorAction::Answer { card, answer }) => {
            check_current(current, card)?;
            let question = match dialog.card(current) {
                Some(Card::Question(q)) => q,
                Some(_) => return Err(ActionError::NotAQuestion { card: card.clone() }),
                None => return Err(ActionError::StaleState { card: card.clone() }),
            };
            let chosen =
                question
                    .answers
                    .get(*answer)
                    .ok_or_else(|| ActionError::NoSuchAnswer {
                        card: card.clone(),
                        answer: *answer,
                        count: question.answers.len(),
                    })?;
            let mut walk = Walk::new(dialog, state, ctx);
            walk.progress.engaged = true;
            if let Some(attribute) = &question.attribute {
                walk.store(
                    attribute,
                    chosen.stored_value(&walk.voice.fallback).to_owned(),
                );
            }
            walk.from(chosen.next.as_ref())
        }
        (Position::Waiting { card: current }, VisitorAction::Submit { card, value }) => {
            check_current(current, card)?;
            let capture = match dialog.card(current) {
                Some(Card::Capture(c)) => c,
                Some(_) => return Err(ActionError::NotACapture { card: card.clone() }),
                None => return Err(ActionError::StaleState { card: card.clone() }),
            };
            let mut walk = Walk::new(dialog, state, ctx);
            if value.trim().is_empty() && !capture.required {
                walk.progress.engaged = true;
                return walk.from(capture.next.as_ref());
            }
            match check_value(capture, value, ctx.blocked_email_domains, &state.lang) {
                Ok(accepted) => {
                    walk.progress.engaged = true;
                    walk.progress.email_captured |= capture.field == FieldType::Email;
                    walk.store(&capture.attribute, accepted);
                    walk.from(capture.next.as_ref())
                }
                Err(message) => Ok(Step {
                    state: state.clone(),
                    cards: vec![capture_view(
                        capture,
                        &state.attributes,
                        &walk.voice,
                        Some(message),
                    )],
                    events: Vec::new(),
                }),
            }
        }
    }
}

fn check_current(current: &CardId, got: &CardId) -> Result<(), ActionError> {
    if current == got {
        Ok(())
    } else {
        Err(ActionError::NotCurrentCard {
            current: current.clone(),
            got: got.clone(),
        })
    }
}

/// Validates a submitted value by field type: the value to store, or the message to
/// show the visitor.
/// The message is in the visitor's language (`lang`).
fn check_value(
    card: &CaptureCard,
    raw: &str,
    blocked: &[EmailDomain],
    lang: &Lang,
) -> Result<String, String> {
    let value = raw.trim();
    let ui = UiLang::of(lang);
    match card.field {
        FieldType::Email => {
            let email = Email::parse(value).map_err(|e| texts::email_error(&e, ui).to_owned())?;
            match crate::domain::blocked_by(blocked, &email) {
                Some(_) => Err(blocked_domain_message(&email, lang)),
                None => Ok(email.as_str().to_owned()),
            }
        }
        FieldType::Phone => {
            let chars = value.chars().count();
            let allowed = value
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()".contains(c));
            let digits = value.chars().filter(char::is_ascii_digit).count();
            if (6..=20).contains(&chars) && allowed && digits >= 6 {
                Ok(value.to_owned())
            } else {
                Err(texts::phone_invalid(ui).to_owned())
            }
        }
        FieldType::Picklist => card
            .options
            .iter()
            // The widget sends the option as shown; case and spaces are forgiven so
            // that a typed answer matches too, and the option's own spelling is stored.
            .find(|o| o.trim().to_lowercase() == value.to_lowercase())
            .map(|o| o.trim().to_owned())
            .ok_or_else(|| texts::picklist_invalid(ui).to_owned()),
        FieldType::Text => {
            if value.is_empty() {
                Err(texts::text_required(ui).to_owned())
            } else if value.chars().count() > MAX_TEXT_CHARS {
                Err(texts::text_too_long(ui, MAX_TEXT_CHARS))
            } else if crate::domain::check_attribute_value(value).is_err() {
                // Stored as an attribute, so held to the same rule as the host page's.
                Err(texts::text_control_characters(ui).to_owned())
            } else {
                Ok(value.to_owned())
            }
        }
    }
}

/// The language the cards speak to this visitor in: theirs, and the dialog's
/// fallback for a text that lacks it.
struct Voice {
    lang: Lang,
    fallback: Lang,
}

impl Voice {
    fn of(dialog: &ValidDialog, state: &DialogState) -> Self {
        Self {
            lang: state.lang.clone(),
            fallback: dialog.dialog().fallback_language(),
        }
    }

    fn say<'a>(&self, text: &'a Localized) -> &'a str {
        text.pick(&self.lang, &self.fallback)
    }
}

fn question_view(q: &QuestionCard, attributes: &Attributes, voice: &Voice) -> CardView {
    CardView::Question {
        card: q.id.clone(),
        prompt: render(voice.say(&q.prompt), attributes),
        answers: q
            .answers
            .iter()
            .map(|a| voice.say(&a.label).to_owned())
            .collect(),
    }
}

fn capture_view(
    c: &CaptureCard,
    attributes: &Attributes,
    voice: &Voice,
    error: Option<String>,
) -> CardView {
    CardView::Capture {
        card: c.id.clone(),
        field: c.field,
        prompt: render(voice.say(&c.prompt), attributes),
        placeholder: c.placeholder.as_ref().map(|p| voice.say(p).to_owned()),
        options: c.options.clone(),
        optional: !c.required,
        error,
    }
}

/// One walk through the cards, collecting views and events.
struct Walk<'a> {
    dialog: &'a ValidDialog,
    ctx: &'a Context<'a>,
    voice: Voice,
    attributes: Attributes,
    unverified: BTreeSet<AttributeName>,
    verified: BTreeSet<AttributeName>,
    progress: Progress,
    cards: Vec<CardView>,
    events: Vec<DialogEvent>,
}

impl<'a> Walk<'a> {
    /// A walk on from `state`: its attributes and progress.
    fn new(dialog: &'a ValidDialog, state: &DialogState, ctx: &'a Context<'a>) -> Self {
        Self {
            dialog,
            ctx,
            voice: Voice::of(dialog, state),
            attributes: state.attributes.clone(),
            unverified: state.unverified.clone(),
            verified: state.verified.clone(),
            progress: state.progress.clone(),
            cards: Vec::new(),
            events: Vec::new(),
        }
    }

    fn store(&mut self, attribute: &AttributeName, value: String) {
        self.attributes.set(attribute.clone(), value.clone());
        self.events.push(DialogEvent::Captured {
            attribute: attribute.clone(),
            value,
        });
    }

    /// Follows cards from `next` until one waits, live chat is reached or the branch
    /// ends.
    fn from(mut self, next: Option<&'a CardId>) -> Result<Step, ActionError> {
        // Acyclic: no walk visits more cards than the dialog has.
        let limit = self.dialog.len() + 1;
        let mut next = next;
        for _ in 0..limit {
            let Some(id) = next else {
                self.events.push(DialogEvent::Finished);
                return Ok(self.finish(Position::Finished));
            };
            let card = self
                .dialog
                .card(id)
                .ok_or_else(|| ActionError::StaleState { card: id.clone() })?;
            next = match card {
                Card::Message(m) => {
                    self.cards.push(CardView::Message {
                        card: m.id.clone(),
                        text: render(self.voice.say(&m.text), &self.attributes),
                    });
                    m.next.as_ref()
                }
                Card::Goal(g) => {
                    if !self.progress.goals.contains(&g.id) {
                        self.progress.goals.push(g.id.clone());
                    }
                    self.events.push(DialogEvent::GoalReached {
                        card: g.id.clone(),
                        name: g.name.clone(),
                        score: g.score,
                    });
                    g.next.as_ref()
                }
                Card::Branch(b) => b
                    .branches
                    .iter()
                    .find(|branch| match &branch.test {
                        // Unverified values of verified-only attributes count as
                        // unknown here, whatever they say.
                        BranchTest::When(set) => {
                            set.matches(&self.attributes.without(&self.unverified))
                        }
                        BranchTest::AgentsAvailable(wanted) => {
                            *wanted == self.ctx.any_agent_available
                        }
                    })
                    .map(|branch| &branch.next)
                    .or(b.otherwise.as_ref()),
                Card::Question(q) => {
                    self.cards
                        .push(question_view(q, &self.attributes, &self.voice));
                    return Ok(self.finish(Position::Waiting { card: q.id.clone() }));
                }
                Card::Capture(c) => {
                    if c.if_known == IfKnown::Skip && self.attributes.is_known(c.attribute.as_str())
                    {
                        c.next.as_ref()
                    } else {
                        self.cards
                            .push(capture_view(c, &self.attributes, &self.voice, None));
                        return Ok(self.finish(Position::Waiting { card: c.id.clone() }));
                    }
                }
                Card::LiveChat(l) => {
                    self.cards.push(CardView::LiveChat {
                        card: l.id.clone(),
                        text: render(
                            l.connecting_text(&self.voice.lang, &self.voice.fallback),
                            &self.attributes,
                        ),
                    });
                    self.events.push(DialogEvent::LiveChatRequested {
                        card: l.id.clone(),
                        routing: l.routing.clone(),
                    });
                    return Ok(self.finish(Position::LiveChat { card: l.id.clone() }));
                }
            };
        }
        Err(ActionError::Runaway { limit })
    }

    fn finish(self, position: Position) -> Step {
        Step {
            state: DialogState {
                position,
                attributes: self.attributes,
                progress: self.progress,
                unverified: self.unverified,
                verified: self.verified,
                lang: self.voice.lang,
            },
            cards: self.cards,
            events: self.events,
        }
    }
}
