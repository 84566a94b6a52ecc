//! The live queue's routing side: who joins it, and that nobody jumps it.
//!
//! A request joins the queue (when the account sets `settings.queue_wait_limit`)
//! only when no agent could take it now *only* because every available, connected
//! agent of the pools tried is at their chat limit: a slot will free. With nobody
//! available and connected at all there is nothing to wait for, and the fallback
//! comes at once, as without a queue.
//!
//! There is one queue, the all-agents pool's ([`QUEUE_POOL`]): a request reaches it
//! only after the all-agents round robin (tried whenever the card's own pool has
//! nobody eligible) found everyone at their limit, so any agent's freed slot can
//! serve any queued request, and one first-come order across the account is the
//! fair one. The store keys queues by pool, so that routing can keep one per pool
//! should a pool ever stop falling back to every agent.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::domain::{
    AgentId, Conversation, ConversationId, ConversationState, EndReason, MAX_QUEUE_LEN, Permission,
};
use crate::ports::{Joined, QueueEntry};

use super::choice::{ALL_AGENTS_POOL, Facts, Outcome, Trace, Verdict};
use super::writer::RouteError;
use super::{Directory, RouteOutcome, Router};

/// The pool whose queue requests join: see the module's doc.
pub const QUEUE_POOL: &str = ALL_AGENTS_POOL;

/// A request's turn in the queue's walk of a freed slot. `only`: the agents it may
/// take, when the walk passed over earlier requests still waiting that could not
/// use the slot (each was offered its agent already): the agents none of them can
/// take, so that the slot one of them could use is kept for it (for the walk of
/// that slot, which may be running at the same moment). `None`: any agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Turn {
    /// The agents it may take, if not any.
    pub only: Option<BTreeSet<AgentId>>,
    /// The requests ahead of it in the queue, each at the version the walk read:
    /// its offer's claim holds only while none of them changed.
    pub ahead: Vec<(crate::domain::ConversationId, u64)>,
}

impl Turn {
    /// The next turn after passing over a waiting request that was offered to
    /// `offered` already: only agents it cannot take stay open.
    pub fn passing(&self, offered: &[AgentId]) -> Turn {
        let theirs: BTreeSet<AgentId> = offered.iter().cloned().collect();
        Turn {
            only: Some(match &self.only {
                Some(only) => only.intersection(&theirs).cloned().collect(),
                None => theirs,
            }),
            ahead: self.ahead.clone(),
        }
    }

    /// Whether no agent is left for this turn.
    pub fn closed(&self) -> bool {
        self.only.as_ref().is_some_and(BTreeSet::is_empty)
    }
}

/// The agents a choice leaves out: those offered the request already, and, in a
/// turn of the queue's walk, those kept for requests ahead.
pub(super) fn excluded(
    conv: &Conversation,
    turn: Option<&Turn>,
    agents: &[AgentId],
) -> Vec<AgentId> {
    let mut excluded = conv.offered_to().to_vec();
    if let Some(only) = turn.and_then(|t| t.only.as_ref()) {
        excluded.extend(agents.iter().filter(|a| !only.contains(*a)).cloned());
    }
    excluded
}

/// In a trace made with [`excluded`], the agents left out for requests ahead (the
/// choice saw them as offered) are told apart from those offered it.
pub(super) fn mark_kept(trace: &mut Trace, conv: &Conversation) {
    for c in trace.pools.iter_mut().flat_map(|p| p.candidates.iter_mut()) {
        if c.verdict == Verdict::AlreadyOffered && !conv.offered_to().contains(&c.agent) {
            c.verdict = Verdict::KeptForQueue;
        }
    }
}

/// Whether a choice that found nobody did so only because everyone available and
/// connected is at their limit: at least one agent at their limit, and nobody
/// eligible. Agents offered this request already do not count either way (one who
/// declined it does not make it wait, nor end the wait of one who lets it lapse).
pub fn waits_for_a_slot(trace: &Trace) -> bool {
    let candidates = || trace.pools.iter().flat_map(|p| p.candidates.iter());
    trace.outcome == Outcome::Nobody
        && candidates().any(|c| matches!(c.verdict, Verdict::AtLimit { .. }))
        && !candidates().any(|c| matches!(c.verdict, Verdict::Eligible | Verdict::Chosen))
}

/// Whether `conversation`'s state is one a queue entry stands for: still waiting
/// for an agent, or offered to one (whose offer may lapse, and the request then
/// keeps its place). Any other state (live, ended) leaves the entry stale.
pub fn still_queued(conversation: &Conversation) -> bool {
    matches!(
        conversation.state(),
        ConversationState::Waiting { .. } | ConversationState::Offered { .. }
    )
}

impl Router {
    /// Before any choice, with the queue on: a queued request past
    /// `settings.queue_wait_limit` (counted from when it joined) gets the fallback;
    /// and first come, first served: a request that is not queued, routed while
    /// others are, joins the queue behind them instead of taking a slot one of
    /// them is owed (the caller then offers the queue's head, which is served at
    /// once if a slot is free), or gets the fallback when the queue is full.
    /// `None`: the queue is off, empty, or holds this request in time (its turn
    /// came: route it), with the requests ahead of it as read (each offered
    /// elsewhere), which its offer's claim holds on ([`crate::ports::OfferClaim::ahead`]).
    pub(super) async fn queue_first(
        &self,
        conv: &Conversation,
        directory: &Directory,
        now: Timestamp,
        its_turn: bool,
    ) -> Result<(Option<RouteOutcome>, Vec<(ConversationId, u64)>), RouteError> {
        let Some(limit) = directory.settings.queue_wait_limit else {
            return Ok((None, Vec::new()));
        };
        let store = &self.ports().store;
        let queue = store.queue(QUEUE_POOL).await?;
        if let Some(index) = queue.iter().position(|e| &e.conversation == conv.id()) {
            let entry = &queue[index];
            if entry.since.saturating_add(limit.span()).unwrap_or(now) > now {
                // Routed by its own timer (a lapsed offer, a reload, a settle) with
                // requests still waiting ahead of it: their turn first, which the
                // caller's walk of the queue gives them.
                if !its_turn && index > 0 {
                    let Some(ahead) = self.ahead_if_none_waits(&queue[..index]).await? else {
                        return Ok((
                            Some(RouteOutcome::Queued {
                                entry: entry.clone(),
                                new: false,
                                behind_others: true,
                            }),
                            Vec::new(),
                        ));
                    };
                    return Ok((None, ahead));
                }
                return Ok((None, Vec::new()));
            }
            // Waited as long as the account allows: the fallback, as without a
            // queue. Out of the queue first, so that nobody is offered it meanwhile
            // (an offer claimed since fails the fallback's compare-and-set instead).
            store.dequeue(QUEUE_POOL, conv.id()).await?;
            return self
                .fall_back(conv.id(), EndReason::Fallback, directory)
                .await
                .map(|o| (Some(o), Vec::new()));
        }
        if queue.is_empty() {
            return Ok((None, Vec::new()));
        }
        if queue.len() >= MAX_QUEUE_LEN {
            return self
                .fall_back(conv.id(), EndReason::Fallback, directory)
                .await
                .map(|o| (Some(o), Vec::new()));
        }
        let joined = self.join(conv, limit, now).await?;
        Ok((Some(queued(joined, true)), Vec::new()))
    }

    /// `ahead` (queue entries) as read, each with its version, when none of them
    /// is a request still waiting; `None` when one is.
    async fn ahead_if_none_waits(
        &self,
        ahead: &[QueueEntry],
    ) -> Result<Option<Vec<(ConversationId, u64)>>, RouteError> {
        let ids: Vec<_> = ahead.iter().map(|e| e.conversation.clone()).collect();
        let convs = self.ports().store.conversations(&ids).await?;
        if convs
            .iter()
            .any(|c| matches!(c.state(), ConversationState::Waiting { .. }))
        {
            return Ok(None);
        }
        Ok(Some(
            convs
                .iter()
                .map(|c| (c.id().clone(), c.version()))
                .collect(),
        ))
    }

    /// The choice found nobody: the request joins the queue when the account has
    /// one and nobody could take it only because all are at their limit (the trace,
    /// stored, says so); otherwise `None`, the fallback.
    pub(super) async fn queue_instead(
        &self,
        conv: &Conversation,
        directory: &Directory,
        trace: &mut Trace,
        now: Timestamp,
    ) -> Result<Option<RouteOutcome>, RouteError> {
        let Some(limit) = directory.settings.queue_wait_limit else {
            return Ok(None);
        };
        if !waits_for_a_slot(trace) {
            return Ok(None);
        }
        let store = &self.ports().store;
        let queue = store.queue(QUEUE_POOL).await?;
        let entry = queue.iter().find(|e| &e.conversation == conv.id());
        if queue.len() >= MAX_QUEUE_LEN && entry.is_none() {
            // Full: the fallback, as without a queue.
            return Ok(None);
        }
        trace.outcome = Outcome::Queued {
            pool: QUEUE_POOL.to_string(),
        };
        store.put_trace(conv.id(), trace).await?;
        let joined = match entry {
            Some(entry) => Joined::Already(entry.clone()),
            None => self.join(conv, limit, now).await?,
        };
        Ok(Some(queued(joined, false)))
    }

    /// Puts the request in the queue, its expiry queued first: a handler that dies
    /// after the entry's write is retried into a routing that finds the entry there
    /// and would not know to time it.
    async fn join(
        &self,
        conv: &Conversation,
        limit: crate::domain::QueueWaitLimit,
        now: Timestamp,
    ) -> Result<Joined, RouteError> {
        let expiry = crate::ports::DelayedEvent::QueueExpired {
            conversation: conv.id().clone(),
        };
        let due = now.saturating_add(limit.span()).unwrap_or(now);
        self.ports().scheduler.schedule(expiry, due).await?;
        Ok(self
            .ports()
            .store
            .enqueue(QUEUE_POOL, conv.id(), now)
            .await?)
    }
}

fn queued(joined: Joined, behind_others: bool) -> RouteOutcome {
    let new = matches!(joined, Joined::New(_));
    let entry: QueueEntry = joined.entry().clone();
    RouteOutcome::Queued {
        entry,
        new,
        behind_others,
    }
}

/// How many live chat agents are available, connected and at their limit: the
/// slots that will free, for the estimate.
pub fn agents_at_limit(facts: &Facts<'_>) -> u32 {
    let count = facts
        .directory
        .agents
        .iter()
        .filter(|a| a.has_permission(Permission::LiveChat))
        .filter(|a| matches!(facts.verdict(&a.id), Verdict::AtLimit { .. }))
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The first whole minute after `now`, within `horizon`, at which a live chat agent
/// not available at `now` (outside their schedule, or away by a toggle that lapses)
/// becomes available: when the queue's head may be offered without any slot
/// freeing, since a schedule starting is no event of its own. Schedules are in whole
/// minutes, so looking minute by minute misses none; `None` when nobody becomes
/// available within `horizon`.
pub fn next_availability(facts: &Facts<'_>, horizon: jiff::SignedDuration) -> Option<Timestamp> {
    let minute = jiff::SignedDuration::from_secs(60);
    let start = facts.now.as_second().div_euclid(60).saturating_mul(60);
    let minutes = horizon.as_secs().div_euclid(60).saturating_add(1);
    let waiting: Vec<_> = facts
        .directory
        .agents
        .iter()
        .filter(|a| a.has_permission(Permission::LiveChat) && !facts.available(&a.id))
        .map(|a| {
            (
                a,
                facts.states.get(&a.id).and_then(|s| s.manual).or(a.manual),
            )
        })
        .collect();
    (1..=minutes)
        .filter_map(|k| {
            Timestamp::from_second(start)
                .ok()?
                .checked_add(minute.checked_mul(i32::try_from(k).ok()?)?)
                .ok()
        })
        .find(|t| {
            waiting
                .iter()
                .any(|(a, manual)| a.is_available_with(*manual, *t))
        })
}
