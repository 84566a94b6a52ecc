//! The store ports on one DynamoDB table. Keys, indexes and the requests each
//! access pattern makes are in `docs/data-model.md`; no request path scans.
//!
//! - Conditional writes are compare-and-set: losing is an outcome, not an error.
//! - The offer claim is one `TransactWriteItems`: the conversation's version check
//!   and write, the agent's capacity (a string set of conversation ids, so a retried
//!   claim or release never counts twice), and the pool cursor's version check.
//! - A message is stored once per client id: a resend is recognised from the
//!   recent ids kept with the message count (`CONV#…/COUNT`).
//! - TTL deletes up to two days late: reads filter expired connections and sessions.

mod analytics;
#[cfg(feature = "test-util")]
pub mod counting;
mod dialogs;
mod live;
mod queue;
pub mod stream;
pub mod table;

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use jiff::Timestamp;
use livechat_core::domain::{
    AgentId, ConnectionId, Conversation, ConversationId, ManualToggle, Message, RecentMessages,
    VisitorId,
};
use livechat_core::ports::{
    AgentState, CasOutcome, ClaimOutcome, ConnectionRecord, ConnectionStore, ConversationStore,
    Cursor, DirectoryStore, Hub, ListCursor, NewMessage, OfferClaim, PAST_CHATS_KEPT, Party,
    PastChat, Presence, RoutingStore, SESSION_TTL, SessionStore, StoreError, StoreResult,
    VisitorSession,
};
use livechat_core::routing::Directory;
use livechat_core::shards::{MISSED, PAST_ALL, shard_key, shard_keys};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use table::{PK, SK};

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn corrupt(key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    }
}

/// Maps an SDK failure: throttling (after the SDK's own jittered retries) is
/// `Throttled`, anything else `Unavailable` with its cause.
fn failed<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = match &e {
        SdkError::ServiceError(se) => se.err().code().map(str::to_string),
        _ => None,
    };
    match code.as_deref() {
        Some(
            "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "LimitExceededException",
        ) => StoreError::Throttled,
        _ => StoreError::Unavailable(Box::new(e)),
    }
}

fn to_item<T: Serialize>(value: &T) -> StoreResult<Item> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Unavailable(Box::new(e)))
}

fn to_attribute<T: Serialize>(value: &T) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Unavailable(Box::new(e)))
}

fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    let key = format!(
        "{}/{}",
        item.get(PK)
            .and_then(|v| v.as_s().ok())
            .map_or("?", String::as_str),
        item.get(SK)
            .and_then(|v| v.as_s().ok())
            .map_or("?", String::as_str)
    );
    serde_dynamo::from_item(item).map_err(|e| corrupt(&key, e))
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

fn conn_pk(id: &ConnectionId) -> String {
    format!("CONN#{id}")
}

fn party_key(party: &Party) -> String {
    match party {
        Party::Agent { agent } => format!("PARTY#agent#{agent}"),
        Party::Visitor { visitor } => format!("PARTY#visitor#{visitor}"),
    }
}

fn conv_pk(id: &ConversationId) -> String {
    format!("CONV#{id}")
}

fn agent_pk(id: &AgentId) -> String {
    format!("AGENT#{id}")
}

fn cursor_pk(pool: &str) -> String {
    format!("CURSOR#{pool}")
}

fn msg_sk(seq: u64) -> String {
    format!("MSG#{seq:020}")
}

const DIRECTORY_PK: &str = "DIRECTORY";

/// Missed requests leave the list after 90 days (the activity history's span).
const MISSED_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 90);

/// A routing decision's trace: `CONV#<conversation>` / `TRACE#<epoch ms, 15
/// digits>#<ulid>`, oldest first, the trace as JSON text, kept 90 days.
fn trace_item(
    conversation: &ConversationId,
    trace: &livechat_core::routing::Trace,
) -> StoreResult<Item> {
    let json = serde_json::to_string(trace).map_err(|e| corrupt("a routing trace", e))?;
    let ms = trace.at.as_millisecond().max(0);
    let mut item = key(
        conv_pk(conversation),
        &format!("TRACE#{ms:015}#{}", livechat_core::domain::new_ulid()),
    );
    item.insert("trace".into(), s(json));
    let expires = trace.at.saturating_add(MISSED_TTL).unwrap_or(trace.at);
    item.insert(table::TTL.into(), n(expires.as_second()));
    Ok(item)
}

/// An agent's past chats: one partition per agent. The account's (Sales Admins)
/// are write-sharded: `PASTALL#<shard>` ([`livechat_core::shards`]).
fn past_pk(agent: &AgentId) -> String {
    format!("PAST#{agent}")
}

/// The missed-list partition of `conversation`'s entries: `MISSED#<shard>`.
fn missed_pk(conversation: &ConversationId) -> String {
    shard_key(MISSED, conversation)
}

/// A past chat, under [`past_pk`] or its `PASTALL` shard, and [`time_sk`] of its end.
#[derive(Serialize, Deserialize)]
struct PastItem {
    pk: String,
    sk: String,
    ttl: i64,
    chat: PastChat,
}

/// Sorts by time (zero-padded epoch milliseconds), then conversation.
fn time_sk(conversation: &ConversationId, at: Timestamp) -> String {
    format!("{:015}#{conversation}", at.as_millisecond())
}
const CURRENT: &str = "CURRENT";
/// The sort key of a pool's turn-ticket counter, beside its cursor (`CURSOR#<pool>`).
const TICKETS: &str = "TICKETS";

/// The most a DynamoDB item may hold, names and values together.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The size of the directory's item as DynamoDB counts it (attribute names and
/// values, lists and maps with their per-element overhead): `livechat validate` and
/// `apply` refuse a configuration above [`MAX_ITEM_BYTES`] with that reason, before
/// DynamoDB would.
pub fn directory_item_bytes(directory: &Directory) -> StoreResult<usize> {
    let (item, _) = dialogs::split(directory)?;
    Ok(item_bytes(&to_item(&item)?))
}

/// The size of the largest of the directory's dialog items (each dialog's cards
/// are an item of their own), with the dialog's id: 0 and `None` without dialogs.
pub fn largest_dialog_item_bytes(
    directory: &Directory,
) -> StoreResult<(usize, Option<livechat_core::domain::DialogId>)> {
    let (_, items) = dialogs::split(directory)?;
    Ok(items
        .iter()
        .map(item_bytes)
        .zip(directory.dialogs.iter().map(|d| d.id.clone()))
        .max_by_key(|(bytes, _)| *bytes)
        .map_or((0, None), |(bytes, id)| (bytes, Some(id))))
}

/// DynamoDB's size of a stored item, as it bills writes (a write unit per KB) and
/// limits items (400 KB): each attribute's name and value.
pub fn item_bytes(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_bytes(value))
        .sum()
}

/// DynamoDB's size of one attribute value (its documented rules: a number is about
/// one byte per two significant digits plus one; a list or map 3 bytes plus 1 per
/// element; null and booleans 1 byte).
fn value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_bytes(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_bytes(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// Field names match [`table`]'s constants (`gsi1pk`, `gsi1sk`, `ttl`).
#[derive(Serialize, Deserialize)]
struct ConnectionItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    ttl: i64,
    #[serde(flatten)]
    record: ConnectionRecord,
}

#[derive(Serialize, Deserialize)]
struct ConversationItem {
    pk: String,
    sk: String,
    /// The conversation's version, top level for condition expressions.
    version: u64,
    conversation: Conversation,
    /// Messages stored, as a version before the message count had its own item
    /// kept it here (read only while a conversation has no [`CountItem`]).
    #[serde(default)]
    msgs: u64,
    /// Connections subscribed to the conversation's pushes.
    #[serde(default)]
    subs: BTreeMap<ConnectionId, Party>,
    /// The message rate-limit counters, as that version kept them here.
    #[serde(default)]
    rl: livechat_core::domain::Windows,
}

/// A conversation's message count, `CONV#…/COUNT`: written by every message, so
/// kept apart from the conversation (which grows with offers, stints and
/// subscribers) to stay under 1 KB, a write unit however busy the chat. The first
/// message creates it.
#[derive(Serialize, Deserialize)]
struct CountItem {
    /// Messages stored so far (the last sequence number).
    #[serde(default)]
    msgs: u64,
    /// The ids of each side's latest messages (binary): how a resend is known.
    #[serde(default)]
    ids: RecentMessages,
    /// The message rate-limit counters.
    #[serde(default)]
    rl: livechat_core::domain::Windows,
}

/// The sort key of a conversation's [`CountItem`].
const COUNT: &str = "COUNT";

#[derive(Serialize, Deserialize)]
struct MessageItem {
    pk: String,
    sk: String,
    message: Message,
}

#[derive(Serialize, Deserialize)]
struct CursorItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    cursor: Cursor,
}

#[derive(Serialize, Deserialize)]
struct SessionItem {
    pk: String,
    sk: String,
    ttl: i64,
    session: VisitorSession,
}

/// Every store port on one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store on `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed)?;
        Ok(out.item)
    }

    async fn put(&self, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// The items of partition `pk` whose time-ordered sort key (see [`time_sk`]) is
    /// at or after `since`, newest first.
    fn newest_since(
        &self,
        pk: String,
        since: Timestamp,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :p AND #sk >= :since")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":p", s(pk))
            .expression_attribute_values(":since", s(format!("{:015}", since.as_millisecond())))
            .scan_index_forward(false)
    }

    /// At most `limit` items of partition `pk` whose time-ordered sort key (see
    /// [`time_sk`]) is at or after `since` and, with `before`, before its key: newest
    /// first, read page by page until `limit`.
    async fn newest_page(
        &self,
        pk: String,
        since: Timestamp,
        before: Option<&ListCursor>,
        limit: usize,
    ) -> StoreResult<Vec<Item>> {
        let query = match before {
            None => self.newest_since(pk, since),
            // BETWEEN wants its bounds in order: a cursor older than `since` ends the list.
            Some(b) if b.at < since => return Ok(Vec::new()),
            Some(b) => self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :p AND #sk BETWEEN :since AND :before")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":p", s(pk))
                .expression_attribute_values(":since", s(format!("{:015}", since.as_millisecond())))
                .expression_attribute_values(":before", s(time_sk(&b.conversation, b.at)))
                .scan_index_forward(false),
        };
        // BETWEEN includes its bound: the cursor's own entry, if still there, is skipped.
        let skip = before.map(|b| time_sk(&b.conversation, b.at));
        let mut items = Vec::new();
        let mut start = None;
        while items.len() < limit {
            let wanted = (limit - items.len()).saturating_add(1);
            let page = query
                .clone()
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(failed)?;
            for item in page.items.unwrap_or_default() {
                let sk = item.get(SK).and_then(|v| v.as_s().ok());
                if items.len() < limit && (skip.is_none() || sk != skip.as_ref()) {
                    items.push(item);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(items)
    }

    /// [`Self::newest_page`] over every partition of `pks` (a sharded list), the
    /// queries in parallel, merged newest first: one query per shard, whatever
    /// `limit` is. Each shard gives at most `limit`, which is all a page can take
    /// from it; sort keys are unique across shards (they name the conversation).
    async fn newest_merged(
        &self,
        pks: impl Iterator<Item = String>,
        since: Timestamp,
        before: Option<&ListCursor>,
        limit: usize,
    ) -> StoreResult<Vec<Item>> {
        let pages = pks.map(|pk| self.newest_page(pk, since, before, limit));
        let mut items = Vec::new();
        for page in futures_util::future::join_all(pages).await {
            items.extend(page?);
        }
        let sk = |item: &Item| item.get(SK).and_then(|v| v.as_s().ok()).cloned();
        items.sort_by_cached_key(|item| std::cmp::Reverse(sk(item)));
        items.truncate(limit);
        Ok(items)
    }

    /// The items of `keys` that exist, strongly consistent: one BatchGetItem per
    /// 100 keys, retrying unprocessed keys with jittered backoff.
    async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Unavailable(Box::new(e)))?,
            );
            let mut round = 0u32;
            while let Some(request) = pending.take() {
                if round > 8 {
                    return Err(StoreError::Throttled);
                }
                if round > 0 {
                    let ceiling = 10u64 << round.min(5);
                    tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(
                        0..=ceiling,
                    )))
                    .await;
                }
                round += 1;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(failed)?;
                found.extend(
                    out.responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
            }
        }
        Ok(found)
    }
}

fn is_condition_failure<R>(
    e: &SdkError<impl aws_sdk_dynamodb::error::ProvideErrorMetadata, R>,
) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

/// Sends a transaction: `Ok(None)` when it went through, `Ok(Some(reasons))` when a
/// condition or a concurrent transaction cancelled it (one reason per item, in
/// order), an error otherwise.
async fn transact(
    request: aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder,
) -> StoreResult<Option<Vec<CancellationReason>>> {
    match request.send().await {
        Ok(_) => Ok(None),
        Err(e) => {
            if let SdkError::ServiceError(se) = &e
                && let TransactWriteItemsError::TransactionCanceledException(cancel) = se.err()
            {
                return Ok(Some(cancel.cancellation_reasons().to_vec()));
            }
            Err(failed(e))
        }
    }
}

fn reason_code(reasons: &[CancellationReason], i: usize) -> Option<&str> {
    reasons
        .get(i)
        .and_then(|r| r.code())
        .filter(|c| *c != "None")
}

#[async_trait]
impl DirectoryStore for DynamoStore {
    async fn agent_canned(
        &self,
        agent: &AgentId,
    ) -> StoreResult<Vec<livechat_core::domain::CannedResponse>> {
        let Some(item) = self.get(key(agent_pk(agent), "CANNED")).await? else {
            return Ok(Vec::new());
        };
        json_text(&item, "list", "an agent's canned responses")
    }

    async fn put_agent_canned(
        &self,
        agent: &AgentId,
        canned: &[livechat_core::domain::CannedResponse],
    ) -> StoreResult<()> {
        let json =
            serde_json::to_string(canned).map_err(|e| corrupt("an agent's canned responses", e))?;
        let mut item = key(agent_pk(agent), "CANNED");
        item.insert("list".into(), s(json));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn directory(&self) -> StoreResult<Directory> {
        self.read_directory().await
    }

    async fn put_directory(&self, directory: &Directory) -> StoreResult<()> {
        self.write_directory(directory).await
    }

    async fn set_manual_availability(
        &self,
        agent: &AgentId,
        toggle: ManualToggle,
    ) -> StoreResult<()> {
        // With the agent's load and presence, which routing reads anyway.
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(agent_pk(agent), "STATE")))
            .update_expression("SET manual = :t")
            .expression_attribute_values(":t", to_attribute(&toggle)?)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn put_connection(&self, record: &ConnectionRecord) -> StoreResult<()> {
        let item = ConnectionItem {
            pk: conn_pk(&record.id),
            sk: "CONN".into(),
            gsi1pk: party_key(&record.party),
            gsi1sk: conn_pk(&record.id),
            ttl: record.expires_at.as_second(),
            record: record.clone(),
        };
        self.put(to_item(&item)?).await?;
        self.presence(record, true).await
    }

    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<ConnectionRecord>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(conn_pk(id), "CONN")))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(failed)?;
        let removed = out
            .attributes
            .map(|item| from_item::<ConnectionItem>(item).map(|c| c.record))
            .transpose()?;
        if let Some(record) = &removed {
            self.presence(record, false).await?;
        }
        Ok(removed)
    }

    async fn connection(
        &self,
        id: &ConnectionId,
        now: Timestamp,
    ) -> StoreResult<Option<ConnectionRecord>> {
        let Some(item) = self.get(key(conn_pk(id), "CONN")).await? else {
            return Ok(None);
        };
        let record = from_item::<ConnectionItem>(item)?.record;
        Ok((record.expires_at > now).then_some(record))
    }

    async fn connections_of(
        &self,
        party: &Party,
        now: Timestamp,
    ) -> StoreResult<Vec<ConnectionId>> {
        Ok(ConnectionStore::presence(self, party, now)
            .await?
            .connections)
    }

    async fn presence(&self, party: &Party, now: Timestamp) -> StoreResult<Presence> {
        // The party's presence item, read strongly consistent: a connection made a
        // moment ago is there (the gsi1 index would only catch up eventually).
        let (pk, sk) = presence_key(party);
        let item = self.get(key(pk, sk)).await?;
        let connects = item
            .as_ref()
            .and_then(|i| i.get("connects"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Ok(Presence {
            connections: item
                .as_ref()
                .map_or_else(Vec::new, |i| live_connections(i, now)),
            connects,
        })
    }
}

#[async_trait]
impl ConversationStore for DynamoStore {
    async fn add_note(&self, note: &livechat_core::domain::Note) -> StoreResult<bool> {
        // Keyed by its id, written only if absent: a resend is recognised by the
        // write itself.
        let json = serde_json::to_string(note).map_err(|e| corrupt("a note", e))?;
        let mut item = key(conv_pk(&note.conversation), &format!("NOTE#{}", note.id));
        item.insert("note".into(), s(json));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(failed(e)),
        }
    }

    async fn notes(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<livechat_core::domain::Note>> {
        let mut notes: Vec<livechat_core::domain::Note> = self
            .conversation_json(conversation, "NOTE#", "note", "a note")
            .await?;
        notes.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(notes)
    }

    async fn create_conversation(&self, conversation: &Conversation) -> StoreResult<CasOutcome> {
        let item = ConversationItem {
            pk: conv_pk(conversation.id()),
            sk: "META".into(),
            version: conversation.version(),
            conversation: conversation.clone(),
            msgs: 0,
            subs: BTreeMap::new(),
            rl: Default::default(),
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(CasOutcome::Written),
            Err(e) if is_condition_failure(&e) => Ok(CasOutcome::Conflict),
            Err(e) => Err(failed(e)),
        }
    }

    async fn conversation(&self, id: &ConversationId) -> StoreResult<Option<Conversation>> {
        let item = self.get(key(conv_pk(id), "META")).await?;
        Ok(item
            .map(from_item::<ConversationItem>)
            .transpose()?
            .map(|c| c.conversation))
    }

    async fn conversations(&self, ids: &[ConversationId]) -> StoreResult<Vec<Conversation>> {
        // BatchGetItem refuses a request that names a key twice.
        let ids: std::collections::BTreeSet<&ConversationId> = ids.iter().collect();
        let keys = ids.into_iter().map(|id| key(conv_pk(id), "META")).collect();
        let items = self.batch_get(keys).await?;
        items
            .into_iter()
            .map(|item| Ok(from_item::<ConversationItem>(item)?.conversation))
            .collect()
    }

    async fn replace_conversation(
        &self,
        conversation: &Conversation,
        expected_version: u64,
    ) -> StoreResult<CasOutcome> {
        let result = self.replace(conversation, expected_version)?.send().await;
        match result {
            Ok(_) => Ok(CasOutcome::Written),
            Err(e) if is_condition_failure(&e) => Ok(CasOutcome::Conflict),
            Err(e) => Err(failed(e)),
        }
    }

    async fn hub(&self, id: &ConversationId) -> StoreResult<Option<Hub>> {
        // The conversation and its message count in one strongly consistent read.
        let items = self
            .batch_get(vec![key(conv_pk(id), "META"), key(conv_pk(id), COUNT)])
            .await?;
        let (mut meta, mut count) = (None, None);
        for item in items {
            match item.get(SK).and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some(COUNT) => count = Some(from_item::<CountItem>(item)?),
                _ => meta = Some(from_item::<ConversationItem>(item)?),
            }
        }
        Ok(meta.map(|c| {
            // A conversation whose first message is still to come, or last
            // written by the version that kept the count on the conversation.
            let count = count.unwrap_or(CountItem {
                msgs: c.msgs,
                ids: RecentMessages::default(),
                rl: c.rl,
            });
            Hub {
                conversation: c.conversation,
                subscribers: c.subs,
                messages: count.msgs,
                windows: count.rl,
                recent: count.ids,
            }
        }))
    }

    async fn subscribe(
        &self,
        id: &ConversationId,
        connection: &ConnectionId,
        party: &Party,
    ) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(id), "META")))
            .update_expression("SET subs.#c = :p")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#c", connection.as_str())
            .expression_attribute_values(":p", to_attribute(party)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }

    async fn unsubscribe(&self, id: &ConversationId, connection: &ConnectionId) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(id), "META")))
            .update_expression("REMOVE subs.#c")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#c", connection.as_str())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }

    async fn append_after(
        &self,
        message: NewMessage,
        expected: u64,
        recent: &RecentMessages,
    ) -> StoreResult<Option<Message>> {
        let pk = conv_pk(&message.conversation);
        let stored = Message {
            id: message.id.clone(),
            conversation: message.conversation.clone(),
            seq: expected + 1,
            sender: message.sender,
            text: message.text,
            at: message.at,
        };
        // One transaction of two items: the count moving from `expected` (refuses a
        // write behind another message) with the recent ids (how a resend is
        // recognised) and the rate-limit counters, and the message itself. The
        // hub was read by the caller, so the conversation exists.
        let body = MessageItem {
            pk: pk.clone(),
            sk: msg_sk(stored.seq),
            message: stored.clone(),
        };
        let mut count = Update::builder();
        count = match &message.windows {
            Some(windows) => count
                .update_expression("SET msgs = :next, ids = :ids, rl = :rl")
                .expression_attribute_values(":rl", to_attribute(windows)?),
            None => count.update_expression("SET msgs = :next, ids = :ids"),
        };
        let count = count
            .table_name(&self.table)
            .set_key(Some(key(pk.clone(), COUNT)))
            // No count item yet: the first message, or a conversation whose count
            // the earlier version kept on it (`expected` came from there).
            .condition_expression("attribute_not_exists(msgs) OR msgs = :expected")
            .expression_attribute_values(":next", n(stored.seq))
            .expression_attribute_values(":expected", n(expected))
            .expression_attribute_values(":ids", to_attribute(recent)?)
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let put_body = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&body)?))
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(count).build())
            .transact_items(TransactWriteItem::builder().put(put_body).build());
        match transact(request).await? {
            None => Ok(Some(stored)),
            // Another message got in first (or another transaction held an item).
            Some(_) => Ok(None),
        }
    }

    async fn record_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<()> {
        let mut item = key(missed_pk(conversation), &time_sk(conversation, at));
        item.insert("conversation".into(), s(conversation.to_string()));
        item.insert("at".into(), s(at.to_string()));
        let expires = at.saturating_add(MISSED_TTL).unwrap_or(at);
        item.insert(table::TTL.into(), n(expires.as_second()));
        self.put(item).await
    }

    async fn missed_since(
        &self,
        since: Timestamp,
        before: Option<&ListCursor>,
        limit: usize,
    ) -> StoreResult<Vec<(ConversationId, Timestamp)>> {
        let items = self
            .newest_merged(shard_keys(MISSED), since, before, limit)
            .await?;
        let found = items.into_iter().filter_map(|item| {
            let conversation = item
                .get("conversation")
                .and_then(|v| v.as_s().ok())
                .and_then(|c| ConversationId::parse(c.clone()).ok());
            let at = item
                .get("at")
                .and_then(|v| v.as_s().ok())
                .and_then(|t| t.parse::<Timestamp>().ok());
            conversation.zip(at)
        });
        Ok(found.collect())
    }

    async fn is_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<bool> {
        let item = self
            .get(key(missed_pk(conversation), &time_sk(conversation, at)))
            .await?;
        Ok(item.is_some())
    }

    async fn clear_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(
                missed_pk(conversation),
                &time_sk(conversation, at),
            )))
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn record_past(&self, chat: &PastChat) -> StoreResult<()> {
        let ttl = chat
            .ended_at
            .saturating_add(PAST_CHATS_KEPT)
            .unwrap_or(chat.ended_at)
            .as_second();
        // Two puts rather than a transaction: each is idempotent, and a chat missing
        // from one list for a moment is harmless.
        for pk in [
            past_pk(&chat.agent),
            shard_key(PAST_ALL, &chat.conversation),
        ] {
            let item = PastItem {
                pk,
                sk: time_sk(&chat.conversation, chat.ended_at),
                ttl,
                chat: chat.clone(),
            };
            self.put(to_item(&item)?).await?;
        }
        Ok(())
    }

    async fn past_chats(
        &self,
        agent: Option<&AgentId>,
        since: Timestamp,
        before: Option<&ListCursor>,
        limit: usize,
    ) -> StoreResult<Vec<PastChat>> {
        // Newest first, a page: an agent's 90 days can be thousands of chats.
        let items = match agent {
            Some(agent) => {
                self.newest_page(past_pk(agent), since, before, limit)
                    .await?
            }
            None => {
                self.newest_merged(shard_keys(PAST_ALL), since, before, limit)
                    .await?
            }
        };
        let mut chats = Vec::new();
        for item in items {
            let item: PastItem = from_item(item)?;
            // DynamoDB deletes expired items late: skip them here.
            if item.chat.ended_at >= since {
                chats.push(item.chat);
            }
        }
        Ok(chats)
    }

    async fn messages_page(
        &self,
        conversation: &ConversationId,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let Some(below) = before.map_or(Some(u64::MAX), |b| b.checked_sub(1)) else {
            return Ok(Vec::new());
        };
        if below == 0 || limit == 0 {
            return Ok(Vec::new());
        }
        // Newest first from `below` down, `Limit` items: only the page is read.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :p AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":p", s(conv_pk(conversation)))
            .expression_attribute_values(":lo", s(msg_sk(1)))
            .expression_attribute_values(":hi", s(msg_sk(below)))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed)?;
        let mut page = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<MessageItem>(item).map(|m| m.message))
            .collect::<StoreResult<Vec<_>>>()?;
        page.reverse();
        Ok(page)
    }

    async fn messages(&self, conversation: &ConversationId) -> StoreResult<Vec<Message>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :p AND begins_with(#sk, :m)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":p", s(conv_pk(conversation)))
            .expression_attribute_values(":m", s("MSG#"))
            .consistent_read(true);
        query_all(query)
            .await?
            .into_iter()
            .map(|item| from_item::<MessageItem>(item).map(|m| m.message))
            .collect()
    }
}

/// The value kept as JSON text in an item's `attribute` (notes, traces, an agent's
/// canned responses); `what` names it in the error.
fn json_text<T: serde::de::DeserializeOwned>(
    item: &Item,
    attribute: &str,
    what: &str,
) -> StoreResult<T> {
    let json = item
        .get(attribute)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt(what, format!("no {attribute} attribute")))?;
    serde_json::from_str(json).map_err(|e| corrupt(what, e))
}

impl DynamoStore {
    /// Every item of `conversation`'s partition whose sort key starts with `prefix`,
    /// each read from its JSON text `attribute` ([`json_text`]), in sort-key order.
    async fn conversation_json<T: serde::de::DeserializeOwned>(
        &self,
        conversation: &ConversationId,
        prefix: &str,
        attribute: &str,
        what: &str,
    ) -> StoreResult<Vec<T>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :p AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":p", s(conv_pk(conversation)))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true);
        query_all(query)
            .await?
            .iter()
            .map(|item| json_text(item, attribute, what))
            .collect()
    }
}

/// Every item a query matches, following its pages.
pub(super) async fn query_all(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> StoreResult<Vec<Item>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = query
            .clone()
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(failed)?;
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// A number attribute (absent or unreadable: 0).
fn count_n(item: &Item, attribute: &str) -> u64 {
    item.get(attribute)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The size of a string-set attribute (absent: 0).
fn count(item: &Item, attribute: &str) -> u32 {
    item.get(attribute)
        .and_then(|v| v.as_ss().ok())
        .map_or(0, |set| u32::try_from(set.len()).unwrap_or(u32::MAX))
}

/// An agent's presence entry: `<connection id>|<expiry epoch seconds>`, so an entry
/// whose `$disconnect` never came stops counting when the connection would have
/// been closed anyway.
fn presence_entry(record: &ConnectionRecord) -> String {
    format!("{}|{}", record.id, record.expires_at.as_second())
}

/// Where a party's presence entries live: an agent's state item (read with their
/// capacity when routing), a visitor's presence item.
fn presence_key(party: &Party) -> (String, &'static str) {
    match party {
        Party::Agent { agent } => (agent_pk(agent), "STATE"),
        Party::Visitor { visitor } => (format!("VISITOR#{visitor}"), "PRESENCE"),
    }
}

fn presence_expiry(entry: &str) -> Option<i64> {
    entry.rsplit_once('|').and_then(|(_, exp)| exp.parse().ok())
}

/// The connections of a presence item's `conns` entries that are live at `now`,
/// in id order.
fn live_connections(item: &Item, now: Timestamp) -> Vec<ConnectionId> {
    let mut ids: Vec<ConnectionId> = item
        .get("conns")
        .and_then(|v| v.as_ss().ok())
        .into_iter()
        .flatten()
        .filter(|e| presence_expiry(e).is_some_and(|exp| exp > now.as_second()))
        .filter_map(|e| {
            e.rsplit_once('|')
                .and_then(|(id, _)| ConnectionId::parse(id).ok())
        })
        .collect();
    ids.sort();
    ids
}

impl DynamoStore {
    /// The update that replaces a conversation at `expected_version`, leaving its
    /// subscribers and message count alone.
    fn replace(
        &self,
        conversation: &Conversation,
        expected_version: u64,
    ) -> StoreResult<aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder>
    {
        let value = to_attribute(conversation)?;
        Ok(self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation.id()), "META")))
            .update_expression("SET conversation = :c, version = :next")
            .condition_expression("version = :v")
            .expression_attribute_values(":c", value)
            .expression_attribute_values(":next", n(conversation.version()))
            .expression_attribute_values(":v", n(expected_version)))
    }

    /// The `AGENT#<id>/STATE` items of `agents` (capacity and presence), with one
    /// BatchGetItem per 100 agents.
    async fn agent_items(&self, agents: &[AgentId]) -> StoreResult<Vec<(AgentId, Item)>> {
        let keys = agents.iter().map(|a| key(agent_pk(a), "STATE")).collect();
        let items = self.batch_get(keys).await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let agent = item
                    .get(PK)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| pk.strip_prefix("AGENT#"))
                    .and_then(|id| AgentId::parse(id).ok())?;
                Some((agent, item))
            })
            .collect())
    }

    /// Adds or removes a connection's presence entry.
    async fn presence(&self, record: &ConnectionRecord, add: bool) -> StoreResult<()> {
        let (pk, sk) = presence_key(&record.party);
        // A connection made also counts in `connects` (`Presence::connects`), in the
        // same write.
        let action = if add {
            "ADD conns :e, connects :one"
        } else {
            "DELETE conns :e"
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression(action)
            .expression_attribute_values(":e", AttributeValue::Ss(vec![presence_entry(record)]));
        if add {
            update = update.expression_attribute_values(":one", n(1u64));
        }
        update.send().await.map_err(failed)?;
        Ok(())
    }
}

fn cursor_item(pool: &str, cursor: &Cursor) -> CursorItem {
    CursorItem {
        pk: cursor_pk(pool),
        sk: "CURSOR".into(),
        cursor: cursor.clone(),
    }
}

#[async_trait]
impl RoutingStore for DynamoStore {
    async fn put_trace(
        &self,
        conversation: &ConversationId,
        trace: &livechat_core::routing::Trace,
    ) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(trace_item(conversation, trace)?))
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn traces(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<livechat_core::routing::Trace>> {
        self.conversation_json(conversation, "TRACE#", "trace", "a routing trace")
            .await
    }

    async fn cursor(&self, pool: &str) -> StoreResult<Cursor> {
        // The cursor and its ticket counter in one strongly consistent BatchGetItem:
        // one request, as a GetItem of the cursor alone would be.
        let keys = vec![
            key(cursor_pk(pool), "CURSOR"),
            key(cursor_pk(pool), TICKETS),
        ];
        let mut cursor = Cursor::default();
        for item in self.batch_get(keys).await? {
            match item.get(SK).and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some(TICKETS) => cursor.issued = count_n(&item, "n"),
                _ => {
                    let issued = cursor.issued;
                    cursor = from_item::<CursorItem>(item)?.cursor;
                    cursor.issued = issued;
                }
            }
        }
        Ok(cursor)
    }

    async fn take_ticket(&self, pool: &str) -> StoreResult<u64> {
        // An atomic counter on an item no claim writes: it never loses a race, and
        // a claim in flight on the cursor does not make it conflict.
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(cursor_pk(pool), TICKETS)))
            .update_expression("ADD n :one")
            .expression_attribute_values(":one", n(1u64))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(failed)?;
        out.attributes
            .as_ref()
            .and_then(|a| a.get("n"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| corrupt(&cursor_pk(pool), "the ticket counter came back without n"))
    }

    async fn agent_states(
        &self,
        agents: &[AgentId],
        now: Timestamp,
    ) -> StoreResult<BTreeMap<AgentId, AgentState>> {
        let mut states: BTreeMap<AgentId, AgentState> = agents
            .iter()
            .map(|a| (a.clone(), AgentState::default()))
            .collect();
        for (agent, item) in self.agent_items(agents).await? {
            let connections = live_connections(&item, now);
            let manual = match item.get("manual") {
                Some(value) => Some(
                    serde_dynamo::from_attribute_value(value.clone())
                        .map_err(|e| corrupt(&format!("{}/STATE", agent_pk(&agent)), e))?,
                ),
                None => None,
            };
            states.insert(
                agent,
                AgentState {
                    load: count(&item, "chats"),
                    online: !connections.is_empty(),
                    connections,
                    manual,
                },
            );
        }
        Ok(states)
    }

    async fn claim_offer(&self, claim: &OfferClaim) -> StoreResult<ClaimOutcome> {
        let put_conversation = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(claim.conversation.id()), "META")))
            .update_expression("SET conversation = :c, version = :next")
            .condition_expression("version = :v")
            .expression_attribute_values(":c", to_attribute(&claim.conversation)?)
            .expression_attribute_values(":next", n(claim.conversation.version()))
            .expression_attribute_values(":v", n(claim.expected_version))
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let claim_capacity = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(agent_pk(&claim.agent), "STATE")))
            .update_expression("ADD chats :c")
            .condition_expression("attribute_not_exists(chats) OR size(chats) < :limit")
            .expression_attribute_values(
                ":c",
                AttributeValue::Ss(vec![claim.conversation.id().to_string()]),
            )
            .expression_attribute_values(":limit", n(claim.limit.get()))
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(put_conversation)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(claim_capacity).build());
        if let Some(mv) = &claim.cursor {
            let moved = Cursor {
                last: Some(mv.last.clone()),
                version: mv.expected_version + 1,
                served: mv.served,
                issued: 0,
            };
            let condition = if mv.expected_version == 0 {
                "attribute_not_exists(version)"
            } else {
                "version = :v"
            };
            let mut put_cursor = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(&cursor_item(&mv.pool, &moved))?))
                .condition_expression(condition)
                // A lost race hands back the cursor as it is now: no re-read needed.
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            if mv.expected_version != 0 {
                put_cursor = put_cursor.expression_attribute_values(":v", n(mv.expected_version));
            }
            let put_cursor = put_cursor
                .build()
                .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
            request = request.transact_items(TransactWriteItem::builder().put(put_cursor).build());
        }
        // Last, so that the cancellation reasons keep their places; no condition.
        if let Some(trace) = &claim.trace {
            let put_trace = Put::builder()
                .table_name(&self.table)
                .set_item(Some(trace_item(claim.conversation.id(), trace)?))
                .build()
                .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
            request = request.transact_items(TransactWriteItem::builder().put(put_trace).build());
        }
        // The requests ahead in the live queue, each still at the version the walk
        // read (at most the queue's 50, so the transaction stays under its 100
        // items), after every other item.
        let first_ahead =
            2 + usize::from(claim.cursor.is_some()) + usize::from(claim.trace.is_some());
        for (id, version) in &claim.ahead {
            let unchanged = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(conv_pk(id), "META")))
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(*version))
                .build()
                .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
            request = request.transact_items(
                TransactWriteItem::builder()
                    .condition_check(unchanged)
                    .build(),
            );
        }
        let Some(reasons) = transact(request).await? else {
            return Ok(ClaimOutcome::Claimed);
        };
        let failed_check = |i| reason_code(&reasons, i) == Some("ConditionalCheckFailed");
        if failed_check(0) {
            return Ok(ClaimOutcome::ConversationChanged);
        }
        if (first_ahead..first_ahead + claim.ahead.len()).any(failed_check) {
            return Ok(ClaimOutcome::QueueMoved);
        }
        if claim.cursor.is_some() && failed_check(2) {
            let current = reasons
                .get(2)
                .and_then(|r| r.item())
                .map(|item| from_item::<CursorItem>(item.clone()).map(|c| c.cursor))
                .transpose()?;
            return Ok(ClaimOutcome::CursorMoved { current });
        }
        if failed_check(1) {
            return Ok(ClaimOutcome::AgentAtCapacity);
        }
        // Another transaction held one of the items (TransactionConflict): a lost
        // race like any other; re-read the cursor and try again.
        Ok(ClaimOutcome::CursorMoved { current: None })
    }

    async fn release_capacity_if(
        &self,
        agent: &AgentId,
        conversation: &ConversationId,
        version: u64,
    ) -> StoreResult<bool> {
        let unchanged = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(conv_pk(conversation), "META")))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(version))
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let release = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(agent_pk(agent), "STATE")))
            .update_expression("DELETE chats :c")
            .expression_attribute_values(":c", AttributeValue::Ss(vec![conversation.to_string()]))
            .build()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let request = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(unchanged)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(release).build());
        Ok(transact(request).await?.is_none())
    }

    async fn agent_chats(&self, agent: &AgentId) -> StoreResult<Vec<ConversationId>> {
        let item = self.get(key(agent_pk(agent), "STATE")).await?;
        let chats = item
            .as_ref()
            .and_then(|i| i.get("chats"))
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        let mut ids: Vec<ConversationId> = chats
            .into_iter()
            .filter_map(|c| ConversationId::parse(c).ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn session(
        &self,
        visitor: &VisitorId,
        now: Timestamp,
    ) -> StoreResult<Option<VisitorSession>> {
        let Some(item) = self
            .get(key(format!("VISITOR#{visitor}"), "SESSION"))
            .await?
        else {
            return Ok(None);
        };
        let stored: SessionItem = from_item(item)?;
        Ok((stored.ttl > now.as_second()).then_some(stored.session))
    }

    async fn sessions(
        &self,
        visitors: &[VisitorId],
        now: Timestamp,
    ) -> StoreResult<Vec<VisitorSession>> {
        let visitors: std::collections::BTreeSet<&VisitorId> = visitors.iter().collect();
        let keys = visitors
            .into_iter()
            .map(|v| key(format!("VISITOR#{v}"), "SESSION"))
            .collect();
        let mut live = Vec::new();
        for item in self.batch_get(keys).await? {
            let stored: SessionItem = from_item(item)?;
            if stored.ttl > now.as_second() {
                live.push(stored.session);
            }
        }
        Ok(live)
    }

    async fn put_session(&self, session: &VisitorSession) -> StoreResult<()> {
        let expires = session
            .updated_at
            .saturating_add(SESSION_TTL)
            .unwrap_or(session.updated_at);
        let item = SessionItem {
            pk: format!("VISITOR#{}", session.visitor),
            sk: "SESSION".into(),
            ttl: expires.as_second(),
            session: session.clone(),
        };
        self.put(to_item(&item)?).await
    }

    async fn count_rate(
        &self,
        key_name: &str,
        rate: livechat_core::domain::Rate,
        now: Timestamp,
    ) -> StoreResult<Result<(), u32>> {
        let start = rate.window_start(now);
        let expires = start + i64::from(rate.per_secs) + 60;
        // One item per window (TTL deletes it after), so that counting is always
        // one conditional UpdateItem: the first action of a window creates it.
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("RATE#{key_name}#{start}"), "RATE")))
            .update_expression("ADD n :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(n) OR n < :limit")
            .expression_attribute_names("#ttl", table::TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(expires))
            .expression_attribute_values(":limit", n(rate.count))
            .send()
            .await;
        match counted {
            Ok(_) => Ok(Ok(())),
            Err(e) if is_condition_failure(&e) => Ok(Err(rate.retry_after(now))),
            Err(e) => Err(failed(e)),
        }
    }
}
