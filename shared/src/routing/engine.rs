//! The routing engine. See the module map in [`crate::routing`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use tracing::debug;

use crate::domain::{
    AgentId, Attributes, Conversation, ConversationId, ConversationState, EndReason,
    MAX_OFFERS_PER_REQUEST, RoutingMode, TransitionError,
};
use crate::ports::{ClaimOutcome, DelayedEvent, OfferClaim, Ports, SchedulerError, StoreError};

use super::Directory;
use super::choice::{Choice, Facts, all_agents, choose};

/// The cursor key of the account-wide round robin (every agent with the live chat
/// permission, in directory order).
pub const ALL_AGENTS_POOL: &str = "all";

/// How often and how patiently a lost race is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before giving up with [`RouteError::Contention`].
    pub max_attempts: u32,
    /// Backoff ceiling of the first retry; doubles each retry up to `cap`. Each wait is
    /// drawn uniformly below the ceiling ("full jitter"), so that contenders spread out.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 100,
            base: Duration::from_millis(4),
            cap: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry). The first retry
    /// goes at once: a lost cursor race usually means the cursor just moved, and the
    /// fresh read wins.
    pub fn backoff(&self, retry: u32) -> Duration {
        if retry <= 1 {
            return Duration::ZERO;
        }
        let ceiling = self
            .base
            .saturating_mul(1 << (retry - 2).min(16))
            .min(self.cap);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }
}

/// How the offered agent was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Account routing: the owner of the visitor's email domain.
    AccountOwner,
    /// The live chat card's own pool.
    CardPool,
    /// Round robin over every available agent, because the card's pool had nobody.
    AnyAvailable,
}

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
    },
    /// Nobody can take the chat: the conversation ended with `reason` (`fallback` when
    /// nobody was eligible, `missed` when offers went unanswered), the admin was told,
    /// and the visitor is shown `text`.
    Fallback {
        reason: EndReason,
        text: String,
        meeting_link: Option<String>,
    },
    /// The conversation is not waiting (a repeated or stale request): nothing changed.
    NotWaiting,
}

/// Why an offer ended without a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferEnd {
    /// The agent declined.
    Declined,
    /// The visitor wait time limit passed.
    TimedOut,
}

/// What [`Router::end_if`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Ended: the conversation as it was just before (whose agent to tell, what to
    /// record).
    Ended(Conversation),
    /// Left as found: already ended, or no longer what the caller meant to end.
    Kept(Conversation),
}

impl Ending {
    /// `Ok` when it ended; otherwise the error for a client who asked to end it,
    /// naming the state it was found in.
    pub fn required(&self) -> Result<(), TransitionError> {
        match self {
            Ending::Ended(_) => Ok(()),
            Ending::Kept(found) => Err(TransitionError {
                action: "end",
                state: found.state().name(),
            }),
        }
    }
}

/// A routing failure that is not an outcome.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The offer timeout could not be scheduled (the offer stands; it can still be
    /// accepted or declined).
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    /// No such conversation.
    #[error("conversation {0} does not exist")]
    UnknownConversation(ConversationId),
    /// Every attempt lost a race; the request is left waiting for a retry.
    #[error("routing lost {attempts} races in a row")]
    Contention { attempts: u32 },
}

async fn store_missed(
    router: &Router,
    conversation: &ConversationId,
    at: Timestamp,
) -> Result<(), RouteError> {
    Ok(router.ports.store.record_missed(conversation, at).await?)
}

/// The routing engine over the ports. Shareable: keep one per process.
pub struct Router {
    ports: Ports,
    retry: RetryPolicy,
    conflicts: AtomicU64,
}

impl Router {
    /// A router with the default retry policy.
    pub fn new(ports: Ports) -> Self {
        Self::with_retry(ports, RetryPolicy::default())
    }

    /// A router with its own retry policy.
    pub fn with_retry(ports: Ports, retry: RetryPolicy) -> Self {
        Self {
            ports,
            retry,
            conflicts: AtomicU64::new(0),
        }
    }

    /// Lost races retried so far by this router.
    pub fn conflicts_retried(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// The ports this router uses.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Whether any agent is eligible right now (the dialog's "is any agent available"
    /// branch): live chat permission, available, connected, under the limit.
    pub async fn any_agent_eligible(&self) -> Result<bool, RouteError> {
        let store = &self.ports.store;
        let now = self.ports.clock.now();
        let directory = store.directory().await?;
        let agents = all_agents(&directory);
        let facts = Facts {
            directory: &directory,
            now,
            states: store.agent_states(&agents, now).await?,
        };
        Ok(agents.iter().any(|a| facts.eligible(a)))
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
        mut conv: Conversation,
        directory: &Directory,
        mode: &RoutingMode,
        visitor: &Attributes,
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
        if self.repair(&conv).await? {
            return Ok(RouteOutcome::NotWaiting);
        }

        for attempt in 1..=self.retry.max_attempts {
            if attempt > 1 {
                self.conflicts.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
            }
            if !matches!(conv.state(), ConversationState::Waiting { .. }) {
                return Ok(RouteOutcome::NotWaiting);
            }
            let offers_made = u32::try_from(conv.offered_to().len()).unwrap_or(u32::MAX);
            if offers_made >= MAX_OFFERS_PER_REQUEST {
                return self
                    .fall_back(conversation, EndReason::Missed, directory)
                    .await;
            }
            let choice = loop {
                match choose(
                    directory,
                    mode,
                    visitor,
                    &facts,
                    conv.offered_to(),
                    &cursors,
                ) {
                    Choice::NeedsCursor(key) => {
                        let cursor = store.cursor(&key).await?;
                        cursors.insert(key, cursor);
                    }
                    choice => break choice,
                }
            };
            let Choice::Offer { agent, cursor, via } = choice else {
                let reason = if offers_made > 0 {
                    EndReason::Missed
                } else {
                    EndReason::Fallback
                };
                return self.fall_back(conversation, reason, directory).await;
            };
            let limit = directory
                .agent(&agent)
                .map(|a| a.chat_limit)
                .unwrap_or_default();
            let expires_at = now
                .saturating_add(directory.settings.wait_time_limit.span())
                .unwrap_or(now);
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
            };
            match store.claim_offer(&claim).await? {
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
                    });
                }
                ClaimOutcome::CursorMoved { current } => {
                    if let Some(mv) = cursor {
                        let fresh = match current {
                            Some(c) => c,
                            None => store.cursor(&mv.pool).await?,
                        };
                        cursors.insert(mv.pool, fresh);
                    }
                }
                ClaimOutcome::AgentAtCapacity => {
                    facts.states = store.agent_states(&live_chat_agents, now).await?;
                }
                ClaimOutcome::ConversationChanged => {
                    conv = store
                        .conversation(conversation)
                        .await?
                        .ok_or_else(|| RouteError::UnknownConversation(conversation.clone()))?;
                }
            }
        }
        Err(RouteError::Contention {
            attempts: self.retry.max_attempts,
        })
    }

    /// A routing request that finds its conversation already routed is a delivery
    /// again of the event (queues deliver at least once), or the retry of a handler
    /// that died between routing's state write and its follow-up. Re-issues that
    /// follow-up, which is idempotent: the offer's timeout (a duplicate is a no-op by
    /// its version) and the missed-list entry (same key). `true` when the
    /// conversation is not waiting, so there is nothing to route.
    async fn repair(&self, conv: &crate::domain::Conversation) -> Result<bool, RouteError> {
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
            } => store_missed(self, conv.id(), *at).await?,
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
        self.release_held(&conv).await?;
        let claim = OfferClaim {
            conversation: taken,
            expected_version: conv.version(),
            agent: agent.clone(),
            limit,
            cursor: None,
        };
        let claimed = store.claim_offer(&claim).await? == ClaimOutcome::Claimed;
        Ok(claimed.then_some(claim.conversation))
    }

    /// Ends the conversation with `reason`, tells the admin, and returns the fallback
    /// the visitor sees. Repeats are harmless: an already ended conversation is left.
    async fn fall_back(
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
            .update(conversation, |c| {
                matches!(c.state(), ConversationState::Waiting { .. }) && c.end(reason, now).is_ok()
            })
            .await?;
        if ended.is_none() {
            return Ok(RouteOutcome::NotWaiting);
        }
        // It stays visible to agents, who may pick it up.
        store_missed(self, conversation, now).await?;
        Ok(RouteOutcome::Fallback {
            reason,
            text: directory.settings.fallback.text().to_string(),
            meeting_link: directory.settings.meeting_link.clone(),
        })
    }

    /// Applies `change` to the stored conversation with compare-and-set, re-reading on
    /// a lost race. `change` returns false when the transition does not apply, which
    /// ends the loop with `None` and writes nothing.
    pub(crate) async fn update(
        &self,
        conversation: &ConversationId,
        change: impl FnMut(&mut crate::domain::Conversation) -> bool,
    ) -> Result<Option<crate::domain::Conversation>, RouteError> {
        self.update_from(conversation, None, change).await
    }

    /// [`Router::update`], starting from `read` (the caller's read of it, so the
    /// first attempt costs no read); a lost race reads it again.
    async fn update_from(
        &self,
        conversation: &ConversationId,
        mut read: Option<crate::domain::Conversation>,
        mut change: impl FnMut(&mut crate::domain::Conversation) -> bool,
    ) -> Result<Option<crate::domain::Conversation>, RouteError> {
        let store = &self.ports.store;
        for attempt in 1..=self.retry.max_attempts {
            if attempt > 1 {
                self.conflicts.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
            }
            let mut conv = match read.take() {
                Some(c) => c,
                None => store
                    .conversation(conversation)
                    .await?
                    .ok_or_else(|| RouteError::UnknownConversation(conversation.clone()))?,
            };
            let expected = conv.version();
            if !change(&mut conv) {
                return Ok(None);
            }
            if store.replace_conversation(&conv, expected).await?
                == crate::ports::CasOutcome::Written
            {
                return Ok(Some(conv));
            }
        }
        Err(RouteError::Contention {
            attempts: self.retry.max_attempts,
        })
    }

    /// The offered agent accepts: the chat goes live, and comes back as stored. `None`
    /// when the offer is no longer theirs (it lapsed, or was withdrawn).
    pub async fn accept(
        &self,
        conversation: &ConversationId,
        agent: &AgentId,
    ) -> Result<Option<Conversation>, RouteError> {
        self.accept_from(conversation, None, agent).await
    }

    /// [`Router::accept`] on the caller's fresh `read` of the conversation.
    pub async fn accept_from(
        &self,
        conversation: &ConversationId,
        read: Option<Conversation>,
        agent: &AgentId,
    ) -> Result<Option<Conversation>, RouteError> {
        let now = self.ports.clock.now();
        self.update_from(conversation, read, |c| c.accept(agent, now).is_ok())
            .await
    }

    /// The offer to `agent` ended without a chat (declined or timed out): the agent's
    /// capacity is freed and the conversation waits again, for the caller to route it
    /// once more (the second attempt, or the fallback after two). `expected_version`
    /// guards a delayed timeout: when the conversation moved on since the offer, this
    /// is a no-op returning `false`.
    pub async fn withdraw(
        &self,
        conversation: &ConversationId,
        agent: &AgentId,
        expected_version: Option<u64>,
    ) -> Result<bool, RouteError> {
        let now = self.ports.clock.now();
        self.update_releasing(conversation, agent, |c| {
            expected_version.is_none_or(|v| v == c.version())
                && c.withdraw_offer(agent, now).is_ok()
        })
        .await
        .map(|withdrawn| withdrawn.is_some())
    }

    /// The live agent is gone for good: the conversation waits again, with its
    /// history, for another agent (not `agent` first), and the agent's capacity is
    /// freed. The conversation's version after the move; `None` when it is no
    /// longer `agent`'s live chat.
    pub async fn requeue(
        &self,
        conversation: &ConversationId,
        agent: &AgentId,
    ) -> Result<Option<u64>, RouteError> {
        let now = self.ports.clock.now();
        self.update_releasing(conversation, agent, |c| {
            c.agent() == Some(agent) && c.requeue(now).is_ok()
        })
        .await
        .map(|moved| moved.map(|c| c.version()))
    }

    /// Applies `change` as [`Router::update`] does and, when it took effect, frees
    /// the capacity the conversation held on `agent`. When it did not take effect
    /// because the conversation is no longer `agent`'s, the capacity is freed too:
    /// a handler that died between the state write and the release leaves the
    /// agent holding it, and its retry lands here (releasing is idempotent).
    async fn update_releasing(
        &self,
        conversation: &ConversationId,
        agent: &AgentId,
        mut change: impl FnMut(&mut crate::domain::Conversation) -> bool,
    ) -> Result<Option<crate::domain::Conversation>, RouteError> {
        let mut seen = None;
        let written = self
            .update(conversation, |c| {
                seen = Some((c.agent() == Some(agent), c.version()));
                change(c)
            })
            .await?;
        // Released only while the conversation is as this call left (or found) it:
        // a claim that gave the agent this chat again meanwhile keeps its slot, and
        // a chat that moved on is left to its settle.
        let release_at = match (&written, seen) {
            (Some(conv), _) => Some(conv.version()),
            (None, Some((false, version))) => Some(version),
            (None, _) => None,
        };
        if let Some(version) = release_at {
            self.release_unless_theirs(agent, conversation, version)
                .await?;
        }
        Ok(written)
    }

    /// Frees the capacity `conversation` holds on `agent` at `version` and, when a
    /// write landed since (a routing that ended or offered the request again, a
    /// message), at the version now stored, unless the chat is the agent's again.
    /// Leaving a lost release to the settle is not enough: a pick-up before the
    /// settle names only the agent who picked it up.
    pub(crate) async fn release_unless_theirs(
        &self,
        agent: &AgentId,
        conversation: &ConversationId,
        mut version: u64,
    ) -> Result<(), RouteError> {
        let store = &self.ports.store;
        for _ in 0..self.retry.max_attempts {
            if store
                .release_capacity_if(agent, conversation, version)
                .await?
            {
                return Ok(());
            }
            match store.conversation(conversation).await? {
                Some(now) if now.agent() != Some(agent) => version = now.version(),
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// Ends a conversation for `reason` and frees the agent's capacity. `false` when it
    /// had already ended.
    pub async fn end(
        &self,
        conversation: &ConversationId,
        reason: EndReason,
    ) -> Result<bool, RouteError> {
        let ending = self.end_if(conversation, reason, |_| true).await?;
        Ok(matches!(ending, Ending::Ended(_)))
    }

    /// Ends a conversation for `reason` if, as stored when the end is written, it has
    /// not ended and passes `still`; frees the capacity it held. The caller decided on
    /// an earlier read, so it must act on what this returns, not on that read: an
    /// agent may have accepted the request, or the chat may have moved on, since.
    pub async fn end_if(
        &self,
        conversation: &ConversationId,
        reason: EndReason,
        still: impl Fn(&Conversation) -> bool,
    ) -> Result<Ending, RouteError> {
        let now = self.ports.clock.now();
        let mut found = None;
        let changed = self
            .update(conversation, |c| {
                found = Some(c.clone());
                !matches!(c.state(), ConversationState::Ended { .. })
                    && still(c)
                    && c.end(reason, now).is_ok()
            })
            .await?;
        let Some(before) = found else {
            return Err(RouteError::UnknownConversation(conversation.clone()));
        };
        let Some(ended) = changed else {
            // Already ended: whoever it was with must not hold it still (a handler
            // that died between the end and the release is retried into this branch).
            if matches!(before.state(), ConversationState::Ended { .. }) {
                self.release_held(&before).await?;
            }
            return Ok(Ending::Kept(before));
        };
        if let Some(agent) = before.agent() {
            self.ports
                .store
                .release_capacity_if(agent, conversation, ended.version())
                .await?;
        }
        Ok(Ending::Ended(before))
    }

    /// The repair of a conversation found ended (a handler that died between the
    /// end and the release is retried into this): whoever it was with must not hold
    /// it still. Unlike [`Router::end`], it never ends anything: a conversation an
    /// agent picked up since it was read is live again, and stays so.
    pub async fn repair_ended(&self, conversation: &ConversationId) -> Result<(), RouteError> {
        let store = &self.ports.store;
        let Some(conv) = store.conversation(conversation).await? else {
            return Ok(());
        };
        if !matches!(conv.state(), ConversationState::Ended { .. }) {
            return Ok(());
        }
        self.release_held(&conv).await
    }

    /// Frees the capacity an ended conversation may still hold on whoever it was
    /// with (assigned or offered), at the version read: a conversation taken up
    /// again since keeps its holder.
    async fn release_held(&self, ended: &Conversation) -> Result<(), RouteError> {
        for agent in ended.assigned().into_iter().chain(ended.offered_to()) {
            self.ports
                .store
                .release_capacity_if(agent, ended.id(), ended.version())
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
