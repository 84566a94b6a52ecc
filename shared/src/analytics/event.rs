//! The facts the metrics need, taken from a change of a stored item: what a
//! DynamoDB Streams record (old and new image) or the in-memory store's write is
//! turned into. Each event has a key naming the item and the fact, so the same fact
//! read from any image, twice or replayed, has the same key and is counted once.
//!
//! The conversation's facts come from its timeline (appended by the transitions,
//! never rewritten), so a write that made several transitions, or an image seen
//! again, gives every new fact once: an event is a fact `new` holds and `old` did
//! not.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::dialog::Position;
use crate::domain::{
    AgentId, CardId, Conversation, ConversationId, DialogId, Message, OfferOutcome, RoutingMode,
    Sender, StintStart, TeamId, Timeline,
};
use crate::ports::VisitorSession;

/// One fact a metric needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The conversation was created: the visitor opened the widget and the dialog
    /// was triggered.
    Triggered {
        /// The conversation.
        conversation: ConversationId,
        /// Its dialog.
        dialog: DialogId,
        /// Its `created_at`.
        at: Timestamp,
    },
    /// The visitor first reached a live chat card.
    Requested {
        /// The conversation.
        conversation: ConversationId,
        /// Its dialog.
        dialog: DialogId,
        /// The team its card routes to, if round robin within a team.
        team: Option<TeamId>,
        /// `requested_at`.
        at: Timestamp,
    },
    /// An offer ended (the `index`th of the conversation's).
    OfferEnded {
        /// The conversation.
        conversation: ConversationId,
        /// Which offer, from 0.
        index: usize,
        /// The agent offered.
        agent: AgentId,
        /// How it ended.
        outcome: OfferOutcome,
    },
    /// The `index`th stint started: an agent took the chat.
    StintStarted {
        /// The conversation.
        conversation: ConversationId,
        /// Which stint, from 0.
        index: usize,
        /// The agent.
        agent: AgentId,
        /// How.
        via: StintStart,
        /// When.
        at: Timestamp,
    },
    /// The `index`th stint ended.
    StintEnded {
        /// The conversation.
        conversation: ConversationId,
        /// Which stint, from 0.
        index: usize,
        /// When.
        at: Timestamp,
    },
    /// The request ended before any agent took it: missed, or abandoned.
    Unanswered {
        /// The conversation.
        conversation: ConversationId,
        /// Missed (rather than abandoned).
        missed: bool,
    },
    /// The conversation's score, or the agent it counts for, as of `version`: the
    /// highest version's counts.
    Scored {
        /// The conversation.
        conversation: ConversationId,
        /// The conversation's version.
        version: u64,
        /// The agent who holds or last held it.
        agent: Option<AgentId>,
        /// 0-3.
        score: u8,
    },
    /// An agent's message.
    AgentMessage {
        /// The conversation.
        conversation: ConversationId,
        /// Its sequence number.
        seq: u64,
        /// The author.
        agent: AgentId,
        /// The server's time.
        at: Timestamp,
    },
    /// The visitor acted on the conversation's dialog walk.
    Engaged {
        /// The conversation whose walk it is.
        conversation: ConversationId,
    },
    /// The walk reached its end (a live chat card, or the end of a branch).
    Completed {
        /// The conversation whose walk it is.
        conversation: ConversationId,
    },
    /// The walk passed a goal card.
    GoalReached {
        /// The conversation whose walk it is.
        conversation: ConversationId,
        /// The goal card.
        card: CardId,
    },
    /// The walk captured an email address.
    EmailCaptured {
        /// The conversation whose walk it is.
        conversation: ConversationId,
    },
}

impl Event {
    /// The conversation the fact is about.
    pub fn conversation(&self) -> &ConversationId {
        match self {
            Self::Triggered { conversation, .. }
            | Self::Requested { conversation, .. }
            | Self::OfferEnded { conversation, .. }
            | Self::StintStarted { conversation, .. }
            | Self::StintEnded { conversation, .. }
            | Self::Unanswered { conversation, .. }
            | Self::Scored { conversation, .. }
            | Self::AgentMessage { conversation, .. }
            | Self::Engaged { conversation }
            | Self::Completed { conversation }
            | Self::GoalReached { conversation, .. }
            | Self::EmailCaptured { conversation } => conversation,
        }
    }

    /// The fact's key: the same fact always has the same key, whichever image it
    /// was read from, and two facts never share one. `#` separates the parts (ids
    /// cannot hold it).
    pub fn key(&self) -> String {
        let c = self.conversation();
        match self {
            Self::Triggered { .. } => format!("conv#{c}#triggered"),
            Self::Requested { .. } => format!("conv#{c}#requested"),
            Self::OfferEnded { index, .. } => format!("conv#{c}#offer#{index}"),
            Self::StintStarted { index, .. } => format!("conv#{c}#stint#{index}#start"),
            Self::StintEnded { index, .. } => format!("conv#{c}#stint#{index}#end"),
            Self::Unanswered { .. } => format!("conv#{c}#unanswered"),
            Self::Scored { version, .. } => format!("conv#{c}#score#{version}"),
            Self::AgentMessage { seq, .. } => format!("msg#{c}#{seq}"),
            Self::Engaged { .. } => format!("walk#{c}#engaged"),
            Self::Completed { .. } => format!("walk#{c}#completed"),
            Self::GoalReached { card, .. } => format!("walk#{c}#goal#{card}"),
            Self::EmailCaptured { .. } => format!("walk#{c}#email"),
        }
    }
}

/// The team a conversation's request counts under: the card's team when it
/// routes round robin within one (docs/analytics.md, dimensions).
pub fn team_of(conversation: &Conversation) -> Option<TeamId> {
    match conversation.routing() {
        Some(RoutingMode::Team { team }) => Some(team.clone()),
        _ => None,
    }
}

/// The events of a change of a stored conversation, from its image before (`None`
/// when created) and after (`None` when deleted). A fact is an event when `new`
/// holds it and `old` did not.
pub fn events_of_conversation(
    old: Option<&Conversation>,
    new: Option<&Conversation>,
) -> Vec<Event> {
    let Some(new) = new else {
        return Vec::new();
    };
    let id = new.id();
    let empty = Timeline::default();
    let before = old.map_or(&empty, Conversation::timeline);
    let after = new.timeline();
    let mut events = Vec::new();
    if old.is_none() {
        events.push(Event::Triggered {
            conversation: id.clone(),
            dialog: new.dialog().clone(),
            at: new.created_at(),
        });
    }
    if let (None, Some(at)) = (before.requested_at, after.requested_at) {
        events.push(Event::Requested {
            conversation: id.clone(),
            dialog: new.dialog().clone(),
            team: team_of(new),
            at,
        });
    }
    for (index, offer) in after.offers.iter().enumerate() {
        let was_ended = before
            .offers
            .get(index)
            .is_some_and(|o| o.outcome.is_some());
        if let (false, Some(outcome)) = (was_ended, offer.outcome) {
            events.push(Event::OfferEnded {
                conversation: id.clone(),
                index,
                agent: offer.agent.clone(),
                outcome,
            });
        }
    }
    for (index, stint) in after.stints.iter().enumerate() {
        let was = before.stints.get(index);
        if was.is_none() {
            events.push(Event::StintStarted {
                conversation: id.clone(),
                index,
                agent: stint.agent.clone(),
                via: stint.via,
                at: stint.from,
            });
        }
        if let (None, Some(at)) = (was.and_then(|s| s.until), stint.until) {
            events.push(Event::StintEnded {
                conversation: id.clone(),
                index,
                at,
            });
        }
    }
    if let (None, Some(unanswered)) = (before.unanswered, after.unanswered) {
        events.push(Event::Unanswered {
            conversation: id.clone(),
            missed: unanswered.missed,
        });
    }
    if let Some(score) = new.score() {
        let same = old.is_some_and(|o| o.score() == Some(score) && o.assigned() == new.assigned());
        if !same {
            events.push(Event::Scored {
                conversation: id.clone(),
                version: new.version(),
                agent: new.assigned().cloned(),
                score,
            });
        }
    }
    events
}

/// The events of a stored message (messages are written once): an agent's message
/// is one. Feed the `MSG#` items (an older version's `MSGID#` id guards, still in
/// old tables, are copies with the same key: skip them).
pub fn events_of_message(_old: Option<&Message>, new: Option<&Message>) -> Vec<Event> {
    match new {
        Some(Message {
            conversation,
            seq,
            sender: Sender::Agent { agent: Some(agent) },
            at,
            ..
        }) => vec![Event::AgentMessage {
            conversation: conversation.clone(),
            seq: *seq,
            agent: agent.clone(),
            at: *at,
        }],
        _ => Vec::new(),
    }
}

/// The funnel events of a change of a visitor session: what the walk of the
/// session's conversation did that it had not before (a session that moved on to a
/// new conversation walks anew).
pub fn events_of_session(old: Option<&VisitorSession>, new: Option<&VisitorSession>) -> Vec<Event> {
    let Some(new) = new else {
        return Vec::new();
    };
    let before = old.filter(|o| o.conversation == new.conversation);
    let was_done = before.is_some_and(|o| walk_done(&o.dialog.position));
    let was = before.map(|o| &o.dialog.progress);
    let now = &new.dialog.progress;
    let conversation = || new.conversation.clone();
    let mut events = Vec::new();
    if now.engaged && !was.is_some_and(|p| p.engaged) {
        events.push(Event::Engaged {
            conversation: conversation(),
        });
    }
    if walk_done(&new.dialog.position) && !was_done {
        events.push(Event::Completed {
            conversation: conversation(),
        });
    }
    for card in &now.goals {
        if !was.is_some_and(|p| p.goals.contains(card)) {
            events.push(Event::GoalReached {
                conversation: conversation(),
                card: card.clone(),
            });
        }
    }
    if now.email_captured && !was.is_some_and(|p| p.email_captured) {
        events.push(Event::EmailCaptured {
            conversation: conversation(),
        });
    }
    events
}

/// Whether a walk at `position` reached its end.
pub(crate) fn walk_done(position: &Position) -> bool {
    matches!(position, Position::LiveChat { .. } | Position::Finished)
}
