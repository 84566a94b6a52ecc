//! Transfers of a live chat from one agent to another (`routing::transfer` chooses
//! and claims). The receiver gets an `offer` carrying the transfer (the inbox's
//! banner and sound, as for a new chat), with the sender's note; the sender hears
//! `transfer_pending`, then `transfer_ended`. Until the accept, the chat stays the
//! sender's and the visitor notices nothing; at the accept, the visitor sees the
//! receiver join (`agent_joined`) and the sender's tabs hear `chat_moved`.

use super::Chat;
use crate::domain::{
    AgentId, ConnectionId, Conversation, ConversationId, TransferNote, TransferOutcome,
    TransferTarget,
};
use crate::ports::Party;
use crate::protocol::{ServerError, ServerFrame, TransferSummary, WithdrawReason};
use crate::routing::TransferResult;

impl Chat {
    /// `transfer`: `agent` hands their live chat to `to`.
    pub(super) async fn transfer(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        conversation: ConversationId,
        to: TransferTarget,
        note: TransferNote,
    ) -> Result<(), ServerError> {
        // Refused as for any chat frame when it is not theirs, before any timer.
        let conv = self.live_chat_of(agent, &conversation, "transfer").await?;
        // A claim that lands and a handler that dies before its pushes leave a
        // pending transfer the settle and its timeout repair.
        self.settle_later(&conversation).await?;
        // The cached directory: the receiver's availability toggle is read with
        // their state, as routing reads it.
        let directory = self.cached_directory().await?;
        match self
            .router
            .transfer(conv, &directory, agent, &to, &note)
            .await?
        {
            TransferResult::Offered(conv) => self.transfer_offered(agent, &conv).await,
            TransferResult::Failed(reason) => {
                tracing::info!(conversation = %conversation, reason = ?reason, "transfer failed");
                let failed = ServerFrame::TransferFailed {
                    conversation,
                    reason,
                };
                self.send(connection, &failed).await;
                Ok(())
            }
            TransferResult::NotTheirs => Err(ServerError::Forbidden {
                reason: "this chat is not yours".into(),
            }),
        }
    }

    /// The offer to the receiver, with the note, and the news to the sender.
    async fn transfer_offered(
        &self,
        from: &AgentId,
        conv: &Conversation,
    ) -> Result<(), ServerError> {
        let Some(pending) = conv.transfer() else {
            return Ok(());
        };
        tracing::info!(conversation = %conv.id(), from = %from, to = %pending.to, "transfer offered");
        if let Some(offer) = self.transfer_offer(conv).await? {
            self.send_to(&agent(&pending.to), &offer).await?;
        }
        let pending_frame = ServerFrame::TransferPending {
            conversation: conv.id().clone(),
            to: pending.to.clone(),
            to_name: self.name_of(&pending.to).await?,
            expires_at: pending.expires_at,
        };
        self.send_to(&agent(from), &pending_frame).await
    }

    /// The `offer` a receiver sees for the pending transfer of `conv` (also after
    /// a `sync`); `None` when none is pending.
    pub(super) async fn transfer_offer(
        &self,
        conv: &Conversation,
    ) -> Result<Option<ServerFrame>, ServerError> {
        let Some(pending) = conv.transfer() else {
            return Ok(None);
        };
        Ok(Some(ServerFrame::Offer {
            conversation: conv.id().clone(),
            visitor: self.visitor_summary(conv).await?,
            expires_at: pending.expires_at,
            attempt: 1,
            transfer: Some(TransferSummary {
                from: pending.from.clone(),
                from_name: self.name_of(&pending.from).await?,
                note: pending.note.clone(),
            }),
        }))
    }

    /// `accept` of a transfer offered to `agent` (`read`: the conversation as the
    /// frame's handler read it): the chat moves to them, the sender's tabs hear it
    /// moved, and the visitor sees them join.
    pub(super) async fn accept_transfer(
        &self,
        agent: &AgentId,
        read: Conversation,
    ) -> Result<(), ServerError> {
        let Some((before, live)) = self
            .writer
            .accept_transfer(read.id(), Some(read.clone()), agent)
            .await?
        else {
            return Err(ServerError::Forbidden {
                reason: "this offer is no longer open to you".into(),
            });
        };
        tracing::info!(conversation = %live.id(), to = %agent, "transfer accepted");
        if let Some(sender) = before.agent() {
            let ended = ServerFrame::TransferEnded {
                conversation: live.id().clone(),
                outcome: TransferOutcome::Accepted,
                to_name: self.name_of(agent).await?,
            };
            let moved = ServerFrame::ChatMoved {
                conversation: live.id().clone(),
                version: live.version(),
            };
            // Both frames to each tab of the sender, their connections read once.
            let tabs = self
                .ports
                .store
                .connections_of(&self::agent(sender), self.now())
                .await?;
            for tab in &tabs {
                self.send(tab, &ended).await;
                self.send(tab, &moved).await;
            }
        }
        self.agent_joins(&self::agent(agent), agent, &live).await?;
        // The sender's slot is free: the live queue's head may take it.
        self.slot_freed_or_log().await;
        Ok(())
    }

    /// `decline` of a transfer offered to `agent`: the chat stays the sender's.
    pub(super) async fn decline_transfer(
        &self,
        agent: &AgentId,
        read: Conversation,
    ) -> Result<(), ServerError> {
        let Some((before, outcome)) = self
            .writer
            .end_transfer(read.id(), Some(read.clone()), agent, None)
            .await?
        else {
            return Err(ServerError::Forbidden {
                reason: "this offer is no longer open to you".into(),
            });
        };
        self.transfer_ended(&before, agent, outcome).await
    }

    /// A transfer's timeout: if it is still pending at the version it was offered
    /// at, it ends `timed_out` and the chat stays the sender's.
    pub(super) async fn transfer_timed_out(
        &self,
        conversation: &ConversationId,
        agent: &AgentId,
        version: u64,
    ) -> Result<(), ServerError> {
        if let Some((before, outcome)) = self
            .writer
            .end_transfer(conversation, None, agent, Some(version))
            .await?
        {
            self.transfer_ended(&before, agent, outcome).await?;
        }
        Ok(())
    }

    /// The news of a transfer that ended without a move (or was cancelled): the
    /// receiver's offer is withdrawn, the sender hears why.
    pub(super) async fn transfer_ended(
        &self,
        before: &Conversation,
        receiver: &AgentId,
        outcome: TransferOutcome,
    ) -> Result<(), ServerError> {
        tracing::info!(conversation = %before.id(), outcome = outcome.name(), "transfer ended");
        let reason = match outcome {
            TransferOutcome::Declined => WithdrawReason::Declined,
            TransferOutcome::TimedOut => WithdrawReason::TimedOut,
            TransferOutcome::Accepted => WithdrawReason::Taken,
            TransferOutcome::Cancelled => WithdrawReason::Cancelled,
        };
        let withdrawn = ServerFrame::OfferWithdrawn {
            conversation: before.id().clone(),
            reason,
        };
        self.send_to(&agent(receiver), &withdrawn).await?;
        if let Some(pending) = before.transfer() {
            let ended = ServerFrame::TransferEnded {
                conversation: before.id().clone(),
                outcome,
                to_name: self.name_of(receiver).await?,
            };
            self.send_to(&agent(&pending.from), &ended).await?;
        }
        // The receiver's held slot is free: the live queue's head may take it.
        self.slot_freed_or_log().await;
        Ok(())
    }

    /// An agent's name as the directory gives it (their id when it has none).
    async fn name_of(&self, id: &AgentId) -> Result<String, ServerError> {
        let directory = self.cached_directory().await?;
        Ok(directory
            .agent(id)
            .map_or_else(|| id.to_string(), |a| a.name.clone()))
    }
}

/// The party an agent's pushes go to: every tab of theirs.
fn agent(id: &AgentId) -> Party {
    Party::Agent { agent: id.clone() }
}
