//! Canned responses: the account's (from the configuration file, in the directory)
//! and each agent's own (kept by the agent in the inbox, stored apart from the
//! directory so that applying the file again keeps them). The inbox fills in the
//! visitor tokens when an agent inserts one.

use super::Chat;
use crate::domain::{AgentId, CannedResponse, ConnectionId, MAX_OWN_CANNED, Shortcut};
use crate::protocol::{ServerError, ServerFrame};

impl Chat {
    /// `canned`: both lists to `connection`.
    pub(super) async fn send_canned(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
    ) -> Result<(), ServerError> {
        let own = self.ports.store.agent_canned(agent).await?;
        self.answer_canned(connection, own).await
    }

    async fn answer_canned(
        &self,
        connection: &ConnectionId,
        own: Vec<CannedResponse>,
    ) -> Result<(), ServerError> {
        let account = self.cached_directory().await?.canned_responses.clone();
        self.send(connection, &ServerFrame::Canned { account, own })
            .await;
        Ok(())
    }

    /// `save_canned`: adds the agent's own response, or replaces the one with its
    /// shortcut; at most [`MAX_OWN_CANNED`].
    pub(super) async fn save_canned(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        shortcut: Shortcut,
        text: String,
    ) -> Result<(), ServerError> {
        let canned = CannedResponse::new(shortcut, text).map_err(|e| ServerError::Forbidden {
            reason: e.to_string(),
        })?;
        let mut own = self.ports.store.agent_canned(agent).await?;
        match own.iter().position(|c| c.shortcut == canned.shortcut) {
            Some(i) => own[i] = canned,
            None if own.len() >= MAX_OWN_CANNED => {
                return Err(ServerError::Forbidden {
                    reason: format!("an agent keeps at most {MAX_OWN_CANNED} canned responses"),
                });
            }
            None => own.push(canned),
        }
        own.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
        self.ports.store.put_agent_canned(agent, &own).await?;
        self.answer_canned(connection, own).await
    }

    /// `delete_canned`: removes the agent's own response (none by that shortcut:
    /// nothing changes).
    pub(super) async fn delete_canned(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        shortcut: Shortcut,
    ) -> Result<(), ServerError> {
        let mut own = self.ports.store.agent_canned(agent).await?;
        let before = own.len();
        own.retain(|c| c.shortcut != shortcut);
        if own.len() != before {
            self.ports.store.put_agent_canned(agent, &own).await?;
        }
        self.answer_canned(connection, own).await
    }
}
