//! The claim: the router reads what routing needs, asks [`choose_traced`] for the agent (and why),
//! and claims the offer (the conversation's state, the agent's capacity and the
//! round-robin cursor in one conditional write). See the module map in
//! [`crate::routing`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use tracing::debug;

use crate::domain::{
    AgentId, Attributes, Conversation, ConversationId, ConversationState, EndReason,
    MAX_OFFERS_PER_REQUEST, RoutingMode,
};
use crate::ports::{AgentState, ClaimOutcome, DelayedEvent, OfferClaim, Ports};

use super::Directory;
use super::choice::{Choice, Facts, Via, all_agents, choose_traced};
use super::writer::{RetryPolicy, RouteError, Writer};

/// What a routing request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOutcome {
    /// `agent` is offered the chat until `expires_at`; an offer timeout is scheduled.
    Offered {
        agent: AgentId,
        expires_at: Timestamp,
        /// 1 for the first offer of the request, 2 for the second.
        attempt: u32,
        via: Via,
        /// The live chat agents' states the decision was made on, read just before
        /// the claim: who is online, for the caller's notices, without reading
        /// them again.
        states: BTreeMap<AgentId, AgentState>,
    },
    /// Nobody can take the chat: the conversation ended with `reason` (`fallback` when
    /// nobody was eligible, `missed` when offers went unanswered), the admin was told,
    /// and the visitor is shown `text`.
    Fallback {
        reason: EndReason,
        text: String,
        meeting_link: Option<String>,
    },
    /// Every available agent is at their chat limit (or others queued first): the
    /// request waits in the live queue, in `entry`'s place (`new`: it joined now;
    /// `behind_others`: it joined behind requests queued before it, without a
    /// choice, so the queue's head should be offered). See [`super::queue`].
    Queued {
        entry: crate::ports::QueueEntry,
        new: bool,
        behind_others: bool,
    },
    /// The conversation is not waiting (a repeated or stale request): nothing changed.
    NotWaiting,
    /// In a walk of the live queue, a request ahead changed since the walk read the
    /// queue (see [`crate::ports::OfferClaim::ahead`]): nothing changed; the walk
    /// reads the queue again.
    QueueMoved,
}

/// Why an offer ended without a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferEnd {
    /// The agent declined.
    Declined,
    /// The visitor wait time limit passed.
    TimedOut,
}

/// How many moves' time a cursor that does not move is waited on before the
/// request waiting for its turn goes anyway: the request holding the turn before it
/// is then taken to be gone.
const TURN_IDLE_MOVES: u32 = 4;
/// Reads of the cursor a request makes at most while waiting for its turn.
const TURN_MAX_POLLS: u32 = 200;
/// The longest wait between two reads of the cursor while waiting for a turn.
const TURN_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// The time a cursor move is first taken to take, and the bounds of what is learnt.
const MOVE_NANOS_START: u64 = 5_000_000;
const MOVE_NANOS_MIN: u64 = 500_000;
const MOVE_NANOS_MAX: u64 = 100_000_000;
/// The time a claim is first taken to take, and the bounds of how often the request
/// next in line looks at the cursor.
const CLAIM_NANOS_START: u64 = 5_000_000;
const NEXT_POLL_MIN: std::time::Duration = std::time::Duration::from_millis(1);
const NEXT_POLL_MAX: std::time::Duration = std::time::Duration::from_millis(10);

/// The routing engine over the ports. Shareable: keep one per process.
pub struct Router {
    ports: Ports,
    writer: Writer,
    /// How long one move of a busy cursor takes, in nanoseconds, as learnt while
    /// waiting for turns: how long a request with `n` turns ahead waits.
    move_nanos: AtomicU64,
    /// How long an offer claim takes, in nanoseconds, as learnt from the claims
    /// made: how often the request next in line looks at the cursor.
    claim_nanos: AtomicU64,
}

impl Router {
    /// A router with the default retry policy.
    pub fn new(ports: Ports) -> Self {
        Self::on(Writer::new(ports, RetryPolicy::default()))
    }

    /// A router that writes conversations through `writer` (and retries as it does).
    pub fn on(writer: Writer) -> Self {
        Self {
            ports: writer.ports().clone(),
            writer,
            move_nanos: AtomicU64::new(MOVE_NANOS_START),
            claim_nanos: AtomicU64::new(CLAIM_NANOS_START),
        }
    }

    /// The conversation writer this router shares with the use cases.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Lost races retried so far, by this router and its writer.
    pub fn conflicts_retried(&self) -> u64 {
        self.writer.conflicts_retried()
    }

    /// The ports this router uses.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    async fn store_missed(
        &self,
        conversation: &ConversationId,
        at: Timestamp,
    ) -> Result<(), RouteError> {
        Ok(self.ports.store.record_missed(conversation, at).await?)
    }

    /// Routes a waiting conversation: offers it to one agent, or ends it with the
    /// fallback. Safe to repeat: a conversation that is no longer waiting is left alone.
    pub async fn route(
        &self,
        conversation: &ConversationId,
        mode: &RoutingMode,
        visitor: &Attributes,
    ) -> Result<RouteOutcome, RouteError> {
        let store = &self.ports.store;
        let directory = store.directory().await?;
        let conv = store
            .conversation(conversation)
            .await?
            .ok_or_else(|| RouteError::UnknownConversation(conversation.clone()))?;
        self.route_from(conv, &directory, mode, visitor).await
    }

    /// [`Router::route`] from the conversation and directory the caller has read
    /// already, which saves reading them twice. `conv` may be out of date by now: the
    /// offer is claimed only at the version read, and a lost race reads it again.
    pub async fn route_from(
        &self,
        conv: Conversation,
        directory: &Directory,
        mode: &RoutingMode,
        visitor: &Attributes,
    ) -> Result<RouteOutcome, RouteError> {
        self.route_queued(conv, directory, mode, visitor, None)
            .await
    }

    /// [`Router::route_from`]; `turn`: the live queue's walk routes this request
    /// as its head (see [`super::queue`]): requests ahead of it in the queue have
    /// had theirs, and it may take only the agents `turn` leaves it.
    pub async fn route_queued(
        &self,
        mut conv: Conversation,
        directory: &Directory,
        mode: &RoutingMode,
        visitor: &Attributes,
        turn: Option<&super::queue::Turn>,
    ) -> Result<RouteOutcome, RouteError> {
        let store = &self.ports.store;
        let now = self.ports.clock.now();
        let id = conv.id().clone();
        let conversation = &id;
        let live_chat_agents = all_agents(directory);
        let mut facts = Facts {
            directory,
            now,
            states: store.agent_states(&live_chat_agents, now).await?,
        };
        let mut cursors: BTreeMap<String, crate::ports::Cursor> = BTreeMap::new();
        // The turn tickets this request holds, per pool (see `Router::turn`).
        let mut tickets: BTreeMap<String, u64> = BTreeMap::new();
        if self.repair(&conv).await? {
            return Ok(RouteOutcome::NotWaiting);
        }
        let (queued, ahead_read) = self
            .queue_first(&conv, directory, now, turn.is_some())
            .await?;
        if let Some(queued) = queued {
            return Ok(queued);
        }
        // The requests ahead in the queue the offer's claim holds on: the walk's,
        // or those this request's own routing read as offered elsewhere.
        let ahead = match turn {
            Some(t) => t.ahead.clone(),
            None => ahead_read,
        };

        for attempt in 1..=self.writer.max_attempts() {
            self.writer.wait_before(attempt).await;
            if !matches!(conv.state(), ConversationState::Waiting { .. }) {
                return Ok(RouteOutcome::NotWaiting);
            }
            let offers_made = u32::try_from(conv.offered_to().len()).unwrap_or(u32::MAX);
            if offers_made >= MAX_OFFERS_PER_REQUEST {
                return self
                    .fall_back(conversation, EndReason::Missed, directory)
                    .await;
            }
            // Agents kept for requests queued ahead are left out as if offered.
            let excluded = super::queue::excluded(&conv, turn, &live_chat_agents);
            let (choice, mut trace) = loop {
                match choose_traced(directory, mode, visitor, &facts, &excluded, &cursors) {
                    (Choice::NeedsCursor(key), _) => {
                        let cursor = store.cursor(&key).await?;
                        // Requests queued for this pool go first: queue behind them.
                        let cursor = if cursor.queued() {
                            self.turn(&key, cursor, &mut tickets).await?
                        } else {
                            cursor
                        };
                        cursors.insert(key, cursor);
                    }
                    decided => break decided,
                }
            };
            super::queue::mark_kept(&mut trace, &conv);
            let Choice::Offer {
                agent,
                mut cursor,
                via,
            } = choice
            else {
                if let Some(queued) = self
                    .queue_instead(&conv, directory, &mut trace, now)
                    .await?
                {
                    return Ok(queued);
                }
                let reason = if offers_made > 0 {
                    EndReason::Missed
                } else {
                    EndReason::Fallback
                };
                // Why nobody: kept with the conversation for Sales Admins.
                store.put_trace(conversation, &trace).await?;
                return self.fall_back(conversation, reason, directory).await;
            };
            let limit = directory
                .agent(&agent)
                .map(|a| a.chat_limit)
                .unwrap_or_default();
            let expires_at = now
                .saturating_add(directory.settings.wait_time_limit.span())
                .unwrap_or(now);
            if let Some(mv) = cursor.as_mut()
                && let Some(ticket) = tickets.get(&mv.pool)
            {
                mv.served = mv.served.max(*ticket);
            }
            let expected_version = conv.version();
            let mut offered = conv.clone();
            if offered.offer(agent.clone(), expires_at).is_err() {
                return Ok(RouteOutcome::NotWaiting);
            }
            let claim = OfferClaim {
                conversation: offered.clone(),
                expected_version,
                agent: agent.clone(),
                limit,
                cursor: cursor.clone(),
                trace: Some(trace),
                ahead: ahead.clone(),
            };
            let claim_started = tokio::time::Instant::now();
            let claimed = store.claim_offer(&claim).await?;
            self.learn_claim_time(claim_started.elapsed());
            match claimed {
                ClaimOutcome::Claimed => {
                    debug!(conversation = %conversation, agent = %agent, attempt = offers_made + 1, "offered");
                    let event = DelayedEvent::OfferTimeout {
                        conversation: conversation.clone(),
                        agent: agent.clone(),
                        version: offered.version(),
                    };
                    self.ports.scheduler.schedule(event, expires_at).await?;
                    return Ok(RouteOutcome::Offered {
                        agent,
                        expires_at,
                        attempt: offers_made + 1,
                        via,
                        states: std::mem::take(&mut facts.states),
                    });
                }
                ClaimOutcome::CursorMoved { current } => {
                    if let Some(mv) = cursor {
                        let fresh = match current {
                            Some(c) => c,
                            None => store.cursor(&mv.pool).await?,
                        };
                        // A lost race means others want this cursor too: rather
                        // than race them again, take a turn after theirs.
                        let fresh = self.turn(&mv.pool, fresh, &mut tickets).await?;
                        cursors.insert(mv.pool, fresh);
                    }
                }
                ClaimOutcome::AgentAtCapacity => {
                    facts.states = store.agent_states(&live_chat_agents, now).await?;
                }
                // The walk's reading of the queue went stale: it walks again.
                ClaimOutcome::QueueMoved => return Ok(RouteOutcome::QueueMoved),
                ClaimOutcome::ConversationChanged => {
                    conv = store
                        .conversation(conversation)
                        .await?
                        .ok_or_else(|| RouteError::UnknownConversation(conversation.clone()))?;
                }
            }
        }
        Err(RouteError::Contention {
            attempts: self.writer.max_attempts(),
        })
    }

    /// Waits for this request's turn at `pool`'s cursor, taking a ticket first if it
    /// holds none, and returns the cursor as it then is.
    ///
    /// Why: every round-robin decision of a pool moves one cursor by compare-and-set,
    /// so requests that read it at once all aim at the same version (and the same
    /// next agent) and all but one lose, each loss a billed write and a retry that
    /// races the others again. With numbered turns the attempts come one after the
    /// other: a request claims once the cursor's `served` ticket is the one before
    /// its own, reading the cursor (a read, not a write) to see it. The tickets only
    /// order attempts: the claim's compare-and-set still decides, so a request that
    /// dies with its ticket costs the ones behind it a wait of a few moves
    /// (`TURN_IDLE_MOVES`), and a claim out of turn can only lose a race.
    async fn turn(
        &self,
        pool: &str,
        mut cursor: crate::ports::Cursor,
        tickets: &mut BTreeMap<String, u64>,
    ) -> Result<crate::ports::Cursor, RouteError> {
        let store = &self.ports.store;
        let ticket = match tickets.get(pool) {
            Some(t) => *t,
            None => {
                let t = store.take_ticket(pool).await?;
                tickets.insert(pool.to_string(), t);
                t
            }
        };
        let mut still_since = tokio::time::Instant::now();
        for _ in 0..TURN_MAX_POLLS {
            let ahead = ticket.saturating_sub(cursor.served.saturating_add(1));
            if ahead == 0 {
                break;
            }
            let started = tokio::time::Instant::now();
            tokio::time::sleep(self.turn_wait(ahead)).await;
            let next = store.cursor(pool).await?;
            let moves = next.version.saturating_sub(cursor.version);
            if moves == 0 {
                if still_since.elapsed() >= self.per_move().saturating_mul(TURN_IDLE_MOVES) {
                    // The ticket ahead went with its request: go anyway.
                    return Ok(next);
                }
            } else {
                still_since = tokio::time::Instant::now();
                self.learn_move_time(started.elapsed(), moves);
            }
            cursor = next;
        }
        Ok(cursor)
    }

    /// How long to wait with `ahead` turns before this one before looking again.
    ///
    /// The request next in line looks every half claim (a claim is the one request
    /// on the cursor's critical path, a few milliseconds), so that it sees the turn
    /// before its own soon after it lands: sleeping for a learnt move time instead
    /// is self-fulfilling, since moves are as slow as the requests that wake late
    /// make them. Those further back sleep three quarters of their turns' learnt
    /// time, so that they wake before their turn, at most `TURN_MAX_WAIT`.
    fn turn_wait(&self, ahead: u64) -> std::time::Duration {
        let next = std::time::Duration::from_nanos(self.claim_nanos.load(Ordering::Relaxed) / 2)
            .clamp(NEXT_POLL_MIN, NEXT_POLL_MAX);
        if ahead <= 1 {
            return next;
        }
        let per_move = self.move_nanos.load(Ordering::Relaxed);
        let nanos = per_move.saturating_mul(ahead - 1).saturating_mul(3) / 4;
        std::time::Duration::from_nanos(nanos).clamp(next, TURN_MAX_WAIT)
    }

    /// Folds the time one claim took into the learnt claim time.
    fn learn_claim_time(&self, elapsed: std::time::Duration) {
        let sample = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let old = self.claim_nanos.load(Ordering::Relaxed);
        let new = old.saturating_mul(7).saturating_add(sample) / 8;
        self.claim_nanos
            .store(new.clamp(MOVE_NANOS_MIN, MOVE_NANOS_MAX), Ordering::Relaxed);
    }

    /// The time one move of a busy cursor is taken to take.
    fn per_move(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.move_nanos.load(Ordering::Relaxed))
    }

    /// Folds one observation (`moves` cursor moves in `elapsed`) into the time a
    /// move takes, as a moving average.
    fn learn_move_time(&self, elapsed: std::time::Duration, moves: u64) {
        let sample = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX) / moves.max(1);
        let old = self.move_nanos.load(Ordering::Relaxed);
        let new = old.saturating_mul(3).saturating_add(sample) / 4;
        self.move_nanos
            .store(new.clamp(MOVE_NANOS_MIN, MOVE_NANOS_MAX), Ordering::Relaxed);
    }

    /// A routing request that finds its conversation already routed is a delivery
    /// again of the event (queues deliver at least once), or the retry of a handler
    /// that died between routing's state write and its follow-up. Re-issues that
    /// follow-up, which is idempotent: the offer's timeout (a duplicate is a no-op by
    /// its version) and the missed-list entry (same key). `true` when the
    /// conversation is not waiting, so there is nothing to route.
    async fn repair(&self, conv: &Conversation) -> Result<bool, RouteError> {
        match &conv.state() {
            ConversationState::Waiting { .. } => return Ok(false),
            ConversationState::Offered { agent, expires_at } => {
                let event = DelayedEvent::OfferTimeout {
                    conversation: conv.id().clone(),
                    agent: agent.clone(),
                    version: conv.version(),
                };
                self.ports.scheduler.schedule(event, *expires_at).await?;
            }
            ConversationState::Ended {
                reason: EndReason::Missed | EndReason::Fallback,
                at,
            } => self.store_missed(conv.id(), *at).await?,
            _ => {}
        }
        Ok(true)
    }

    /// An agent takes a missed request: the conversation goes live with them and
    /// their capacity is claimed, in one atomic claim; it comes back as stored. `None`
    /// when it is no longer missed (someone took it) or the agent is at their limit.
    pub async fn pick_up(
        &self,
        conversation: &ConversationId,
        agent: &AgentId,
    ) -> Result<Option<Conversation>, RouteError> {
        let store = &self.ports.store;
        let now = self.ports.clock.now();
        let limit = store
            .directory()
            .await?
            .agent(agent)
            .map(|a| a.chat_limit)
            .unwrap_or_default();
        let Some(conv) = store.conversation(conversation).await? else {
            return Err(RouteError::UnknownConversation(conversation.clone()));
        };
        let mut taken = conv.clone();
        if taken.pick_up(agent, now).is_err() {
            return Ok(None);
        }
        // Picking up starts the list of agents offered anew, so an agent the request
        // was offered to and whose release was lost (it lost a race, or its handler
        // died) would no longer be named for the settle to free: free them first, at
        // the version the claim expects (a claim that lands meanwhile fails ours).
        self.writer.release_held(&conv).await?;
        let claim = OfferClaim {
            conversation: taken,
            expected_version: conv.version(),
            agent: agent.clone(),
            limit,
            cursor: None,
            // Taken by hand: no routing decision to explain.
            trace: None,
            ahead: Vec::new(),
        };
        let claimed = store.claim_offer(&claim).await? == ClaimOutcome::Claimed;
        Ok(claimed.then_some(claim.conversation))
    }

    /// Ends the conversation with `reason`, tells the admin, and returns the fallback
    /// the visitor sees. Repeats are harmless: an already ended conversation is left.
    pub(super) async fn fall_back(
        &self,
        conversation: &ConversationId,
        reason: EndReason,
        directory: &Directory,
    ) -> Result<RouteOutcome, RouteError> {
        let now = self.ports.clock.now();
        // Only a request still waiting falls back: one that another routing offered
        // meanwhile (a timeout delivered twice, a routing and its safety net) is
        // theirs now, and ending it would strand the offer and its agent's capacity.
        let ended = self
            .writer
            .update(conversation, |c| {
                matches!(c.state(), ConversationState::Waiting { .. }) && c.end(reason, now).is_ok()
            })
            .await?;
        if ended.is_none() {
            return Ok(RouteOutcome::NotWaiting);
        }
        // It stays visible to agents, who may pick it up.
        self.store_missed(conversation, now).await?;
        Ok(RouteOutcome::Fallback {
            reason,
            text: directory.settings.fallback.text().to_string(),
            meeting_link: directory.settings.meeting_link.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
