//! Relaying chat messages through the conversation's hub: who may write, one write
//! to store the message with its sequence number, pushes to every subscribed tab of
//! both sides. A frame that names its conversation from a subscribed connection is
//! relayed with one read (the hub) and that one write; an agent's is also held to
//! the agent's authorization, as every agent frame is (its connection record is
//! read only by a process that has not yet seen the connection).

use serde_json::Value;

use super::Chat;
use crate::domain::{
    ConnectionId, ConversationId, ConversationState, MessageId, MessageText, Sender,
    TransitionError, count_in,
};
use crate::ports::{AppendAfter, Appended, Hub, NewMessage, Party, append_once};
use crate::protocol::{AgentFrame, RawFrame, ServerError, ServerFrame, VisitorFrame};

/// Appends retried after another message got in first, before giving up.
const APPEND_ATTEMPTS: u32 = 16;

impl Chat {
    pub(super) async fn hub(&self, conversation: &ConversationId) -> Result<Hub, ServerError> {
        self.ports
            .store
            .hub(conversation)
            .await?
            .ok_or_else(|| not_found(conversation))
    }

    /// The fast path: a `send_message` naming its conversation, from a connection
    /// subscribed to it. `Ok(None)` hands the frame back for the general path.
    pub(super) async fn try_fast_relay(
        &self,
        connection: &ConnectionId,
        raw: RawFrame,
    ) -> Result<Option<RawFrame>, ServerError> {
        let named = match raw.field("conversation") {
            Some(Value::String(c)) if raw.action() == Some("send_message") => {
                ConversationId::parse(c.clone()).ok()
            }
            _ => None,
        };
        let Some(conversation) = named else {
            return Ok(Some(raw));
        };
        let Some(hub) = self.ports.store.hub(&conversation).await? else {
            return Ok(Some(raw));
        };
        let Some(party) = hub.subscribers.get(connection).cloned() else {
            return Ok(Some(raw));
        };
        let (id, text) = match &party {
            Party::Visitor { .. } => match VisitorFrame::try_from(raw)? {
                VisitorFrame::SendMessage { id, text, .. } => (id, text),
                _ => {
                    return Err(ServerError::internal(
                        "a send_message frame parsed as another action",
                    ));
                }
            },
            Party::Agent { agent } => {
                // An agent's authorization (the token's expiry, the role) is checked
                // on every frame: the expiry against the record, unless this process
                // already knows it has not passed.
                if self.known_authorized(connection) {
                    self.still_permitted(agent).await?;
                } else {
                    let record = self
                        .ports
                        .store
                        .connection(connection, self.now())
                        .await?
                        .ok_or_else(|| ServerError::NotFound {
                            what: "this connection (reconnect)".into(),
                        })?;
                    self.still_authorized(&record, agent).await?;
                }
                self.may_chat(agent).await?;
                match AgentFrame::try_from(raw)? {
                    AgentFrame::SendMessage { id, text, .. } => (id, text),
                    _ => {
                        return Err(ServerError::internal(
                            "a send_message frame parsed as another action",
                        ));
                    }
                }
            }
        };
        self.relay(connection, &party, hub, id, text)
            .await
            .map(|()| None)
    }

    /// Whether a `typing` frame from `connection` is within the account's limit;
    /// one over it is dropped silently (typing is a hint, and a refusal would only
    /// add frames).
    pub(super) async fn typing_allowed(
        &self,
        connection: &ConnectionId,
    ) -> Result<bool, ServerError> {
        let limits = self.rate_limits().await?;
        let key = format!("typing#conn#{connection}");
        Ok(self
            .ports
            .store
            .count_rate(&key, limits.typing_per_connection, self.now())
            .await?
            .is_ok())
    }

    /// Stores a message once per id and, when new, pushes it to the visitor's and the
    /// live agent's subscribed connections; the sender gets an `ack` either way.
    pub(super) async fn relay(
        &self,
        connection: &ConnectionId,
        party: &Party,
        hub: Hub,
        id: MessageId,
        text: MessageText,
    ) -> Result<(), ServerError> {
        let limits = self.rate_limits().await?;
        let (hub, appended) = self
            .append(hub, |hub| {
                let sender = may_write(hub, party)?;
                if hub.messages >= crate::limits::MAX_CONVERSATION_MESSAGES {
                    return Err(ServerError::ConversationFull);
                }
                // The counters ride on the message's own write (a compare-and-set on
                // the message count), so they cost no request and hold across
                // processes.
                let now = self.now();
                let mut checks =
                    vec![(format!("conn#{connection}"), limits.messages_per_connection)];
                if matches!(party, Party::Visitor { .. }) {
                    checks.push(("visitor".to_string(), limits.messages_per_visitor));
                }
                let windows = count_in(&hub.windows, &checks, now).map_err(|retry_after| {
                    ServerError::RateLimited {
                        what: "messages",
                        retry_after,
                    }
                })?;
                Ok(NewMessage {
                    id: id.clone(),
                    conversation: hub.conversation.id().clone(),
                    sender,
                    text: text.clone(),
                    at: now,
                    windows: Some(windows),
                })
            })
            .await?;
        // The sender's connection gets its message back in the ack, not again as a
        // `message` frame: one API Gateway message fewer per message.
        let for_sender = |frame: ServerFrame| match party {
            Party::Visitor { .. } => frame.for_visitor(),
            Party::Agent { .. } => frame,
        };
        match appended {
            Appended::New(stored) => {
                let ack = for_sender(ServerFrame::Ack {
                    id,
                    message: stored.clone(),
                });
                let frame = ServerFrame::message(stored);
                self.push_to_hub(&hub, &frame, Some((connection, &ack)))
                    .await;
            }
            Appended::Duplicate(stored) => {
                let ack = for_sender(ServerFrame::Ack {
                    id,
                    message: stored,
                });
                self.send(connection, &ack).await;
            }
        }
        Ok(())
    }

    /// The one retry loop of a message write: `make` builds the message from the
    /// conversation as read (or refuses it, e.g. over a limit); a resend is
    /// answered with its stored copy ([`append_once`]); a message that lost
    /// its place in the sequence to another is made again from a fresh read, up to
    /// [`APPEND_ATTEMPTS`] times. The hub as last read comes back with the outcome.
    pub(super) async fn append(
        &self,
        mut hub: Hub,
        mut make: impl FnMut(&Hub) -> Result<NewMessage, ServerError>,
    ) -> Result<(Hub, Appended), ServerError> {
        for _ in 0..APPEND_ATTEMPTS {
            let message = make(&hub)?;
            match append_once(&*self.ports.store, &hub, message).await? {
                AppendAfter::Stored(stored) => return Ok((hub, Appended::New(stored))),
                AppendAfter::Duplicate(stored) => return Ok((hub, Appended::Duplicate(stored))),
                AppendAfter::Moved => hub = self.hub(hub.conversation.id()).await?,
            }
        }
        Err(ServerError::internal(
            "the conversation's message sequence kept moving",
        ))
    }

    /// Pushes `frame` to the hub's recipients, all connections at once (each push is
    /// a round trip to API Gateway, so the last recipient does not wait for the
    /// others); `instead`'s connection gets its frame in place of `frame` (the
    /// sender gets its ack, which carries the stored message). A gone connection
    /// is forgotten and unsubscribed.
    pub(super) async fn push_to_hub(
        &self,
        hub: &Hub,
        frame: &ServerFrame,
        instead: Option<(&ConnectionId, &ServerFrame)>,
    ) {
        // Visitors get the frame without agent ids (`ServerFrame::for_visitor`).
        let visitor_frame = frame.clone().for_visitor();
        let mut plan: Vec<(&ConnectionId, Vec<&ServerFrame>)> = hub
            .recipients()
            .map(|(c, party)| match party {
                Party::Visitor { .. } => (c, vec![&visitor_frame]),
                Party::Agent { .. } => (c, vec![frame]),
            })
            .collect();
        if let Some((connection, own)) = instead {
            match plan.iter_mut().find(|(c, _)| *c == connection) {
                Some((_, frames)) => *frames = vec![own],
                None => plan.push((connection, vec![own])),
            }
        }
        let gone = futures_util::future::join_all(plan.into_iter().map(
            |(connection, frames)| async move {
                for frame in frames {
                    if !self.send(connection, frame).await {
                        return Some(connection);
                    }
                }
                None
            },
        ))
        .await;
        for connection in gone.into_iter().flatten() {
            let unsubscribed = self
                .ports
                .store
                .unsubscribe(hub.conversation.id(), connection)
                .await;
            if let Err(e) = unsubscribed {
                tracing::warn!(connection = %connection, error = %super::cause_chain(&e), "could not unsubscribe");
            }
        }
    }
}

/// The answer to a conversation that does not exist, and to a visitor naming
/// another visitor's: the same, so that a visitor cannot probe for ids.
fn not_found(conversation: &ConversationId) -> ServerError {
    ServerError::NotFound {
        what: format!("conversation {conversation}"),
    }
}

/// Who may write: the conversation's visitor while waiting, offered or live; the
/// agent holding the live chat.
fn may_write(hub: &Hub, party: &Party) -> Result<Sender, ServerError> {
    let conv = &hub.conversation;
    match (party, &conv.state()) {
        (Party::Visitor { visitor }, _) if visitor != conv.visitor() => Err(not_found(conv.id())),
        (
            Party::Visitor { .. },
            ConversationState::Waiting { .. }
            | ConversationState::Offered { .. }
            | ConversationState::Live { .. },
        ) => Ok(Sender::Visitor),
        (Party::Agent { agent }, ConversationState::Live { agent: with, .. }) if agent == with => {
            Ok(Sender::agent(agent.clone()))
        }
        (Party::Agent { .. }, ConversationState::Live { .. }) => Err(ServerError::Forbidden {
            reason: "this chat is not yours".into(),
        }),
        (_, state) => Err(TransitionError {
            action: "send a message in",
            state: state.name(),
        }
        .into()),
    }
}
