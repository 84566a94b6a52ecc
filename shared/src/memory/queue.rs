//! The live queue in memory, with the DynamoDB adapter's semantics: a ticket
//! counter per pool and one entry per queued conversation.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{MemoryStore, lock};
use crate::domain::{ChatLengths, ConversationId};
use crate::ports::{Joined, QueueEntry, QueueStore, StoreResult};

#[async_trait]
impl QueueStore for MemoryStore {
    async fn enqueue(
        &self,
        pool: &str,
        conversation: &ConversationId,
        at: Timestamp,
    ) -> StoreResult<Joined> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        if let Some(entry) = inner.queues.get(pool).and_then(|q| q.get(conversation)) {
            return Ok(Joined::Already(entry.clone()));
        }
        let ticket = inner.queue_tickets.entry(pool.to_string()).or_default();
        *ticket += 1;
        let entry = QueueEntry {
            conversation: conversation.clone(),
            ticket: *ticket,
            since: at,
        };
        inner
            .queues
            .entry(pool.to_string())
            .or_default()
            .insert(conversation.clone(), entry.clone());
        Ok(Joined::New(entry))
    }

    async fn queue(&self, pool: &str) -> StoreResult<Vec<QueueEntry>> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let mut entries: Vec<QueueEntry> = inner
            .queues
            .get(pool)
            .map(|q| q.values().cloned().collect())
            .unwrap_or_default();
        entries.sort_by_key(|e| e.ticket);
        Ok(entries)
    }

    async fn dequeue(&self, pool: &str, conversation: &ConversationId) -> StoreResult<bool> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        Ok(inner
            .queues
            .get_mut(pool)
            .is_some_and(|q| q.remove(conversation).is_some()))
    }

    async fn record_chat_length(&self, pool: &str, secs: u64) -> StoreResult<()> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        let lengths = inner.chat_lengths.entry(pool.to_string()).or_default();
        lengths.chats = lengths.chats.saturating_add(1);
        lengths.total_secs = lengths.total_secs.saturating_add(secs);
        Ok(())
    }

    async fn chat_lengths(&self, pool: &str) -> StoreResult<ChatLengths> {
        self.round_trip().await;
        Ok(lock(&self.inner)
            .chat_lengths
            .get(pool)
            .copied()
            .unwrap_or_default())
    }
}
