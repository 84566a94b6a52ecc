//! Transfers: an agent in a live chat hands it to another agent, or to a team,
//! with a note for the receiver. Until the receiver accepts, the chat stays the
//! sender's (the visitor notices nothing); the receiver's capacity is held from
//! the moment they are offered it, as an offer's is, so that an accept never
//! finds them full.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{AgentId, TeamId};

/// Longest transfer note, in characters: a few sentences for the receiver.
pub const MAX_TRANSFER_NOTE_CHARS: usize = 1_000;

/// Who a transfer is for, as the sender asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferTarget {
    /// That agent only, if they can take it.
    Agent(AgentId),
    /// The next eligible member of the team by its round robin (skipping the sender).
    Team(TeamId),
}

/// The note for the receiver: free text (possibly empty), at most
/// [`MAX_TRANSFER_NOTE_CHARS`], with control characters removed and bidi controls
/// balanced as a message's are ([`super::MessageText`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TransferNote(String);

/// Why a transfer note was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a transfer note is at most {MAX_TRANSFER_NOTE_CHARS} characters, not {0}")]
pub struct TransferNoteError(pub usize);

impl TransferNote {
    /// Parses a note: neutralised, trimmed, at most [`MAX_TRANSFER_NOTE_CHARS`].
    pub fn parse(raw: impl Into<String>) -> Result<Self, TransferNoteError> {
        let raw: String = raw.into();
        let text = super::text::neutralise(&raw);
        let text = text.trim();
        let chars = text.chars().count();
        if chars > MAX_TRANSFER_NOTE_CHARS {
            return Err(TransferNoteError(chars));
        }
        Ok(Self(text.to_string()))
    }

    /// The note.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TransferNote {
    type Error = TransferNoteError;
    fn try_from(raw: String) -> Result<Self, TransferNoteError> {
        Self::parse(raw)
    }
}

impl From<TransferNote> for String {
    fn from(n: TransferNote) -> String {
        n.0
    }
}

impl fmt::Display for TransferNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A transfer offered and not yet answered, kept on the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTransfer {
    /// The agent handing the chat on (who holds it until the receiver accepts).
    pub from: AgentId,
    /// The agent offered it.
    pub to: AgentId,
    /// The team it was sent to, when it was sent to a team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamId>,
    /// The note for the receiver.
    #[serde(default)]
    pub note: TransferNote,
    /// When the offer lapses (the account's wait time limit after `at`).
    pub expires_at: Timestamp,
}

/// How a transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferOutcome {
    /// The receiver took the chat.
    Accepted,
    /// The receiver declined (or was gone for good) before the expiry.
    Declined,
    /// Nobody answered before the expiry.
    TimedOut,
    /// The chat ended, or its sender was lost, while it was pending.
    Cancelled,
}

impl TransferOutcome {
    /// The outcome's name, for frames and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_neutralised_and_at_most_a_thousand_characters() {
        assert_eq!(
            TransferNote::parse("  wants a quote \n").unwrap().as_str(),
            "wants a quote"
        );
        assert_eq!(TransferNote::parse("a\u{0}b").unwrap().as_str(), "ab");
        assert_eq!(TransferNote::parse("").unwrap().as_str(), "");
        assert!(TransferNote::parse("é".repeat(MAX_TRANSFER_NOTE_CHARS)).is_ok());
        assert_eq!(
            TransferNote::parse("é".repeat(MAX_TRANSFER_NOTE_CHARS + 1)),
            Err(TransferNoteError(MAX_TRANSFER_NOTE_CHARS + 1))
        );
    }
}
