//! Thread-safe in-memory adapters of every port. They keep the AWS adapters'
//! semantics: compare-and-set writes that can lose, an atomic offer claim, messages
//! stored once per id, connections that expire, pushes that find a connection gone,
//! delayed events delivered at least once. The local gateway and the tests run on them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use jiff::Timestamp;

use crate::domain::{AgentId, ConnectionId, Conversation, ConversationId, ManualToggle, Message};
use crate::ports::{
    CasOutcome, ClaimOutcome, Clock, ConnectionRecord, ConnectionStore, ConversationStore, Cursor,
    DelayedEvent, Delivery, DirectoryStore, Hub, ListCursor, NewMessage, Notice, Notifier,
    NotifyError, OfferClaim, Party, PastChat, Presence, Push, PushError, Recipient, RoutingStore,
    Scheduler, SchedulerError, SessionStore, StoreResult, VisitorSession,
};
use crate::routing::Directory;
use crate::shards::{LIVE, MISSED, PAST_ALL, shard_key};

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every
/// critical section below leaves the data consistent before it can panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Inner {
    directory: Directory,
    /// Per conversation: its routing decisions' traces, oldest first.
    traces: HashMap<ConversationId, Vec<crate::routing::Trace>>,
    /// Per conversation: its internal notes, in the order stored.
    notes: HashMap<ConversationId, Vec<crate::domain::Note>>,
    /// Per agent: their own canned responses.
    canned: HashMap<AgentId, Vec<crate::domain::CannedResponse>>,
    /// Per conversation: its analytics sheet and the sheet's version.
    sheets: HashMap<ConversationId, (crate::analytics::Sheet, u64)>,
    /// The analytics counters.
    counters: crate::analytics::Table,
    /// The time zones the analytics saw in force, oldest first.
    zones: Vec<(Timestamp, crate::domain::TimeZoneName)>,
    /// The changes of conversations, messages and sessions since they were last
    /// taken, when recording them ([`MemoryStore::record_changes`]): what DynamoDB
    /// Streams carries on AWS.
    changes: Option<Vec<crate::analytics::Change>>,
    connections: HashMap<ConnectionId, ConnectionRecord>,
    connects: HashMap<Party, u64>,
    conversations: HashMap<ConversationId, Conversation>,
    messages: HashMap<ConversationId, Vec<Message>>,
    cursors: HashMap<String, Cursor>,
    tickets: HashMap<String, u64>,
    /// The live queues, per pool: each queued conversation with its entry.
    queues: HashMap<String, BTreeMap<ConversationId, crate::ports::QueueEntry>>,
    /// Per pool: the last queue ticket handed out.
    queue_tickets: HashMap<String, u64>,
    /// Per pool: the measured lengths of its ended chats.
    chat_lengths: HashMap<String, crate::domain::ChatLengths>,
    loads: HashMap<AgentId, BTreeSet<ConversationId>>,
    peak_loads: HashMap<AgentId, u32>,
    sessions: HashMap<crate::domain::VisitorId, VisitorSession>,
    toggles: HashMap<AgentId, ManualToggle>,
    subscribers: HashMap<ConversationId, BTreeMap<ConnectionId, Party>>,
    /// The missed list, per shard partition ([`crate::shards`]), as DynamoDB has it.
    missed: BTreeMap<String, List<()>>,
    /// The live view's index of waiting and offered conversations, per shard
    /// partition (`LIVE#<shard>`), as DynamoDB has it.
    live: BTreeMap<String, BTreeMap<ConversationId, crate::analytics::live::LiveEntry>>,
    /// The connections watching the live view, until when.
    live_watchers: HashMap<ConnectionId, Timestamp>,
    /// Each agent's past chats (one partition each).
    past: BTreeMap<AgentId, List<PastChat>>,
    /// The account's past chats, per shard partition.
    past_all: BTreeMap<String, List<PastChat>>,
    /// Writes per list partition (`MISSED#07`, `PAST#ana`, ...), for the tests that
    /// check no partition takes more than its share.
    list_writes: BTreeMap<String, u64>,
    windows: HashMap<ConversationId, crate::domain::Windows>,
    /// Per conversation: the ids of each side's latest messages.
    recent: HashMap<ConversationId, crate::domain::RecentMessages>,
    rates: crate::domain::Windows,
}

/// One partition of a newest-first list: entries by time, then conversation.
type List<V> = BTreeMap<(Timestamp, ConversationId), V>;

/// A page of the lists `partitions` merged: at most `limit` entries at or after
/// `since` and, with `before`, after it in newest-first order. Each partition gives
/// at most `limit`, as a DynamoDB query of one shard does.
fn newest_page<'a, V: Clone + 'a>(
    partitions: impl Iterator<Item = &'a List<V>>,
    since: Timestamp,
    before: Option<&ListCursor>,
    limit: usize,
) -> Vec<(Timestamp, ConversationId, V)> {
    let upper = before.map_or(Bound::Unbounded, |b| {
        Bound::Excluded((b.at, b.conversation.clone()))
    });
    let mut merged: Vec<(Timestamp, ConversationId, V)> = partitions
        .flat_map(|list| {
            list.range((Bound::Unbounded, upper.clone()))
                .rev()
                .take_while(|((at, _), _)| *at >= since)
                .take(limit)
                .map(|((at, c), v)| (*at, c.clone(), v.clone()))
        })
        .collect();
    merged.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    merged.truncate(limit);
    merged
}

/// The in-memory store: every store port over one mutex-guarded state.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    interleave: AtomicBool,
    cas_conflicts: AtomicU64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `directory`.
    pub fn with_directory(directory: Directory) -> Self {
        let store = Self::new();
        lock(&store.inner).directory = directory;
        store
    }

    #[cfg(any(test, feature = "test-util"))]
    /// Makes every call yield to the scheduler first, as a network round trip would,
    /// so that concurrent callers interleave between a read and the write that
    /// depends on it.
    pub fn interleaving(self) -> Self {
        self.interleave.store(true, Ordering::Relaxed);
        self
    }

    #[cfg(any(test, feature = "test-util"))]
    /// The most chats `agent` ever held at once.
    pub fn peak_load(&self, agent: &AgentId) -> u32 {
        lock(&self.inner)
            .peak_loads
            .get(agent)
            .copied()
            .unwrap_or(0)
    }

    #[cfg(any(test, feature = "test-util"))]
    /// How many compare-and-set writes (claims included) lost so far.
    pub fn cas_conflicts(&self) -> u64 {
        self.cas_conflicts.load(Ordering::Relaxed)
    }

    #[cfg(any(test, feature = "test-util"))]
    /// Writes so far per list partition (`MISSED#<shard>`, `PASTALL#<shard>`,
    /// `PAST#<agent>`), as DynamoDB would take them.
    pub fn list_writes(&self) -> BTreeMap<String, u64> {
        lock(&self.inner).list_writes.clone()
    }

    async fn round_trip(&self) {
        if self.interleave.load(Ordering::Relaxed) {
            tokio::task::yield_now().await;
        }
    }

    fn conflict<T>(&self, outcome: T) -> T {
        self.cas_conflicts.fetch_add(1, Ordering::Relaxed);
        outcome
    }
}

#[async_trait]
impl DirectoryStore for MemoryStore {
    async fn agent_canned(
        &self,
        agent: &AgentId,
    ) -> StoreResult<Vec<crate::domain::CannedResponse>> {
        self.round_trip().await;
        Ok(lock(&self.inner)
            .canned
            .get(agent)
            .cloned()
            .unwrap_or_default())
    }

    async fn put_agent_canned(
        &self,
        agent: &AgentId,
        canned: &[crate::domain::CannedResponse],
    ) -> StoreResult<()> {
        self.round_trip().await;
        lock(&self.inner)
            .canned
            .insert(agent.clone(), canned.to_vec());
        Ok(())
    }

    async fn directory(&self) -> StoreResult<Directory> {
        self.round_trip().await;
        Ok(lock(&self.inner).directory.clone())
    }

    async fn put_directory(&self, directory: &Directory) -> StoreResult<()> {
        self.round_trip().await;
        lock(&self.inner).directory = directory.clone();
        Ok(())
    }

    async fn set_manual_availability(
        &self,
        agent: &AgentId,
        toggle: ManualToggle,
    ) -> StoreResult<()> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        inner.toggles.insert(agent.clone(), toggle);
        inner.agent_changed(agent);
        Ok(())
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn put_connection(&self, record: &ConnectionRecord) -> StoreResult<()> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        inner.connections.insert(record.id.clone(), record.clone());
        *inner.connects.entry(record.party.clone()).or_default() += 1;
        if let Party::Agent { agent } = &record.party {
            inner.agent_changed(agent);
        }
        Ok(())
    }

    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<ConnectionRecord>> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        let removed = inner.connections.remove(id);
        if let Some(Party::Agent { agent }) = removed.as_ref().map(|r| &r.party) {
            inner.agent_changed(agent);
        }
        Ok(removed)
    }

    async fn connection(
        &self,
        id: &ConnectionId,
        now: Timestamp,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.round_trip().await;
        Ok(lock(&self.inner)
            .connections
            .get(id)
            .filter(|c| c.expires_at > now)
            .cloned())
    }

    async fn connections_of(
        &self,
        party: &Party,
        now: Timestamp,
    ) -> StoreResult<Vec<ConnectionId>> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let mut ids: Vec<_> = inner
            .connections
            .values()
            .filter(|c| &c.party == party && c.expires_at > now)
            .map(|c| c.id.clone())
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn presence(&self, party: &Party, now: Timestamp) -> StoreResult<Presence> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let mut connections: Vec<_> = inner
            .connections
            .values()
            .filter(|c| &c.party == party && c.expires_at > now)
            .map(|c| c.id.clone())
            .collect();
        connections.sort();
        Ok(Presence {
            connections,
            connects: inner.connects.get(party).copied().unwrap_or(0),
        })
    }
}

impl Inner {
    /// Notes a change, when changes are recorded.
    fn changed(&mut self, change: impl FnOnce() -> crate::analytics::Change) {
        if let Some(changes) = &mut self.changes {
            changes.push(change());
        }
    }

    /// Notes a write of the agent's routing state (`AGENT#…/STATE` on DynamoDB:
    /// a connection, the toggle, capacity).
    fn agent_changed(&mut self, agent: &AgentId) {
        self.changed(|| crate::analytics::Change::Agent {
            agent: agent.clone(),
        });
    }

    fn conversation_changed(&mut self, old: Option<Conversation>, new: &Conversation) {
        self.changed(|| crate::analytics::Change::Conversation {
            old: old.map(Box::new),
            new: Some(Box::new(new.clone())),
        });
    }
}

impl MemoryStore {
    /// From now on, keeps every change of a conversation, a message or a visitor
    /// session until [`MemoryStore::take_changes`]: the in-memory store's stream,
    /// which the local gateway records analytics from.
    pub fn record_changes(&self) {
        lock(&self.inner).changes.get_or_insert_with(Vec::new);
    }

    /// The changes kept since the last call, oldest first.
    pub fn take_changes(&self) -> Vec<crate::analytics::Change> {
        lock(&self.inner)
            .changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn add_note(&self, note: &crate::domain::Note) -> StoreResult<bool> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        let notes = inner.notes.entry(note.conversation.clone()).or_default();
        if notes.iter().any(|n| n.id == note.id) {
            return Ok(false);
        }
        notes.push(note.clone());
        Ok(true)
    }

    async fn notes(&self, conversation: &ConversationId) -> StoreResult<Vec<crate::domain::Note>> {
        self.round_trip().await;
        let mut notes = lock(&self.inner)
            .notes
            .get(conversation)
            .cloned()
            .unwrap_or_default();
        notes.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(notes)
    }

    async fn create_conversation(&self, conversation: &Conversation) -> StoreResult<CasOutcome> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        if inner.conversations.contains_key(conversation.id()) {
            return Ok(self.conflict(CasOutcome::Conflict));
        }
        inner
            .conversations
            .insert(conversation.id().clone(), conversation.clone());
        inner.conversation_changed(None, conversation);
        Ok(CasOutcome::Written)
    }

    async fn conversation(&self, id: &ConversationId) -> StoreResult<Option<Conversation>> {
        self.round_trip().await;
        Ok(lock(&self.inner).conversations.get(id).cloned())
    }

    async fn conversations(&self, ids: &[ConversationId]) -> StoreResult<Vec<Conversation>> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let ids: BTreeSet<&ConversationId> = ids.iter().collect();
        Ok(ids
            .into_iter()
            .filter_map(|id| inner.conversations.get(id).cloned())
            .collect())
    }

    async fn replace_conversation(
        &self,
        conversation: &Conversation,
        expected_version: u64,
    ) -> StoreResult<CasOutcome> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        match inner.conversations.get_mut(conversation.id()) {
            Some(stored) if stored.version() == expected_version => {
                let old = std::mem::replace(stored, conversation.clone());
                inner.conversation_changed(Some(old), conversation);
                Ok(CasOutcome::Written)
            }
            _ => Ok(self.conflict(CasOutcome::Conflict)),
        }
    }

    async fn hub(&self, id: &ConversationId) -> StoreResult<Option<Hub>> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        Ok(inner.conversations.get(id).map(|c| Hub {
            conversation: c.clone(),
            subscribers: inner.subscribers.get(id).cloned().unwrap_or_default(),
            messages: inner.messages.get(id).map_or(0, |log| log.len() as u64),
            windows: inner.windows.get(id).cloned().unwrap_or_default(),
            recent: inner.recent.get(id).cloned().unwrap_or_default(),
        }))
    }

    async fn subscribe(
        &self,
        id: &ConversationId,
        connection: &ConnectionId,
        party: &Party,
    ) -> StoreResult<()> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        if inner.conversations.contains_key(id) {
            inner
                .subscribers
                .entry(id.clone())
                .or_default()
                .insert(connection.clone(), party.clone());
        }
        Ok(())
    }

    async fn unsubscribe(&self, id: &ConversationId, connection: &ConnectionId) -> StoreResult<()> {
        self.round_trip().await;
        if let Some(subscribers) = lock(&self.inner).subscribers.get_mut(id) {
            subscribers.remove(connection);
        }
        Ok(())
    }

    async fn append_after(
        &self,
        message: NewMessage,
        expected: u64,
        recent: &crate::domain::RecentMessages,
    ) -> StoreResult<Option<Message>> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        if !inner.conversations.contains_key(&message.conversation) {
            return Err(crate::ports::StoreError::Missing {
                key: format!("conversation {}", message.conversation),
            });
        }
        let log = inner
            .messages
            .entry(message.conversation.clone())
            .or_default();
        if log.len() as u64 != expected {
            return Ok(self.conflict(None));
        }
        let stored = Message {
            id: message.id,
            conversation: message.conversation,
            seq: expected + 1,
            sender: message.sender,
            text: message.text,
            at: message.at,
        };
        log.push(stored.clone());
        inner.changed(|| crate::analytics::Change::Message {
            old: None,
            new: Some(Box::new(stored.clone())),
        });
        if let Some(windows) = message.windows {
            inner.windows.insert(stored.conversation.clone(), windows);
        }
        inner
            .recent
            .insert(stored.conversation.clone(), recent.clone());
        Ok(Some(stored))
    }

    async fn messages_page(
        &self,
        conversation: &ConversationId,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let log = inner
            .messages
            .get(conversation)
            .map_or(&[][..], Vec::as_slice);
        let below: Vec<&Message> = log
            .iter()
            .filter(|m| before.is_none_or(|b| m.seq < b))
            .collect();
        let skip = below.len().saturating_sub(limit);
        Ok(below.into_iter().skip(skip).cloned().collect())
    }

    async fn record_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<()> {
        self.round_trip().await;
        let pk = shard_key(MISSED, conversation);
        let mut inner = lock(&self.inner);
        *inner.list_writes.entry(pk.clone()).or_default() += 1;
        inner
            .missed
            .entry(pk)
            .or_default()
            .insert((at, conversation.clone()), ());
        Ok(())
    }

    async fn missed_since(
        &self,
        since: Timestamp,
        before: Option<&ListCursor>,
        limit: usize,
    ) -> StoreResult<Vec<(ConversationId, Timestamp)>> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let page = newest_page(inner.missed.values(), since, before, limit);
        Ok(page.into_iter().map(|(at, c, ())| (c, at)).collect())
    }

    async fn is_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<bool> {
        self.round_trip().await;
        Ok(lock(&self.inner)
            .missed
            .get(&shard_key(MISSED, conversation))
            .is_some_and(|list| list.contains_key(&(at, conversation.clone()))))
    }

    async fn clear_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<()> {
        self.round_trip().await;
        if let Some(list) = lock(&self.inner)
            .missed
            .get_mut(&shard_key(MISSED, conversation))
        {
            list.remove(&(at, conversation.clone()));
        }
        Ok(())
    }

    async fn record_past(&self, chat: &PastChat) -> StoreResult<()> {
        self.round_trip().await;
        let entry = (chat.ended_at, chat.conversation.clone());
        let all = shard_key(PAST_ALL, &chat.conversation);
        let mut inner = lock(&self.inner);
        *inner
            .list_writes
            .entry(format!("PAST#{}", chat.agent))
            .or_default() += 1;
        *inner.list_writes.entry(all.clone()).or_default() += 1;
        inner
            .past
            .entry(chat.agent.clone())
            .or_default()
            .insert(entry.clone(), chat.clone());
        inner
            .past_all
            .entry(all)
            .or_default()
            .insert(entry, chat.clone());
        Ok(())
    }

    async fn past_chats(
        &self,
        agent: Option<&AgentId>,
        since: Timestamp,
        before: Option<&ListCursor>,
        limit: usize,
    ) -> StoreResult<Vec<PastChat>> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let page = match agent {
            Some(agent) => newest_page(inner.past.get(agent).into_iter(), since, before, limit),
            None => newest_page(inner.past_all.values(), since, before, limit),
        };
        Ok(page.into_iter().map(|(_, _, chat)| chat).collect())
    }

    async fn messages(&self, conversation: &ConversationId) -> StoreResult<Vec<Message>> {
        self.round_trip().await;
        Ok(lock(&self.inner)
            .messages
            .get(conversation)
            .cloned()
            .unwrap_or_default())
    }
}

#[async_trait]
impl RoutingStore for MemoryStore {
    async fn put_trace(
        &self,
        conversation: &ConversationId,
        trace: &crate::routing::Trace,
    ) -> StoreResult<()> {
        self.round_trip().await;
        lock(&self.inner)
            .traces
            .entry(conversation.clone())
            .or_default()
            .push(trace.clone());
        Ok(())
    }

    async fn traces(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<crate::routing::Trace>> {
        self.round_trip().await;
        Ok(lock(&self.inner)
            .traces
            .get(conversation)
            .cloned()
            .unwrap_or_default())
    }

    async fn cursor(&self, pool: &str) -> StoreResult<Cursor> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let mut cursor = inner.cursors.get(pool).cloned().unwrap_or_default();
        cursor.issued = inner.tickets.get(pool).copied().unwrap_or(0);
        Ok(cursor)
    }

    async fn take_ticket(&self, pool: &str) -> StoreResult<u64> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        let next = inner.tickets.entry(pool.to_string()).or_default();
        *next += 1;
        Ok(*next)
    }

    async fn agent_states(
        &self,
        agents: &[AgentId],
        now: Timestamp,
    ) -> StoreResult<BTreeMap<AgentId, crate::ports::AgentState>> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        Ok(agents
            .iter()
            .map(|a| {
                let load = inner.loads.get(a).map_or(0, |c| c.len() as u32);
                let mut connections: Vec<ConnectionId> = inner
                    .connections
                    .values()
                    .filter(|c| {
                        c.expires_at > now
                            && matches!(&c.party, Party::Agent { agent } if agent == a)
                    })
                    .map(|c| c.id.clone())
                    .collect();
                connections.sort();
                let manual = inner.toggles.get(a).copied();
                (
                    a.clone(),
                    crate::ports::AgentState {
                        load,
                        online: !connections.is_empty(),
                        connections,
                        manual,
                    },
                )
            })
            .collect())
    }

    async fn claim_offer(&self, claim: &OfferClaim) -> StoreResult<ClaimOutcome> {
        self.round_trip().await;
        let mut guard = lock(&self.inner);
        let inner = &mut *guard;
        // Check all three conditions before writing anything: all or nothing.
        let conversation_ok = inner
            .conversations
            .get(claim.conversation.id())
            .is_some_and(|c| c.version() == claim.expected_version);
        if !conversation_ok {
            return Ok(self.conflict(ClaimOutcome::ConversationChanged));
        }
        let ahead_moved = claim.ahead.iter().any(|(id, version)| {
            inner
                .conversations
                .get(id)
                .is_none_or(|c| c.version() != *version)
        });
        if ahead_moved {
            return Ok(self.conflict(ClaimOutcome::QueueMoved));
        }
        if let Some(mv) = &claim.cursor {
            let current = inner.cursors.get(&mv.pool).cloned().unwrap_or_default();
            if current.version != mv.expected_version {
                return Ok(self.conflict(ClaimOutcome::CursorMoved {
                    current: Some(current),
                }));
            }
        }
        let held = inner.loads.get(&claim.agent).map_or(0, BTreeSet::len) as u32;
        if held >= claim.limit.get() {
            return Ok(self.conflict(ClaimOutcome::AgentAtCapacity));
        }
        let old = inner
            .conversations
            .insert(claim.conversation.id().clone(), claim.conversation.clone());
        inner.conversation_changed(old, &claim.conversation);
        inner.agent_changed(&claim.agent);
        if let Some(trace) = &claim.trace {
            inner
                .traces
                .entry(claim.conversation.id().clone())
                .or_default()
                .push(trace.clone());
        }
        let chats = inner.loads.entry(claim.agent.clone()).or_default();
        chats.insert(claim.conversation.id().clone());
        let now_held = chats.len() as u32;
        let peak = inner.peak_loads.entry(claim.agent.clone()).or_default();
        *peak = (*peak).max(now_held);
        if let Some(mv) = &claim.cursor {
            inner.cursors.insert(
                mv.pool.clone(),
                Cursor {
                    last: Some(mv.last.clone()),
                    version: mv.expected_version + 1,
                    served: mv.served,
                    issued: 0,
                },
            );
        }
        Ok(ClaimOutcome::Claimed)
    }

    async fn release_capacity_if(
        &self,
        agent: &AgentId,
        conversation: &ConversationId,
        version: u64,
    ) -> StoreResult<bool> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        if inner.conversations.get(conversation).map(|c| c.version()) != Some(version) {
            return Ok(false);
        }
        if let Some(chats) = inner.loads.get_mut(agent) {
            chats.remove(conversation);
        }
        inner.agent_changed(agent);
        Ok(true)
    }

    async fn agent_chats(&self, agent: &AgentId) -> StoreResult<Vec<ConversationId>> {
        self.round_trip().await;
        Ok(lock(&self.inner)
            .loads
            .get(agent)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default())
    }
}

/// Whether a session is still kept at `now` (idle for less than its TTL).
fn session_live(session: &VisitorSession, now: Timestamp) -> bool {
    session
        .updated_at
        .saturating_add(crate::ports::SESSION_TTL)
        .is_ok_and(|end| end > now)
}

#[async_trait]
impl crate::ports::AnalyticsStore for MemoryStore {
    async fn sheet(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<(crate::analytics::Sheet, u64)> {
        self.round_trip().await;
        Ok(lock(&self.inner)
            .sheets
            .get(conversation)
            .cloned()
            .unwrap_or_default())
    }

    async fn save_sheet(
        &self,
        conversation: &ConversationId,
        sheet: &crate::analytics::Sheet,
        version: u64,
        deltas: &[(
            crate::analytics::Day,
            crate::analytics::Bucket,
            crate::analytics::Counters,
        )],
    ) -> StoreResult<CasOutcome> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        let stored = inner.sheets.get(conversation).map_or(0, |(_, v)| *v);
        if stored != version {
            return Ok(self.conflict(CasOutcome::Conflict));
        }
        inner
            .sheets
            .insert(conversation.clone(), (sheet.clone(), version + 1));
        for (day, bucket, counters) in deltas {
            inner.counters.add(*day, bucket.clone(), counters, 1);
        }
        Ok(CasOutcome::Written)
    }

    async fn counters(
        &self,
        from: crate::analytics::Day,
        to: crate::analytics::Day,
    ) -> StoreResult<crate::analytics::Table> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let mut table = crate::analytics::Table::default();
        for ((day, bucket), counters) in inner.counters.cells() {
            if (from..=to).contains(day) {
                table.add(*day, bucket.clone(), counters, 1);
            }
        }
        Ok(table)
    }

    async fn zone_changes(&self) -> StoreResult<Vec<(Timestamp, crate::domain::TimeZoneName)>> {
        self.round_trip().await;
        Ok(lock(&self.inner).zones.clone())
    }

    async fn add_zone_change(
        &self,
        at: Timestamp,
        zone: &crate::domain::TimeZoneName,
    ) -> StoreResult<()> {
        self.round_trip().await;
        lock(&self.inner).zones.push((at, zone.clone()));
        Ok(())
    }

    fn own_changes(&self) -> Vec<crate::analytics::Change> {
        self.take_changes()
    }

    async fn put_live(&self, entry: &crate::analytics::live::LiveEntry) -> StoreResult<()> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        let partition = shard_key(LIVE, &entry.conversation);
        inner
            .live
            .entry(partition)
            .or_default()
            .insert(entry.conversation.clone(), entry.clone());
        Ok(())
    }

    async fn remove_live(&self, conversation: &ConversationId) -> StoreResult<()> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        if let Some(partition) = inner.live.get_mut(&shard_key(LIVE, conversation)) {
            partition.remove(conversation);
        }
        Ok(())
    }

    async fn watch_live(&self, connection: &ConnectionId, until: Timestamp) -> StoreResult<()> {
        self.round_trip().await;
        lock(&self.inner)
            .live_watchers
            .insert(connection.clone(), until);
        Ok(())
    }

    async fn live_watchers(&self, now: Timestamp) -> StoreResult<Vec<ConnectionId>> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        // What DynamoDB's TTL does: a watcher past its connection's end goes.
        inner.live_watchers.retain(|_, until| *until > now);
        Ok(inner.live_watchers.keys().cloned().collect())
    }

    async fn live_entries(
        &self,
        now: Timestamp,
    ) -> StoreResult<Vec<crate::analytics::live::LiveEntry>> {
        self.round_trip().await;
        Ok(lock(&self.inner)
            .live
            .values()
            .flat_map(|p| p.values().filter(|e| e.kept_at(now)).cloned())
            .collect())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn session(
        &self,
        visitor: &crate::domain::VisitorId,
        now: Timestamp,
    ) -> StoreResult<Option<VisitorSession>> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let live = |s: &&VisitorSession| session_live(s, now);
        Ok(inner.sessions.get(visitor).filter(live).cloned())
    }

    async fn sessions(
        &self,
        visitors: &[crate::domain::VisitorId],
        now: Timestamp,
    ) -> StoreResult<Vec<VisitorSession>> {
        self.round_trip().await;
        let inner = lock(&self.inner);
        let live = |s: &&VisitorSession| session_live(s, now);
        let visitors: BTreeSet<&crate::domain::VisitorId> = visitors.iter().collect();
        Ok(visitors
            .into_iter()
            .filter_map(|v| inner.sessions.get(v).filter(live).cloned())
            .collect())
    }

    async fn count_rate(
        &self,
        key: &str,
        rate: crate::domain::Rate,
        now: Timestamp,
    ) -> StoreResult<Result<(), u32>> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        let checks = [(key.to_string(), rate)];
        let one = inner
            .rates
            .get(key)
            .map(|w| crate::domain::Windows::from([(key.to_string(), *w)]))
            .unwrap_or_default();
        Ok(crate::domain::count_in(&one, &checks, now).map(|next| {
            inner.rates.insert(key.to_string(), next[key]);
        }))
    }

    async fn put_session(&self, session: &VisitorSession) -> StoreResult<()> {
        self.round_trip().await;
        let mut inner = lock(&self.inner);
        let old = inner
            .sessions
            .insert(session.visitor.clone(), session.clone());
        inner.changed(|| crate::analytics::Change::Session {
            old: old.map(Box::new),
            new: Some(Box::new(session.clone())),
        });
        Ok(())
    }
}

/// Pushes into per-connection mailboxes. Connections are opened and closed by the
/// caller (the local gateway, or a test); a push to a closed one is `Gone`.
#[derive(Default)]
pub struct MemoryPush {
    mailboxes: Mutex<HashMap<ConnectionId, Vec<String>>>,
    /// Closed by the server ([`Push::close`]): later pushes are `Gone`, what was
    /// pushed before can still be taken.
    closed: Mutex<BTreeSet<ConnectionId>>,
}

impl MemoryPush {
    /// No open connections.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens a mailbox for a connection.
    pub fn open(&self, connection: &ConnectionId) {
        lock(&self.mailboxes).entry(connection.clone()).or_default();
    }

    /// Closes a connection; later pushes to it are `Gone`.
    pub fn close(&self, connection: &ConnectionId) {
        lock(&self.mailboxes).remove(connection);
    }

    /// Whether a connection is open (opened, and not closed since).
    pub fn is_open(&self, connection: &ConnectionId) -> bool {
        lock(&self.mailboxes).contains_key(connection) && !lock(&self.closed).contains(connection)
    }

    /// Takes the frames pushed to a connection so far.
    pub fn take(&self, connection: &ConnectionId) -> Vec<String> {
        lock(&self.mailboxes)
            .get_mut(connection)
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

#[async_trait]
impl Push for MemoryPush {
    /// As API Gateway does, refuses a body over its 128 KB message limit.
    async fn push(&self, connection: &ConnectionId, json: &str) -> Result<Delivery, PushError> {
        if json.len() > crate::protocol::MAX_FRAME_BYTES {
            return Err(PushError {
                connection: connection.clone(),
                source: format!("PayloadTooLargeException: {} bytes", json.len()).into(),
            });
        }
        if lock(&self.closed).contains(connection) {
            return Ok(Delivery::Gone);
        }
        match lock(&self.mailboxes).get_mut(connection) {
            Some(mailbox) => {
                mailbox.push(json.to_string());
                Ok(Delivery::Delivered)
            }
            None => Ok(Delivery::Gone),
        }
    }

    async fn close(&self, connection: &ConnectionId) -> Result<Delivery, PushError> {
        if !self.is_open(connection) {
            return Ok(Delivery::Gone);
        }
        lock(&self.closed).insert(connection.clone());
        Ok(Delivery::Delivered)
    }
}

/// A delay queue: events wait until the clock reaches their time, then [`take_due`]
/// hands them out. `duplicate_deliveries` makes every event come out twice, as SQS
/// may deliver it.
///
/// [`take_due`]: MemoryScheduler::take_due
#[derive(Default)]
pub struct MemoryScheduler {
    queue: Mutex<Vec<(Timestamp, DelayedEvent)>>,
    duplicate: AtomicBool,
}

impl MemoryScheduler {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    #[cfg(any(test, feature = "test-util"))]
    /// Delivers every event twice from now on.
    pub fn duplicate_deliveries(&self, on: bool) {
        self.duplicate.store(on, Ordering::Relaxed);
    }

    /// Removes and returns the events due at `now`, earliest first.
    pub fn take_due(&self, now: Timestamp) -> Vec<DelayedEvent> {
        let mut queue = lock(&self.queue);
        let mut due: Vec<_> = queue.iter().filter(|(at, _)| *at <= now).cloned().collect();
        queue.retain(|(at, _)| *at > now);
        due.sort_by_key(|(at, _)| *at);
        due.into_iter().map(|(_, e)| e).collect()
    }

    /// The events waiting, with their times.
    pub fn pending(&self) -> Vec<(Timestamp, DelayedEvent)> {
        lock(&self.queue).clone()
    }
}

#[async_trait]
impl Scheduler for MemoryScheduler {
    async fn schedule(&self, event: DelayedEvent, at: Timestamp) -> Result<(), SchedulerError> {
        let mut queue = lock(&self.queue);
        if self.duplicate.load(Ordering::Relaxed) {
            queue.push((at, event.clone()));
        }
        queue.push((at, event));
        Ok(())
    }
}

/// A clock that moves only when told.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward (or back) by `by`.
    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut now = lock(&self.0);
        *now = now.checked_add(by).unwrap_or(*now);
    }

    /// Sets the clock.
    pub fn set(&self, to: Timestamp) {
        *lock(&self.0) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *lock(&self.0)
    }
}

/// Records the notices sent; refuses those to recipients set to fail, and every
/// email once set to have no sender address.
#[derive(Default)]
pub struct MemoryNotifier {
    sent: Mutex<Vec<Notice>>,
    failing: Mutex<Vec<Recipient>>,
    no_email: Mutex<bool>,
}

impl MemoryNotifier {
    /// Nothing recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// The notices delivered so far, in order.
    pub fn sent(&self) -> Vec<Notice> {
        lock(&self.sent).clone()
    }

    #[cfg(any(test, feature = "test-util"))]
    /// Notices to `to` fail from now on (an unverified address, a revoked webhook).
    pub fn fail_for(&self, to: Recipient) {
        lock(&self.failing).push(to);
    }

    #[cfg(any(test, feature = "test-util"))]
    /// Emails are refused from now on as by a deployment with no sender address
    /// ([`NotifyError::EmailNotConfigured`]); webhooks still go.
    pub fn without_email(&self) {
        *lock(&self.no_email) = true;
    }
}

#[async_trait]
impl Notifier for MemoryNotifier {
    async fn send(&self, notice: &Notice) -> Result<(), NotifyError> {
        if *lock(&self.no_email) && matches!(notice.to, Recipient::Email(_)) {
            return Err(NotifyError::EmailNotConfigured);
        }
        if lock(&self.failing).contains(&notice.to) {
            return Err(NotifyError::Failed {
                channel: notice.to.channel(),
                reason: "refused (set to fail)".into(),
            });
        }
        lock(&self.sent).push(notice.clone());
        Ok(())
    }
}

mod queue;
#[cfg(test)]
mod tests;
