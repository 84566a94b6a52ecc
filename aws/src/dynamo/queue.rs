//! The live queue on DynamoDB (docs/data-model.md, "The live queue"): per pool, one
//! partition `QUEUE#<pool>` holding a ticket counter (`TICKETS`), one entry per
//! queued conversation (`C#<conversation>`, with its ticket and when it joined) and
//! the pool's measured chat lengths (`LENGTHS`).
//!
//! Why exactly once: an entry is keyed by its conversation and put only where none
//! exists (`attribute_not_exists`), so a repeated or concurrent enqueue of one
//! conversation leaves one entry with one ticket; tickets come from an atomic
//! counter, so two conversations never share one and a later one gets a greater
//! one. The order is the tickets', read in full (a queue holds at most
//! `MAX_QUEUE_LEN` entries) and sorted, not the sort keys'. Who is offered a slot is
//! not decided here but by the offer's claim (`TransactWriteItems` on the
//! conversation's version and the agent's capacity): an entry stays while its
//! request is offered, so a lapsed offer finds it at its place.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use jiff::Timestamp;
use livechat_core::domain::{ChatLengths, ConversationId};
use livechat_core::ports::{Joined, QueueEntry, QueueStore, StoreResult};
use serde::{Deserialize, Serialize};

use super::table::{PK, SK};
use super::{DynamoStore, corrupt, failed, from_item, is_condition_failure, key, n, s, to_item};

/// The ticket counter's sort key.
const TICKETS: &str = "TICKETS";
/// The measured chat lengths' sort key.
const LENGTHS: &str = "LENGTHS";
/// The prefix of an entry's sort key.
const ENTRY: &str = "C#";

fn queue_pk(pool: &str) -> String {
    format!("QUEUE#{pool}")
}

fn entry_sk(conversation: &ConversationId) -> String {
    format!("{ENTRY}{conversation}")
}

#[derive(Serialize, Deserialize)]
struct EntryItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    entry: QueueEntry,
}

impl DynamoStore {
    async fn queue_entry(
        &self,
        pool: &str,
        conversation: &ConversationId,
    ) -> StoreResult<Option<QueueEntry>> {
        let Some(item) = self
            .get(key(queue_pk(pool), &entry_sk(conversation)))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(from_item::<EntryItem>(item)?.entry))
    }
}

#[async_trait]
impl QueueStore for DynamoStore {
    async fn enqueue(
        &self,
        pool: &str,
        conversation: &ConversationId,
        at: Timestamp,
    ) -> StoreResult<Joined> {
        // The common case first: a queued request routed again keeps its entry
        // (one read, no ticket taken).
        if let Some(entry) = self.queue_entry(pool, conversation).await? {
            return Ok(Joined::Already(entry));
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(queue_pk(pool), TICKETS)))
            .update_expression("ADD n :one")
            .expression_attribute_values(":one", n(1u64))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(failed)?;
        let ticket: u64 = out
            .attributes
            .as_ref()
            .and_then(|a| a.get("n"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                corrupt(
                    &queue_pk(pool),
                    "the queue's ticket counter came back without n",
                )
            })?;
        let entry = QueueEntry {
            conversation: conversation.clone(),
            ticket,
            since: at,
        };
        let item = to_item(&EntryItem {
            pk: queue_pk(pool),
            sk: entry_sk(conversation),
            entry: entry.clone(),
        })?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match put {
            Ok(_) => Ok(Joined::New(entry)),
            // A concurrent enqueue of the same conversation put its entry first:
            // that one stands (this ticket is left unused, a gap in the numbers).
            Err(e) if is_condition_failure(&e) => {
                match self.queue_entry(pool, conversation).await? {
                    Some(entry) => Ok(Joined::Already(entry)),
                    None => Err(corrupt(
                        &queue_pk(pool),
                        "an entry that failed its put's condition is not there",
                    )),
                }
            }
            Err(e) => Err(failed(e)),
        }
    }

    async fn queue(&self, pool: &str) -> StoreResult<Vec<QueueEntry>> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :p AND begins_with(#sk, :entry)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":p", s(queue_pk(pool)))
                .expression_attribute_values(":entry", s(ENTRY))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(failed)?;
            for item in page.items.unwrap_or_default() {
                entries.push(from_item::<EntryItem>(item)?.entry);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        entries.sort_by_key(|e| e.ticket);
        Ok(entries)
    }

    async fn dequeue(&self, pool: &str, conversation: &ConversationId) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(queue_pk(pool), &entry_sk(conversation))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(failed)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn record_chat_length(&self, pool: &str, secs: u64) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(queue_pk(pool), LENGTHS)))
            .update_expression("ADD chats :one, total_secs :secs")
            .expression_attribute_values(":one", n(1u64))
            .expression_attribute_values(":secs", n(secs))
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn chat_lengths(&self, pool: &str) -> StoreResult<ChatLengths> {
        let Some(item) = self.get(key(queue_pk(pool), LENGTHS)).await? else {
            return Ok(ChatLengths::default());
        };
        let number = |name: &str| -> StoreResult<u64> {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| corrupt(&queue_pk(pool), format!("the chat lengths lack {name}")))
        };
        Ok(ChatLengths {
            chats: number("chats")?,
            total_secs: number("total_secs")?,
        })
    }
}
