//! The live queue's use cases: telling queued visitors their place and wait,
//! offering the queue's head when a slot frees, and measuring chat lengths for the
//! estimate. Routing decides who joins (`crate::routing::queue`); everything here is
//! a no-op unless the account sets `settings.queue_wait_limit`, so an account
//! without a queue pays no request for it.

use std::collections::BTreeMap;

use tracing::info;

use super::Chat;
use crate::domain::{
    Conversation, ConversationId, ConversationState, MAX_QUEUE_LEN, Permission, estimated_wait_secs,
};
use crate::ports::{DelayedEvent, Party, QueueEntry};
use crate::protocol::{ServerError, ServerFrame};
use crate::routing::{
    Facts, QUEUE_POOL, RouteOutcome, Turn, agents_at_limit, next_availability, still_queued,
};

/// What routing one conversation came to, as the queue's walk needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Routed {
    /// An agent was offered it: a slot was taken.
    Offered,
    /// It is (still) queued: no slot was free for it.
    Queued,
    /// Anything else (not waiting, the fallback).
    Other,
    /// A request ahead changed since the walk read the queue: nothing was written,
    /// and the walk reads the queue again.
    Stale,
}

/// Walks of the queue one freed slot makes at most, each after the last found its
/// reading of the queue stale (a request ahead changed meanwhile). Past them the
/// slot waits for the next event that frees one, or a request's expiry.
const MAX_WALKS: usize = 5;

impl Chat {
    /// A request joined (or kept its place in) the queue (its expiry was queued
    /// as it joined, `Router::route`): it is told its place, and, when it joined behind others
    /// without a choice, the head is offered (a slot may be free).
    pub(super) async fn queued(
        &self,
        conversation: &ConversationId,
        entry: &QueueEntry,
        new: bool,
        behind_others: bool,
    ) -> Result<(), ServerError> {
        if new {
            info!(conversation = %conversation, ticket = entry.ticket, "queued: every agent is at their limit");
            self.check_queue_when_someone_starts().await?;
        }
        if behind_others {
            // Boxed: offering the head routes it, and routing may queue.
            Box::pin(self.slot_freed()).await?;
        } else {
            self.tell_queue(Some(conversation)).await?;
        }
        Ok(())
    }

    /// A slot may have freed (a chat ended, an offer lapsed or was declined, an
    /// agent came online or became available): the queue's first waiting request is
    /// routed, and the next after it while a request is offered elsewhere meanwhile
    /// (two slots freeing at once, each walk taking the next head) or cannot use
    /// the slot (it was offered to that agent already). One slot makes one offer:
    /// the offer's claim takes the agent's capacity by compare-and-set, so a second
    /// walk for the same slot finds everyone at their limit and stops. Then every
    /// queued visitor is told their place.
    pub(crate) async fn slot_freed(&self) -> Result<(), ServerError> {
        let directory = self.cached_directory().await?;
        if directory.settings.queue_wait_limit.is_none() {
            return Ok(());
        }
        'walks: for _ in 0..MAX_WALKS {
            let queue = self.live_queue().await?;
            let mut turn = Turn::default();
            for (entry, conv) in &queue {
                // Passed over as it was read (offered elsewhere): the offers this
                // walk makes hold only while it stays so (its offer may lapse and
                // put it back in line ahead of them).
                if !matches!(conv.state(), ConversationState::Waiting { .. }) {
                    turn.ahead.push((conv.id().clone(), conv.version()));
                    continue;
                }
                let routed =
                    Box::pin(self.route_reporting(&entry.conversation, Some(&turn))).await?;
                match routed {
                    Routed::Offered => break 'walks,
                    // No slot for it; one for the next only if this request cannot
                    // use the agent's (it was offered to them already), and then
                    // only an agent it cannot take either.
                    Routed::Queued if conv.offered_to().is_empty() => break 'walks,
                    Routed::Queued => {
                        turn = turn.passing(conv.offered_to());
                        if turn.closed() {
                            break 'walks;
                        }
                    }
                    Routed::Other => {}
                    // What the walk read of the requests ahead changed: read again.
                    Routed::Stale => continue 'walks,
                }
            }
            break;
        }
        self.tell_queue(None).await
    }

    /// A schedule starting is no event of its own: when a request joins the queue,
    /// a [`DelayedEvent::QueueCheck`] is queued for the first minute, within the
    /// queue's wait limit, at which an agent not available now becomes so.
    async fn check_queue_when_someone_starts(&self) -> Result<(), ServerError> {
        let directory = self.cached_directory().await?;
        let Some(limit) = directory.settings.queue_wait_limit else {
            return Ok(());
        };
        let now = self.now();
        let agents: Vec<_> = directory
            .agents
            .iter()
            .filter(|a| a.has_permission(Permission::LiveChat))
            .map(|a| a.id.clone())
            .collect();
        let facts = Facts {
            directory: &directory,
            now,
            states: self.ports.store.agent_states(&agents, now).await?,
        };
        let Some(at) = next_availability(&facts, limit.span()) else {
            return Ok(());
        };
        self.ports
            .scheduler
            .schedule(DelayedEvent::QueueCheck, at)
            .await
            .map_err(ServerError::internal)
    }

    /// [`Chat::slot_freed`] after an agent's own action (a decline, a toggle, an
    /// inbox opened), which has done what it was asked: a failure here is logged,
    /// not answered, and the next slot to free (or the queue's wait limit) serves
    /// the queue instead.
    pub(super) async fn slot_freed_or_log(&self) {
        if let Err(e) = self.slot_freed().await {
            tracing::warn!(error = %super::cause_chain(&e), "could not offer the live queue's head");
        }
    }

    /// A request ended while waiting: out of the queue, and those behind it told
    /// their new place. The request has ended either way: a failure is logged.
    pub(super) async fn left_queue_or_log(&self, conversation: &ConversationId) {
        let left = async {
            let directory = self.cached_directory().await?;
            if directory.settings.queue_wait_limit.is_none() {
                return Ok(());
            }
            if self.ports.store.dequeue(QUEUE_POOL, conversation).await? {
                self.tell_queue(None).await?;
            }
            Ok::<(), ServerError>(())
        };
        if let Err(e) = left.await {
            tracing::warn!(error = %super::cause_chain(&e), "could not tell the live queue a request left");
        }
    }

    /// The queue's entries with their conversations, first ticket first; stale
    /// entries (live or ended conversations, or missing ones) are taken out.
    async fn live_queue(&self) -> Result<Vec<(QueueEntry, Conversation)>, ServerError> {
        let store = &self.ports.store;
        let mut entries = store.queue(QUEUE_POOL).await?;
        entries.truncate(MAX_QUEUE_LEN);
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<ConversationId> = entries.iter().map(|e| e.conversation.clone()).collect();
        let mut convs: BTreeMap<ConversationId, Conversation> = store
            .conversations(&ids)
            .await?
            .into_iter()
            .map(|c| (c.id().clone(), c))
            .collect();
        let mut live = Vec::with_capacity(entries.len());
        for entry in entries {
            match convs.remove(&entry.conversation) {
                Some(conv) if still_queued(&conv) => live.push((entry, conv)),
                _ => {
                    store.dequeue(QUEUE_POOL, &entry.conversation).await?;
                }
            }
        }
        Ok(live)
    }

    /// Tells queued visitors their place (1-based, among the requests still
    /// waiting: one offered meanwhile is being served) and the estimated wait;
    /// only `only` when given (a request that joined at the end moves nobody else).
    async fn tell_queue(&self, only: Option<&ConversationId>) -> Result<(), ServerError> {
        let queue = self.live_queue().await?;
        let waiting: Vec<&Conversation> = queue
            .iter()
            .map(|(_, c)| c)
            .filter(|c| matches!(c.state(), ConversationState::Waiting { .. }))
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        let directory = self.cached_directory().await?;
        let now = self.now();
        let agents: Vec<_> = directory
            .agents
            .iter()
            .filter(|a| a.has_permission(Permission::LiveChat))
            .map(|a| a.id.clone())
            .collect();
        let facts = Facts {
            directory: &directory,
            now,
            states: self.ports.store.agent_states(&agents, now).await?,
        };
        let at_limit = agents_at_limit(&facts);
        let lengths = self.ports.store.chat_lengths(QUEUE_POOL).await?;
        for (index, conv) in waiting.iter().enumerate() {
            if only.is_some_and(|o| o != conv.id()) {
                continue;
            }
            let position = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let frame = ServerFrame::Waiting {
                position: Some(position),
                estimated_wait_seconds: estimated_wait_secs(position, at_limit, lengths),
            };
            let visitor = Party::Visitor {
                visitor: conv.visitor().clone(),
            };
            self.send_to(&visitor, &frame).await?;
        }
        Ok(())
    }

    /// A live chat ended after `secs` seconds: one more length for the estimate
    /// (the queue's pool, which every agent is in).
    pub(super) async fn chat_length(&self, secs: u64) -> Result<(), ServerError> {
        let directory = self.cached_directory().await?;
        if directory.settings.queue_wait_limit.is_none() {
            return Ok(());
        }
        Ok(self
            .ports
            .store
            .record_chat_length(QUEUE_POOL, secs)
            .await?)
    }

    /// A queued request's wait limit passed: routed again, which gives it the
    /// fallback if it is still queued and waiting (`Router::route`); a request
    /// offered meanwhile is left to its offer, whose lapse routes it again.
    pub(super) async fn queue_expired(
        &self,
        conversation: &ConversationId,
    ) -> Result<(), ServerError> {
        // Whatever its state: routing repairs what a handler that died part-way
        // through the fallback left (the missed-list entry), leaves an offer to
        // its timeout, and gives a request still queued and waiting the fallback.
        self.route_reporting(conversation, None).await?;
        // Those behind it moved up.
        self.tell_queue(None).await
    }
}

/// What a route outcome means to the queue's walk.
pub(super) fn routed(outcome: &RouteOutcome) -> Routed {
    match outcome {
        RouteOutcome::Offered { .. } => Routed::Offered,
        RouteOutcome::Queued { .. } => Routed::Queued,
        RouteOutcome::Fallback { .. } | RouteOutcome::NotWaiting => Routed::Other,
        RouteOutcome::QueueMoved => Routed::Stale,
    }
}
