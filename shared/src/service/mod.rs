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
//! - `dialogs`: the inbox's Dialogs page.

mod agent;
mod canned;
mod delayed;
mod dialogs;
mod notes;
mod notices;
mod origins;
mod queue;
mod relay;
mod targeting;
mod transfer;
mod visitor;

#[cfg(test)]
mod tests;

pub use dialogs::{DialogSummary, summaries as dialog_summaries};

use std::collections::HashMap;
use std::error::Error;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tracing::{error, warn};

use crate::auth::{AgentVerifier, AuthError, VisitorTokens};
use crate::dialog::ValidDialog;
use crate::domain::{ConnectionId, Conversation, ConversationId, Origin, Permission};
use crate::ports::{ConnectionRecord, DelayedEvent, Delivery, Party, Ports, StoreError};
use crate::protocol::{AgentFrame, ServerError, ServerFrame, VisitorFrame, VisitorSummary};
use crate::routing::Directory;
use crate::routing::{RouteError, Router, Writer};

/// API Gateway closes a connection after 2 hours; the record outlives it a little so
/// that a read just before the close still finds it.
pub const CONNECTION_TTL: SignedDuration = SignedDuration::from_secs(2 * 3600 + 10 * 60);

/// How long after a disconnection that left the party another connection its
/// [`DelayedEvent::CheckGone`] runs: long after disconnects running side by side
/// have finished, short against the grace period, which then starts this much late
/// at most (never early).
pub const CHECK_GONE_AFTER: SignedDuration = SignedDuration::from_secs(5);

/// Why `$connect` was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A bad or unauthorised token: answered with [`AuthError::status`].
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A page of a site that may not open this socket (its `Origin`): answered with 403.
    #[error("Forbidden: this page's origin may not open the socket")]
    Origin,
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
            ConnectError::Origin => 403,
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
        match e {
            // A client naming a conversation that does not exist: its mistake.
            RouteError::UnknownConversation(id) => ServerError::NotFound {
                what: format!("conversation {id}"),
            },
            e => ServerError::internal(e),
        }
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
    /// The router's conversation writer, which every use case writes through.
    writer: Writer,
    /// The dialog shown when the directory holds none.
    dialog: Arc<ValidDialog>,
    /// The directory and its dialog as last read, and when: configuration applied
    /// with `livechat apply` (an agent's role removed included) reaches every
    /// process within [`DIRECTORY_REFRESH`].
    applied: tokio::sync::RwLock<Option<Applied>>,
    agents: AgentVerifier,
    visitors: VisitorTokens,
    /// The Agent Inbox's origins (which serve the chat's own pages): `None` takes
    /// any ([`Chat::with_inbox_origins`]).
    inbox_origins: Option<Vec<Origin>>,
    /// The account's identify secret ([`Chat::with_identify_key`]); without one,
    /// every signed identify is `not_configured` and nothing is verified.
    identify: Option<crate::identify::IdentifyKey>,
    /// Agent connections' token expiries as this process last read them, so that
    /// the fast relay path needs no read of the connection record: an expiry only
    /// ever moves later (`renew_token`), so a remembered one that has not passed
    /// still holds. One that has passed, or none, is read again.
    authorized: std::sync::Mutex<HashMap<ConnectionId, Timestamp>>,
}

/// Most agent connection expiries a process remembers.
const AUTHORIZED_REMEMBERED: usize = 10_000;

/// How long a process keeps the directory (and the dialog in it) it read: the
/// bound on how stale the dialog visitors see and the permissions checked on every
/// agent frame may be.
pub const DIRECTORY_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// The directory as last read, with its dialogs.
struct Applied {
    at: std::time::Instant,
    directory: Arc<Directory>,
    /// The dialog of sessions that name none: the directory's first, else the
    /// built-in one.
    dialog: Arc<ValidDialog>,
    /// The directory's dialogs that validate, by id.
    dialogs: Arc<HashMap<crate::domain::DialogId, Arc<ValidDialog>>>,
}

impl Applied {
    fn copy(&self) -> Self {
        Applied {
            at: self.at,
            directory: self.directory.clone(),
            dialog: self.dialog.clone(),
            dialogs: self.dialogs.clone(),
        }
    }
}

impl Chat {
    /// The chat over `ports`, showing `dialog` to visitors.
    pub fn new(
        ports: Ports,
        dialog: ValidDialog,
        agents: AgentVerifier,
        visitors: VisitorTokens,
    ) -> Self {
        let router = Router::new(ports.clone());
        Self {
            writer: router.writer().clone(),
            router,
            ports,
            dialog: Arc::new(dialog),
            applied: tokio::sync::RwLock::new(None),
            agents,
            visitors,
            inbox_origins: None,
            identify: None,
            authorized: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Accepts inbox sockets only from `origins` (and from clients that send no
    /// `Origin`), and visitor sockets from them besides the account's
    /// `allowed_origins`. Without it (a local run that names none) any origin may
    /// open an inbox socket.
    pub fn with_inbox_origins(mut self, origins: Vec<Origin>) -> Self {
        self.inbox_origins = Some(origins);
        self
    }

    /// Checks signed identifies (docs/identify.md) with `key`.
    pub fn with_identify_key(mut self, key: crate::identify::IdentifyKey) -> Self {
        self.identify = Some(key);
        self
    }

    /// The account's `settings.allowed_origins`, from the directory as read at most
    /// [`DIRECTORY_REFRESH`] ago: a visitor's `$connect` costs no directory read.
    async fn allowed_origins(&self) -> Result<Option<Arc<[Origin]>>, StoreError> {
        let directory = self.applied().await?.directory;
        Ok(directory.settings.allowed_origins.clone().map(Arc::from))
    }

    /// The ports.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The account's rate limits (`settings.rate_limits`), as current as the dialog:
    /// read with it, so that the message path makes no read of its own for them.
    pub(crate) async fn rate_limits(&self) -> Result<crate::domain::RateLimits, ServerError> {
        Ok(self.applied().await?.directory.settings.rate_limits)
    }

    /// The directory as read at most [`DIRECTORY_REFRESH`] ago: what every request
    /// path reads of the configuration (names, permissions, settings, the dialog).
    /// What must be current is not in it: an agent's availability toggle is kept
    /// with their routing state ([`crate::ports::AgentState::manual`]), read as
    /// stored wherever availability is decided or shown.
    pub(crate) async fn cached_directory(&self) -> Result<Arc<Directory>, ServerError> {
        Ok(self.applied().await?.directory)
    }

    /// The directory and its dialog as read at most [`DIRECTORY_REFRESH`] ago,
    /// read again when older.
    async fn applied(&self) -> Result<Applied, StoreError> {
        if let Some(applied) = self.applied.read().await.as_ref()
            && applied.at.elapsed() < DIRECTORY_REFRESH
        {
            return Ok(applied.copy());
        }
        self.refresh().await
    }

    /// The dialog a new conversation starts with ([`targeting::pick`]): `None`
    /// for the default one when the directory has no dialogs of its own;
    /// [`ServerError::NoDialog`] when it has, and none is for this visitor.
    pub(crate) async fn pick_dialog(
        &self,
        named: Option<&[crate::domain::DialogId]>,
        page: Option<&str>,
        attributes: &crate::domain::Attributes,
        completed: &[crate::domain::DialogId],
    ) -> Result<Option<crate::domain::DialogId>, ServerError> {
        let applied = self.applied().await?;
        if applied.directory.dialogs.is_empty() {
            return Ok(None);
        }
        let asking = targeting::Asking {
            named,
            page: page.unwrap_or_default(),
            attributes,
            completed,
        };
        targeting::pick(
            &applied.directory,
            |id| applied.dialogs.contains_key(id),
            &asking,
        )
        .map(Some)
        .ok_or(ServerError::NoDialog)
    }

    /// The dialog `id` names (a session's), else the default one: a dialog removed
    /// or broken by a later apply leaves its walkers on the default.
    pub(crate) async fn dialog_for(
        &self,
        id: Option<&crate::domain::DialogId>,
    ) -> Result<Arc<ValidDialog>, ServerError> {
        let applied = self.applied().await?;
        Ok(id
            .and_then(|id| applied.dialogs.get(id).cloned())
            .unwrap_or(applied.dialog))
    }

    /// Reads the directory and keeps it, with its dialog, as the cache.
    async fn refresh(&self) -> Result<Applied, StoreError> {
        let directory = self.ports.store.directory().await?;
        let dialog = match directory.valid_dialog() {
            Some(Ok(dialog)) => Arc::new(dialog),
            Some(Err(errors)) => {
                error!(errors = ?errors, "the stored dialog does not validate; showing the built-in one");
                self.dialog.clone()
            }
            None => self.dialog.clone(),
        };
        let targets = directory.targets();
        let mut dialogs = HashMap::new();
        for entry in &directory.dialogs {
            match crate::dialog::validate(&entry.dialog, &targets) {
                Ok(valid) => {
                    dialogs.insert(entry.id.clone(), Arc::new(valid));
                }
                Err(errors) => {
                    error!(dialog = %entry.id, errors = ?errors, "a stored dialog does not validate; it is not offered");
                }
            }
        }
        let applied = Applied {
            at: std::time::Instant::now(),
            directory: Arc::new(directory),
            dialog,
            dialogs: Arc::new(dialogs),
        };
        *self.applied.write().await = Some(applied.copy());
        Ok(applied)
    }

    /// Forgets the directory read, as if [`DIRECTORY_REFRESH`] had passed.
    #[cfg(test)]
    pub(crate) async fn forget_directory(&self) {
        *self.applied.write().await = None;
    }

    fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    /// `$connect`: an `agent_token` query parameter makes an agent connection (the
    /// agent must exist and have the live chat permission; the connection is held
    /// to the token's expiry); a `visitor_token` resumes that visitor, if their
    /// session still accepts it (see [`crate::ports::TokenVersion`]); neither starts
    /// a new anonymous visitor. Nothing is pushed here: API Gateway refuses posts
    /// to a connection still inside its `$connect`.
    ///
    /// `origin` is the request's `Origin` header: an agent socket is refused (403,
    /// nothing stored) from a page other than the inbox's, a visitor socket from a
    /// site the account does not allow; with no `Origin` (not a browser) either is
    /// accepted.
    pub async fn connect(
        &self,
        connection: &ConnectionId,
        query: &HashMap<String, String>,
        origin: Option<&str>,
    ) -> Result<Party, ConnectError> {
        let now = self.now();
        let inbox = self.inbox_origins.as_deref();
        if query.contains_key("agent_token") {
            if !origins::accepts(origin, origins::Opener::Agent, inbox, None) {
                return Err(ConnectError::Origin);
            }
        } else if origin.is_some()
            && !origins::accepts(origin, origins::Opener::Visitor, inbox, Some(&[]))
        {
            // Not one of the chat's own pages: the account's list decides.
            let allowed = self.allowed_origins().await?;
            if !origins::accepts(origin, origins::Opener::Visitor, inbox, allowed.as_deref()) {
                return Err(ConnectError::Origin);
            }
        }
        let (party, authorized_until) = if let Some(token) = query.get("agent_token") {
            let (agent, until) = self.verify_agent(token, now).await?;
            (Party::Agent { agent }, Some(until))
        } else if let Some(token) = query.get("visitor_token") {
            let token = self.visitors.verify(token, now)?;
            // A token naming no session has nothing to resume or protect.
            let session = self.ports.store.session(&token.visitor, now).await?;
            if session.is_some_and(|s| !s.token.accepts(token.version, now)) {
                return Err(AuthError::Revoked.into());
            }
            let visitor = token.visitor;
            // Only a known visitor is counted: a new one has a fresh id each time,
            // and nothing is counted per address (see `RateLimits`).
            let limits = self.applied().await?.directory.settings.rate_limits;
            let key = format!("connect#visitor#{visitor}");
            if let Err(retry_after) = self
                .ports
                .store
                .count_rate(&key, limits.reconnects_per_visitor, now)
                .await?
            {
                return Err(ConnectError::RateLimited { retry_after });
            }
            (Party::Visitor { visitor }, None)
        } else {
            let visitor = crate::domain::VisitorId::generate();
            (Party::Visitor { visitor }, None)
        };
        let record = ConnectionRecord {
            id: connection.clone(),
            party: party.clone(),
            connected_at: now,
            expires_at: now.saturating_add(CONNECTION_TTL).unwrap_or(now),
            authorized_until,
        };
        self.ports.store.put_connection(&record).await?;
        Ok(party)
    }

    /// The agent an agent token names and when it expires, if it verifies at `now`
    /// and the agent may sign in to the inbox (in the directory as stored): a role
    /// with a report scope ([`crate::analytics::Scope::of`]), which every role has.
    /// A Marketing Admin signs in for the reports; only the live chat permission
    /// makes an agent routable or lets them chat ([`Chat::may_chat`]).
    async fn verify_agent(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<(crate::domain::AgentId, Timestamp), ConnectError> {
        let (agent, until) = self.agents.verify_until(token, now)?;
        // As current as the permission checked on every frame after it.
        let directory = self.applied().await?.directory;
        let allowed = directory
            .agent(&agent)
            .and_then(crate::analytics::Scope::of)
            .is_some();
        if !allowed {
            return Err(AuthError::NotAllowed.into());
        }
        Ok((agent, until))
    }

    /// `$disconnect` (best effort: API Gateway may not send it; connection records
    /// expire on their own). When it was a party's last connection, a grace timer
    /// starts: an agent who does not come back loses their chats to other agents; a
    /// waiting visitor who does not come back cancels the request.
    ///
    /// Whatever starts the grace is queued before the record is removed, so a
    /// handler that fails or dies after the removal (and `$disconnect` is never sent
    /// again) leaves a timer (a no-op if the party is back), never a party with no
    /// connection and nothing queued. When it is not the last connection, that is a
    /// [`DelayedEvent::CheckGone`]. A push that finds a connection gone lands here
    /// too: `$disconnect` is best effort, and may never come.
    pub async fn disconnect(&self, connection: &ConnectionId) -> Result<(), ServerError> {
        let now = self.now();
        // The record however old: reads stop seeing it once it expires, but a
        // `$disconnect` or a push finding the connection gone after that still means
        // the party left, and their grace must start.
        let stored = self
            .ports
            .store
            .connection(connection, Timestamp::MIN)
            .await?;
        let Some(record) = stored else {
            self.ports.store.remove_connection(connection).await?;
            return Ok(());
        };
        // Should the removal fail, the record stays, and a push that finds it gone
        // comes back.
        let (alone, connects) = self.alone(&record.party, connection, now).await?;
        if alone {
            self.start_grace(record.party.clone(), connects).await?;
        } else {
            // The party's other connections may be going at this moment, each
            // seeing this one: the later removal's look below finds none, unless
            // its handler fails or dies first. This check does not depend on it.
            self.check_gone_later(&record.party, connects).await?;
        }
        self.ports.store.remove_connection(connection).await?;
        // Two connections of one party going at once (two tabs closed, or two pushes
        // finding both gone) each saw the other still there: each looks again after
        // its own removal, so the later look finds none and the grace starts at once
        // (the check queued above starts it a little later should this be lost).
        if !alone
            && let (true, connects) = self.alone(&record.party, connection, self.now()).await?
        {
            self.start_grace(record.party, connects).await?;
        }
        Ok(())
    }

    /// Whether `party` has no live connection other than `connection`, and how
    /// many connections it has made ([`crate::ports::Presence::connects`]), which a
    /// grace timer started now carries.
    async fn alone(
        &self,
        party: &Party,
        connection: &ConnectionId,
        now: Timestamp,
    ) -> Result<(bool, u64), ServerError> {
        let presence = self.ports.store.presence(party, now).await?;
        let others = presence.connections.iter().any(|c| c != connection);
        Ok((!others, presence.connects))
    }

    /// Queues the [`DelayedEvent::CheckGone`] of a party whose connection is going
    /// while it had others, after `connects` connections.
    async fn check_gone_later(&self, party: &Party, connects: u64) -> Result<(), ServerError> {
        let at = self
            .now()
            .saturating_add(CHECK_GONE_AFTER)
            .unwrap_or(self.now());
        let check = DelayedEvent::CheckGone {
            party: party.clone(),
            connects,
        };
        self.ports
            .scheduler
            .schedule(check, at)
            .await
            .map_err(ServerError::internal)
    }

    /// [`DelayedEvent::CheckGone`]: the party's grace starts now if it still has no
    /// connection and has made none since.
    pub(crate) async fn check_gone(&self, party: Party, connects: u64) -> Result<(), ServerError> {
        if self.still_gone(&party, Some(connects)).await? {
            self.start_grace(party, connects).await?;
        }
        Ok(())
    }

    /// Whether the grace timer of `party` that carries `connects` is still for the
    /// absence it was started for: the party has no connection, and has made none
    /// since (one who came back and left again has a timer of their own, which
    /// gives them the whole grace period again).
    pub(crate) async fn still_gone(
        &self,
        party: &Party,
        connects: Option<u64>,
    ) -> Result<bool, ServerError> {
        let presence = self.ports.store.presence(party, self.now()).await?;
        Ok(presence.connections.is_empty() && connects.is_none_or(|n| n == presence.connects))
    }

    /// Starts the grace timer of a party who has no connection left, after
    /// `connects` connections.
    async fn start_grace(&self, party: Party, connects: u64) -> Result<(), ServerError> {
        let connects = Some(connects);
        let event = match party {
            Party::Agent { agent } => DelayedEvent::AgentGrace { agent, connects },
            Party::Visitor { visitor } => DelayedEvent::VisitorGrace { visitor, connects },
        };
        // The account's grace period (`settings.grace_period`, default 60 s).
        let grace = self.cached_directory().await?.settings.grace_period;
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
            if e.closes_connection() {
                // The frame above goes out first; `$disconnect` follows the close.
                if let Err(e) = self.ports.push.close(connection).await {
                    warn!(connection = %connection, error = %cause_chain(&e), "could not close a connection");
                }
            }
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
            Party::Agent { ref agent } => {
                if raw.action() == Some("renew_token") {
                    let AgentFrame::RenewToken { token } = AgentFrame::try_from(raw)? else {
                        return Err(ServerError::internal(
                            "a renew_token frame parsed as another action",
                        ));
                    };
                    return self.renew_token(connection, &record, &token).await;
                }
                self.still_authorized(&record, agent).await?;
                let frame = AgentFrame::try_from(raw)?;
                self.agent_frame(connection, agent, frame).await
            }
        }
    }

    /// Every agent frame is served only while the connection's token is unexpired
    /// and the agent still has the live chat permission in the directory as read at
    /// most [`DIRECTORY_REFRESH`] ago: no request beyond the connection record.
    pub(super) async fn still_authorized(
        &self,
        record: &ConnectionRecord,
        agent: &crate::domain::AgentId,
    ) -> Result<(), ServerError> {
        if let Some(until) = record.authorized_until {
            if crate::auth::has_expired(until, self.now()) {
                return Err(ServerError::TokenExpired);
            }
            self.remember_authorized(&record.id, until);
        }
        self.still_permitted(agent).await
    }

    /// Whether an agent connection's token is known (to this process) to be
    /// unexpired: then its record need not be read again.
    pub(super) fn known_authorized(&self, connection: &ConnectionId) -> bool {
        let remembered = self
            .authorized
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(connection)
            .copied();
        remembered.is_some_and(|until| !crate::auth::has_expired(until, self.now()))
    }

    fn remember_authorized(&self, connection: &ConnectionId, until: Timestamp) {
        let now = self.now();
        let mut authorized = self.authorized.lock().unwrap_or_else(|e| e.into_inner());
        if authorized.len() >= AUTHORIZED_REMEMBERED {
            authorized.retain(|_, u| !crate::auth::has_expired(*u, now));
            if authorized.len() >= AUTHORIZED_REMEMBERED {
                authorized.clear();
            }
        }
        let entry = authorized.entry(connection.clone()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// The agent may still sign in to the inbox (they are in the directory, with a
    /// role), in the directory as read at most [`DIRECTORY_REFRESH`] ago.
    pub(super) async fn still_permitted(
        &self,
        agent: &crate::domain::AgentId,
    ) -> Result<(), ServerError> {
        let allowed = self
            .cached_directory()
            .await?
            .agent(agent)
            .and_then(crate::analytics::Scope::of)
            .is_some();
        if !allowed {
            return Err(ServerError::NoLongerAllowed);
        }
        Ok(())
    }

    /// The agent has the live chat permission, in the directory as read at most
    /// [`DIRECTORY_REFRESH`] ago: checked before every chat action. Without it
    /// (a Marketing Admin, or an agent whose role changed) the frame is refused
    /// with `forbidden` and the connection closed ([`ServerError::NoLongerAllowed`]),
    /// so an agent who lost the permission while holding chats reconnects without
    /// them and their grace period hands the chats on.
    pub(super) async fn may_chat(&self, agent: &crate::domain::AgentId) -> Result<(), ServerError> {
        let allowed = self
            .cached_directory()
            .await?
            .agent(agent)
            .is_some_and(|a| a.has_permission(Permission::LiveChat));
        if !allowed {
            return Err(ServerError::NoLongerAllowed);
        }
        Ok(())
    }

    /// `renew_token`: a new token for the same agent, verified as at `$connect`,
    /// moves the connection's expiry to the new token's. Accepted after the old
    /// token expired too: the new one proves as much as a new connection would.
    async fn renew_token(
        &self,
        connection: &ConnectionId,
        record: &ConnectionRecord,
        token: &str,
    ) -> Result<(), ServerError> {
        let Party::Agent { agent } = &record.party else {
            return Err(ServerError::internal("renew_token on a visitor connection"));
        };
        let (renewed, until) = match self.verify_agent(token, self.now()).await {
            Ok(verified) => verified,
            Err(ConnectError::Auth(AuthError::Expired)) => return Err(ServerError::TokenExpired),
            Err(ConnectError::Auth(e)) => {
                return Err(ServerError::Forbidden {
                    reason: format!("the new token was refused: {e}"),
                });
            }
            Err(ConnectError::Store(e)) => return Err(e.into()),
            // verify_agent checks no Origin and counts nothing.
            Err(ConnectError::Origin | ConnectError::RateLimited { .. }) => {
                return Err(ServerError::internal("an Origin refusal while renewing"));
            }
        };
        if renewed != *agent {
            return Err(ServerError::Forbidden {
                reason: "the new token names another agent".into(),
            });
        }
        let record = ConnectionRecord {
            authorized_until: Some(until),
            ..record.clone()
        };
        self.ports.store.put_connection(&record).await?;
        self.remember_authorized(connection, until);
        self.send(connection, &ServerFrame::TokenRenewed { expires_at: until })
            .await;
        Ok(())
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
            .session(conversation.visitor(), self.now())
            .await?;
        Ok(summary_of(session.as_ref()))
    }
}

/// What the inbox shows of the visitor of `session` (nothing known without one).
pub(crate) fn summary_of(session: Option<&crate::ports::VisitorSession>) -> VisitorSummary {
    session.map_or_else(
        || VisitorSummary::from_attributes(&crate::domain::Attributes::new()),
        |s| VisitorSummary::from_state(&s.dialog),
    )
}
