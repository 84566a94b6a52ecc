//! A conversation's timeline: what its live chat went through, kept on the
//! conversation so that the stored item alone tells every fact analytics counts
//! (docs/analytics.md). Each fact is appended by the state machine's transition
//! that makes it true and never rewritten: a stream of the item's images shows each
//! fact appear once, and the final item holds them all.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AgentId;
use super::transfer::TransferOutcome;

/// How an offer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferOutcome {
    /// The agent accepted it.
    Accepted,
    /// Withdrawn before its expiry: the agent declined (or was gone for good).
    Declined,
    /// Withdrawn at or after its expiry.
    TimedOut,
    /// The request ended while it was open (the visitor left).
    Cancelled,
}

impl OfferOutcome {
    /// The outcome's name, for event keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One offer of the chat to an agent. Only what a metric reads is kept: the
/// conversation item is rewritten by every message, and billed by its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferRecord {
    /// The agent offered.
    pub agent: AgentId,
    /// How it ended; `None` while open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OfferOutcome>,
}

/// How a stint with an agent started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StintStart {
    /// The agent accepted an offer.
    Accepted,
    /// The agent picked up a request nobody took.
    PickedUp,
    /// The agent accepted a transfer from the agent who held the chat before.
    Transferred,
}

/// One transfer of the live chat from an agent to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecord {
    /// The agent who handed it on.
    pub from: AgentId,
    /// The agent offered it.
    pub to: AgentId,
    /// How it ended; `None` while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<TransferOutcome>,
}

/// A period the chat was live with one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stint {
    /// The agent.
    pub agent: AgentId,
    /// How it started.
    pub via: StintStart,
    /// When it started.
    pub from: Timestamp,
    /// When it ended (the agent was lost, or the chat ended); `None` while live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

/// How a request ended before any agent took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unanswered {
    /// Missed (ended `missed` or `fallback`), rather than abandoned.
    pub missed: bool,
    /// When.
    pub at: Timestamp,
}

/// What a conversation's live chat went through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// When the visitor first reached a live chat card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Timestamp>,
    /// Every offer, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<OfferRecord>,
    /// Every live period, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stints: Vec<Stint>,
    /// How the request ended, when it ended before any agent took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered: Option<Unanswered>,
    /// Every transfer of the live chat, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<TransferRecord>,
}

impl Timeline {
    /// Nothing recorded yet (a conversation still in its dialog, or stored before
    /// timelines existed).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub(super) fn requested(&mut self, now: Timestamp) {
        self.requested_at.get_or_insert(now);
    }

    pub(super) fn offered(&mut self, agent: AgentId) {
        self.offers.push(OfferRecord {
            agent,
            outcome: None,
        });
    }

    /// Ends the open offer, if any.
    pub(super) fn offer_ended(&mut self, outcome: OfferOutcome) {
        if let Some(offer) = self.offers.last_mut().filter(|o| o.outcome.is_none()) {
            offer.outcome = Some(outcome);
        }
    }

    pub(super) fn stint_started(&mut self, agent: AgentId, via: StintStart, now: Timestamp) {
        self.stints.push(Stint {
            agent,
            via,
            from: now,
            until: None,
        });
    }

    pub(super) fn stint_ended(&mut self, now: Timestamp) {
        if let Some(stint) = self.stints.last_mut().filter(|s| s.until.is_none()) {
            stint.until = Some(now);
        }
    }

    pub(super) fn transfer_offered(&mut self, from: AgentId, to: AgentId) {
        self.transfers.push(TransferRecord {
            from,
            to,
            outcome: None,
        });
    }

    /// Ends the pending transfer, if any.
    pub(super) fn transfer_ended(&mut self, outcome: TransferOutcome) {
        if let Some(t) = self.transfers.last_mut().filter(|t| t.outcome.is_none()) {
            t.outcome = Some(outcome);
        }
    }

    /// The request ended while waiting or offered: unanswered, if no agent ever
    /// took it and this is the first such end.
    pub(super) fn ended_unanswered(&mut self, missed: bool, now: Timestamp) {
        if self.requested_at.is_some() && self.stints.is_empty() && self.unanswered.is_none() {
            self.unanswered = Some(Unanswered { missed, at: now });
        }
    }
}
