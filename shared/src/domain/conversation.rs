//! Conversations and their explicit state machine, and chat messages.
//!
//! ```text
//! bot ──request──▶ waiting ──offer──▶ offered ──accept──▶ live ──end──▶ ended
//!                    ▲                   │                  │
//!                    └──decline/timeout──┘ (next attempt)   └──agent lost──▶ waiting
//! any state but ended ──end(reason)──▶ ended
//! live(sender) ──transfer──▶ live(sender) + pending transfer ──accept──▶ live(receiver)
//!                                   └──decline/timeout/end/requeue──▶ no transfer
//! ```
//!
//! A pending transfer is not a state of its own: the chat stays live with the
//! sender, who keeps chatting, and the visitor notices nothing until the accept.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::timeline::{OfferOutcome, StintStart, Timeline};
use super::transfer::{PendingTransfer, TransferOutcome};
use super::{AgentId, ConversationId, DialogId, MessageId, MessageText, RoutingMode, VisitorId};

/// Why a conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Ended by the agent or the visitor after a live chat, or the dialog finished.
    Completed,
    /// The visitor left (closed the widget or lost the connection for good).
    Dropped,
    /// Agents were offered the chat and none accepted in time.
    Missed,
    /// Nobody eligible could take the chat; the fallback message was shown.
    Fallback,
    /// A live chat with no message from either side for 10 minutes.
    TimedOut,
}

/// Where a conversation is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConversationState {
    /// The visitor walks the dialog.
    Bot,
    /// The visitor reached a live chat card and waits for routing.
    Waiting {
        /// When the visitor started waiting.
        since: Timestamp,
    },
    /// One agent has been offered the chat and has until `expires_at` to accept.
    Offered {
        /// The agent offered.
        agent: AgentId,
        /// When the offer lapses (the visitor wait time limit).
        expires_at: Timestamp,
    },
    /// An agent accepted; the chat is live.
    Live {
        /// The agent chatting.
        agent: AgentId,
        /// When the agent accepted.
        since: Timestamp,
    },
    /// Over, for `reason`.
    Ended {
        /// Why.
        reason: EndReason,
        /// When.
        at: Timestamp,
    },
}

impl ConversationState {
    /// The state's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Waiting { .. } => "waiting",
            Self::Offered { .. } => "offered",
            Self::Live { .. } => "live",
            Self::Ended { .. } => "ended",
        }
    }
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a conversation that is {state}")]
pub struct TransitionError {
    /// What was attempted.
    pub action: &'static str,
    /// The state it was in.
    pub state: &'static str,
}

/// A conversation between a visitor and, once routed, an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Stable id.
    id: ConversationId,
    /// The visitor.
    visitor: VisitorId,
    /// The dialog the visitor walks.
    dialog: DialogId,
    /// Where the conversation is.
    state: ConversationState,
    /// Agents offered this chat by the current routing request, in order. At most
    /// [`super::MAX_OFFERS_PER_REQUEST`]; cleared when a new request starts.
    #[serde(default)]
    offered_to: Vec<AgentId>,
    /// Bumped by every change; stores compare it to refuse lost updates.
    version: u64,
    /// When the conversation started.
    created_at: Timestamp,
    /// How the live chat card asked to route this conversation; set with the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    routing: Option<RoutingMode>,
    /// The agent who holds or last held the chat (accepted or picked it up, or
    /// answered the request by email); kept after it ends, for transcripts and scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assigned: Option<AgentId>,
    /// Every agent the chat was live with, in the order they took it: each keeps
    /// reading its transcript after a hand-over ([`Conversation::readable_by`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    held_by: Vec<AgentId>,
    /// The agent's score of the conversation, 0-3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    score: Option<u8>,
    /// When the visitor left their details after nobody took the request (once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    details_left_at: Option<Timestamp>,
    /// What the live chat went through (requests, offers, stints), appended by each
    /// transition: what analytics counts (docs/analytics.md).
    #[serde(default, skip_serializing_if = "Timeline::is_empty")]
    timeline: Timeline,
    /// A transfer of the live chat offered to another agent and not yet answered:
    /// the receiver holds capacity for it, the sender still holds the chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transfer: Option<PendingTransfer>,
}

impl Conversation {
    /// A new conversation in the `bot` state.
    pub fn new(id: ConversationId, visitor: VisitorId, dialog: DialogId, now: Timestamp) -> Self {
        Self {
            id,
            visitor,
            dialog,
            state: ConversationState::Bot,
            offered_to: Vec::new(),
            version: 0,
            created_at: now,
            routing: None,
            assigned: None,
            held_by: Vec::new(),
            score: None,
            details_left_at: None,
            timeline: Timeline::default(),
            transfer: None,
        }
    }

    /// Stable id.
    pub fn id(&self) -> &ConversationId {
        &self.id
    }

    /// The visitor.
    pub fn visitor(&self) -> &VisitorId {
        &self.visitor
    }

    /// The dialog the visitor walks.
    pub fn dialog(&self) -> &DialogId {
        &self.dialog
    }

    /// Where the conversation is.
    pub fn state(&self) -> &ConversationState {
        &self.state
    }

    /// Agents offered this chat by the current routing request, in order.
    pub fn offered_to(&self) -> &[AgentId] {
        &self.offered_to
    }

    /// Bumped by every change; stores compare it to refuse lost updates.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the conversation started.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// How the live chat card asked to route this conversation.
    pub fn routing(&self) -> Option<&RoutingMode> {
        self.routing.as_ref()
    }

    /// The agent who holds or last held the chat.
    pub fn assigned(&self) -> Option<&AgentId> {
        self.assigned.as_ref()
    }

    /// Every agent the chat was live with, in the order they took it.
    pub fn held_by(&self) -> &[AgentId] {
        &self.held_by
    }

    /// The agent's score of the conversation, 0-3.
    pub fn score(&self) -> Option<u8> {
        self.score
    }

    /// When the visitor left their details after nobody took the request.
    pub fn details_left_at(&self) -> Option<Timestamp> {
        self.details_left_at
    }

    /// What the live chat went through, for analytics.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The transfer offered and not yet answered, if any.
    pub fn transfer(&self) -> Option<&PendingTransfer> {
        self.transfer.as_ref()
    }

    /// Whether the conversation holds capacity on `agent` now: the agent it is
    /// offered to or live with, or the receiver of its pending transfer.
    pub fn holds(&self, agent: &AgentId) -> bool {
        self.agent() == Some(agent) || self.transfer.as_ref().is_some_and(|t| &t.to == agent)
    }

    fn refuse(&self, action: &'static str) -> TransitionError {
        TransitionError {
            action,
            state: self.state.name(),
        }
    }

    fn go(&mut self, state: ConversationState) {
        self.state = state;
        self.version += 1;
    }

    /// The agent holding the chat (offered or live), if any.
    pub fn agent(&self) -> Option<&AgentId> {
        match &self.state {
            ConversationState::Offered { agent, .. } | ConversationState::Live { agent, .. } => {
                Some(agent)
            }
            _ => None,
        }
    }

    /// Whether `agent` may read the conversation's transcript (besides agents who may
    /// read every conversation): an agent it was live with (a hand-over keeps theirs),
    /// who answered it, or the one it is offered to now. An agent whose offer lapsed
    /// or who declined reads it only until it is offered to or taken by someone else.
    pub fn readable_by(&self, agent: &AgentId) -> bool {
        self.held_by.contains(agent)
            || self.assigned.as_ref() == Some(agent)
            || self.offered_to.last() == Some(agent)
            || self.transfer.as_ref().is_some_and(|t| &t.to == agent)
    }

    /// Whether `agent` may score the conversation (besides admins): the agent it is
    /// live with, or, when it is not live, the one who held it last.
    pub fn scorable_by(&self, agent: &AgentId) -> bool {
        match &self.state {
            ConversationState::Live { agent: with, .. } => with == agent,
            _ => self.assigned.as_ref() == Some(agent),
        }
    }

    /// `by` holds the chat now.
    fn taken_by(&mut self, by: &AgentId) {
        self.assigned = Some(by.clone());
        if !self.held_by.contains(by) {
            self.held_by.push(by.clone());
        }
    }

    /// The visitor reached a live chat card: `bot` → `waiting`, starting a new request.
    pub fn request_live_chat(&mut self, now: Timestamp) -> Result<(), TransitionError> {
        match self.state {
            ConversationState::Bot => {
                self.offered_to.clear();
                self.timeline.requested(now);
                self.go(ConversationState::Waiting { since: now });
                Ok(())
            }
            _ => Err(self.refuse("request a live chat for")),
        }
    }

    /// [`Conversation::request_live_chat`] as the live chat card asks it to be routed.
    pub fn request_live_chat_routed(
        &mut self,
        routing: RoutingMode,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        self.request_live_chat(now)?;
        self.routing = Some(routing);
        Ok(())
    }

    /// Offer to `agent` until `expires_at`: `waiting` → `offered`.
    pub fn offer(&mut self, agent: AgentId, expires_at: Timestamp) -> Result<(), TransitionError> {
        match self.state {
            ConversationState::Waiting { .. } => {
                self.offered_to.push(agent.clone());
                self.timeline.offered(agent.clone());
                self.go(ConversationState::Offered { agent, expires_at });
                Ok(())
            }
            _ => Err(self.refuse("offer")),
        }
    }

    /// The offered agent accepts: `offered` → `live`.
    pub fn accept(&mut self, by: &AgentId, now: Timestamp) -> Result<(), TransitionError> {
        match &self.state {
            ConversationState::Offered { agent, .. } if agent == by => {
                self.taken_by(by);
                self.timeline.offer_ended(OfferOutcome::Accepted);
                self.timeline
                    .stint_started(by.clone(), StintStart::Accepted, now);
                self.go(ConversationState::Live {
                    agent: by.clone(),
                    since: now,
                });
                Ok(())
            }
            _ => Err(self.refuse("accept")),
        }
    }

    /// The offered agent declined or let the offer lapse: `offered` → `waiting`, so the
    /// engine can try one more agent.
    pub fn withdraw_offer(
        &mut self,
        from: &AgentId,
        now: Timestamp,
    ) -> Result<(), TransitionError> {
        match &self.state {
            ConversationState::Offered { agent, expires_at } if agent == from => {
                // Before the expiry only the agent (or their going away) ends it.
                self.timeline.offer_ended(if now < *expires_at {
                    OfferOutcome::Declined
                } else {
                    OfferOutcome::TimedOut
                });
                self.go(ConversationState::Waiting { since: now });
                Ok(())
            }
            _ => Err(self.refuse("withdraw the offer of")),
        }
    }

    /// The live agent went away for good: `live` → `waiting`, a new request that keeps
    /// the history and does not offer to the lost agent first.
    pub fn requeue(&mut self, now: Timestamp) -> Result<(), TransitionError> {
        match &self.state {
            ConversationState::Live { agent, .. } => {
                self.offered_to = vec![agent.clone()];
                self.cancel_transfer();
                self.timeline.stint_ended(now);
                self.go(ConversationState::Waiting { since: now });
                Ok(())
            }
            _ => Err(self.refuse("requeue")),
        }
    }

    /// An agent takes a request nobody took (ended `missed` or `fallback`): the chat
    /// opens with them, history and all.
    pub fn pick_up(&mut self, by: &AgentId, now: Timestamp) -> Result<(), TransitionError> {
        match self.state {
            ConversationState::Ended {
                reason: EndReason::Missed | EndReason::Fallback,
                ..
            } => {
                self.offered_to = vec![by.clone()];
                self.taken_by(by);
                self.timeline
                    .stint_started(by.clone(), StintStart::PickedUp, now);
                self.go(ConversationState::Live {
                    agent: by.clone(),
                    since: now,
                });
                Ok(())
            }
            _ => Err(self.refuse("pick up")),
        }
    }

    /// Ends the conversation from any state but `ended`.
    pub fn end(&mut self, reason: EndReason, now: Timestamp) -> Result<(), TransitionError> {
        match self.state {
            ConversationState::Ended { .. } => Err(self.refuse("end")),
            _ => {
                match self.state {
                    ConversationState::Waiting { .. } | ConversationState::Offered { .. } => {
                        // An offer still open is cancelled (a waiting request has none).
                        self.timeline.offer_ended(OfferOutcome::Cancelled);
                        let missed = matches!(reason, EndReason::Missed | EndReason::Fallback);
                        self.timeline.ended_unanswered(missed, now);
                    }
                    ConversationState::Live { .. } => {
                        self.cancel_transfer();
                        self.timeline.stint_ended(now);
                    }
                    ConversationState::Bot | ConversationState::Ended { .. } => {}
                }
                self.go(ConversationState::Ended { reason, at: now });
                Ok(())
            }
        }
    }

    /// The pending transfer, if any, ends cancelled (the chat ends or its sender
    /// is lost): its receiver's capacity is the caller's to free.
    fn cancel_transfer(&mut self) {
        if self.transfer.take().is_some() {
            self.timeline.transfer_ended(TransferOutcome::Cancelled);
        }
    }

    /// `from`, live with the chat, offers it to `transfer.to` until
    /// `transfer.expires_at`. The chat stays live with `from`; one transfer at a time,
    /// never to oneself.
    pub fn start_transfer(&mut self, transfer: PendingTransfer) -> Result<(), TransitionError> {
        match &self.state {
            ConversationState::Live { agent, .. }
                if agent == &transfer.from && transfer.to != transfer.from =>
            {
                if self.transfer.is_some() {
                    return Err(self.refuse("transfer again"));
                }
                self.timeline
                    .transfer_offered(transfer.from.clone(), transfer.to.clone());
                self.transfer = Some(transfer);
                self.version += 1;
                Ok(())
            }
            _ => Err(self.refuse("transfer")),
        }
    }

    /// The receiver of the pending transfer accepts: the sender's stint ends and
    /// theirs begins; the chat is live with them.
    pub fn accept_transfer(&mut self, by: &AgentId, now: Timestamp) -> Result<(), TransitionError> {
        let pending_to_them = matches!(self.state, ConversationState::Live { .. })
            && self.transfer.as_ref().is_some_and(|t| &t.to == by);
        if !pending_to_them {
            return Err(self.refuse("accept a transfer of"));
        }
        self.transfer = None;
        self.timeline.transfer_ended(TransferOutcome::Accepted);
        self.timeline.stint_ended(now);
        self.taken_by(by);
        self.timeline
            .stint_started(by.clone(), StintStart::Transferred, now);
        self.go(ConversationState::Live {
            agent: by.clone(),
            since: now,
        });
        Ok(())
    }

    /// The pending transfer to `to` ends without a move: declined before its
    /// expiry, timed out at or after it. The chat never left the sender. The
    /// outcome, or an error when no transfer to `to` is pending.
    pub fn end_transfer(
        &mut self,
        to: &AgentId,
        now: Timestamp,
    ) -> Result<TransferOutcome, TransitionError> {
        let Some(pending) = self.transfer.as_ref().filter(|t| &t.to == to) else {
            return Err(self.refuse("end a transfer of"));
        };
        let outcome = if now < pending.expires_at {
            TransferOutcome::Declined
        } else {
            TransferOutcome::TimedOut
        };
        self.transfer = None;
        self.timeline.transfer_ended(outcome);
        self.version += 1;
        Ok(outcome)
    }

    /// The visitor leaves their details (the fallback form): only for a request
    /// nobody took (ended `missed` or `fallback`), and only once.
    pub fn leave_details(&mut self, now: Timestamp) -> Result<(), TransitionError> {
        match self.state {
            ConversationState::Ended {
                reason: EndReason::Missed | EndReason::Fallback,
                ..
            } if self.details_left_at.is_none() => {
                self.details_left_at = Some(now);
                self.version += 1;
                Ok(())
            }
            ConversationState::Ended {
                reason: EndReason::Missed | EndReason::Fallback,
                ..
            } => Err(self.refuse("leave details again for")),
            _ => Err(self.refuse("leave details for")),
        }
    }

    /// `agent` scores the chat 0-3: the agent who holds or last held it
    /// ([`Conversation::scorable_by`]), or anyone when `admin`.
    pub fn score_by(
        &mut self,
        agent: &AgentId,
        admin: bool,
        score: u8,
    ) -> Result<(), TransitionError> {
        if !admin && !self.scorable_by(agent) {
            return Err(self.refuse("score someone else's"));
        }
        self.score = Some(score);
        self.version += 1;
        Ok(())
    }

    /// `agent` answered a request nobody took by email: it is theirs now (it shows
    /// in their history) and ended as completed, not missed. Only for an ended
    /// conversation: one picked up meanwhile keeps its agent.
    pub fn answer_by_email(&mut self, agent: &AgentId) -> Result<(), TransitionError> {
        let ConversationState::Ended { reason, .. } = &mut self.state else {
            return Err(self.refuse("answer by email"));
        };
        *reason = EndReason::Completed;
        self.assigned = Some(agent.clone());
        self.version += 1;
        Ok(())
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sender {
    /// The visitor.
    Visitor,
    /// An agent. `agent` is set wherever a message is stored and in frames to agents;
    /// frames to a visitor leave it out ([`Sender::for_visitor`]): an agent's id may
    /// be their email address, and the widget names the agent from `agent_joined`.
    Agent {
        /// The agent, unless this is a visitor's view.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<AgentId>,
    },
    /// The product itself (e.g. "Ana joined the chat").
    System,
}

impl Sender {
    /// The agent `id` as a message's author.
    pub fn agent(id: AgentId) -> Self {
        Sender::Agent { agent: Some(id) }
    }

    /// The sender as a visitor sees it: an agent without their id.
    pub fn for_visitor(self) -> Self {
        match self {
            Sender::Agent { .. } => Sender::Agent { agent: None },
            other => other,
        }
    }
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Client-made id: a retried send is stored once.
    pub id: MessageId,
    /// The conversation.
    pub conversation: ConversationId,
    /// 1, 2, 3... within the conversation, assigned by the store.
    pub seq: u64,
    /// Who wrote it.
    pub sender: Sender,
    /// What was written.
    pub text: MessageText,
    /// When the server received it.
    pub at: Timestamp,
}

/// An internal note in a chat: written by an agent for agents, never sent, stored
/// or shown on any path a visitor reads (it is not a [`Message`]: it has no `seq`,
/// is stored apart from the messages, and counts for no analytics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Client-made id: a retried note is stored once.
    pub id: MessageId,
    /// The conversation.
    pub conversation: ConversationId,
    /// Who wrote it.
    pub agent: AgentId,
    /// What was written.
    pub text: MessageText,
    /// When the server received it.
    pub at: Timestamp,
}

impl Message {
    /// The message as a visitor sees it ([`Sender::for_visitor`]).
    pub fn for_visitor(self) -> Self {
        Message {
            sender: self.sender.for_visitor(),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv() -> Conversation {
        Conversation::new(
            ConversationId::parse("c1").unwrap(),
            VisitorId::parse("v1").unwrap(),
            DialogId::parse("d1").unwrap(),
            Timestamp::UNIX_EPOCH,
        )
    }

    fn ana() -> AgentId {
        AgentId::parse("ana").unwrap()
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn a_chat_goes_bot_waiting_offered_live_ended() {
        let mut c = conv();
        let t = Timestamp::UNIX_EPOCH;
        c.request_live_chat(t).unwrap();
        c.offer(ana(), t).unwrap();
        c.accept(&ana(), t).unwrap();
        assert_eq!(c.agent(), Some(&ana()));
        c.end(EndReason::Completed, t).unwrap();
        assert_eq!(
            c.state,
            ConversationState::Ended {
                reason: EndReason::Completed,
                at: t
            }
        );
        assert_eq!(c.version, 4);
    }

    #[test]
    fn only_the_offered_agent_can_accept() {
        let mut c = conv();
        let t = Timestamp::UNIX_EPOCH;
        c.request_live_chat(t).unwrap();
        c.offer(ana(), t).unwrap();
        let err = c.accept(&AgentId::parse("bob").unwrap(), t).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot accept a conversation that is offered"
        );
    }

    #[test]
    fn a_declined_offer_returns_to_waiting_and_remembers_who_was_tried() {
        let mut c = conv();
        let t = Timestamp::UNIX_EPOCH;
        c.request_live_chat(t).unwrap();
        c.offer(ana(), t).unwrap();
        c.withdraw_offer(&ana(), t).unwrap();
        assert_eq!(c.state.name(), "waiting");
        assert_eq!(c.offered_to, vec![ana()]);
    }

    #[test]
    fn details_are_left_once_and_only_for_a_request_nobody_took() {
        let t = Timestamp::UNIX_EPOCH;
        let mut live = conv();
        live.request_live_chat(t).unwrap();
        live.offer(ana(), t).unwrap();
        live.accept(&ana(), t).unwrap();
        assert_eq!(
            live.leave_details(t).unwrap_err().to_string(),
            "cannot leave details for a conversation that is live"
        );
        live.end(EndReason::Completed, t).unwrap();
        assert!(live.leave_details(t).is_err(), "a chat that was answered");

        let mut missed = conv();
        missed.end(EndReason::Fallback, t).unwrap();
        missed.leave_details(t).unwrap();
        assert_eq!(missed.details_left_at, Some(t));
        assert_eq!(
            missed.leave_details(t).unwrap_err().to_string(),
            "cannot leave details again for a conversation that is ended"
        );
    }

    #[test]
    fn an_agent_who_declined_reads_a_chat_until_another_agent_is_offered_it() {
        let (ben, cleo) = (
            AgentId::parse("ben").unwrap(),
            AgentId::parse("cleo").unwrap(),
        );
        let mut c = conv();
        let t = Timestamp::UNIX_EPOCH;
        c.request_live_chat(t).unwrap();
        c.offer(ben.clone(), t).unwrap();
        assert!(c.readable_by(&ben), "offered to ben now");
        c.withdraw_offer(&ben, t).unwrap();
        assert!(c.readable_by(&ben), "nobody else has it yet");
        c.offer(cleo.clone(), t).unwrap();
        assert!(!c.readable_by(&ben), "offered to cleo");
        c.accept(&cleo, t).unwrap();
        assert!(!c.readable_by(&ben) && !c.scorable_by(&ben));
        assert!(c.readable_by(&cleo) && c.scorable_by(&cleo));
    }

    #[test]
    fn a_hand_over_keeps_the_first_agents_read_access_and_gives_the_score_to_the_last() {
        let (ben, cleo) = (
            AgentId::parse("ben").unwrap(),
            AgentId::parse("cleo").unwrap(),
        );
        let mut c = conv();
        let t = Timestamp::UNIX_EPOCH;
        c.request_live_chat(t).unwrap();
        c.offer(ben.clone(), t).unwrap();
        c.accept(&ben, t).unwrap();
        c.requeue(t).unwrap();
        assert!(c.scorable_by(&ben), "ben held it last");
        c.offer(cleo.clone(), t).unwrap();
        c.accept(&cleo, t).unwrap();
        c.end(EndReason::Completed, t).unwrap();
        assert!(c.readable_by(&ben) && !c.scorable_by(&ben));
        assert!(c.readable_by(&cleo) && c.scorable_by(&cleo));
        assert_eq!(c.held_by, [ben, cleo]);
    }

    #[test]
    fn only_the_last_holder_or_an_admin_scores_and_a_score_is_a_change() {
        let mut c = conv();
        c.request_live_chat(at(0)).unwrap();
        c.offer(ana(), at(10)).unwrap();
        c.accept(&ana(), at(1)).unwrap();
        let ben = AgentId::parse("ben").unwrap();
        let version = c.version;
        assert!(c.score_by(&ben, false, 3).is_err());
        assert_eq!((c.score, c.version), (None, version));
        c.score_by(&ana(), false, 2).unwrap();
        c.score_by(&ben, true, 1).unwrap();
        assert_eq!((c.score, c.version), (Some(1), version + 2));
    }

    #[test]
    fn only_an_ended_request_is_answered_by_email() {
        let mut c = conv();
        c.request_live_chat(at(0)).unwrap();
        assert!(c.answer_by_email(&ana()).is_err());
        c.end(EndReason::Missed, at(1)).unwrap();
        let version = c.version;
        c.answer_by_email(&ana()).unwrap();
        assert!(matches!(
            c.state,
            ConversationState::Ended {
                reason: EndReason::Completed,
                ..
            }
        ));
        assert_eq!(
            (c.assigned.as_ref(), c.version),
            (Some(&ana()), version + 1)
        );
    }

    #[test]
    fn the_timeline_tells_declined_from_timed_out_offers_and_records_each_stint() {
        use crate::domain::{OfferOutcome, StintStart};
        let (ben, cleo) = (
            AgentId::parse("ben").unwrap(),
            AgentId::parse("cleo").unwrap(),
        );
        let mut c = conv();
        c.request_live_chat(at(10)).unwrap();
        c.offer(ben.clone(), at(110)).unwrap();
        c.withdraw_offer(&ben, at(50)).unwrap();
        c.offer(cleo.clone(), at(150)).unwrap();
        c.withdraw_offer(&cleo, at(150)).unwrap();
        c.offer(ana(), at(300)).unwrap();
        c.accept(&ana(), at(200)).unwrap();
        c.requeue(at(400)).unwrap();
        c.offer(ben.clone(), at(600)).unwrap();
        c.accept(&ben, at(450)).unwrap();
        c.end(EndReason::Completed, at(900)).unwrap();

        let t = c.timeline();
        assert_eq!(
            t.requested_at,
            Some(at(10)),
            "the first request, not the requeue"
        );
        let outcomes: Vec<_> = t.offers.iter().map(|o| o.outcome).collect();
        assert_eq!(
            outcomes,
            [
                Some(OfferOutcome::Declined),
                Some(OfferOutcome::TimedOut),
                Some(OfferOutcome::Accepted),
                Some(OfferOutcome::Accepted),
            ]
        );
        let stints: Vec<_> = t
            .stints
            .iter()
            .map(|s| (s.agent.as_str(), s.via, s.from, s.until))
            .collect();
        assert_eq!(
            stints,
            [
                ("ana", StintStart::Accepted, at(200), Some(at(400))),
                ("ben", StintStart::Accepted, at(450), Some(at(900))),
            ]
        );
        assert_eq!(t.unanswered, None, "it was connected");
    }

    #[test]
    fn a_request_that_ends_before_any_agent_took_it_is_unanswered_once() {
        use crate::domain::{OfferOutcome, StintStart, Unanswered};
        let mut missed = conv();
        missed.request_live_chat(at(0)).unwrap();
        missed.end(EndReason::Fallback, at(5)).unwrap();
        missed.pick_up(&ana(), at(60)).unwrap();
        missed.end(EndReason::Completed, at(90)).unwrap();
        let t = missed.timeline();
        assert_eq!(
            t.unanswered,
            Some(Unanswered {
                missed: true,
                at: at(5)
            })
        );
        assert_eq!(t.stints[0].via, StintStart::PickedUp);
        assert_eq!(
            (t.stints[0].from, t.stints[0].until),
            (at(60), Some(at(90)))
        );

        let mut left = conv();
        left.request_live_chat(at(0)).unwrap();
        left.offer(ana(), at(100)).unwrap();
        left.end(EndReason::Dropped, at(7)).unwrap();
        let t = left.timeline();
        assert_eq!(
            t.unanswered,
            Some(Unanswered {
                missed: false,
                at: at(7)
            })
        );
        assert_eq!(t.offers[0].outcome, Some(OfferOutcome::Cancelled));

        let mut bot_only = conv();
        bot_only.end(EndReason::Completed, at(3)).unwrap();
        assert!(bot_only.timeline().is_empty(), "never requested");
    }

    fn pending_to(to: &str, expires: i64) -> super::super::PendingTransfer {
        super::super::PendingTransfer {
            from: ana(),
            to: AgentId::parse(to).unwrap(),
            team: None,
            note: super::super::TransferNote::parse("vip").unwrap(),
            expires_at: at(expires),
        }
    }

    fn live_with_ana() -> Conversation {
        let mut c = conv();
        c.request_live_chat(at(0)).unwrap();
        c.offer(ana(), at(100)).unwrap();
        c.accept(&ana(), at(10)).unwrap();
        c
    }

    #[test]
    fn a_pending_transfer_keeps_the_chat_live_with_the_sender_and_lets_the_receiver_read_it() {
        let ben = AgentId::parse("ben").unwrap();
        let mut c = live_with_ana();
        let version = c.version;
        assert!(!c.readable_by(&ben));
        c.start_transfer(pending_to("ben", 200)).unwrap();
        assert_eq!(c.version, version + 1);
        assert_eq!(c.agent(), Some(&ana()), "still the sender's");
        assert!(c.holds(&ana()) && c.holds(&ben), "both hold capacity");
        assert!(c.readable_by(&ben), "the receiver reads the history");
        assert!(!c.scorable_by(&ben));
        assert_eq!(
            c.start_transfer(pending_to("cleo", 200))
                .unwrap_err()
                .to_string(),
            "cannot transfer again a conversation that is live"
        );
        assert!(
            c.accept_transfer(&AgentId::parse("cleo").unwrap(), at(20))
                .is_err()
        );
    }

    #[test]
    fn only_the_live_agent_transfers_and_never_to_themselves() {
        let mut c = live_with_ana();
        assert!(c.start_transfer(pending_to("ana", 200)).is_err());
        let mut offered = conv();
        offered.request_live_chat(at(0)).unwrap();
        offered.offer(ana(), at(100)).unwrap();
        assert!(offered.start_transfer(pending_to("ben", 200)).is_err());
        let mut ben_sends = pending_to("cleo", 200);
        ben_sends.from = AgentId::parse("ben").unwrap();
        assert!(c.start_transfer(ben_sends).is_err());
    }

    #[test]
    fn an_accepted_transfer_ends_the_senders_stint_and_starts_the_receivers() {
        use crate::domain::{StintStart, TransferOutcome};
        let ben = AgentId::parse("ben").unwrap();
        let mut c = live_with_ana();
        c.start_transfer(pending_to("ben", 200)).unwrap();
        c.accept_transfer(&ben, at(50)).unwrap();
        assert_eq!(c.agent(), Some(&ben));
        assert!(c.transfer().is_none() && !c.holds(&ana()));
        assert_eq!(c.held_by, [ana(), ben.clone()]);
        assert!(c.scorable_by(&ben) && c.readable_by(&ana()));
        let stints: Vec<_> = c
            .timeline()
            .stints
            .iter()
            .map(|s| (s.agent.as_str(), s.via, s.from, s.until))
            .collect();
        assert_eq!(
            stints,
            [
                ("ana", StintStart::Accepted, at(10), Some(at(50))),
                ("ben", StintStart::Transferred, at(50), None),
            ]
        );
        assert_eq!(
            c.timeline().transfers[0].outcome,
            Some(TransferOutcome::Accepted)
        );
    }

    #[test]
    fn a_transfer_ends_declined_before_its_expiry_and_timed_out_at_it_and_the_chat_stays() {
        use crate::domain::TransferOutcome;
        let ben = AgentId::parse("ben").unwrap();
        let mut c = live_with_ana();
        c.start_transfer(pending_to("ben", 200)).unwrap();
        assert_eq!(c.end_transfer(&ben, at(199)), Ok(TransferOutcome::Declined));
        c.start_transfer(pending_to("ben", 200)).unwrap();
        assert_eq!(c.end_transfer(&ben, at(200)), Ok(TransferOutcome::TimedOut));
        assert!(c.end_transfer(&ben, at(300)).is_err(), "nothing pending");
        assert_eq!(c.agent(), Some(&ana()));
        assert_eq!(c.timeline().stints.len(), 1, "the chat never left ana");
        assert!(c.timeline().offers.len() == 1, "a transfer is not an offer");
    }

    #[test]
    fn ending_or_requeueing_the_chat_cancels_its_pending_transfer() {
        use crate::domain::TransferOutcome;
        let ben = AgentId::parse("ben").unwrap();
        for requeue in [false, true] {
            let mut c = live_with_ana();
            c.start_transfer(pending_to("ben", 200)).unwrap();
            if requeue {
                c.requeue(at(30)).unwrap();
            } else {
                c.end(EndReason::Completed, at(30)).unwrap();
            }
            assert!(c.transfer().is_none() && !c.holds(&ben));
            assert_eq!(
                c.timeline().transfers[0].outcome,
                Some(TransferOutcome::Cancelled)
            );
            assert!(c.accept_transfer(&ben, at(40)).is_err());
        }
    }

    #[test]
    fn an_ended_conversation_cannot_be_ended_or_offered_again() {
        let mut c = conv();
        let t = Timestamp::UNIX_EPOCH;
        c.end(EndReason::Dropped, t).unwrap();
        assert!(c.end(EndReason::Completed, t).is_err());
        assert!(c.offer(ana(), t).is_err());
        assert!(c.request_live_chat(t).is_err());
    }
}
