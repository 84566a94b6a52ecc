//! Delayed events: routing requests, offer timeouts and the inactivity check. Each
//! may arrive twice or late; each checks the state it expects and otherwise does
//! nothing.

use tracing::info;

use super::Chat;
use crate::domain::{ConversationId, ConversationState, EndReason, INACTIVITY_TIMEOUT};
use crate::ports::{DelayedEvent, Party};
use crate::protocol::{ServerError, ServerFrame, WithdrawReason};
use crate::routing::RouteOutcome;

impl Chat {
    /// Handles one delayed event. An error is ours (the store failed): the event
    /// should be delivered again.
    pub async fn delayed(&self, event: DelayedEvent) -> Result<(), ServerError> {
        match event {
            DelayedEvent::Route { conversation } => self.route(&conversation).await,
            DelayedEvent::OfferTimeout {
                conversation,
                agent,
                version,
            } => {
                if self
                    .router
                    .withdraw(&conversation, &agent, Some(version))
                    .await?
                {
                    let withdrawn = ServerFrame::OfferWithdrawn {
                        conversation: conversation.clone(),
                        reason: WithdrawReason::TimedOut,
                    };
                    self.send_to(&Party::Agent { agent }, &withdrawn).await?;
                    self.route(&conversation).await?;
                }
                Ok(())
            }
            DelayedEvent::InactivityCheck { conversation } => {
                self.check_inactivity(&conversation).await
            }
            DelayedEvent::AgentGrace { agent } => {
                info!(agent = %agent, "agent grace period over");
                Ok(())
            }
        }
    }

    /// Routes a waiting conversation and tells both sides how it went.
    async fn route(&self, conversation: &ConversationId) -> Result<(), ServerError> {
        let conv = self.conversation(conversation).await?;
        let Some(mode) = conv.routing.clone() else {
            return Ok(());
        };
        let session = self.ports.store.session(&conv.visitor, self.now()).await?;
        let attributes = session.map(|s| s.dialog.attributes).unwrap_or_default();
        let visitor = Party::Visitor {
            visitor: conv.visitor.clone(),
        };
        match self.router.route(conversation, &mode, &attributes).await? {
            RouteOutcome::Offered {
                agent,
                expires_at,
                attempt,
                via,
            } => {
                info!(conversation = %conversation, agent = %agent, attempt, via = ?via, "offered");
                let offer = ServerFrame::Offer {
                    conversation: conversation.clone(),
                    visitor: self.visitor_summary(&conv).await?,
                    expires_at,
                    attempt,
                };
                self.send_to(&Party::Agent { agent }, &offer).await?;
                self.send_to(&visitor, &ServerFrame::Waiting { position: None })
                    .await
            }
            RouteOutcome::Fallback {
                reason,
                text,
                meeting_link,
            } => {
                info!(conversation = %conversation, reason = ?reason, "fallback");
                let fallback = ServerFrame::Fallback {
                    text,
                    meeting_link,
                    can_leave_details: true,
                };
                self.send_to(&visitor, &fallback).await
            }
            RouteOutcome::NotWaiting => Ok(()),
        }
    }

    /// Ends a live chat nobody wrote in for 10 minutes; otherwise checks again 10
    /// minutes after the last message.
    async fn check_inactivity(&self, conversation: &ConversationId) -> Result<(), ServerError> {
        let conv = self.conversation(conversation).await?;
        let ConversationState::Live { since, .. } = conv.state else {
            return Ok(());
        };
        let messages = self.ports.store.messages(conversation).await?;
        let last = messages.last().map_or(since, |m| m.at.max(since));
        let deadline = last.saturating_add(INACTIVITY_TIMEOUT).unwrap_or(last);
        if self.now() >= deadline {
            self.end_conversation(&conv, EndReason::TimedOut).await
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
