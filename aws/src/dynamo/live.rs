//! The live view's index on DynamoDB (docs/data-model.md, "The live view"): one
//! item per waiting or offered conversation, `LIVE#<shard>` / `<conversation>`,
//! sharded as the missed list is ([`livechat_core::shards`]), written only by the
//! analytics consumer. A put or delete is keyed on the conversation, so a
//! redelivered batch writes the same items again; the view reads every shard.
//! Beside it, the connections watching the view: `LIVEWATCH` / `<connection>`,
//! written when an inbox asks for the view (one partition: a write per inbox
//! opened, far below a partition's rate), read once per pushed view.

use jiff::Timestamp;
use livechat_core::analytics::live::LiveEntry;
use livechat_core::domain::{ConnectionId, ConversationId};
use livechat_core::ports::StoreResult;
use livechat_core::shards::{LIVE, shard_key, shard_keys};
use serde::{Deserialize, Serialize};

use super::table::PK;
use super::{DynamoStore, failed, from_item, key, n, s, to_item};

/// The watchers' partition.
const WATCH: &str = "LIVEWATCH";

#[derive(Serialize, Deserialize)]
struct LiveItem {
    pk: String,
    sk: String,
    ttl: i64,
    entry: LiveEntry,
}

impl DynamoStore {
    pub(super) async fn put_live_item(&self, entry: &LiveEntry) -> StoreResult<()> {
        // The TTL (`ENTRY_KEPT` after the request) only clears an entry whose
        // delete was lost.
        let item = LiveItem {
            pk: shard_key(LIVE, &entry.conversation),
            sk: entry.conversation.to_string(),
            ttl: entry.expires().as_second(),
            entry: entry.clone(),
        };
        self.put(to_item(&item)?).await
    }

    pub(super) async fn remove_live_item(&self, conversation: &ConversationId) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(
                shard_key(LIVE, conversation),
                conversation.as_str(),
            )))
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Every entry: one Query per shard, in parallel (paged), strongly
    /// consistent. An entry past its TTL that DynamoDB has not deleted yet (it
    /// deletes up to two days late) is skipped.
    pub(super) async fn live_items(&self, now: Timestamp) -> StoreResult<Vec<LiveEntry>> {
        let queries = shard_keys(LIVE).map(|pk| self.live_shard(pk));
        let mut entries = Vec::new();
        for page in futures_util::future::join_all(queries).await {
            entries.extend(
                page?
                    .into_iter()
                    .map(|i| i.entry)
                    .filter(|e| e.kept_at(now)),
            );
        }
        Ok(entries)
    }

    pub(super) async fn watch_live_item(
        &self,
        connection: &ConnectionId,
        until: Timestamp,
    ) -> StoreResult<()> {
        let mut item = key(WATCH.into(), connection.as_str());
        item.insert("until".into(), n(until.as_second()));
        item.insert(super::table::TTL.into(), n(until.as_second()));
        self.put(item).await
    }

    pub(super) async fn live_watcher_items(
        &self,
        now: Timestamp,
    ) -> StoreResult<Vec<ConnectionId>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :p")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":p", s(WATCH))
            .consistent_read(true);
        let mut out = Vec::new();
        for item in super::query_all(query).await? {
            let until = item
                .get("until")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            let connection = item
                .get(super::table::SK)
                .and_then(|v| v.as_s().ok())
                .and_then(|c| ConnectionId::parse(c.clone()).ok());
            if let Some(connection) = connection.filter(|_| until > now.as_second()) {
                out.push(connection);
            }
        }
        Ok(out)
    }

    async fn live_shard(&self, pk: String) -> StoreResult<Vec<LiveItem>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :p")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":p", s(pk))
            .consistent_read(true);
        super::query_all(query)
            .await?
            .into_iter()
            .map(from_item::<LiveItem>)
            .collect()
    }
}
