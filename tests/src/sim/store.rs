//! The store the real handlers run on: [`MemoryStore`] behind a wrapper that
//! - yields a seeded number of times before each call, as a network round trip
//!   would, so that concurrent handlers interleave between a read and the write
//!   that depends on it (the single-threaded runtime makes that order the seed's);
//! - injects faults: throttling, conditional writes that lose, and crashes right
//!   after a write took effect;
//! - lists ids in creation order where the memory store would order them by their
//!   random ULIDs, so that a seed's run does not depend on them;
//! - checks each round-robin claim as it lands: the agent offered must be the next
//!   candidate after the pool's cursor, as the claiming router saw the agents;
//! - and, for the simulator's self-test only, can write the round-robin cursor
//!   without its condition (a deliberately broken store).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiff::Timestamp;
use livechat_core::domain::{
    AgentId, ConnectionId, Conversation, ConversationId, ManualToggle, Message, Permission,
    RecentMessages, RuleTarget, TeamId, VisitorId,
};
use livechat_core::memory::{ManualClock, MemoryStore};
use livechat_core::ports::{
    AgentState, CasOutcome, ClaimOutcome, Clock, ConnectionRecord, ConnectionStore,
    ConversationStore, Cursor, DirectoryStore, Hub, ListCursor, NewMessage, OfferClaim, Party,
    PastChat, Presence, RoutingStore, SessionStore, StoreError, StoreResult, VisitorSession,
};
use livechat_core::routing::{ALL_AGENTS_POOL, Directory, next_in_rotation};

use super::ctx::{Ctx, lock};

/// What one handler task last read of the agents: the facts its router decided on.
#[derive(Default, Clone)]
struct Seen {
    directory: Option<Directory>,
    states: BTreeMap<AgentId, AgentState>,
}

/// [`MemoryStore`] with faults, seeded interleaving and the round-robin check.
pub struct SimStore {
    inner: MemoryStore,
    ctx: Arc<Ctx>,
    clock: Arc<ManualClock>,
    broken_cursor: bool,
    seen: Mutex<HashMap<tokio::task::Id, Seen>>,
    offers: Mutex<BTreeMap<String, BTreeMap<AgentId, u64>>>,
    /// The directory as last saved: what a claim was routed on when its task read
    /// none (processes serve it from their cache), since the simulation saves it
    /// once, before the run.
    saved: Mutex<Directory>,
    /// Requests that joined the live queue anew.
    queued: Mutex<u64>,
}

fn crashed() -> StoreError {
    StoreError::Unavailable("simulated crash after the write took effect".into())
}

impl SimStore {
    /// A store holding `directory`. `broken_cursor` makes round-robin claims ignore
    /// the cursor's version (the self-test's deliberate bug).
    pub fn new(
        directory: Directory,
        ctx: Arc<Ctx>,
        clock: Arc<ManualClock>,
        broken_cursor: bool,
    ) -> Self {
        let inner = MemoryStore::with_directory(directory.clone());
        // Every write's change, for the analytics check at the end.
        inner.record_changes();
        Self {
            inner,
            saved: Mutex::new(directory),
            ctx,
            clock,
            broken_cursor,
            seen: Mutex::new(HashMap::new()),
            offers: Mutex::new(BTreeMap::new()),
            queued: Mutex::new(0),
        }
    }

    /// The store without faults, for the invariant checks.
    pub fn truth(&self) -> &MemoryStore {
        &self.inner
    }

    /// Round-robin offers claimed so far, per pool and agent.
    pub fn offers_by_pool(&self) -> BTreeMap<String, BTreeMap<AgentId, u64>> {
        lock(&self.offers).clone()
    }

    /// Forgets what finished tasks read.
    pub fn forget_tasks(&self) {
        lock(&self.seen).clear();
    }

    /// A round trip: yields 0 to 2 times, then maybe throttles.
    async fn call(&self, op: &'static str) -> StoreResult<()> {
        let yields = self.ctx.rng(|r| r.u8(0..3));
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
        if self
            .ctx
            .inject("store_throttled", self.ctx.rates.throttle, || {
                op.to_string()
            })
        {
            return Err(StoreError::Throttled);
        }
        Ok(())
    }

    fn conflict(&self, op: &'static str) -> bool {
        self.ctx
            .inject("cas_conflict", self.ctx.rates.conflict, || op.to_string())
    }

    /// After a write took effect: maybe the handler dies here.
    fn crash(&self, op: &'static str) -> StoreResult<()> {
        if self.ctx.inject(
            "crash_after_write",
            self.ctx.rates.crash_after_write,
            || op.to_string(),
        ) {
            return Err(crashed());
        }
        Ok(())
    }

    /// The live queue's order, as an offer of a queued request is claimed: no
    /// request with an earlier ticket is still waiting and could have had this
    /// agent (not offered to them already). Read in the same step as the claim
    /// (the memory store answers without yielding), so what it reads is what the
    /// claim lands on.
    async fn queue_skipped(&self, claim: &OfferClaim) -> StoreResult<Option<String>> {
        use livechat_core::ports::QueueStore;
        let id = claim.conversation.id();
        let queue = self.inner.queue(livechat_core::routing::QUEUE_POOL).await?;
        let Some(index) = queue.iter().position(|e| &e.conversation == id) else {
            return Ok(None);
        };
        let ahead: Vec<ConversationId> = queue[..index]
            .iter()
            .map(|e| e.conversation.clone())
            .collect();
        let skipped = self
            .inner
            .conversations(&ahead)
            .await?
            .into_iter()
            .filter(|c| {
                matches!(
                    c.state(),
                    livechat_core::domain::ConversationState::Waiting { .. }
                ) && !c.offered_to().contains(&claim.agent)
            })
            .map(|c| self.ctx.alias(c.id()))
            .collect::<Vec<_>>();
        Ok((!skipped.is_empty()).then(|| {
            format!(
                "{} offered to {} ahead of {skipped:?}, queued before it and waiting",
                self.ctx.alias(id),
                claim.agent
            )
        }))
    }

    /// Requests that joined the live queue anew so far.
    pub fn queued(&self) -> u64 {
        *lock(&self.queued)
    }

    fn remember(&self, f: impl FnOnce(&mut Seen)) {
        if let Some(id) = tokio::task::try_id() {
            f(lock(&self.seen).entry(id).or_default());
        }
    }

    /// Checks a round-robin claim that just landed: `before` is the pool's cursor
    /// when it did, the claim's agent must be the rotation's next candidate after it
    /// as the claiming task saw the agents.
    fn check_rotation(&self, claim: &OfferClaim, pool: &str, before: &Cursor) {
        let seen = tokio::task::try_id()
            .and_then(|id| lock(&self.seen).get(&id).cloned())
            .unwrap_or_default();
        let directory = seen.directory.unwrap_or_else(|| lock(&self.saved).clone());
        let order = pool_order(&directory, pool);
        let now = self.clock.now();
        let earlier: &[AgentId] = claim
            .conversation
            .offered_to()
            .split_last()
            .map_or(&[], |(_, rest)| rest);
        let candidates: BTreeSet<&AgentId> = order
            .iter()
            .filter(|a| {
                directory.agent(a).is_some_and(|p| {
                    let state = seen.states.get(*a);
                    p.has_permission(Permission::LiveChat)
                        && p.is_available_with(state.and_then(|s| s.manual).or(p.manual), now)
                        && state.is_some_and(|s| s.online && s.load < p.chat_limit.get())
                })
            })
            .filter(|a| !earlier.contains(a))
            .collect();
        let expected = next_in_rotation(&order, before.last.as_ref(), &candidates);
        *lock(&self.offers)
            .entry(pool.to_string())
            .or_default()
            .entry(claim.agent.clone())
            .or_default() += 1;
        if expected != Some(&claim.agent) {
            self.ctx.violate(
                "round_robin_fair",
                format!(
                    "pool {pool}: {} was offered {}, but after the cursor at {} (version {}) the next candidate was {}",
                    claim.agent,
                    self.ctx.alias(claim.conversation.id()),
                    before.last.as_ref().map_or("nobody".into(), |a| a.to_string()),
                    before.version,
                    expected.map_or("nobody".into(), |a| a.to_string()),
                ),
            );
        }
    }
}

/// The agents of a round-robin pool, in rotation order, as the router builds it.
pub fn pool_order(directory: &Directory, pool: &str) -> Vec<AgentId> {
    let team = |t: &TeamId| {
        directory
            .team(t)
            .map(|t| t.members.clone())
            .unwrap_or_default()
    };
    if pool == ALL_AGENTS_POOL {
        return directory
            .agents
            .iter()
            .filter(|a| a.has_permission(Permission::LiveChat))
            .map(|a| a.id.clone())
            .collect();
    }
    if let Some(t) = pool.strip_prefix("team:") {
        return TeamId::parse(t).map(|t| team(&t)).unwrap_or_default();
    }
    if let Some(r) = pool.strip_prefix("rule:") {
        let rule = livechat_core::domain::RuleId::parse(r)
            .ok()
            .and_then(|r| directory.rule(&r).cloned());
        return match rule.map(|r| r.target) {
            Some(RuleTarget::Agents(agents)) => agents,
            Some(RuleTarget::Team(t)) => team(&t),
            None => Vec::new(),
        };
    }
    Vec::new()
}

#[async_trait]
impl DirectoryStore for SimStore {
    async fn agent_canned(
        &self,
        agent: &AgentId,
    ) -> StoreResult<Vec<livechat_core::domain::CannedResponse>> {
        self.call("agent_canned").await?;
        self.inner.agent_canned(agent).await
    }

    async fn put_agent_canned(
        &self,
        agent: &AgentId,
        canned: &[livechat_core::domain::CannedResponse],
    ) -> StoreResult<()> {
        self.call("put_agent_canned").await?;
        self.inner.put_agent_canned(agent, canned).await?;
        self.crash("put_agent_canned")
    }

    async fn directory(&self) -> StoreResult<Directory> {
        self.call("directory").await?;
        let directory = self.inner.directory().await?;
        self.remember(|s| s.directory = Some(directory.clone()));
        Ok(directory)
    }

    async fn put_directory(&self, directory: &Directory) -> StoreResult<()> {
        *lock(&self.saved) = directory.clone();
        self.inner.put_directory(directory).await
    }

    async fn set_manual_availability(
        &self,
        agent: &AgentId,
        toggle: ManualToggle,
    ) -> StoreResult<()> {
        self.call("set_manual_availability").await?;
        self.inner.set_manual_availability(agent, toggle).await?;
        self.crash("set_manual_availability")
    }
}

#[async_trait]
impl ConnectionStore for SimStore {
    async fn put_connection(&self, record: &ConnectionRecord) -> StoreResult<()> {
        self.call("put_connection").await?;
        self.inner.put_connection(record).await?;
        self.crash("put_connection")
    }

    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<ConnectionRecord>> {
        self.call("remove_connection").await?;
        let removed = self.inner.remove_connection(id).await?;
        self.crash("remove_connection")?;
        Ok(removed)
    }

    async fn connection(
        &self,
        id: &ConnectionId,
        now: Timestamp,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.call("connection").await?;
        self.inner.connection(id, now).await
    }

    async fn connections_of(
        &self,
        party: &Party,
        now: Timestamp,
    ) -> StoreResult<Vec<ConnectionId>> {
        self.call("connections_of").await?;
        self.inner.connections_of(party, now).await
    }

    async fn presence(&self, party: &Party, now: Timestamp) -> StoreResult<Presence> {
        self.call("presence").await?;
        self.inner.presence(party, now).await
    }
}

#[async_trait]
impl ConversationStore for SimStore {
    async fn add_note(&self, note: &livechat_core::domain::Note) -> StoreResult<bool> {
        self.call("add_note").await?;
        let added = self.inner.add_note(note).await?;
        self.crash("add_note")?;
        Ok(added)
    }

    async fn notes(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<livechat_core::domain::Note>> {
        self.call("notes").await?;
        self.inner.notes(conversation).await
    }

    async fn create_conversation(&self, conversation: &Conversation) -> StoreResult<CasOutcome> {
        self.ctx.alias(conversation.id());
        self.call("create_conversation").await?;
        let outcome = self.inner.create_conversation(conversation).await?;
        self.crash("create_conversation")?;
        Ok(outcome)
    }

    async fn conversation(&self, id: &ConversationId) -> StoreResult<Option<Conversation>> {
        self.call("conversation").await?;
        self.inner.conversation(id).await
    }

    async fn conversations(&self, ids: &[ConversationId]) -> StoreResult<Vec<Conversation>> {
        self.call("conversations").await?;
        self.inner.conversations(ids).await
    }

    async fn replace_conversation(
        &self,
        conversation: &Conversation,
        expected_version: u64,
    ) -> StoreResult<CasOutcome> {
        self.call("replace_conversation").await?;
        if self.conflict("replace_conversation") {
            return Ok(CasOutcome::Conflict);
        }
        let outcome = self
            .inner
            .replace_conversation(conversation, expected_version)
            .await?;
        if outcome == CasOutcome::Written {
            self.crash("replace_conversation")?;
        }
        Ok(outcome)
    }

    async fn hub(&self, id: &ConversationId) -> StoreResult<Option<Hub>> {
        self.call("hub").await?;
        self.inner.hub(id).await
    }

    async fn subscribe(
        &self,
        id: &ConversationId,
        connection: &ConnectionId,
        party: &Party,
    ) -> StoreResult<()> {
        self.call("subscribe").await?;
        self.inner.subscribe(id, connection, party).await?;
        self.crash("subscribe")
    }

    async fn unsubscribe(&self, id: &ConversationId, connection: &ConnectionId) -> StoreResult<()> {
        self.call("unsubscribe").await?;
        self.inner.unsubscribe(id, connection).await?;
        self.crash("unsubscribe")
    }

    async fn append_after(
        &self,
        message: NewMessage,
        expected: u64,
        recent: &RecentMessages,
    ) -> StoreResult<Option<Message>> {
        self.call("append_after").await?;
        if self.conflict("append_after") {
            return Ok(None);
        }
        let outcome = self.inner.append_after(message, expected, recent).await?;
        if outcome.is_some() {
            self.crash("append_after")?;
        }
        Ok(outcome)
    }

    async fn messages_page(
        &self,
        conversation: &ConversationId,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.call("messages_page").await?;
        self.inner.messages_page(conversation, before, limit).await
    }

    async fn messages(&self, conversation: &ConversationId) -> StoreResult<Vec<Message>> {
        self.call("messages").await?;
        self.inner.messages(conversation).await
    }

    async fn record_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<()> {
        self.call("record_missed").await?;
        self.inner.record_missed(conversation, at).await?;
        self.crash("record_missed")
    }

    async fn missed_since(
        &self,
        since: Timestamp,
        before: Option<&ListCursor>,
        limit: usize,
    ) -> StoreResult<Vec<(ConversationId, Timestamp)>> {
        self.call("missed_since").await?;
        let mut missed = self.inner.missed_since(since, before, limit).await?;
        missed.sort_by_key(|(c, at)| std::cmp::Reverse((*at, self.ctx.rank(c))));
        Ok(missed)
    }

    async fn is_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<bool> {
        self.call("is_missed").await?;
        self.inner.is_missed(conversation, at).await
    }

    async fn clear_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<()> {
        self.call("clear_missed").await?;
        self.inner.clear_missed(conversation, at).await?;
        self.crash("clear_missed")
    }

    async fn record_past(&self, chat: &PastChat) -> StoreResult<()> {
        self.call("record_past").await?;
        self.inner.record_past(chat).await?;
        self.crash("record_past")
    }

    async fn past_chats(
        &self,
        agent: Option<&AgentId>,
        since: Timestamp,
        before: Option<&ListCursor>,
        limit: usize,
    ) -> StoreResult<Vec<PastChat>> {
        self.call("past_chats").await?;
        self.inner.past_chats(agent, since, before, limit).await
    }
}

#[async_trait]
impl RoutingStore for SimStore {
    async fn put_trace(
        &self,
        conversation: &ConversationId,
        trace: &livechat_core::routing::Trace,
    ) -> StoreResult<()> {
        self.call("put_trace").await?;
        self.inner.put_trace(conversation, trace).await?;
        self.crash("put_trace")
    }

    async fn traces(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<livechat_core::routing::Trace>> {
        self.call("traces").await?;
        self.inner.traces(conversation).await
    }

    async fn cursor(&self, pool: &str) -> StoreResult<Cursor> {
        self.call("cursor").await?;
        self.inner.cursor(pool).await
    }

    async fn take_ticket(&self, pool: &str) -> StoreResult<u64> {
        self.call("take_ticket").await?;
        let ticket = self.inner.take_ticket(pool).await?;
        self.crash("take_ticket")?;
        Ok(ticket)
    }

    async fn agent_states(
        &self,
        agents: &[AgentId],
        now: Timestamp,
    ) -> StoreResult<BTreeMap<AgentId, AgentState>> {
        self.call("agent_states").await?;
        let states = self.inner.agent_states(agents, now).await?;
        self.remember(|s| s.states = states.clone());
        Ok(states)
    }

    async fn claim_offer(&self, claim: &OfferClaim) -> StoreResult<ClaimOutcome> {
        self.call("claim_offer").await?;
        if self.conflict("claim_offer") {
            let which = self.ctx.rng(|r| r.u8(0..3));
            return Ok(match (which, &claim.cursor) {
                (0, Some(_)) => ClaimOutcome::CursorMoved { current: None },
                (1, _) => ClaimOutcome::AgentAtCapacity,
                _ => ClaimOutcome::ConversationChanged,
            });
        }
        // No await between reading the cursor and the claim below: on the one
        // thread they happen as one step, as the real claim's condition would.
        let before = match &claim.cursor {
            Some(mv) => Some(self.inner.cursor(&mv.pool).await?),
            None => None,
        };
        let skipped = self.queue_skipped(claim).await?;
        let outcome = match (&claim.cursor, &before) {
            (Some(mv), Some(current)) if self.broken_cursor => {
                // The deliberate bug: the cursor is written whatever its version.
                let mut unconditional = claim.clone();
                unconditional.cursor = Some(livechat_core::ports::CursorMove {
                    expected_version: current.version,
                    ..mv.clone()
                });
                self.inner.claim_offer(&unconditional).await?
            }
            _ => self.inner.claim_offer(claim).await?,
        };
        if outcome == ClaimOutcome::Claimed {
            if let (Some(mv), Some(before)) = (&claim.cursor, &before) {
                self.check_rotation(claim, &mv.pool, before);
            }
            if let Some(skipped) = skipped {
                self.ctx.violate("queue_order", skipped);
            }
            self.crash("claim_offer")?;
        }
        Ok(outcome)
    }

    async fn release_capacity_if(
        &self,
        agent: &AgentId,
        conversation: &ConversationId,
        version: u64,
    ) -> StoreResult<bool> {
        self.call("release_capacity_if").await?;
        let released = self
            .inner
            .release_capacity_if(agent, conversation, version)
            .await?;
        self.crash("release_capacity_if")?;
        Ok(released)
    }

    async fn agent_chats(&self, agent: &AgentId) -> StoreResult<Vec<ConversationId>> {
        self.call("agent_chats").await?;
        let mut chats = self.inner.agent_chats(agent).await?;
        chats.sort_by_key(|c| self.ctx.rank(c));
        Ok(chats)
    }
}

#[async_trait]
impl SessionStore for SimStore {
    async fn session(
        &self,
        visitor: &VisitorId,
        now: Timestamp,
    ) -> StoreResult<Option<VisitorSession>> {
        self.call("session").await?;
        self.inner.session(visitor, now).await
    }

    async fn sessions(
        &self,
        visitors: &[VisitorId],
        now: Timestamp,
    ) -> StoreResult<Vec<VisitorSession>> {
        self.call("sessions").await?;
        self.inner.sessions(visitors, now).await
    }

    async fn count_rate(
        &self,
        key: &str,
        rate: livechat_core::domain::Rate,
        now: Timestamp,
    ) -> StoreResult<Result<(), u32>> {
        self.call("count_rate").await?;
        self.inner.count_rate(key, rate, now).await
    }

    async fn put_session(&self, session: &VisitorSession) -> StoreResult<()> {
        self.call("put_session").await?;
        self.inner.put_session(session).await?;
        self.crash("put_session")
    }
}

#[async_trait]
impl livechat_core::ports::AnalyticsStore for SimStore {
    async fn sheet(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<(livechat_core::analytics::Sheet, u64)> {
        self.call("sheet").await?;
        self.inner.sheet(conversation).await
    }

    async fn save_sheet(
        &self,
        conversation: &ConversationId,
        sheet: &livechat_core::analytics::Sheet,
        version: u64,
        deltas: &[(
            livechat_core::analytics::Day,
            livechat_core::analytics::Bucket,
            livechat_core::analytics::Counters,
        )],
    ) -> StoreResult<CasOutcome> {
        self.call("save_sheet").await?;
        let outcome = self
            .inner
            .save_sheet(conversation, sheet, version, deltas)
            .await?;
        self.crash("save_sheet")?;
        Ok(outcome)
    }

    async fn counters(
        &self,
        from: livechat_core::analytics::Day,
        to: livechat_core::analytics::Day,
    ) -> StoreResult<livechat_core::analytics::Table> {
        self.call("counters").await?;
        self.inner.counters(from, to).await
    }

    async fn zone_changes(
        &self,
    ) -> StoreResult<Vec<(Timestamp, livechat_core::domain::TimeZoneName)>> {
        self.call("zone_changes").await?;
        self.inner.zone_changes().await
    }

    async fn add_zone_change(
        &self,
        at: Timestamp,
        zone: &livechat_core::domain::TimeZoneName,
    ) -> StoreResult<()> {
        self.call("add_zone_change").await?;
        self.inner.add_zone_change(at, zone).await
    }

    async fn put_live(&self, entry: &livechat_core::analytics::live::LiveEntry) -> StoreResult<()> {
        self.call("put_live").await?;
        self.inner.put_live(entry).await?;
        self.crash("put_live")
    }

    async fn remove_live(&self, conversation: &ConversationId) -> StoreResult<()> {
        self.call("remove_live").await?;
        self.inner.remove_live(conversation).await?;
        self.crash("remove_live")
    }

    async fn watch_live(&self, connection: &ConnectionId, until: Timestamp) -> StoreResult<()> {
        self.call("watch_live").await?;
        self.inner.watch_live(connection, until).await?;
        self.crash("watch_live")
    }

    async fn live_watchers(&self, now: Timestamp) -> StoreResult<Vec<ConnectionId>> {
        self.call("live_watchers").await?;
        self.inner.live_watchers(now).await
    }

    async fn live_entries(
        &self,
        now: Timestamp,
    ) -> StoreResult<Vec<livechat_core::analytics::live::LiveEntry>> {
        self.call("live_entries").await?;
        self.inner.live_entries(now).await
    }
}

#[async_trait]
impl livechat_core::ports::QueueStore for SimStore {
    async fn enqueue(
        &self,
        pool: &str,
        conversation: &ConversationId,
        at: Timestamp,
    ) -> StoreResult<livechat_core::ports::Joined> {
        self.call("enqueue").await?;
        let joined = self.inner.enqueue(pool, conversation, at).await?;
        if matches!(joined, livechat_core::ports::Joined::New(_)) {
            *lock(&self.queued) += 1;
        }
        self.crash("enqueue")?;
        Ok(joined)
    }

    async fn queue(&self, pool: &str) -> StoreResult<Vec<livechat_core::ports::QueueEntry>> {
        self.call("queue").await?;
        self.inner.queue(pool).await
    }

    async fn dequeue(&self, pool: &str, conversation: &ConversationId) -> StoreResult<bool> {
        self.call("dequeue").await?;
        let removed = self.inner.dequeue(pool, conversation).await?;
        self.crash("dequeue")?;
        Ok(removed)
    }

    async fn record_chat_length(&self, pool: &str, secs: u64) -> StoreResult<()> {
        self.call("record_chat_length").await?;
        self.inner.record_chat_length(pool, secs).await?;
        self.crash("record_chat_length")
    }

    async fn chat_lengths(&self, pool: &str) -> StoreResult<livechat_core::domain::ChatLengths> {
        self.call("chat_lengths").await?;
        self.inner.chat_lengths(pool).await
    }
}
