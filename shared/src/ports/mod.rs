//! The narrow async traits the core needs from the world. Each has an in-memory
//! adapter in [`crate::memory`] and an AWS adapter beside the handlers (DynamoDB, the
//! API Gateway Management API, SQS).
//!
//! The contracts are written for the AWS adapters:
//! - a conditional write is a compare-and-set that can lose: losing is an outcome
//!   ([`CasOutcome::Conflict`], [`ClaimOutcome`]), not an error;
//! - a push can find the connection gone ([`Delivery::Gone`]): the caller cleans up;
//! - a delayed event can arrive twice, or late: its handler must check the state it
//!   was scheduled for and do nothing when that state has moved on.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::{
    AgentId, ChatLimit, ConnectionId, Conversation, ConversationId, Message, MessageId,
    MessageText, Sender, VisitorId,
};
use crate::routing::Directory;

mod queue;
pub use queue::{Joined, QueueEntry, QueueStore};

/// A failure of the store itself (not a lost race).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store asked us to slow down; retry with backoff.
    #[error("the store is throttling requests")]
    Throttled,
    /// The store could not be reached or failed.
    #[error("the store failed")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An item the call needs does not exist.
    #[error("{key} does not exist")]
    Missing { key: String },
    /// A stored item could not be read back as the type it should be.
    #[error("stored item {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Result of a compare-and-set write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    /// The write took effect.
    Written,
    /// The item was not at the expected version (or, for a create, already existed).
    Conflict,
}

/// Who is on the other end of a WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Party {
    /// A visitor's widget.
    Visitor { visitor: VisitorId },
    /// An agent's inbox.
    Agent { agent: AgentId },
}

/// A live WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// API Gateway's connection id.
    pub id: ConnectionId,
    /// Who it belongs to.
    pub party: Party,
    /// When it was opened.
    pub connected_at: Timestamp,
    /// When API Gateway closes it at the latest (2 h) plus slack; reads ignore it after.
    pub expires_at: Timestamp,
    /// For an agent: when the token that opened it (or its last `renew_token`)
    /// expires. Every frame after it is refused and the connection closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_until: Option<Timestamp>,
}

/// The round-robin position of one pool. Moves only by compare-and-set on `version`.
///
/// Beside it, each pool hands out turn tickets ([`RoutingStore::take_ticket`]): a
/// request that lost a race for the cursor takes the next number and claims when
/// the requests ahead of it have moved the cursor, instead of racing them again.
/// Tickets only order the attempts; the compare-and-set alone keeps the rotation
/// exact, so a ticket lost with its request costs a short wait, never a turn.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The agent who took the pool's last chat; the next is the one after them.
    pub last: Option<AgentId>,
    /// Bumped by every move; 0 for a pool that never routed.
    pub version: u64,
    /// The highest ticket whose turn is over: the ticket of the request that moved
    /// the cursor last, or, for a move made without a ticket, the tickets handed
    /// out when that request read the cursor. Written with every move.
    #[serde(default)]
    pub served: u64,
    /// Tickets handed out so far, as read with the cursor (not stored with it):
    /// more than `served` means requests are queued for a turn, and a newcomer
    /// queues behind them rather than racing them.
    #[serde(skip)]
    pub issued: u64,
}

impl Cursor {
    /// Whether requests hold tickets whose turn has not come.
    pub fn queued(&self) -> bool {
        self.issued > self.served
    }
}

/// Moves a pool's cursor from `expected_version` to point at `last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorMove {
    /// The pool.
    pub pool: String,
    /// The version read.
    pub expected_version: u64,
    /// The agent now holding the pool's last chat.
    pub last: AgentId,
    /// [`Cursor::served`] after the move.
    pub served: u64,
}

/// What routing needs to know of an agent besides the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentState {
    /// Chats held (offered or live).
    pub load: u32,
    /// Has a live connection.
    pub online: bool,
    /// The live connections (`online` is whether there is one), in id order: an
    /// offer is pushed to them without reading them again.
    pub connections: Vec<ConnectionId>,
    /// The agent's manual availability toggle, as last set (it may have lapsed:
    /// [`crate::domain::Agent::is_available_with`] tells).
    pub manual: Option<crate::domain::ManualToggle>,
}

/// An offer, claimed in one atomic step: the conversation moves to `offered` (a
/// compare-and-set on its version), the agent's capacity is claimed (only while they
/// hold fewer than `limit` chats), and the pool cursor moves (compare-and-set). All
/// three happen, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferClaim {
    /// The conversation as it will be stored (state `offered`).
    pub conversation: Conversation,
    /// The version the conversation had when read.
    pub expected_version: u64,
    /// The agent offered.
    pub agent: AgentId,
    /// The agent's concurrent chat limit.
    pub limit: ChatLimit,
    /// The cursor move, for round-robin pools.
    pub cursor: Option<CursorMove>,
    /// Why the agent was chosen, stored with the claim (nothing when it fails).
    pub trace: Option<crate::routing::Trace>,
    /// In a walk of the live queue: the requests ahead of this one, each at the
    /// version the walk read it at. The claim holds only if none has changed since
    /// (one lapsed offer puts a request back in line ahead of this one): a walk
    /// whose reading went stale loses and walks again, so the queue's order holds.
    pub ahead: Vec<(ConversationId, u64)>,
}

/// How a claim went. Every variant but `Claimed` left the store unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// All three writes took effect.
    Claimed,
    /// Another request moved the cursor first: pick again from `current` (the
    /// cursor as the store now has it, when the failed write could return it;
    /// otherwise re-read it).
    CursorMoved { current: Option<Cursor> },
    /// The agent reached their limit meanwhile: pick someone else.
    AgentAtCapacity,
    /// The conversation changed meanwhile (a duplicate request, or the visitor left).
    ConversationChanged,
    /// A request ahead of this one in the live queue changed since the walk read it
    /// ([`OfferClaim::ahead`]): walk the queue again.
    QueueMoved,
}

/// Result of storing a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, with its sequence number.
    New(Message),
    /// A message with this id was stored before (a retry): here it is, unchanged.
    Duplicate(Message),
}

impl Appended {
    /// The stored message either way.
    pub fn message(&self) -> &Message {
        match self {
            Self::New(m) | Self::Duplicate(m) => m,
        }
    }
}

/// A message to store; the store assigns its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Client-made id.
    pub id: MessageId,
    /// The conversation.
    pub conversation: ConversationId,
    /// Who wrote it.
    pub sender: Sender,
    /// The text.
    pub text: MessageText,
    /// When the server received it.
    pub at: Timestamp,
    /// The conversation's rate-limit counters after this message, stored in the
    /// same write (`None` leaves them as they are).
    pub windows: Option<crate::domain::Windows>,
}

/// Configuration: agents, teams, rules, account routing, settings.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// The whole directory, as one consistent snapshot.
    async fn directory(&self) -> StoreResult<Directory>;
    /// Replaces the directory (admin save; the caller validated it). Agents' manual
    /// availability toggles are not in it: they belong to the agents, not the admin.
    async fn put_directory(&self, directory: &Directory) -> StoreResult<()>;
    /// Sets an agent's manual availability toggle. It is kept with the agent's
    /// routing state (read by [`RoutingStore::agent_states`], as routing reads
    /// loads), not in the directory: routing may then serve the directory from a
    /// cache and still never offer a chat against a toggle it was told of, and a
    /// toggle writes one small item instead of the whole directory.
    async fn set_manual_availability(
        &self,
        agent: &AgentId,
        toggle: crate::domain::ManualToggle,
    ) -> StoreResult<()>;
    /// The agent's own canned responses (none yet: empty). Kept apart from the
    /// directory, so that applying the configuration again keeps them.
    async fn agent_canned(
        &self,
        agent: &AgentId,
    ) -> StoreResult<Vec<crate::domain::CannedResponse>>;
    /// Replaces the agent's own canned responses (the caller checked the list).
    async fn put_agent_canned(
        &self,
        agent: &AgentId,
        canned: &[crate::domain::CannedResponse],
    ) -> StoreResult<()>;
}

/// WebSocket connections: who is online.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Records a connection (overwrites one with the same id).
    async fn put_connection(&self, record: &ConnectionRecord) -> StoreResult<()>;
    /// Removes a connection, returning what it was. Removing twice is harmless.
    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<ConnectionRecord>>;
    /// One connection, unless gone or expired at `now`.
    async fn connection(
        &self,
        id: &ConnectionId,
        now: Timestamp,
    ) -> StoreResult<Option<ConnectionRecord>>;
    /// The live connections of a party at `now` (an agent may have several tabs).
    async fn connections_of(&self, party: &Party, now: Timestamp)
    -> StoreResult<Vec<ConnectionId>>;
    /// The live connections of a party at `now` and how many it ever made, in one
    /// consistent read.
    async fn presence(&self, party: &Party, now: Timestamp) -> StoreResult<Presence>;
}

/// A party's connections, as [`ConnectionStore::presence`] reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presence {
    /// The live connections (an agent may have several tabs).
    pub connections: Vec<ConnectionId>,
    /// How many connections the party has made so far: every
    /// [`ConnectionStore::put_connection`] counts one, in the same write that
    /// records the connection, and the count never goes down. A grace timer
    /// compares it with the count its disconnection saw, to tell one absence from
    /// the next.
    pub connects: u64,
}

/// A conversation with what relaying a message needs: who to push to, and how many
/// messages it holds. One read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hub {
    /// The conversation.
    pub conversation: Conversation,
    /// Connections subscribed to its pushes: the visitor's pages, and the tabs of
    /// agents who took it. Only the visitor's and the current live agent's count.
    pub subscribers: BTreeMap<ConnectionId, Party>,
    /// Messages stored so far; the next is number `messages + 1`.
    pub messages: u64,
    /// The rate-limit counters of the messages written to it (per connection, per
    /// visitor), as the last message stored them.
    pub windows: crate::domain::Windows,
    /// The ids of each side's latest messages, as the last message stored them: a
    /// resend is recognised from this read ([`append_once`]).
    pub recent: crate::domain::RecentMessages,
}

impl Hub {
    /// The subscribers to push a message to now, with who each is: the visitor's
    /// connections and the live agent's. Subscriptions of an agent who no longer
    /// holds the chat are ignored, so they need no cleanup.
    pub fn recipients(&self) -> impl Iterator<Item = (&ConnectionId, &Party)> {
        let live_agent = match &self.conversation.state() {
            crate::domain::ConversationState::Live { agent, .. } => Some(agent),
            _ => None,
        };
        self.subscribers
            .iter()
            .filter_map(move |(connection, party)| match party {
                Party::Visitor { visitor } if visitor == self.conversation.visitor() => {
                    Some((connection, party))
                }
                Party::Agent { agent } if Some(agent) == live_agent => Some((connection, party)),
                _ => None,
            })
    }
}

/// How [`append_once`] went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendAfter {
    /// Stored with the next sequence number.
    Stored(Message),
    /// A message with this id was stored before: here it is, unchanged.
    Duplicate(Message),
    /// Another message was stored first: read the hub again and retry.
    Moved,
}

/// Stores `message` after the latest message of `hub` (as read), once per id: a
/// resend whose first copy is among the hub's recent messages is answered with the
/// stored copy (one read, and only for a resend), anything else is appended with
/// the recent ids moved on, in the one write of [`ConversationStore::append_after`].
/// The one way every use case stores a message.
pub async fn append_once<S: ConversationStore + ?Sized>(
    store: &S,
    hub: &Hub,
    message: NewMessage,
) -> StoreResult<AppendAfter> {
    for seq in hub.recent.candidates(&message.sender, &message.id) {
        let page = store
            .messages_page(&message.conversation, Some(seq + 1), 1)
            .await?;
        if let Some(stored) = page
            .into_iter()
            .find(|m| m.seq == seq && m.id == message.id)
        {
            return Ok(AppendAfter::Duplicate(stored));
        }
    }
    let seq = hub.messages + 1;
    let recent = hub.recent.with(&message.sender, &message.id, seq);
    Ok(
        match store.append_after(message, hub.messages, &recent).await? {
            Some(stored) => AppendAfter::Stored(stored),
            None => AppendAfter::Moved,
        },
    )
}

/// Conversations and their messages.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Stores a new conversation; `Conflict` if its id exists.
    async fn create_conversation(&self, conversation: &Conversation) -> StoreResult<CasOutcome>;
    /// One conversation.
    async fn conversation(&self, id: &ConversationId) -> StoreResult<Option<Conversation>>;
    /// The conversations of `ids` that exist, in any order, each once (an id may
    /// be asked twice): batched reads (100 a request), so that a list page costs a
    /// request, not one per entry.
    async fn conversations(&self, ids: &[ConversationId]) -> StoreResult<Vec<Conversation>>;
    /// Replaces a conversation if it is still at `expected_version` (its subscribers
    /// and messages are untouched).
    async fn replace_conversation(
        &self,
        conversation: &Conversation,
        expected_version: u64,
    ) -> StoreResult<CasOutcome>;
    /// The conversation with its subscribers and message count.
    async fn hub(&self, id: &ConversationId) -> StoreResult<Option<Hub>>;
    /// Subscribes a connection to the conversation's pushes.
    async fn subscribe(
        &self,
        id: &ConversationId,
        connection: &ConnectionId,
        party: &Party,
    ) -> StoreResult<()>;
    /// Unsubscribes a connection (a gone one). Harmless twice.
    async fn unsubscribe(&self, id: &ConversationId, connection: &ConnectionId) -> StoreResult<()>;
    /// Stores `message` as number `expected + 1`, and `recent` as the hub's recent
    /// ids, if the conversation still holds `expected` messages (`None` when another
    /// got in first): one write. It does not look at the id: [`append_once`] does.
    async fn append_after(
        &self,
        message: NewMessage,
        expected: u64,
        recent: &crate::domain::RecentMessages,
    ) -> StoreResult<Option<Message>>;
    /// The messages of a conversation in sequence order.
    async fn messages(&self, conversation: &ConversationId) -> StoreResult<Vec<Message>>;
    /// One page of a conversation's messages: the latest `limit` of those numbered
    /// below `before` (of all, when `None`), in sequence order. One query, reading
    /// only the page.
    async fn messages_page(
        &self,
        conversation: &ConversationId,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<Message>>;
    /// Stores an internal note once per id: `false` when a note with its id is
    /// stored already (a resend: nothing changes).
    async fn add_note(&self, note: &crate::domain::Note) -> StoreResult<bool>;
    /// The conversation's internal notes, oldest first (by time, then id).
    async fn notes(&self, conversation: &ConversationId) -> StoreResult<Vec<crate::domain::Note>>;
    /// Puts a request nobody took on the missed list agents see, at `at`.
    async fn record_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<()>;
    /// The missed list since `since`, newest first: at most `limit` entries, and
    /// only those after `before` in that order when it is given (one page). The
    /// list is write-sharded ([`crate::shards`]): a page merges every shard, in a
    /// fixed number of requests whatever the page size.
    async fn missed_since(
        &self,
        since: Timestamp,
        before: Option<&ListCursor>,
        limit: usize,
    ) -> StoreResult<Vec<(ConversationId, Timestamp)>>;
    /// Whether the request recorded at `at` is still on the missed list.
    async fn is_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<bool>;
    /// Takes a request recorded at `at` off the missed list. Harmless twice.
    async fn clear_missed(&self, conversation: &ConversationId, at: Timestamp) -> StoreResult<()>;
    /// Lists a chat that ended with an agent among that agent's past chats and the
    /// account's, for [`PAST_CHATS_KEPT`]. Harmless twice.
    async fn record_past(&self, chat: &PastChat) -> StoreResult<()>;
    /// Past chats that ended at or after `since`, newest first, at most `limit`, and
    /// only those after `before` in that order when it is given (one page):
    /// `agent`'s, or the whole account's for `None` (write-sharded as the missed
    /// list is, and merged the same way).
    async fn past_chats(
        &self,
        agent: Option<&AgentId>,
        since: Timestamp,
        before: Option<&ListCursor>,
        limit: usize,
    ) -> StoreResult<Vec<PastChat>>;
}

/// Round-robin cursors and agents' chat capacity.
#[async_trait]
pub trait RoutingStore: Send + Sync {
    /// A pool's cursor (the default one for a pool that never routed), with the
    /// tickets handed out so far ([`Cursor::issued`]), in one request.
    async fn cursor(&self, pool: &str) -> StoreResult<Cursor>;
    /// For each of `agents`: the chats they hold and whether they have a live
    /// connection at `now`. Routing's one read of a pool's agents.
    async fn agent_states(
        &self,
        agents: &[AgentId],
        now: Timestamp,
    ) -> StoreResult<BTreeMap<AgentId, AgentState>>;
    /// Hands out the next turn ticket of `pool` (1 for its first): numbers are
    /// unique and increasing, and taking one never loses a race (a counter on an
    /// item of its own, which no claim touches). See [`Cursor`].
    async fn take_ticket(&self, pool: &str) -> StoreResult<u64>;
    /// Claims an offer atomically; see [`OfferClaim`].
    async fn claim_offer(&self, claim: &OfferClaim) -> StoreResult<ClaimOutcome>;
    /// Frees the capacity `conversation` held on `agent`, only while the conversation
    /// is still at `version` (checked in the same atomic step): a repair that read
    /// the conversation must not free a slot a concurrent claim just took. `false`
    /// when the conversation moved on and nothing was freed. Idempotent.
    async fn release_capacity_if(
        &self,
        agent: &AgentId,
        conversation: &ConversationId,
        version: u64,
    ) -> StoreResult<bool>;
    /// The conversations holding the agent's capacity (offered or live).
    async fn agent_chats(&self, agent: &AgentId) -> StoreResult<Vec<ConversationId>>;
    /// Stores the trace of a routing decision that made no offer (the fallback);
    /// an offer's trace is stored by its claim.
    async fn put_trace(
        &self,
        conversation: &ConversationId,
        trace: &crate::routing::Trace,
    ) -> StoreResult<()>;
    /// The traces of the conversation's routing decisions, oldest first.
    async fn traces(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<crate::routing::Trace>>;
}

/// A visitor's session: who they are, what the dialog knows, where they are in it,
/// and their current conversation. Written only by the visitor's own actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitorSession {
    /// The visitor.
    pub visitor: VisitorId,
    /// Their current conversation.
    pub conversation: ConversationId,
    /// The dialog's state, visitor attributes included.
    pub dialog: crate::dialog::DialogState,
    /// Last activity; a session idle for [`SESSION_TTL`] expires.
    pub updated_at: Timestamp,
    /// Which visitor tokens still open a connection for this visitor.
    #[serde(default)]
    pub token: TokenVersion,
    /// The dialog the current conversation walks; `None`: the account's first
    /// (or the built-in) dialog, as for sessions from before targeted dialogs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialog_id: Option<crate::domain::DialogId>,
    /// The dialogs the visitor completed (walked to their end, or whose chat
    /// ended), oldest first, at most [`crate::routing::MAX_DIALOGS`]: a widget
    /// naming one is not offered it again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub completed: Vec<crate::domain::DialogId>,
}

/// Adds `dialog` to a session's `completed`, once, forgetting the oldest past
/// [`crate::routing::MAX_DIALOGS`].
pub fn remember_completed(
    completed: &mut Vec<crate::domain::DialogId>,
    dialog: crate::domain::DialogId,
) {
    if completed.contains(&dialog) {
        return;
    }
    completed.push(dialog);
    let over = completed.len().saturating_sub(crate::routing::MAX_DIALOGS);
    completed.drain(..over);
}

/// The server-side state of a visitor's tokens: each token carries the version it
/// was issued at, and only the current version (or, for
/// [`crate::auth::VISITOR_TOKEN_OVERLAP`] after a rotation, the one before) is
/// accepted. Rotating replaces the token on use; revoking refuses every token
/// issued so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenVersion {
    /// The version of the newest token issued (0 for sessions from before versions).
    pub current: u64,
    /// Until when the version before `current` is still accepted; `None` after a
    /// revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_until: Option<Timestamp>,
}

impl TokenVersion {
    /// Whether a token of `version` is accepted at `now`.
    pub fn accepts(&self, version: u64, now: Timestamp) -> bool {
        version == self.current
            || (version.checked_add(1) == Some(self.current)
                && self.previous_until.is_some_and(|until| now <= until))
    }

    /// A new token replaces the current one, which stays accepted until `overlap`
    /// after `now`. Returns the new version.
    pub fn rotate(&mut self, now: Timestamp, overlap: jiff::SignedDuration) -> u64 {
        self.current = self.current.saturating_add(1);
        self.previous_until = Some(now.saturating_add(overlap).unwrap_or(now));
        self.current
    }

    /// Refuses every token issued so far; the next one gets a version of its own.
    pub fn revoke(&mut self) {
        self.current = self.current.saturating_add(1);
        self.previous_until = None;
    }
}

/// How long an idle visitor session lasts.
pub const SESSION_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 30);

/// Visitor sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// A visitor's session, unless it idled out (30 days without activity) by `now`.
    async fn session(
        &self,
        visitor: &VisitorId,
        now: Timestamp,
    ) -> StoreResult<Option<VisitorSession>>;
    /// The sessions of `visitors` that exist and have not idled out by `now`, in any
    /// order, each once: batched reads (100 a request), as for
    /// [`ConversationStore::conversations`].
    async fn sessions(
        &self,
        visitors: &[VisitorId],
        now: Timestamp,
    ) -> StoreResult<Vec<VisitorSession>>;
    /// Stores a visitor's session (last write wins: one visitor acts one step at a time).
    async fn put_session(&self, session: &VisitorSession) -> StoreResult<()>;
    /// Counts one action under `key` in `rate`'s fixed window holding `now`, atomically
    /// (the counter is shared by every process): `Err(retry_after)` in seconds, and
    /// nothing counted, when the window already holds `rate.count` actions. For
    /// actions with no write of their own to carry the counter (typing, `start`,
    /// `$connect`).
    async fn count_rate(
        &self,
        key: &str,
        rate: crate::domain::Rate,
        now: Timestamp,
    ) -> StoreResult<Result<(), u32>>;
}

/// Analytics (docs/analytics.md): each conversation's sheet (what its events have
/// told so far) and the per-day counters the sheets' contributions add up to.
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// The conversation's sheet and its version (an empty sheet at 0 when none).
    async fn sheet(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<(crate::analytics::Sheet, u64)>;
    /// Stores `sheet` as version `version + 1` if the stored one is still at
    /// `version`, and adds each delta to its (day, bucket) counters, all in one
    /// write or none (`Conflict`: read the sheet again and retry).
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
    ) -> StoreResult<CasOutcome>;
    /// The counters of the days `from` to `to`, both included.
    async fn counters(
        &self,
        from: crate::analytics::Day,
        to: crate::analytics::Day,
    ) -> StoreResult<crate::analytics::Table>;
    /// The account's time zones over time: each zone with the moment the
    /// analytics first saw it in force (oldest first).
    async fn zone_changes(&self) -> StoreResult<Vec<(Timestamp, crate::domain::TimeZoneName)>>;
    /// Records that `zone` is in force from `at` on (after the last change).
    async fn add_zone_change(
        &self,
        at: Timestamp,
        zone: &crate::domain::TimeZoneName,
    ) -> StoreResult<()>;
    /// The changes of its own writes this store kept since the last call, for the
    /// analytics to record: the in-memory store's stream
    /// ([`crate::memory::MemoryStore::record_changes`]). A store whose changes
    /// come from elsewhere (DynamoDB Streams) keeps none.
    fn own_changes(&self) -> Vec<crate::analytics::Change> {
        Vec::new()
    }
    /// Puts the live view's entry of a waiting or offered conversation
    /// (overwriting the conversation's entry, if any): the analytics consumer's
    /// index ([`crate::analytics::live`]), never written on a chat's path.
    async fn put_live(&self, entry: &crate::analytics::live::LiveEntry) -> StoreResult<()>;
    /// Deletes the conversation's live view entry (none: nothing to do).
    async fn remove_live(&self, conversation: &ConversationId) -> StoreResult<()>;
    /// Notes that `connection` watches the live view until `until` (its
    /// connection's end at the latest): the view is pushed to watching
    /// connections only. Noting it again moves `until`.
    async fn watch_live(&self, connection: &ConnectionId, until: Timestamp) -> StoreResult<()>;
    /// The connections watching the live view at `now`, in any order (some may
    /// have closed since: the caller pushes only to agents' live connections).
    async fn live_watchers(&self, now: Timestamp) -> StoreResult<Vec<ConnectionId>>;
    /// Every live view entry, in any order (one whose safety-net TTL passed by
    /// `now` is skipped, where the store keeps one).
    async fn live_entries(
        &self,
        now: Timestamp,
    ) -> StoreResult<Vec<crate::analytics::live::LiveEntry>>;
}

/// Every store port, for callers that need them all.
pub trait Store:
    DirectoryStore
    + ConnectionStore
    + ConversationStore
    + RoutingStore
    + SessionStore
    + AnalyticsStore
    + QueueStore
{
}
impl<
    T: DirectoryStore
        + ConnectionStore
        + ConversationStore
        + RoutingStore
        + SessionStore
        + AnalyticsStore
        + QueueStore,
> Store for T
{
}

/// What happened to a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to the connection.
    Delivered,
    /// The connection no longer exists (API Gateway's 410 GoneException): remove it.
    Gone,
}

/// A push that failed for another reason than a gone connection.
#[derive(Debug, thiserror::Error)]
#[error("push to {connection} failed")]
pub struct PushError {
    /// The connection.
    pub connection: ConnectionId,
    /// Why.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Sends frames to browsers over their WebSocket connections.
#[async_trait]
pub trait Push: Send + Sync {
    /// Sends one JSON text frame.
    async fn push(&self, connection: &ConnectionId, json: &str) -> Result<Delivery, PushError>;
    /// Closes the connection from the server's side (`@connections` DELETE); its
    /// `$disconnect` follows. Frames pushed before it are delivered first. `Gone`
    /// when it was closed already.
    async fn close(&self, connection: &ConnectionId) -> Result<Delivery, PushError>;
}

/// Something routing must do later. Delivered at least once, possibly late: each
/// carries what it expects to find so that a stale or repeated delivery is a no-op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DelayedEvent {
    /// The offer to `agent` lapses if still not accepted.
    OfferTimeout {
        conversation: ConversationId,
        agent: AgentId,
        version: u64,
    },
    /// The transfer of a live chat to `agent` lapses if still not accepted
    /// (`version`: the conversation's once the transfer was offered).
    TransferTimeout {
        conversation: ConversationId,
        agent: AgentId,
        version: u64,
    },
    /// End a live chat if nobody wrote for [`crate::domain::INACTIVITY_TIMEOUT`]
    /// (the time of its last stored message decides).
    InactivityCheck { conversation: ConversationId },
    /// An agent lost their last connection; re-offer their chats if still gone.
    /// `connects` is [`Presence::connects`] as that disconnection saw it: the timer
    /// acts only while it is unchanged, so an agent who came back meanwhile (and
    /// maybe left again, which started a timer of its own) keeps their chats.
    /// Absent in an event queued before it existed: then it acts on any absence.
    AgentGrace {
        agent: AgentId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connects: Option<u64>,
    },
    /// A waiting visitor lost their last connection; cancel the request if they are
    /// still gone (a page refresh reconnects well within the grace period).
    /// `connects` as for [`DelayedEvent::AgentGrace`].
    VisitorGrace {
        visitor: VisitorId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connects: Option<u64>,
    },
    /// A connection of `party` went while the party had another, which may be going
    /// at the same moment (two tabs closed together, two pushes finding both gone):
    /// if the party has no connection left and has made none since (`connects`, as
    /// that disconnection saw it), its grace timer starts now. Queued before the
    /// connection record is removed, so that it survives a handler that fails or
    /// dies after the removal, where the look it takes itself is lost.
    CheckGone { party: Party, connects: u64 },
    /// Route a waiting conversation (sent with no delay when the visitor reaches a
    /// live chat card, and after a declined or lapsed offer).
    Route { conversation: ConversationId },
    /// Bring a conversation's follow-ups in line with its state, a few seconds after
    /// a change of several writes began: queued before the first write, it repairs
    /// what a handler that died part-way left (a routing, an offer timeout, a
    /// missed-list entry, an agent's capacity), and is a no-op otherwise.
    Settle { conversation: ConversationId },
    /// A queued request's `settings.queue_wait_limit` passed: if it is still queued
    /// and waiting, it gets the fallback (docs/protocol.md, "waiting").
    QueueExpired { conversation: ConversationId },
    /// An agent's schedule starts (or their away toggle lapses) while requests are
    /// queued: the queue's head is offered if a slot is free, as when one frees.
    QueueCheck,
}

/// How long after a change of several writes its [`DelayedEvent::Settle`] runs:
/// long after the change finishes normally, soon enough that a stranded visitor
/// or a leaked chat slot is noticed quickly.
pub const SETTLE_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(5);

/// A delayed event with the time it is due: the message body on the delay queue. SQS
/// delays at most 15 minutes, so a consumer receiving an event early schedules it
/// again for the rest of the wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledEvent {
    /// When it is due.
    pub at: Timestamp,
    /// The event.
    pub event: DelayedEvent,
}

/// A delayed event could not be scheduled.
#[derive(Debug, thiserror::Error)]
#[error("could not schedule the delayed event")]
pub struct SchedulerError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Schedules delayed events (SQS delay queue in AWS, at most 15 minutes ahead).
#[async_trait]
pub trait Scheduler: Send + Sync {
    /// Delivers `event` at or after `at`, at least once.
    async fn schedule(&self, event: DelayedEvent, at: Timestamp) -> Result<(), SchedulerError>;
}

/// The current time. A trait so tests and simulations control it.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// How long the inbox lists a past chat: 90 days.
pub const PAST_CHATS_KEPT: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 90);

/// Why a list cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a cursor as a list frame's `next` gives it")]
pub struct ListCursorError;

/// A place in a newest-first list (the missed list, past chats): its entry at `at`
/// for `conversation`. The page after it holds the entries that come after it in
/// the list's order (older, or as old with a smaller conversation id). On the wire
/// it is one string, `<RFC 3339 time>/<conversation id>`, handed out as a list
/// frame's `next` and sent back as `before`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ListCursor {
    /// When the entry was made.
    pub at: Timestamp,
    /// The entry's conversation.
    pub conversation: ConversationId,
}

impl ListCursor {
    /// Parses the wire form; see the type's contract.
    pub fn parse(raw: &str) -> Result<Self, ListCursorError> {
        let (at, conversation) = raw.rsplit_once('/').ok_or(ListCursorError)?;
        Ok(Self {
            at: at.parse().map_err(|_| ListCursorError)?,
            conversation: ConversationId::parse(conversation).map_err(|_| ListCursorError)?,
        })
    }
}

impl TryFrom<String> for ListCursor {
    type Error = ListCursorError;
    fn try_from(raw: String) -> Result<Self, ListCursorError> {
        Self::parse(&raw)
    }
}

impl From<ListCursor> for String {
    fn from(c: ListCursor) -> String {
        format!("{}/{}", c.at, c.conversation)
    }
}

/// A chat that ended with an agent, as the inbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastChat {
    /// The chat (its transcript comes with `history`).
    pub conversation: ConversationId,
    /// The agent who had it.
    pub agent: AgentId,
    /// When it ended.
    pub ended_at: Timestamp,
    /// Why.
    pub reason: crate::domain::EndReason,
    /// The visitor's name, when known.
    #[serde(default)]
    pub visitor_name: Option<String>,
    /// The visitor's email address, when known.
    #[serde(default)]
    pub visitor_email: Option<crate::domain::Email>,
}

/// Where a notice goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// An email address (SES in AWS).
    Email(crate::domain::Email),
    /// A Slack-compatible incoming webhook.
    Webhook(crate::domain::WebhookUrl),
}

impl Recipient {
    /// The kind of channel, `email` or `webhook`: all that logs and errors say of a
    /// recipient (addresses are personal data, webhook URLs are secrets).
    pub fn channel(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::Webhook(_) => "webhook",
        }
    }
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Email(e) => write!(f, "{e}"),
            Self::Webhook(w) => write!(f, "{w}"),
        }
    }
}

/// A message for someone outside the inbox: an agent told of a request, or a
/// visitor answered by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Who gets it.
    pub to: Recipient,
    /// One line: an email's subject, a webhook message's first (bold) line.
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// Where a reply should go (an agent answering a visitor by email).
    pub reply_to: Option<crate::domain::Email>,
}

/// A notice that was not delivered. Its message names the channel, never the
/// recipient, nor anything of the notice's text: it goes to the logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// No sender address is configured, so no email can be sent (webhooks still
    /// are). Nothing was sent; retrying cannot help.
    #[error("email is not configured: no sender address is set")]
    EmailNotConfigured,
    /// The delivery failed.
    #[error("could not deliver a notice by {channel}: {reason}")]
    Failed {
        /// [`Recipient::channel`].
        channel: &'static str,
        /// What went wrong, without the recipient.
        reason: String,
    },
}

/// Delivers notices by email and webhook.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends one notice; an error means it was not delivered.
    async fn send(&self, notice: &Notice) -> Result<(), NotifyError>;
}

/// The ports a handler needs, built once at cold start and shared.
#[derive(Clone)]
pub struct Ports {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Pushes to browsers.
    pub push: Arc<dyn Push>,
    /// Delayed events.
    pub scheduler: Arc<dyn Scheduler>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Email and webhook notices.
    pub notifier: Arc<dyn Notifier>,
}
