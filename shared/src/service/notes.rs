//! Internal notes: written by an agent for the agents of a chat. A note is not a
//! message: it is stored apart (`ConversationStore::add_note`), pushed only to
//! agent connections, and read only by agents, so no path a visitor reads (their
//! pushes, `history`, a resumed page, the emails they get) can carry one.

use super::Chat;
use crate::domain::{AgentId, ConnectionId, ConversationId, MessageId, MessageText, Note};
use crate::ports::Party;
use crate::protocol::{ServerError, ServerFrame};

/// The most notes a chat holds.
pub const MAX_NOTES_PER_CONVERSATION: usize = 50;

impl Chat {
    /// `add_note`: by an agent who may read the chat (who held it, or a Sales
    /// Admin), stored once per id, pushed to the sender and to every agent tab
    /// subscribed to the chat.
    pub(super) async fn add_note(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        conversation: ConversationId,
        id: MessageId,
        text: MessageText,
    ) -> Result<(), ServerError> {
        self.readable_by(agent, &conversation).await?;
        let limits = self.rate_limits().await?;
        let key = format!("note#conn#{connection}");
        if let Err(retry_after) = self
            .ports
            .store
            .count_rate(&key, limits.messages_per_connection, self.now())
            .await?
        {
            return Err(ServerError::RateLimited {
                what: "notes from this connection",
                retry_after,
            });
        }
        let notes = self.ports.store.notes(&conversation).await?;
        let note = match notes.iter().find(|n| n.id == id) {
            // A resend: answered with the note as first stored.
            Some(stored) => stored.clone(),
            None if notes.len() >= MAX_NOTES_PER_CONVERSATION => {
                return Err(ServerError::Forbidden {
                    reason: format!("a chat holds at most {MAX_NOTES_PER_CONVERSATION} notes"),
                });
            }
            None => {
                let note = Note {
                    id,
                    conversation: conversation.clone(),
                    agent: agent.clone(),
                    text,
                    at: self.now(),
                };
                if self.ports.store.add_note(&note).await? {
                    note
                } else {
                    // Stored meanwhile by a resend on another process.
                    let stored = self.ports.store.notes(&conversation).await?;
                    stored.into_iter().find(|n| n.id == note.id).unwrap_or(note)
                }
            }
        };
        let frame = ServerFrame::Note {
            conversation: conversation.clone(),
            note,
        };
        let mut to: Vec<ConnectionId> = vec![connection.clone()];
        if let Some(hub) = self.ports.store.hub(&conversation).await? {
            for (subscriber, party) in &hub.subscribers {
                if matches!(party, Party::Agent { .. }) && !to.contains(subscriber) {
                    to.push(subscriber.clone());
                }
            }
        }
        for connection in &to {
            self.send(connection, &frame).await;
        }
        Ok(())
    }

    /// The chat's notes to `connection`, one `note` frame each, oldest first.
    pub(super) async fn send_notes(
        &self,
        connection: &ConnectionId,
        conversation: &ConversationId,
    ) -> Result<(), ServerError> {
        for note in self.ports.store.notes(conversation).await? {
            let frame = ServerFrame::Note {
                conversation: conversation.clone(),
                note,
            };
            self.send(connection, &frame).await;
        }
        Ok(())
    }
}
