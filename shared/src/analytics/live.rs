//! The live view (docs/analytics.md, "Live view"): who waits right now and for
//! how long, the offers out, each agent's chats against their limit and whether
//! they are available, away or offline, pushed to the inboxes within seconds.
//!
//! Off the hot path: the chat's handlers write nothing for it. The analytics
//! consumer sees every change of a conversation ([`Change::Conversation`]) and
//! keeps a small index of the conversations waiting or offered ([`LiveEntry`],
//! put or deleted keyed on the conversation, so a redelivered batch changes
//! nothing); a change of an agent's routing state ([`Change::Agent`]) tells it the
//! agents moved. After a batch that moved either, [`after_changes`] builds the
//! view once (the directory, the agents' states in one batch read, the index) and
//! pushes it to every connected Sales Admin, and a cut of it to each connected
//! Live Agent. An inbox's own `live` request gets the same frame ([`view_for`]).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::Change;
use crate::domain::{
    Agent, AgentId, ConnectionId, Conversation, ConversationId, ConversationState, Permission,
};
use crate::limits::{SUMMARY_NAME_BYTES, clip};
use crate::ports::{Delivery, Push, Store, StoreResult};
use crate::protocol::ServerFrame;
use crate::routing::{Directory, Facts};

/// At most this many waiting visitors are listed in a frame (the oldest first);
/// `waiting_count` still counts them all. With [`MAX_AGENT_ROWS`], a frame stays
/// well under API Gateway's 128 KB message limit.
pub const MAX_WAITING_LISTED: usize = 100;

/// At most this many agents are listed in a frame (the directory's order).
pub const MAX_AGENT_ROWS: usize = 400;

/// How long after its request an entry is kept at most, a safety net only: the
/// consumer deletes an entry when its conversation moves on, and a visitor waits
/// minutes, not a day. An entry whose delete was lost is ignored after it (and
/// DynamoDB's TTL removes it).
pub const ENTRY_KEPT: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

impl LiveEntry {
    /// Whether the entry is still kept at `now` ([`ENTRY_KEPT`]).
    pub fn kept_at(&self, now: Timestamp) -> bool {
        self.expires() > now
    }

    /// When its safety net ends.
    pub fn expires(&self) -> Timestamp {
        self.since.saturating_add(ENTRY_KEPT).unwrap_or(self.since)
    }
}

/// A conversation waiting for an agent or offered to one, as the index keeps it:
/// nothing of the visitor but the conversation's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEntry {
    /// The conversation.
    pub conversation: ConversationId,
    /// When the visitor first asked for a live chat (the timeline's
    /// `requested_at`): a chat handed back to waiting keeps its first request.
    pub since: Timestamp,
    /// The offer out, while offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<OfferOut>,
}

/// An offer out: to whom, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferOut {
    /// The agent offered.
    pub agent: AgentId,
    /// When the offer lapses (the visitor wait time limit after it was made).
    pub expires_at: Timestamp,
}

impl LiveEntry {
    /// The entry of `conversation` as stored, or `None` when it is neither
    /// waiting nor offered (in its dialog, live, ended).
    pub fn of(conversation: &Conversation) -> Option<Self> {
        let requested = conversation.timeline().requested_at;
        let (since, offer) = match conversation.state() {
            ConversationState::Waiting { since } => (requested.unwrap_or(*since), None),
            ConversationState::Offered { agent, expires_at } => (
                requested.unwrap_or(conversation.created_at()),
                Some(OfferOut {
                    agent: agent.clone(),
                    expires_at: *expires_at,
                }),
            ),
            _ => return None,
        };
        Some(Self {
            conversation: conversation.id().clone(),
            since,
            offer,
        })
    }
}

/// Where an agent stands, by routing's own rule ([`Facts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Connected and available (toggle or schedule): routed to while under the limit.
    Available,
    /// Connected, but away by their toggle or outside their schedule.
    Away,
    /// No open inbox.
    Offline,
}

/// A waiting visitor as the frame lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingRow {
    /// The conversation.
    pub conversation: ConversationId,
    /// When the visitor first asked (the wait is `now - since`).
    pub since: Timestamp,
    /// The offer out, if any.
    pub offer: Option<OfferRow>,
}

/// An offer out, as the frame lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferRow {
    /// The agent offered.
    pub agent: AgentId,
    /// Their display name.
    pub name: String,
    /// When it was made: its expiry less the account's wait time limit now.
    pub since: Timestamp,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// One agent of the live view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRow {
    /// The agent.
    pub agent: AgentId,
    /// Their display name.
    pub name: String,
    /// Available, away or offline.
    pub status: AgentStatus,
    /// Live chats held (their load less the offers out to them).
    pub chats: u32,
    /// Offers out to them: each holds a unit of their capacity until it ends.
    pub offers: u32,
    /// Their concurrent chat limit.
    pub limit: u32,
    /// Whether routing would offer them a chat now (available, connected, under
    /// the limit): [`Facts::eligible`].
    pub routable: bool,
}

/// The live view at `now`, as one role may see it: the `live` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveView {
    /// `all` (a Sales Admin) or `own` (a Live Agent: no waiting list, their row only).
    pub scope: String,
    /// When the view was built: the client counts waits from it, not its own clock.
    pub now: Timestamp,
    /// Visitors waiting or offered, all of them.
    pub waiting_count: u32,
    /// When the longest-waiting of them asked.
    pub oldest_since: Option<Timestamp>,
    /// The waiting visitors, oldest first, at most [`MAX_WAITING_LISTED`] (none
    /// for a Live Agent).
    pub waiting: Vec<WaitingRow>,
    /// The live chat agents (a Live Agent: their own row).
    pub agents: Vec<AgentRow>,
}

/// Who gets which cut of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A Sales Admin (reads every conversation): everything.
    All,
    /// A Live Agent: the waiting count and oldest wait, their own row.
    Own,
}

impl Audience {
    /// The cut `agent` may see, `None` without the live chat permission (a
    /// Marketing Admin).
    pub fn of(agent: &Agent) -> Option<Self> {
        if !agent.has_permission(Permission::LiveChat) {
            None
        } else if agent.has_permission(Permission::ReadAllConversations) {
            Some(Self::All)
        } else {
            Some(Self::Own)
        }
    }
}

/// The whole view with the connections to push it to.
#[derive(Debug, Clone)]
pub struct Board {
    /// The Sales Admins' view.
    pub view: LiveView,
    /// Every connected live chat agent's connections, with what they may see.
    pub recipients: Vec<(AgentId, Audience, Vec<ConnectionId>)>,
}

impl LiveView {
    /// The cut of this (whole) view `agent` may see as `audience`.
    pub fn cut(&self, agent: &AgentId, audience: Audience) -> LiveView {
        match audience {
            Audience::All => self.clone(),
            Audience::Own => LiveView {
                scope: "own".into(),
                waiting: Vec::new(),
                agents: self
                    .agents
                    .iter()
                    .filter(|r| &r.agent == agent)
                    .cloned()
                    .collect(),
                ..self.clone()
            },
        }
    }
}

/// Builds the whole view from `directory`, reading the live chat agents' states
/// (one batch read) and the index.
pub async fn board(store: &dyn Store, directory: &Directory, now: Timestamp) -> StoreResult<Board> {
    let ids: Vec<AgentId> = directory
        .agents
        .iter()
        .filter(|a| a.has_permission(Permission::LiveChat))
        .map(|a| a.id.clone())
        .collect();
    let states = store.agent_states(&ids, now).await?;
    let entries = store.live_entries(now).await?;
    Ok(assemble(directory, states, entries, now))
}

/// The view of `entries` and `states`: pure, so the tests check it against
/// routing's own rule without a store.
pub fn assemble(
    directory: &Directory,
    states: BTreeMap<AgentId, crate::ports::AgentState>,
    mut entries: Vec<LiveEntry>,
    now: Timestamp,
) -> Board {
    entries.sort_by(|a, b| (a.since, &a.conversation).cmp(&(b.since, &b.conversation)));
    let name = |id: &AgentId| {
        directory
            .agent(id)
            .map_or_else(|| id.to_string(), |a| clip(&a.name, SUMMARY_NAME_BYTES))
    };
    let wait = directory.settings.wait_time_limit.span();
    let mut offers: BTreeMap<&AgentId, u32> = BTreeMap::new();
    for entry in &entries {
        if let Some(offer) = &entry.offer {
            *offers.entry(&offer.agent).or_default() += 1;
        }
    }
    let waiting = entries
        .iter()
        .take(MAX_WAITING_LISTED)
        .map(|e| WaitingRow {
            conversation: e.conversation.clone(),
            since: e.since,
            offer: e.offer.as_ref().map(|o| OfferRow {
                agent: o.agent.clone(),
                name: name(&o.agent),
                since: o.expires_at.saturating_sub(wait).unwrap_or(o.expires_at),
                expires_at: o.expires_at,
            }),
        })
        .collect();
    let facts = Facts {
        directory,
        now,
        states,
    };
    let mut agents = Vec::new();
    let mut recipients = Vec::new();
    for agent in &directory.agents {
        let Some(audience) = Audience::of(agent) else {
            continue;
        };
        let state = facts.states.get(&agent.id).cloned().unwrap_or_default();
        let status = if !facts.connected(&agent.id) {
            AgentStatus::Offline
        } else if facts.available(&agent.id) {
            AgentStatus::Available
        } else {
            AgentStatus::Away
        };
        let offered = offers.get(&agent.id).copied().unwrap_or(0);
        if agents.len() < MAX_AGENT_ROWS {
            agents.push(AgentRow {
                agent: agent.id.clone(),
                name: name(&agent.id),
                status,
                chats: state.load.saturating_sub(offered),
                offers: offered,
                limit: agent.chat_limit.get(),
                routable: facts.eligible(&agent.id),
            });
        }
        if !state.connections.is_empty() {
            recipients.push((agent.id.clone(), audience, state.connections));
        }
    }
    Board {
        view: LiveView {
            scope: "all".into(),
            now,
            waiting_count: u32::try_from(entries.len()).unwrap_or(u32::MAX),
            oldest_since: entries.first().map(|e| e.since),
            waiting,
            agents,
        },
        recipients,
    }
}

/// The view `agent` may see now, for their inbox's `live` request: `None`
/// without the live chat permission.
pub async fn view_for(
    store: &dyn Store,
    directory: &Directory,
    agent: &AgentId,
    now: Timestamp,
) -> StoreResult<Option<LiveView>> {
    let Some(audience) = directory.agent(agent).and_then(Audience::of) else {
        return Ok(None);
    };
    let board = board(store, directory, now).await?;
    Ok(Some(board.view.cut(agent, audience)))
}

/// Brings the index in line with `changes` (a consumer batch, in stream order):
/// for each conversation, its entry after the batch's last change is put, or
/// deleted when it is neither waiting nor offered. Returns whether any was
/// written. Idempotent: a batch applied again, or a longer batch that starts with
/// one applied before (a retried local batch with the next changes added, a
/// stream batch split on an error), writes the same puts and deletes.
///
/// A conversation is not written when every image of it in the batch, old and
/// new, gives the same entry (a subscriber added while waiting) or none (a live
/// chat's changes): delivered in order and at least once, the index holds that
/// already. Comparing only the batch's first and last images would not do: a
/// batch from the request to the end (none, then none) would leave the entry an
/// earlier, shorter delivery of its start put.
pub async fn update_index(store: &dyn Store, changes: &[Change]) -> StoreResult<bool> {
    // Per conversation: the entry after its last change, and whether every
    // image of it in the batch gives that entry.
    let mut moved: BTreeMap<ConversationId, (Option<LiveEntry>, bool)> = BTreeMap::new();
    for change in changes {
        let Change::Conversation { old, new } = change else {
            continue;
        };
        let Some(id) = new.as_deref().or(old.as_deref()).map(|c| c.id().clone()) else {
            continue;
        };
        let before = old.as_deref().and_then(LiveEntry::of);
        let after = new.as_deref().and_then(LiveEntry::of);
        let same = before == after;
        moved
            .entry(id)
            .and_modify(|(last, steady)| {
                *steady = *steady && same && *last == after;
                *last = after.clone();
            })
            .or_insert((after, same));
    }
    let mut wrote = false;
    for (id, (after, steady)) in moved {
        if steady {
            continue;
        }
        match after {
            Some(entry) => store.put_live(&entry).await?,
            None => store.remove_live(&id).await?,
        }
        wrote = true;
    }
    Ok(wrote)
}

/// After a consumer batch (recorded by `analytics::record`): updates the index
/// and, when a waiting or offered conversation or an agent's state moved, pushes
/// the view once to every connected live chat agent's connections that watch it
/// (the inbox asks for the view with `live` when it opens, which makes its
/// connection a watcher), each as they may see it (a Sales Admin all of it, a
/// Live Agent the waiting count and their own row; a Marketing Admin nothing).
/// With nobody watching, nothing more is read. A failed push is logged and
/// skipped: the next batch, or the inbox's own `live` request, brings the view
/// again.
pub async fn after_changes(
    store: &dyn Store,
    push: &dyn Push,
    changes: &[Change],
    now: Timestamp,
) -> StoreResult<()> {
    let indexed = update_index(store, changes).await?;
    let agents_moved = changes.iter().any(|c| matches!(c, Change::Agent { .. }));
    if !indexed && !agents_moved {
        return Ok(());
    }
    let watchers: std::collections::BTreeSet<ConnectionId> =
        store.live_watchers(now).await?.into_iter().collect();
    if watchers.is_empty() {
        return Ok(());
    }
    let directory = store.directory().await?;
    let board = board(store, &directory, now).await?;
    for (agent, audience, connections) in &board.recipients {
        let watching: Vec<&ConnectionId> = connections
            .iter()
            .filter(|c| watchers.contains(c))
            .collect();
        if watching.is_empty() {
            continue;
        }
        let json = ServerFrame::Live(board.view.cut(agent, *audience)).to_json();
        for connection in watching {
            match push.push(connection, &json).await {
                Ok(Delivery::Delivered | Delivery::Gone) => {}
                Err(e) => warn!(connection = %connection, error = %e, "live: push failed"),
            }
        }
    }
    Ok(())
}
