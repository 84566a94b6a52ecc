//! The chat's use cases, one entry point per kind of event the handlers receive:
//! [`Chat::connect`] and [`Chat::disconnect`] (`$connect`, `$disconnect`),
//! [`Chat::message`] (every WebSocket message: the visitor's dialog and chat, the
//! agent's inbox), and [`Chat::delayed`] (routing requests, offer timeouts, inactivity).
//! Handlers only parse their event, call one of these, and map the outcome.
//!
//! - `visitor`: start/resume, dialog steps, messages, typing, end, fallback details.
//! - `agent`: sync, accept/decline, messages, typing, end, availability, score, history.
//! - `delayed`: routing and its timers.
//! - `relay`: chat messages through the conversation's hub.

mod agent;
mod delayed;
mod notices;
mod relay;
mod visitor;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::error::Error;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tracing::{error, warn};

use crate::auth::{AgentVerifier, AuthError, VisitorTokens};
use crate::dialog::ValidDialog;
use crate::domain::{ConnectionId, Conversation, ConversationId, Permission};
use crate::ports::{ConnectionRecord, DelayedEvent, Delivery, Party, Ports, StoreError};
use crate::protocol::{AgentFrame, ServerError, ServerFrame, VisitorFrame, VisitorSummary};
use crate::routing::{RouteError, Router};

/// API Gateway closes a connection after 2 hours; the record outlives it a little so
/// that a read just before the close still finds it.
pub const CONNECTION_TTL: SignedDuration = SignedDuration::from_secs(2 * 3600 + 10 * 60);

/// Why `$connect` was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A bad or unauthorised token: answered with [`AuthError::status`].
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Our failure: answered with 500.
    #[error("could not record the connection")]
    Store(#[from] StoreError),
    /// Too many connections with one visitor token: answered with 429.
    #[error("too many connections for this visitor; try again in {retry_after} s")]
    RateLimited {
        /// Seconds until the window that refused it ends.
        retry_after: u32,
    },
}

impl ConnectError {
    /// The HTTP status `$connect` answers with.
    pub fn status(&self) -> u16 {
        match self {
            ConnectError::Auth(e) => e.status(),
            ConnectError::Store(_) => 500,
            ConnectError::RateLimited { .. } => 429,
        }
    }
}

impl From<StoreError> for ServerError {
    fn from(e: StoreError) -> Self {
        ServerError::internal(e)
    }
}

impl From<RouteError> for ServerError {
    fn from(e: RouteError) -> Self {
        ServerError::internal(e)
    }
}

/// An error and its causes on one line, for the logs.
pub fn cause_chain(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The live chat: the ports, the router, the dialog and the token keys. Built once
/// per process (Lambda cold start, or the local gateway) and shared.
pub struct Chat {
    ports: Ports,
    router: Router,
    /// The dialog shown when the directory holds none.
    dialog: Arc<ValidDialog>,
    /// The directory's dialog as last read, and when: configuration applied with
    /// `livechat apply` reaches every process within [`DIALOG_REFRESH`].
    applied: tokio::sync::RwLock<Option<Applied>>,
    agents: AgentVerifier,
    visitors: VisitorTokens,
}

/// What a process keeps of the directory it read, and when it read it.
struct Applied {
    at: std::time::Instant,
    dialog: Arc<ValidDialog>,
    rate_limits: crate::domain::RateLimits,
}

/// How long a process keeps the dialog (and the rate limits) it read from the
/// directory.
pub const DIALOG_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

impl Chat {
    /// The chat over `ports`, showing `dialog` to visitors.
    pub fn new(
        ports: Ports,
        dialog: ValidDialog,
        agents: AgentVerifier,
        visitors: VisitorTokens,
    ) -> Self {
        Self {
            router: Router::new(ports.clone()),
            ports,
            dialog: Arc::new(dialog),
            applied: tokio::sync::RwLock::new(None),
            agents,
            visitors,
        }
    }

    /// The ports.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The dialog visitors walk: the directory's (refreshed every
    /// [`DIALOG_REFRESH`]) or, when it holds none or an invalid one, the built-in one.
    pub(crate) async fn current_dialog(&self) -> Result<Arc<ValidDialog>, ServerError> {
        Ok(self.applied().await?.0)
    }

    /// The account's rate limits (`settings.rate_limits`), as current as the dialog:
    /// read with it, so that the message path makes no read of its own for them.
    pub(crate) async fn rate_limits(&self) -> Result<crate::domain::RateLimits, ServerError> {
        Ok(self.applied().await?.1)
    }

    async fn applied(&self) -> Result<(Arc<ValidDialog>, crate::domain::RateLimits), ServerError> {
        if let Some(applied) = self.applied.read().await.as_ref()
            && applied.at.elapsed() < DIALOG_REFRESH
        {
            return Ok((applied.dialog.clone(), applied.rate_limits));
        }
        let directory = self.ports.store.directory().await?;
        let dialog = match directory.valid_dialog() {
            Some(Ok(dialog)) => Arc::new(dialog),
            Some(Err(errors)) => {
                error!(errors = ?errors, "the stored dialog does not validate; showing the built-in one");
                self.dialog.clone()
            }
            None => self.dialog.clone(),
        };
        let rate_limits = directory.settings.rate_limits;
        *self.applied.write().await = Some(Applied {
            at: std::time::Instant::now(),
            dialog: dialog.clone(),
            rate_limits,
        });
        Ok((dialog, rate_limits))
    }

    fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    /// `$connect`: an `agent_token` query parameter makes an agent connection (the
    /// agent must exist and have the live chat permission); a `visitor_token` resumes
    /// that visitor; neither starts a new anonymous visitor. Nothing is pushed here:
    /// API Gateway refuses posts to a connection still inside its `$connect`.
    pub async fn connect(
        &self,
        connection: &ConnectionId,
        query: &HashMap<String, String>,
    ) -> Result<Party, ConnectError> {
        let now = self.now();
        let party = if let Some(token) = query.get("agent_token") {
            let agent = self.agents.verify(token, now)?;
            let directory = self.ports.store.directory().await?;
            let allowed = directory
                .agent(&agent)
                .is_some_and(|a| a.has_permission(Permission::LiveChat));
            if !allowed {
                return Err(AuthError::NotAllowed.into());
            }
            Party::Agent { agent }
        } else if let Some(token) = query.get("visitor_token") {
            let visitor = self.visitors.verify(token, now)?;
            // Only a known visitor is counted: a new one has a fresh id each time,
            // and nothing is counted per address (see `RateLimits`).
            let limits = self.rate_limits().await.map_err(|e| match e {
                ServerError::Internal(source) => {
                    ConnectError::Store(StoreError::Unavailable(source))
                }
                other => ConnectError::Store(StoreError::Unavailable(other.to_string().into())),
            })?;
            let key = format!("connect#visitor#{visitor}");
            if let Err(retry_after) = self
                .ports
                .store
                .count_rate(&key, limits.reconnects_per_visitor, now)
                .await?
            {
                return Err(ConnectError::RateLimited { retry_after });
            }
            Party::Visitor { visitor }
        } else {
            Party::Visitor {
                visitor: crate::domain::VisitorId::generate(),
            }
        };
        let record = ConnectionRecord {
            id: connection.clone(),
            party: party.clone(),
            connected_at: now,
            expires_at: now.saturating_add(CONNECTION_TTL).unwrap_or(now),
        };
        self.ports.store.put_connection(&record).await?;
        Ok(party)
    }

    /// `$disconnect` (best effort: API Gateway may not send it; connection records
    /// expire on their own). When it was a party's last connection, a grace timer
    /// starts: an agent who does not come back loses their chats to other agents; a
    /// waiting visitor who does not come back cancels the request.
    ///
    /// The timer is set before the record is removed, so a handler that dies in
    /// between leaves a timer (a no-op if the party is back), never a party with no
    /// connection and no timer. A push that finds a connection gone lands here too:
    /// `$disconnect` is best effort, and may never come.
    pub async fn disconnect(&self, connection: &ConnectionId) -> Result<(), ServerError> {
        let now = self.now();
        let Some(record) = self.ports.store.connection(connection, now).await? else {
            self.ports.store.remove_connection(connection).await?;
            return Ok(());
        };
        // The grace first when this is the party's last connection: should the
        // removal fail, the record stays, and a push that finds it gone comes back.
        let alone = !self
            .others_connected(&record.party, connection, now)
            .await?;
        if alone {
            self.start_grace(record.party.clone()).await?;
        }
        self.ports.store.remove_connection(connection).await?;
        // Two connections of one party going at once (two tabs closed, or two pushes
        // finding both gone) each saw the other still there: each looks again after
        // its own removal, so the later look finds none.
        if !alone
            && !self
                .others_connected(&record.party, connection, self.now())
                .await?
        {
            self.start_grace(record.party).await?;
        }
        Ok(())
    }

    /// Whether `party` has a live connection other than `connection`.
    async fn others_connected(
        &self,
        party: &Party,
        connection: &ConnectionId,
        now: Timestamp,
    ) -> Result<bool, ServerError> {
        let connections = self.ports.store.connections_of(party, now).await?;
        Ok(connections.iter().any(|c| c != connection))
    }

    /// Starts the grace timer of a party who has no connection left.
    async fn start_grace(&self, party: Party) -> Result<(), ServerError> {
        let event = match party {
            Party::Agent { agent } => DelayedEvent::AgentGrace { agent },
            Party::Visitor { visitor } => DelayedEvent::VisitorGrace { visitor },
        };
        // The account's grace period (`settings.grace_period`, default 60 s).
        let grace = self.ports.store.directory().await?.settings.grace_period;
        let at = self
            .now()
            .saturating_add(grace.span())
            .unwrap_or(self.now());
        self.ports
            .scheduler
            .schedule(event, at)
            .await
            .map_err(ServerError::internal)
    }

    /// A WebSocket message from `connection`. Refusals become an `error` frame to the
    /// sender (precise for their mistakes, generic for ours, which are logged with
    /// their causes); the connection stays open and nothing stored is lost.
    pub async fn message(&self, connection: &ConnectionId, body: &str) {
        if let Err(e) = self.dispatch(connection, body).await {
            if e.is_client_fault() {
                warn!(connection = %connection, code = %e.code(), error = %e, "refused a frame");
            } else {
                error!(connection = %connection, error = %cause_chain(&e), "failed to handle a frame");
            }
            self.send(connection, &ServerFrame::error(&e)).await;
        }
    }

    async fn dispatch(&self, connection: &ConnectionId, body: &str) -> Result<(), ServerError> {
        let raw = crate::protocol::RawFrame::parse(body)?;
        let Some(raw) = self.try_fast_relay(connection, raw).await? else {
            return Ok(());
        };
        let record = self
            .ports
            .store
            .connection(connection, self.now())
            .await?
            .ok_or_else(|| ServerError::NotFound {
                what: "this connection (reconnect)".into(),
            })?;
        match record.party {
            Party::Visitor { visitor } => {
                let frame = VisitorFrame::try_from(raw)?;
                self.visitor_frame(connection, &visitor, frame).await
            }
            Party::Agent { agent } => {
                let frame = AgentFrame::try_from(raw)?;
                self.agent_frame(connection, &agent, frame).await
            }
        }
    }

    /// Pushes a frame (split if it is too large) to one connection; `false` when the
    /// connection is gone (it is then forgotten). Other push failures are logged: the
    /// state change they report is stored, and the client gets it on its next sync
    /// or resume.
    pub(crate) async fn send(&self, connection: &ConnectionId, frame: &ServerFrame) -> bool {
        for part in frame.clone().fit() {
            match self.ports.push.push(connection, &part.to_json()).await {
                Ok(Delivery::Delivered) => {}
                Ok(Delivery::Gone) => {
                    if let Err(e) = self.disconnect(connection).await {
                        warn!(connection = %connection, error = %cause_chain(&e), "could not forget a gone connection");
                    }
                    return false;
                }
                Err(e) => {
                    warn!(connection = %connection, error = %cause_chain(&e), "push failed");
                    return true;
                }
            }
        }
        true
    }

    /// Pushes a frame to every live connection of a party (an agent's tabs, a
    /// visitor's pages), all at once.
    pub(crate) async fn send_to(
        &self,
        party: &Party,
        frame: &ServerFrame,
    ) -> Result<(), ServerError> {
        let connections = self.ports.store.connections_of(party, self.now()).await?;
        futures_util::future::join_all(connections.iter().map(|c| self.send(c, frame))).await;
        Ok(())
    }

    pub(crate) async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Conversation, ServerError> {
        self.ports
            .store
            .conversation(id)
            .await?
            .ok_or_else(|| ServerError::NotFound {
                what: format!("conversation {id}"),
            })
    }

    /// What the inbox shows of a conversation's visitor.
    pub(crate) async fn visitor_summary(
        &self,
        conversation: &Conversation,
    ) -> Result<VisitorSummary, ServerError> {
        let session = self
            .ports
            .store
            .session(&conversation.visitor, self.now())
            .await?;
        Ok(summary_of(session.as_ref()))
    }
}

/// What the inbox shows of the visitor of `session` (nothing known without one).
pub(crate) fn summary_of(session: Option<&crate::ports::VisitorSession>) -> VisitorSummary {
    session.map_or_else(
        || VisitorSummary::from_attributes(&crate::domain::Attributes::new()),
        |s| VisitorSummary::from_attributes(&s.dialog.attributes),
    )
}
