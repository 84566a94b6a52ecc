//! The live queue's port: one first-come queue per pool, and the pool's measured
//! chat lengths for the wait a visitor is told (docs/data-model.md, "The live
//! queue").

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::domain::{ChatLengths, ConversationId};

/// One request in a pool's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The queued request.
    pub conversation: ConversationId,
    /// Its place: tickets are unique and increasing per pool, so the lower goes first.
    pub ticket: u64,
    /// When it joined the queue.
    pub since: Timestamp,
}

/// What joining a queue came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// It joined now, with this ticket.
    New(QueueEntry),
    /// It was queued already (a repeated routing, an offer of it that lapsed): it
    /// keeps its ticket, and so its place.
    Already(QueueEntry),
}

impl Joined {
    /// The entry, new or kept.
    pub fn entry(&self) -> &QueueEntry {
        match self {
            Self::New(e) | Self::Already(e) => e,
        }
    }
}

/// The live queues and the chat lengths their estimates come from.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Puts `conversation` in `pool`'s queue after everyone there, unless it is in it
    /// already: one entry per conversation whatever the number of calls, each with a
    /// ticket of its own (a counter that never loses a race, then a write
    /// conditional on the conversation having no entry).
    async fn enqueue(
        &self,
        pool: &str,
        conversation: &ConversationId,
        at: Timestamp,
    ) -> StoreResult<Joined>;
    /// `pool`'s queue, first ticket first.
    async fn queue(&self, pool: &str) -> StoreResult<Vec<QueueEntry>>;
    /// Takes `conversation` out of `pool`'s queue; `false` when it was not in it.
    /// Idempotent.
    async fn dequeue(&self, pool: &str, conversation: &ConversationId) -> StoreResult<bool>;
    /// Adds one ended chat of `secs` seconds to `pool`'s measured lengths.
    async fn record_chat_length(&self, pool: &str, secs: u64) -> StoreResult<()>;
    /// `pool`'s measured chat lengths (none measured: zero chats).
    async fn chat_lengths(&self, pool: &str) -> StoreResult<ChatLengths>;
}
