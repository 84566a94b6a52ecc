//! Delayed events: routing requests, offer timeouts, the inactivity check and the
//! grace timers. Each may arrive twice or late; each checks the state it expects and
//! otherwise does nothing.

use tracing::info;

use super::Chat;
use super::queue::Routed;
use crate::domain::{
    AgentId, Conversation, ConversationId, ConversationState, EndReason, INACTIVITY_TIMEOUT,
    NoticeKind, TransferOutcome, VisitorId,
};
use crate::ports::{DelayedEvent, Party, SETTLE_AFTER};
use crate::protocol::{ServerError, ServerFrame, VisitorSummary, WithdrawReason};
use crate::routing::RouteOutcome;

impl Chat {
    /// Handles one delayed event. An error is ours (the store failed): the event
    /// should be delivered again.
    pub async fn delayed(&self, event: DelayedEvent) -> Result<(), ServerError> {
        match event {
            DelayedEvent::Route { conversation } => self.route(&conversation).await,
            DelayedEvent::Settle { conversation } => self.settle(&conversation).await,
            DelayedEvent::OfferTimeout {
                conversation,
                agent,
                version,
            } => {
                self.settle_later(&conversation).await?;
                if self
                    .writer
                    .withdraw(&conversation, &agent, Some(version))
                    .await?
                {
                    // The second attempt first, then the news to the first agent.
                    self.route(&conversation).await?;
                    let withdrawn = ServerFrame::OfferWithdrawn {
                        conversation: conversation.clone(),
                        reason: WithdrawReason::TimedOut,
                    };
                    self.send_to(&Party::Agent { agent }, &withdrawn).await?;
                    // The agent's slot is free again: the live queue's head may
                    // have it.
                    self.slot_freed().await?;
                } else if matches!(
                    self.conversation(&conversation).await?.state(),
                    ConversationState::Waiting { .. }
                ) {
                    // This timeout is being delivered again after its handler died
                    // between the withdrawal and the routing: route now.
                    self.route(&conversation).await?;
                }
                Ok(())
            }
            DelayedEvent::TransferTimeout {
                conversation,
                agent,
                version,
            } => {
                self.transfer_timed_out(&conversation, &agent, version)
                    .await
            }
            DelayedEvent::InactivityCheck { conversation } => {
                self.check_inactivity(&conversation).await
            }
            DelayedEvent::AgentGrace { agent, connects } => self.agent_gone(&agent, connects).await,
            DelayedEvent::VisitorGrace { visitor, connects } => {
                self.visitor_gone(&visitor, connects).await
            }
            DelayedEvent::CheckGone { party, connects } => self.check_gone(party, connects).await,
            DelayedEvent::QueueExpired { conversation } => self.queue_expired(&conversation).await,
            DelayedEvent::QueueCheck => self.slot_freed().await,
        }
    }

    /// An agent's grace period is over: if they have been without a connection ever
    /// since the disconnection that started it (`connects`), each pending offer goes
    /// to someone else, and each live chat goes back to waiting, with its history,
    /// after the visitor is told.
    async fn agent_gone(&self, agent: &AgentId, connects: Option<u64>) -> Result<(), ServerError> {
        let party = Party::Agent {
            agent: agent.clone(),
        };
        if !self.still_gone(&party, connects).await? {
            return Ok(());
        }
        let directory = self.cached_directory().await?;
        let agent_name = directory
            .agent(agent)
            .map_or_else(|| agent.to_string(), |a| a.name.clone());
        for conversation in self.ports.store.agent_chats(agent).await? {
            let conv = self.conversation(&conversation).await?;
            self.settle_later(&conversation).await?;
            // What the agent's tabs hear once the chat has moved, if it has.
            let news = match &conv.state() {
                ConversationState::Offered { agent: to, .. } if to == agent => self
                    .writer
                    .withdraw(&conversation, agent, None)
                    .await?
                    .then(|| ServerFrame::OfferWithdrawn {
                        conversation: conversation.clone(),
                        reason: WithdrawReason::Away,
                    }),
                ConversationState::Live { agent: with, .. } if with == agent => {
                    let requeued = self.writer.requeue(&conversation, agent).await?;
                    if requeued.is_some() {
                        info!(conversation = %conversation, agent = %agent, "agent gone: chat goes to another agent");
                        let visitor = Party::Visitor {
                            visitor: conv.visitor().clone(),
                        };
                        self.send_to(
                            &visitor,
                            &ServerFrame::AgentLeft {
                                agent_name: agent_name.clone(),
                            },
                        )
                        .await?;
                    }
                    if requeued.is_some()
                        && let Some(pending) = conv.transfer()
                    {
                        // The transfer the lost sender had offered is cancelled.
                        let receiver = pending.to.clone();
                        self.transfer_ended(&conv, &receiver, TransferOutcome::Cancelled)
                            .await?;
                    }
                    requeued.map(|version| ServerFrame::ChatMoved {
                        conversation: conversation.clone(),
                        version,
                    })
                }
                // A transfer offered to the lost agent: declined for them; the
                // chat stays its sender's, so nothing to route.
                ConversationState::Live { .. }
                    if conv.transfer().is_some_and(|t| &t.to == agent) =>
                {
                    if let Some((before, outcome)) = self
                        .writer
                        .end_transfer(&conversation, None, agent, None)
                        .await?
                    {
                        self.transfer_ended(&before, agent, outcome).await?;
                    }
                    None
                }
                _ => None,
            };
            if let Some(news) = news {
                // Read after the move: a tab that connected since the check above,
                // and whose sync may have shown the chat as theirs, hears of it.
                // Before the routing: should the routing die, a redelivery of this
                // event finds the agent back and stops, and the tab would never hear
                // (the Settle queued above routes the chat instead).
                self.send_to(&party, &news).await?;
                self.route(&conversation).await?;
            }
        }
        Ok(())
    }

    /// A waiting visitor's grace period is over: if they have been gone ever since
    /// the disconnection that started it (`connects`), the request is cancelled (an
    /// offered agent sees it withdrawn).
    async fn visitor_gone(
        &self,
        visitor: &VisitorId,
        connects: Option<u64>,
    ) -> Result<(), ServerError> {
        let party = Party::Visitor {
            visitor: visitor.clone(),
        };
        if !self.still_gone(&party, connects).await? {
            return Ok(());
        }
        let Some(session) = self.ports.store.session(visitor, self.now()).await? else {
            return Ok(());
        };
        let conv = self.conversation(&session.conversation).await?;
        match conv.state() {
            ConversationState::Waiting { .. } | ConversationState::Offered { .. } => {
                info!(conversation = %conv.id(), "the visitor left while waiting: request cancelled");
                // Only the request: an agent who accepted it meanwhile keeps the chat
                // (the visitor may be back; the inactivity check ends it otherwise).
                let still_waiting = |c: &Conversation| {
                    matches!(
                        c.state(),
                        ConversationState::Waiting { .. } | ConversationState::Offered { .. }
                    )
                };
                self.end_conversation(&conv, EndReason::Dropped, still_waiting)
                    .await?;
            }
            // Delivered again after a handler died between the end and the release.
            // (Not `end`: an agent may have picked the missed request up since.)
            ConversationState::Ended { .. } => {
                self.writer.repair_ended(conv.id()).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Queues a [`DelayedEvent::Settle`] of `conversation`: call it before the first
    /// write of a change that takes several.
    pub(super) async fn settle_later(
        &self,
        conversation: &ConversationId,
    ) -> Result<(), ServerError> {
        let at = self
            .now()
            .saturating_add(SETTLE_AFTER)
            .unwrap_or(self.now());
        let settle = DelayedEvent::Settle {
            conversation: conversation.clone(),
        };
        self.ports
            .scheduler
            .schedule(settle, at)
            .await
            .map_err(ServerError::internal)
    }

    /// Repairs what a change that died part-way left behind; every step is
    /// idempotent, so a conversation already in line is left as it is. Agents who
    /// hold capacity for it without its state naming them are released; a waiting
    /// conversation is routed; an offer gets its timeout queued; an ended one frees
    /// its agents and, when nobody took it, is on the missed list.
    async fn settle(&self, conversation: &ConversationId) -> Result<(), ServerError> {
        let conv = self.conversation(conversation).await?;
        // Receivers of past transfers too: a decline that died between its write
        // and its release left the receiver holding the chat.
        let receivers = conv.timeline().transfers.iter().map(|t| &t.to);
        for agent in conv
            .offered_to()
            .iter()
            .chain(conv.assigned())
            .chain(receivers)
        {
            if !conv.holds(agent) {
                // Again at the version stored should a write land first (an accept):
                // nothing after this settle would free them.
                self.writer
                    .release_unless_theirs(agent, conversation, conv.version())
                    .await?;
            }
        }
        match conv.state() {
            // The router repairs the others (offer timeout, missed-list entry).
            ConversationState::Waiting { .. }
            | ConversationState::Offered { .. }
            | ConversationState::Ended {
                reason: EndReason::Missed | EndReason::Fallback,
                ..
            } => self.route(conversation).await,
            ConversationState::Bot
            | ConversationState::Live { .. }
            | ConversationState::Ended { .. } => Ok(()),
        }
    }

    /// Routes a waiting conversation and tells both sides how it went.
    async fn route(&self, conversation: &ConversationId) -> Result<(), ServerError> {
        self.route_reporting(conversation, None).await.map(|_| ())
    }

    /// [`Chat::route`], saying what came of it (for the live queue's walk, which
    /// routes each head in its `turn`).
    pub(super) async fn route_reporting(
        &self,
        conversation: &ConversationId,
        turn: Option<&crate::routing::Turn>,
    ) -> Result<Routed, ServerError> {
        // The hub: the conversation with its subscribers, in the same read, so that
        // the visitor's pages are told without reading their presence.
        let hub =
            self.ports
                .store
                .hub(conversation)
                .await?
                .ok_or_else(|| ServerError::NotFound {
                    what: format!("conversation {conversation}"),
                })?;
        let conv = hub.conversation.clone();
        let Some(mode) = conv.routing() else {
            return Ok(Routed::Other);
        };
        let session = self.ports.store.session(conv.visitor(), self.now()).await?;
        let state = session.map(|s| s.dialog).unwrap_or_default();
        // Routing rules and notices read what may be trusted: an unsigned value of
        // a verified-only attribute counts as unknown (docs/identify.md).
        let attributes = state.trusted_attributes();
        // Once here for the routing, the offer and the notices alike. The cached
        // copy serves: the agents' availability toggles are not in it but in their
        // routing state, which the router reads as stored.
        let directory = self.cached_directory().await?;
        let visitor = Party::Visitor {
            visitor: conv.visitor().clone(),
        };
        // A request's first routing (a requeued chat is a new request too); later
        // ones are its second attempt.
        let new_request = conv.offered_to().is_empty()
            && matches!(conv.state(), ConversationState::Waiting { .. });
        let outcome = self
            .router
            .route_queued(conv.clone(), &directory, mode, &attributes, turn)
            .await?;
        let routed = super::queue::routed(&outcome);
        match outcome {
            RouteOutcome::Offered {
                agent,
                expires_at,
                attempt,
                via,
                states,
            } => {
                info!(conversation = %conversation, agent = %agent, attempt, via = ?via, "offered");
                let offer = ServerFrame::Offer {
                    conversation: conversation.clone(),
                    visitor: VisitorSummary::from_state(&state),
                    expires_at,
                    attempt,
                    transfer: None,
                };
                // To the agent's connections the decision read with their load, and
                // to the visitor's subscribed pages: no read of either's presence. A
                // tab opened since gets the offer from its `sync`.
                let tabs = states
                    .get(&agent)
                    .map(|s| s.connections.as_slice())
                    .unwrap_or_default();
                futures_util::future::join_all(tabs.iter().map(|c| self.send(c, &offer))).await;
                self.push_to_hub(
                    &hub,
                    &ServerFrame::Waiting {
                        position: None,
                        estimated_wait_seconds: None,
                    },
                    None,
                )
                .await;
                if new_request {
                    self.notify_request(
                        NoticeKind::NewRequest,
                        &conv,
                        &directory,
                        mode,
                        &attributes,
                        Some(&states),
                    )
                    .await;
                }
                Ok(routed)
            }
            RouteOutcome::Queued {
                entry,
                new,
                behind_others,
            } => {
                // Agents hear of it when it is offered, as of any request.
                self.queued(conversation, &entry, new, behind_others)
                    .await?;
                Ok(routed)
            }
            RouteOutcome::Fallback {
                reason,
                text,
                meeting_link,
            } => {
                info!(conversation = %conversation, reason = ?reason, "fallback");
                // The standard text in the visitor's language; an account's own
                // text as the account wrote it.
                let text = match directory.settings.fallback {
                    crate::domain::FallbackMessage::Standard => {
                        crate::texts::standard_fallback(crate::domain::UiLang::of(&state.lang))
                            .to_string()
                    }
                    crate::domain::FallbackMessage::Custom(_) => text,
                };
                let fallback = ServerFrame::Fallback {
                    text,
                    meeting_link,
                    can_leave_details: true,
                };
                self.send_to(&visitor, &fallback).await?;
                // Best effort: the request is recorded, and inboxes refresh the list
                // themselves; a failure here must not make the queue retry a
                // routing that already ended.
                if let Err(e) = self.announce_missed().await {
                    tracing::warn!(conversation = %conversation, error = %super::cause_chain(&e), "could not announce a missed request");
                }
                self.notify_request(
                    NoticeKind::MissedRequest,
                    &conv,
                    &directory,
                    mode,
                    &attributes,
                    None,
                )
                .await;
                Ok(routed)
            }
            RouteOutcome::NotWaiting | RouteOutcome::QueueMoved => Ok(routed),
        }
    }

    /// Ends a live chat nobody wrote in for 10 minutes; otherwise checks again 10
    /// minutes after the last message.
    async fn check_inactivity(&self, conversation: &ConversationId) -> Result<(), ServerError> {
        let conv = self.conversation(conversation).await?;
        let since = match conv.state() {
            ConversationState::Live { since, .. } => *since,
            ConversationState::Ended { .. } => {
                // Ended: make sure its agent holds it no more (a handler that died
                // between the end and the release left it held; this is its retry).
                self.writer.repair_ended(conversation).await?;
                return Ok(());
            }
            _ => return Ok(()),
        };
        // Only the last message's time is needed: a page of one.
        let messages = self
            .ports
            .store
            .messages_page(conversation, None, 1)
            .await?;
        let last = messages.last().map_or(since, |m| m.at.max(since));
        let deadline = last.saturating_add(INACTIVITY_TIMEOUT).unwrap_or(last);
        if self.now() >= deadline {
            // Only the chat judged idle: not one that went back to the queue and is
            // live again with someone else since.
            let unchanged = |c: &Conversation| c.state() == conv.state();
            self.end_conversation(&conv, EndReason::TimedOut, unchanged)
                .await?;
            Ok(())
        } else {
            let check = DelayedEvent::InactivityCheck {
                conversation: conversation.clone(),
            };
            self.ports
                .scheduler
                .schedule(check, deadline)
                .await
                .map_err(ServerError::internal)
        }
    }
}
