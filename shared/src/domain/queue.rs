//! The live queue's rules: how long a request may wait in it, how long it may grow,
//! and the estimate a visitor is shown. Pure: the store keeps the queue
//! (`crate::ports::QueueStore`), the router decides who joins it
//! (`crate::routing::queue`).

use serde::{Deserialize, Serialize};

/// The most requests one pool's queue holds: a request that would be further back
/// gets the fallback at once. Bounds what a freed slot reads (the whole queue, to
/// tell each visitor their new place) and what one visitor can make the server do.
pub const MAX_QUEUE_LEN: usize = 50;

/// Why a queue wait limit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the queue wait limit is 10 to 3600 seconds, not {0}")]
pub struct QueueWaitLimitError(pub u32);

/// How long a request may wait in the live queue before it gets the fallback:
/// 10-3600 s. Unset (the default) there is no queue: a request that finds every agent
/// at their limit gets the fallback at once, as before the queue existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct QueueWaitLimit(u32);

impl QueueWaitLimit {
    /// Parses a limit in seconds.
    pub fn from_secs(secs: u32) -> Result<Self, QueueWaitLimitError> {
        if (10..=3600).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(QueueWaitLimitError(secs))
        }
    }

    /// The limit as a span.
    pub fn span(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(i64::from(self.0))
    }
}

impl TryFrom<u32> for QueueWaitLimit {
    type Error = QueueWaitLimitError;
    fn try_from(v: u32) -> Result<Self, QueueWaitLimitError> {
        Self::from_secs(v)
    }
}

impl From<QueueWaitLimit> for u32 {
    fn from(w: QueueWaitLimit) -> u32 {
        w.0
    }
}

/// The measured lengths of a pool's ended chats: a count and a total, so that the
/// mean is one division and recording one is one atomic add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChatLengths {
    /// Ended live chats measured.
    pub chats: u64,
    /// Their lengths (accepted to ended), in seconds, summed.
    pub total_secs: u64,
}

impl ChatLengths {
    /// The mean length in seconds, rounded up; `None` before any chat ended.
    pub fn mean_secs(self) -> Option<u64> {
        (self.chats > 0).then(|| self.total_secs.div_ceil(self.chats))
    }
}

/// The wait a visitor at `position` (1-based) is told: every agent at their limit
/// frees a slot about once per mean chat length, so `position` requests are served
/// after `ceil(position / max(1, agents_at_limit))` mean chat lengths. `None` before
/// the pool measured a chat.
pub fn estimated_wait_secs(
    position: u32,
    agents_at_limit: u32,
    lengths: ChatLengths,
) -> Option<u64> {
    let mean = lengths.mean_secs()?;
    let rounds = u64::from(position).div_ceil(u64::from(agents_at_limit.max(1)));
    Some(rounds.saturating_mul(mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_wait_limit_is_ten_seconds_to_an_hour() {
        assert!(QueueWaitLimit::from_secs(9).is_err());
        assert!(QueueWaitLimit::from_secs(3601).is_err());
        assert_eq!(u32::from(QueueWaitLimit::from_secs(600).unwrap()), 600);
    }

    #[test]
    fn the_estimate_is_rounds_of_the_mean_chat_length_and_unknown_before_any_chat() {
        let lengths = ChatLengths {
            chats: 3,
            total_secs: 600,
        };
        // Two agents at their limit: positions 1 and 2 are the first round.
        assert_eq!(estimated_wait_secs(1, 2, lengths), Some(200));
        assert_eq!(estimated_wait_secs(2, 2, lengths), Some(200));
        assert_eq!(estimated_wait_secs(3, 2, lengths), Some(400));
        // Nobody counted at their limit still makes one slot a round.
        assert_eq!(estimated_wait_secs(2, 0, lengths), Some(400));
        assert_eq!(estimated_wait_secs(1, 1, ChatLengths::default()), None);
    }
}
