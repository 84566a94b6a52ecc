//! The conversation writer: every change to a stored conversation goes through it,
//! by compare-and-set at the version read, re-reading on a lost race, and frees the
//! agent capacity a change gives up. Routing and every use case share it, so that
//! there is one retry loop for one write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::domain::{
    AgentId, Conversation, ConversationId, ConversationState, EndReason, TransitionError,
};
use crate::ports::{CasOutcome, Ports, SchedulerError, StoreError};

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

/// What [`Writer::end_if`] did.
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

/// The compare-and-set writer of conversations over the ports. Cheap to clone: the
/// clones share one count of lost races.
#[derive(Clone)]
pub struct Writer {
    ports: Ports,
    retry: RetryPolicy,
    conflicts: Arc<AtomicU64>,
}

impl Writer {
    /// A writer with its own retry policy.
    pub fn new(ports: Ports, retry: RetryPolicy) -> Self {
        Self {
            ports,
            retry,
            conflicts: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The ports this writer uses.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// How many attempts a write (or a claim) makes before [`RouteError::Contention`].
    pub fn max_attempts(&self) -> u32 {
        self.retry.max_attempts
    }

    /// Lost races retried so far, by this writer and the router built on it.
    pub fn conflicts_retried(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// Before attempt number `attempt` (1 for the first): from the second on, counts
    /// the lost race and waits the policy's backoff.
    pub(crate) async fn wait_before(&self, attempt: u32) {
        if attempt > 1 {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
        }
    }

    /// Applies `change` to the stored conversation with compare-and-set, re-reading on
    /// a lost race. `change` returns false when the transition does not apply, which
    /// ends the loop with `None` and writes nothing.
    pub(crate) async fn update(
        &self,
        conversation: &ConversationId,
        change: impl FnMut(&mut Conversation) -> bool,
    ) -> Result<Option<Conversation>, RouteError> {
        self.update_from(conversation, None, change).await
    }

    /// [`Writer::update`], starting from `read` (the caller's read of it, so the
    /// first attempt costs no read); a lost race reads it again.
    pub(crate) async fn update_from(
        &self,
        conversation: &ConversationId,
        mut read: Option<Conversation>,
        mut change: impl FnMut(&mut Conversation) -> bool,
    ) -> Result<Option<Conversation>, RouteError> {
        let store = &self.ports.store;
        for attempt in 1..=self.retry.max_attempts {
            self.wait_before(attempt).await;
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
            if store.replace_conversation(&conv, expected).await? == CasOutcome::Written {
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

    /// [`Writer::accept`] on the caller's fresh `read` of the conversation.
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
        let mut receiver = None;
        let moved = self
            .update_releasing(conversation, agent, |c| {
                receiver = c.transfer().map(|t| t.to.clone());
                c.agent() == Some(agent) && c.requeue(now).is_ok()
            })
            .await?;
        // A transfer pending when the sender was lost is cancelled: its receiver
        // holds the chat no more.
        if let (Some(moved), Some(receiver)) = (&moved, receiver) {
            self.release_unless_theirs(&receiver, conversation, moved.version())
                .await?;
        }
        Ok(moved.map(|c| c.version()))
    }

    /// The receiver of the pending transfer accepts: the chat goes live with them
    /// (their capacity was taken with the offer), and the sender's is freed. The
    /// conversation as it was before (whose sender to tell) and as stored; `None`
    /// when no transfer to `agent` is pending any more (it lapsed, was declined,
    /// the chat ended, or another tab accepted first).
    pub async fn accept_transfer(
        &self,
        conversation: &ConversationId,
        read: Option<Conversation>,
        agent: &AgentId,
    ) -> Result<Option<(Conversation, Conversation)>, RouteError> {
        let now = self.ports.clock.now();
        let mut before = None;
        let taken = self
            .update_from(conversation, read, |c| {
                before = Some(c.clone());
                c.accept_transfer(agent, now).is_ok()
            })
            .await?;
        let (Some(taken), Some(before)) = (taken, before) else {
            return Ok(None);
        };
        if let Some(sender) = before.agent() {
            self.release_unless_theirs(sender, conversation, taken.version())
                .await?;
        }
        Ok(Some((before, taken)))
    }

    /// The pending transfer to `agent` ends without a move (declined, or timed out
    /// at or after its expiry), and the receiver's capacity is freed; the chat
    /// never left its sender. `expected_version` guards a delayed timeout. The
    /// conversation as it was before and the outcome (`read`: the caller's fresh
    /// read, if any); `None` when no transfer to
    /// `agent` was pending at that version.
    pub async fn end_transfer(
        &self,
        conversation: &ConversationId,
        read: Option<Conversation>,
        agent: &AgentId,
        expected_version: Option<u64>,
    ) -> Result<Option<(Conversation, crate::domain::TransferOutcome)>, RouteError> {
        let now = self.ports.clock.now();
        let mut found = None;
        let ended = self
            .update_from(conversation, read, |c| {
                let before = c.clone();
                if expected_version.is_some_and(|v| v != c.version()) {
                    return false;
                }
                match c.end_transfer(agent, now) {
                    Ok(outcome) => {
                        found = Some((before, outcome));
                        true
                    }
                    Err(_) => false,
                }
            })
            .await?;
        let Some(ended) = ended else {
            return Ok(None);
        };
        self.release_unless_theirs(agent, conversation, ended.version())
            .await?;
        Ok(found)
    }

    /// Applies `change` as [`Writer::update`] does and, when it took effect, frees
    /// the capacity the conversation held on `agent`. When it did not take effect
    /// because the conversation is no longer `agent`'s, the capacity is freed too:
    /// a handler that died between the state write and the release leaves the
    /// agent holding it, and its retry lands here (releasing is idempotent).
    async fn update_releasing(
        &self,
        conversation: &ConversationId,
        agent: &AgentId,
        mut change: impl FnMut(&mut Conversation) -> bool,
    ) -> Result<Option<Conversation>, RouteError> {
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
                Some(now) if !now.holds(agent) => version = now.version(),
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
        // The agent it was with, and the receiver of a transfer it cancelled.
        let receiver = before.transfer().map(|t| &t.to);
        for agent in before.agent().into_iter().chain(receiver) {
            self.ports
                .store
                .release_capacity_if(agent, conversation, ended.version())
                .await?;
        }
        Ok(Ending::Ended(before))
    }

    /// The repair of a conversation found ended (a handler that died between the
    /// end and the release is retried into this): whoever it was with must not hold
    /// it still. Unlike [`Writer::end`], it never ends anything: a conversation an
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
    pub(crate) async fn release_held(&self, ended: &Conversation) -> Result<(), RouteError> {
        let receivers = ended.timeline().transfers.iter().map(|t| &t.to);
        for agent in ended
            .assigned()
            .into_iter()
            .chain(ended.offered_to())
            .chain(receivers)
        {
            self.ports
                .store
                .release_capacity_if(agent, ended.id(), ended.version())
                .await?;
        }
        Ok(())
    }
}
