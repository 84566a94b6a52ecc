//! One simulated run: the real [`Chat`] on the simulated ports, the people using
//! it, and the step loop. A step moves the clock, hands out the delayed events now
//! due, lets a few people act, runs all of those handler calls concurrently (their
//! store round trips interleave in the seed's order), shows each person the frames
//! pushed to them, and checks the invariants.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use livechat_core::auth::{AgentTokenIssuer, VisitorTokens};
use livechat_core::dialog::{CardView, FieldType};
use livechat_core::domain::{
    Agent, AgentId, ChatLimit, ConnectionId, ConversationId, Email, Message, TeamId, VisitorId,
};
use livechat_core::memory::{ManualClock, MemoryNotifier};
use livechat_core::ports::{Clock, ConversationStore, DelayedEvent, Ports, SessionStore};
use livechat_core::protocol::{ErrorCode, ServerFrame};
use livechat_core::routing::Directory;
use livechat_core::service::Chat;
use serde_json::{Value, json};

use super::Config;
use super::adapters::{SimPush, SimScheduler};
use super::clients::{AgentActor, Page, Pending, Persona, Status, Tab, Visitor};
use super::ctx::{Ctx, lock};
use super::store::SimStore;

/// Where every run starts: a fixed Monday morning, so that schedules and the
/// availability toggles (until local midnight) behave the same on every run.
pub const START: &str = "2026-03-02T09:00:00Z";

/// API Gateway closes a connection after two hours.
const MAX_CONNECTION: SignedDuration = SignedDuration::from_hours(2);

/// The demo account with two more agents in the sales team and small chat limits,
/// so that agents reach their limits and pools run out.
pub fn directory() -> Directory {
    let mut directory = livechat_core::demo::directory().expect("the demo directory loads");
    // The chat's world: the agents who take chats. The demo's Marketing Admin (mia)
    // signs in for the reports only; leaving her out keeps every seed's world (and
    // the regression seeds below) as it was.
    directory
        .agents
        .retain(|a| a.has_permission(livechat_core::domain::Permission::LiveChat));
    let template = directory.agents[1].clone();
    for (id, name) in [("dan", "Dan Roe"), ("eve", "Eve Stone")] {
        let mut agent: Agent = template.clone();
        agent.id = AgentId::parse(id).expect("valid id");
        agent.name = name.into();
        agent.email = Email::parse(&format!("{id}@acme-analytics.example")).expect("valid email");
        directory.agents.push(agent);
    }
    let limits = [2, 2, 1, 2, 1];
    for (agent, limit) in directory.agents.iter_mut().zip(limits) {
        agent.chat_limit = ChatLimit::new(limit).expect("limit in range");
    }
    let sales = TeamId::parse("sales").expect("valid id");
    if let Some(team) = directory.teams.iter_mut().find(|t| t.id == sales) {
        team.members = directory.agents.iter().map(|a| a.id.clone()).collect();
    }
    directory
}

/// Who owns a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Visitor(usize),
    Agent(usize),
}

/// One handler invocation, as API Gateway or the delay queue would make it.
#[derive(Debug, Clone)]
enum Call {
    /// `$connect`, then the frames the client sends once connected.
    Connect {
        conn: ConnectionId,
        query: HashMap<String, String>,
        bodies: Vec<String>,
    },
    /// Frames on an open connection, in order.
    Send {
        conn: ConnectionId,
        bodies: Vec<String>,
    },
    /// `$disconnect`.
    Disconnect { conn: ConnectionId },
    /// A delayed event from the queue.
    Delayed(DelayedEvent),
}

/// How a call ended, where the caller must react.
enum Outcome {
    Done,
    Refused(ConnectionId),
    EventFailed(DelayedEvent),
}

/// A message acknowledged to its sender.
#[derive(Debug, Clone)]
pub struct Acked {
    /// Where it was stored.
    pub conversation: ConversationId,
    /// Its id.
    pub id: String,
}

/// The whole simulated world of one run.
pub struct World {
    pub(super) ctx: Arc<Ctx>,
    pub(super) config: Config,
    pub(super) clock: Arc<ManualClock>,
    pub(super) store: Arc<SimStore>,
    pub(super) push: Arc<SimPush>,
    pub(super) scheduler: Arc<SimScheduler>,
    pub(super) chat: Arc<Chat>,
    pub(super) directory: Directory,
    pub(super) visitors: Vec<Visitor>,
    pub(super) agents: Vec<AgentActor>,
    pub(super) acked: Vec<Acked>,
    pub(super) calls: u64,
    /// Problems already reported, so that a stuck conversation counts once.
    pub(super) reported: std::sync::Mutex<BTreeSet<String>>,
    owners: HashMap<ConnectionId, Owner>,
    opened: HashMap<ConnectionId, Timestamp>,
    /// The chats each tab was told are theirs in the frames being shown, checked
    /// once the tab has seen all of the step's frames.
    started: Vec<(usize, ConnectionId, ConversationId)>,
    next_conn: u64,
    visitor_tokens: VisitorTokens,
    agent_tokens: AgentTokenIssuer,
}

fn tokens() -> (VisitorTokens, AgentTokenIssuer) {
    (
        VisitorTokens::new(
            livechat_gateway::LOCAL_VISITOR_SECRET.as_bytes(),
            livechat_gateway::LOCAL_ISSUER,
        ),
        AgentTokenIssuer::hs256(
            livechat_gateway::LOCAL_AGENT_SECRET.as_bytes(),
            livechat_gateway::LOCAL_ISSUER,
            livechat_gateway::LOCAL_AUDIENCE,
        ),
    )
}

impl World {
    /// A world for one run.
    pub fn new(ctx: Arc<Ctx>, config: Config) -> Self {
        let start: Timestamp = START.parse().expect("a valid start time");
        let clock = Arc::new(ManualClock::new(start));
        let mut directory = directory();
        directory.settings.queue_wait_limit = config.queue_wait_limit.map(|secs| {
            livechat_core::domain::QueueWaitLimit::from_secs(secs)
                .expect("a queue wait limit in range")
        });
        let store = Arc::new(SimStore::new(
            directory.clone(),
            ctx.clone(),
            clock.clone(),
            config.broken_cursor,
        ));
        let push = Arc::new(SimPush::new(ctx.clone()));
        let scheduler = Arc::new(SimScheduler::new(ctx.clone()));
        let ports = Ports {
            store: store.clone(),
            push: push.clone(),
            scheduler: scheduler.clone(),
            clock: clock.clone(),
            notifier: Arc::new(MemoryNotifier::new()),
        };
        let dialog = livechat_core::demo::dialog(&directory).expect("the demo dialog validates");
        let (visitor_tokens, agent_tokens) = tokens();
        let chat = crate::chat_with(ports, dialog);
        let visitors = (1..=config.visitors)
            .map(|i| Visitor {
                id: VisitorId::parse(format!("visitor-{i:03}")).expect("valid id"),
                name: format!("v{i}"),
                persona: match i % 7 {
                    3 => Persona::Enterprise,
                    5 => Persona::Customer,
                    _ => Persona::Plain,
                },
                page: None,
                made: 0,
                pending: Default::default(),
                token: None,
            })
            .collect();
        let agents = directory
            .agents
            .iter()
            .map(|a| AgentActor {
                id: a.id.clone(),
                tabs: Vec::new(),
                made: 0,
                pending: Default::default(),
            })
            .collect();
        Self {
            ctx,
            config,
            clock,
            store,
            push,
            scheduler,
            chat: Arc::new(chat),
            directory,
            visitors,
            agents,
            acked: Vec::new(),
            calls: 0,
            started: Vec::new(),
            reported: Default::default(),
            owners: HashMap::new(),
            opened: HashMap::new(),
            next_conn: 0,
            visitor_tokens,
            agent_tokens,
        }
    }

    pub(super) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn new_conn(&mut self, owner: Owner) -> ConnectionId {
        self.next_conn += 1;
        let conn = ConnectionId::parse(format!("k{}", self.next_conn)).expect("valid id");
        self.owners.insert(conn.clone(), owner);
        self.opened.insert(conn.clone(), self.now());
        self.push.open(&conn);
        conn
    }

    fn who(&self, conn: &ConnectionId) -> String {
        match self.owners.get(conn) {
            Some(Owner::Visitor(i)) => format!("{}@{conn}", self.visitors[*i].name),
            Some(Owner::Agent(j)) => format!("{}@{conn}", self.agents[*j].id),
            None => conn.to_string(),
        }
    }

    /// A frame body for the trace, conversation ids replaced by aliases.
    fn summary(&self, body: &str) -> String {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) else {
            return body.to_string();
        };
        let mut out = map
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        for (k, v) in &map {
            if k == "action" {
                continue;
            }
            let shown = match (k.as_str(), v) {
                ("conversation", Value::String(c)) => ConversationId::parse(c.clone())
                    .map(|c| self.ctx.alias(&c))
                    .unwrap_or_else(|_| c.clone()),
                (_, Value::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            };
            out.push_str(&format!(" {k}={shown}"));
        }
        out
    }

    /// Closes a connection as the browser or the network does; API Gateway's
    /// `$disconnect` may be lost.
    fn close(&mut self, conn: &ConnectionId, calls: &mut Vec<Call>) {
        self.forget(conn);
        let who = conn.to_string();
        if self
            .ctx
            .inject("lost_disconnect", self.ctx.rates.lost_disconnect, || who)
        {
            return;
        }
        calls.push(Call::Disconnect { conn: conn.clone() });
    }

    /// One step of the simulation.
    pub async fn step(&mut self) {
        let step = self.ctx.next_step();
        let mut calls = Vec::new();
        self.notice_drops(&mut calls);
        self.expire_connections(&mut calls);
        let dt = self.ctx.rng(|r| match r.u8(0..100) {
            0..40 => 0,
            40..88 => r.i64(1..=15),
            88..98 => r.i64(16..=120),
            _ => r.i64(121..=700),
        });
        if dt > 0 {
            self.clock.advance(SignedDuration::from_secs(dt));
        }
        let at = self.now().duration_since(START.parse().expect("valid"));
        self.ctx.trace(format!("step {step} t=+{}s", at.as_secs()));
        for event in self.scheduler.take_due(self.now()) {
            calls.push(Call::Delayed(event));
        }
        let actors = self.ctx.rng(|r| r.usize(0..=self.config.max_batch));
        let mut acted = BTreeSet::new();
        for _ in 0..actors {
            let total = self.visitors.len() + self.agents.len();
            let pick = self.ctx.rng(|r| r.usize(0..total));
            if !acted.insert(pick) {
                continue;
            }
            if pick < self.visitors.len() {
                self.visitor_acts(pick, &mut calls);
            } else {
                self.agent_acts(pick - self.visitors.len(), &mut calls);
            }
        }
        self.run(calls).await;
        self.deliver().await;
        super::check::after_step(self).await;
    }

    /// Connections the network dropped under a push: their clients notice and, as
    /// the network does, API Gateway may or may not send `$disconnect`.
    fn notice_drops(&mut self, calls: &mut Vec<Call>) {
        let dropped: Vec<ConnectionId> = std::mem::take(&mut *lock(&self.ctx.dropped));
        for conn in dropped {
            self.drop_connection(&conn, calls);
        }
    }

    fn drop_connection(&mut self, conn: &ConnectionId, calls: &mut Vec<Call>) {
        if self.owners.contains_key(conn) {
            self.ctx.trace(format!("  {} dropped", self.who(conn)));
            self.close(conn, calls);
        }
    }

    /// The client of `conn` loses its page or tab; `false` if it had none.
    fn forget(&mut self, conn: &ConnectionId) -> bool {
        match self.owners.get(conn).copied() {
            Some(Owner::Visitor(i)) => {
                if self.visitors[i]
                    .page
                    .as_ref()
                    .is_some_and(|p| &p.conn == conn)
                {
                    self.visitors[i].page = None;
                }
            }
            Some(Owner::Agent(j)) => self.agents[j].tabs.retain(|t| &t.conn != conn),
            None => return false,
        }
        self.push.take(conn);
        self.push.close(conn);
        self.owners.remove(conn);
        self.opened.remove(conn);
        true
    }

    fn expire_connections(&mut self, calls: &mut Vec<Call>) {
        let now = self.now();
        let mut old: Vec<(u64, ConnectionId)> = self
            .opened
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= MAX_CONNECTION)
            .map(|(c, _)| (c.as_str()[1..].parse().unwrap_or(0), c.clone()))
            .collect();
        old.sort();
        for (_, conn) in old {
            self.ctx
                .trace(format!("  gateway closes {} after 2 h", self.who(&conn)));
            self.drop_connection(&conn, calls);
        }
    }

    /// The token visitor `i`'s widget connects with: the last one a `session` frame
    /// brought, else (a first visit) one the server would accept for a visitor
    /// with no session yet.
    fn visitor_token(&self, i: usize, now: Timestamp) -> String {
        self.visitors[i]
            .token
            .clone()
            .unwrap_or_else(|| self.visitor_tokens.issue(&self.visitors[i].id, 0, now))
    }

    fn start_body(&self, i: usize) -> String {
        let v = &self.visitors[i];
        let mut frame = json!({"action": "start", "page_url": "https://acme.example/pricing"});
        if v.persona == Persona::Enterprise {
            frame["attributes"] = json!({"company_size": "1200"});
        }
        frame.to_string()
    }

    fn visitor_acts(&mut self, i: usize, calls: &mut Vec<Call>) {
        let now = self.now();
        let Some(page) = self.visitors[i].page.clone() else {
            if self.ctx.chance(0.6) {
                let conn = self.new_conn(Owner::Visitor(i));
                let token = self.visitor_token(i, now);
                let mut bodies = vec![self.start_body(i)];
                for (id, p) in &self.visitors[i].pending {
                    bodies.push(
                        json!({"action": "send_message", "id": id, "text": p.text}).to_string(),
                    );
                }
                self.visitors[i].page = Some(Page::new(conn.clone()));
                self.trace_call(&conn, "opens the widget", &bodies);
                calls.push(Call::Connect {
                    conn,
                    query: HashMap::from([("visitor_token".to_string(), token)]),
                    bodies,
                });
            }
            return;
        };
        let roll = self.ctx.rng(|r| r.f64());
        if roll < 0.03 {
            self.ctx
                .trace(format!("  {} closes the tab", self.who(&page.conn)));
            self.visitors[i].page = None;
            self.close(&page.conn, calls);
            return;
        }
        if roll < 0.06 {
            self.ctx
                .trace(format!("  {} reloads", self.who(&page.conn)));
            self.visitors[i].page = None;
            self.close(&page.conn, calls);
            self.visitor_acts_open(i, calls);
            return;
        }
        if page.retry
            && let Some(body) = page.last_body.clone()
        {
            if let Some(p) = self.visitors[i].page.as_mut() {
                p.retry = false;
            }
            self.send(&page.conn, vec![body], calls);
            return;
        }
        if page.conversation.is_none() {
            // `start` failed before the session came back: the widget tries again.
            if self.ctx.chance(0.5) {
                self.send(&page.conn, vec![self.start_body(i)], calls);
            }
            return;
        }
        let v = &self.visitors[i];
        let conversation = page.conversation.as_ref().map(|c| c.to_string());
        let body = match page.status {
            Status::Bot => match page.current_card() {
                Some(CardView::Question { card, answers, .. }) => {
                    let answer = if self.ctx.chance(0.85) {
                        0
                    } else {
                        self.ctx.rng(|r| r.usize(0..answers.len().max(1)))
                    };
                    Some(json!({"action": "answer", "card": card, "answer": answer}))
                }
                Some(CardView::Capture { card, field, .. }) => {
                    let value = match (field, v.persona) {
                        (FieldType::Email, _) if self.ctx.chance(0.1) => "not-an-email".to_string(),
                        (FieldType::Email, Persona::Customer) => {
                            format!("{}@bigcustomer.example", v.name)
                        }
                        (FieldType::Email, _) => format!("{}@small.example", v.name),
                        _ => format!("Name{}", v.name),
                    };
                    Some(json!({"action": "submit", "card": card, "value": value}))
                }
                _ if self.ctx.chance(0.1) => {
                    Some(serde_json::from_str(&self.start_body(i)).unwrap_or(Value::Null))
                }
                _ => None,
            },
            Status::Waiting | Status::Live => {
                let r = self.ctx.rng(|r| r.f64());
                if r < 0.55 {
                    let v = &mut self.visitors[i];
                    v.made += 1;
                    let id = format!("{}-m{}", v.name, v.made);
                    let text = format!("hello {} from {}", v.made, v.name);
                    v.pending.insert(
                        id.clone(),
                        Pending {
                            conversation: page.conversation.clone(),
                            text: text.clone(),
                        },
                    );
                    let mut frame = json!({"action": "send_message", "id": id, "text": text});
                    if self.ctx.chance(0.7)
                        && let Some(c) = &conversation
                    {
                        frame["conversation"] = json!(c);
                    }
                    Some(frame)
                } else if r < 0.7 {
                    Some(json!({"action": "typing", "typing": self.ctx.chance(0.5)}))
                } else if r < 0.73 {
                    Some(json!({"action": "end_chat"}))
                } else if r < 0.8 {
                    let pending = self.visitors[i].pending.iter().next();
                    pending
                        .map(|(id, p)| json!({"action": "send_message", "id": id, "text": p.text}))
                } else {
                    None
                }
            }
            Status::Fallback => {
                let r = self.ctx.rng(|r| r.f64());
                if r < 0.3 {
                    Some(
                        json!({"action": "leave_details", "email": format!("{}@small.example", v.name), "message": format!("call {} back", v.name)}),
                    )
                } else if r < 0.4 {
                    Some(serde_json::from_str(&self.start_body(i)).unwrap_or(Value::Null))
                } else {
                    None
                }
            }
            Status::Ended => self
                .ctx
                .chance(0.15)
                .then(|| serde_json::from_str(&self.start_body(i)).unwrap_or(Value::Null)),
        };
        if let Some(body) = body {
            self.send(&page.conn, vec![body.to_string()], calls);
        }
    }

    fn visitor_acts_open(&mut self, i: usize, calls: &mut Vec<Call>) {
        let conn = self.new_conn(Owner::Visitor(i));
        let token = self.visitor_token(i, self.now());
        let bodies = vec![self.start_body(i)];
        self.visitors[i].page = Some(Page::new(conn.clone()));
        self.trace_call(&conn, "opens the widget", &bodies);
        calls.push(Call::Connect {
            conn,
            query: HashMap::from([("visitor_token".to_string(), token)]),
            bodies,
        });
    }

    fn agent_acts(&mut self, j: usize, calls: &mut Vec<Call>) {
        if self.agents[j].tabs.is_empty()
            || (self.agents[j].tabs.len() < 2 && self.ctx.chance(0.02))
        {
            if self.agents[j].tabs.is_empty() && !self.ctx.chance(0.5) {
                return;
            }
            self.agent_opens_tab(j, calls);
            return;
        }
        let t = self.ctx.rng(|r| r.usize(0..self.agents[j].tabs.len()));
        let tab = self.agents[j].tabs[t].clone();
        if self.ctx.chance(0.03) {
            self.ctx
                .trace(format!("  {} closes the inbox", self.who(&tab.conn)));
            self.agents[j].tabs.remove(t);
            self.close(&tab.conn, calls);
            return;
        }
        if tab.retry
            && let Some(body) = tab.last_body.clone()
        {
            self.agents[j].tabs[t].retry = false;
            self.send(&tab.conn, vec![body], calls);
            return;
        }
        let pick = |ctx: &Ctx, n: usize| ctx.rng(|r| r.usize(0..n));
        let r = self.ctx.rng(|r| r.f64());
        let body = if !tab.offers.is_empty() && r < 0.5 {
            let offers: Vec<&ConversationId> = tab.offers.values().collect();
            let c = offers[pick(&self.ctx, offers.len())];
            let action = if self.ctx.chance(0.8) {
                "accept"
            } else {
                "decline"
            };
            Some(json!({"action": action, "conversation": c}))
        } else if !tab.live.is_empty() && r < 0.85 {
            let live: Vec<&ConversationId> = tab.live.values().map(|(c, _)| c).collect();
            let c = live[pick(&self.ctx, live.len())].clone();
            let r = self.ctx.rng(|r| r.f64());
            if r < 0.7 {
                let a = &mut self.agents[j];
                a.made += 1;
                let id = format!("{}-m{}", a.id, a.made);
                let text = format!("reply {} from {}", a.made, a.id);
                a.pending.insert(
                    id.clone(),
                    Pending {
                        conversation: Some(c.clone()),
                        text: text.clone(),
                    },
                );
                Some(json!({"action": "send_message", "conversation": c, "id": id, "text": text}))
            } else if r < 0.85 {
                Some(json!({"action": "typing", "conversation": c, "typing": true}))
            } else if r < 0.92 {
                Some(json!({"action": "end_session", "conversation": c}))
            } else {
                Some(json!({"action": "history", "conversation": c}))
            }
        } else if !tab.missed.is_empty() && r < 0.9 {
            let c = tab.missed[pick(&self.ctx, tab.missed.len())].clone();
            Some(json!({"action": "pick_up", "conversation": c}))
        } else if r < 0.93 {
            Some(json!({"action": "set_availability", "available": self.ctx.chance(0.7)}))
        } else if r < 0.96 {
            Some(json!({"action": "missed"}))
        } else {
            None
        };
        if let Some(body) = body {
            self.send(&tab.conn, vec![body.to_string()], calls);
        }
    }

    fn agent_opens_tab(&mut self, j: usize, calls: &mut Vec<Call>) {
        let conn = self.new_conn(Owner::Agent(j));
        let token = self.agent_tokens.issue(
            &self.agents[j].id,
            self.now(),
            SignedDuration::from_hours(24),
        );
        let mut bodies = vec![json!({"action": "sync"}).to_string()];
        if self.ctx.chance(0.5) {
            bodies.push(json!({"action": "missed"}).to_string());
        }
        self.agents[j].tabs.push(Tab::new(conn.clone()));
        self.trace_call(&conn, "opens the inbox", &bodies);
        calls.push(Call::Connect {
            conn,
            query: HashMap::from([("agent_token".to_string(), token)]),
            bodies,
        });
    }

    fn send(&mut self, conn: &ConnectionId, bodies: Vec<String>, calls: &mut Vec<Call>) {
        self.trace_call(conn, "sends", &bodies);
        let last = bodies.last().cloned();
        match self.owners.get(conn).copied() {
            Some(Owner::Visitor(i)) => {
                if let Some(p) = self.visitors[i].page.as_mut() {
                    p.last_body = last;
                }
            }
            Some(Owner::Agent(j)) => {
                if let Some(t) = self.agents[j].tabs.iter_mut().find(|t| &t.conn == conn) {
                    t.last_body = last;
                }
            }
            None => {}
        }
        calls.push(Call::Send {
            conn: conn.clone(),
            bodies,
        });
    }

    fn trace_call(&self, conn: &ConnectionId, what: &str, bodies: &[String]) {
        let shown: Vec<String> = bodies.iter().map(|b| self.summary(b)).collect();
        self.ctx.trace(format!(
            "  {} {what}: {}",
            self.who(conn),
            shown.join(" | ")
        ));
    }

    /// Runs `calls` concurrently on the current thread, as concurrent Lambda
    /// invocations; their store round trips interleave in the seed's order.
    async fn run(&mut self, calls: Vec<Call>) {
        let mut set = tokio::task::JoinSet::new();
        for (n, call) in calls.into_iter().enumerate() {
            if let Call::Delayed(e) = &call {
                self.ctx
                    .trace(format!("  queue delivers {}", self.ctx.event(e)));
            }
            if let Call::Disconnect { conn } = &call {
                self.ctx.trace(format!("  $disconnect {conn}"));
            }
            self.calls += 1;
            let chat = self.chat.clone();
            set.spawn(async move {
                let outcome = match call {
                    Call::Connect {
                        conn,
                        query,
                        bodies,
                    } => match chat.connect(&conn, &query, None).await {
                        Ok(_) => {
                            for body in bodies {
                                chat.message(&conn, &body).await;
                            }
                            Outcome::Done
                        }
                        Err(_) => Outcome::Refused(conn),
                    },
                    Call::Send { conn, bodies } => {
                        for body in bodies {
                            chat.message(&conn, &body).await;
                        }
                        Outcome::Done
                    }
                    Call::Disconnect { conn } => {
                        let _ = chat.disconnect(&conn).await;
                        Outcome::Done
                    }
                    Call::Delayed(event) => match chat.delayed(event.clone()).await {
                        Ok(()) => Outcome::Done,
                        Err(_) => Outcome::EventFailed(event),
                    },
                };
                (n, outcome)
            });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(done) => outcomes.push(done),
                Err(e) => self
                    .ctx
                    .violate("no_handler_panics", format!("a handler panicked: {e}")),
            }
        }
        self.store.forget_tasks();
        outcomes.sort_by_key(|(n, _)| *n);
        for (_, outcome) in outcomes {
            match outcome {
                Outcome::Done => {}
                Outcome::Refused(conn) => {
                    // The connection never opened: API Gateway sends no `$disconnect`.
                    self.ctx
                        .trace(format!("  $connect of {} refused", self.who(&conn)));
                    if let Some(Owner::Visitor(i)) = self.owners.get(&conn).cloned() {
                        self.token_refused(i).await;
                    }
                    self.forget(&conn);
                }
                Outcome::EventFailed(event) => {
                    self.ctx.count_fault("event_redelivered");
                    self.ctx.trace(format!(
                        "  {} failed: the queue redelivers it",
                        self.ctx.event(&event)
                    ));
                    self.scheduler.redeliver(event, self.now()).await;
                }
            }
        }
    }

    /// Visitor `i`'s token was refused (its `session` frames got lost beyond the
    /// overlap): the widget forgets it, and the simulated visitor comes back with
    /// the newest token, as another tab of theirs would have stored it.
    async fn token_refused(&mut self, i: usize) {
        self.ctx.count_fault("visitor_token_refused");
        let id = self.visitors[i].id.clone();
        let session = self
            .store
            .truth()
            .session(&id, self.now())
            .await
            .ok()
            .flatten();
        self.visitors[i].token =
            session.map(|s| self.visitor_tokens.issue(&id, s.token.current, self.now()));
    }

    /// Shows every open page and tab the frames pushed to it.
    async fn deliver(&mut self) {
        for i in 0..self.visitors.len() {
            let Some(conn) = self.visitors[i].page.as_ref().map(|p| p.conn.clone()) else {
                continue;
            };
            for raw in self.push.take(&conn) {
                self.visitor_frame(i, &conn, &raw).await;
            }
            self.push.take_lost(&conn);
        }
        for j in 0..self.agents.len() {
            let conns: Vec<ConnectionId> =
                self.agents[j].tabs.iter().map(|t| t.conn.clone()).collect();
            for conn in conns {
                for raw in self.push.take(&conn) {
                    self.agent_frame(j, &conn, &raw).await;
                }
                self.check_started(j, &conn).await;
            }
        }
    }

    fn parse(&self, conn: &ConnectionId, raw: &str) -> Option<ServerFrame> {
        match serde_json::from_str::<ServerFrame>(raw) {
            Ok(f) => Some(f),
            Err(e) => {
                self.ctx.violate(
                    "frames_parse",
                    format!(
                        "{} got a frame that does not parse ({e}): {raw}",
                        self.who(conn)
                    ),
                );
                None
            }
        }
    }

    /// Checks a message shown to someone against the store: it must be the stored
    /// message with that number, as that side sees it (a visitor without agent ids).
    async fn check_shown(&self, conn: &ConnectionId, m: &Message, side: Side) {
        let log = self
            .store
            .truth()
            .messages(&m.conversation)
            .await
            .unwrap_or_default();
        let stored = log
            .iter()
            .find(|s| s.seq == m.seq)
            .cloned()
            .map(|s| match side {
                Side::Visitor => s.for_visitor(),
                Side::Agent => s,
            });
        if stored.as_ref() != Some(m) {
            self.ctx.violate(
                "messages_match_the_store",
                format!(
                    "{} was shown message #{} {} of {} that the store {}",
                    self.who(conn),
                    m.seq,
                    m.id,
                    self.ctx.alias(&m.conversation),
                    if stored.is_some() {
                        "holds differently"
                    } else {
                        "does not hold"
                    }
                ),
            );
        }
    }

    /// A visitor must only ever see their own conversations.
    async fn check_own(&self, i: usize, conn: &ConnectionId, conversation: &ConversationId) {
        let owner = self
            .store
            .truth()
            .conversation(conversation)
            .await
            .ok()
            .flatten()
            .map(|c| c.visitor().clone());
        if owner.as_ref() != Some(&self.visitors[i].id) {
            self.ctx.violate(
                "visitors_see_only_their_chats",
                format!(
                    "{} was sent something of {}, which belongs to {}",
                    self.who(conn),
                    self.ctx.alias(conversation),
                    owner.map_or("nobody".into(), |v| v.to_string())
                ),
            );
        }
    }

    async fn acknowledged(&mut self, owner: Owner, conn: &ConnectionId, id: &str) {
        let pending = match owner {
            Owner::Visitor(i) => self.visitors[i].pending.remove(id),
            Owner::Agent(j) => self.agents[j].pending.remove(id),
        };
        let Some(pending) = pending else {
            return;
        };
        let mut candidates: Vec<ConversationId> = pending.conversation.into_iter().collect();
        if let Owner::Visitor(i) = owner
            && let Some(c) = self.visitors[i]
                .page
                .as_ref()
                .and_then(|p| p.conversation.clone())
        {
            candidates.push(c);
        }
        if let Owner::Visitor(i) = owner {
            for c in self.ctx.conversations() {
                let mine = self.store.truth().conversation(&c).await.ok().flatten();
                if mine.is_some_and(|m| *m.visitor() == self.visitors[i].id) {
                    candidates.push(c);
                }
            }
        }
        for c in candidates {
            let log = self.store.truth().messages(&c).await.unwrap_or_default();
            if log
                .iter()
                .any(|m| m.id.as_str() == id && m.text.as_str() == pending.text)
            {
                self.acked.push(Acked {
                    conversation: c,
                    id: id.to_string(),
                });
                return;
            }
        }
        self.ctx.violate(
            "acked_messages_are_stored",
            format!(
                "{} got an ack for {id}, which is not stored",
                self.who(conn)
            ),
        );
    }

    async fn visitor_frame(&mut self, i: usize, conn: &ConnectionId, raw: &str) {
        let Some(frame) = self.parse(conn, raw) else {
            return;
        };
        self.trace_frame(conn, &frame);
        match &frame {
            ServerFrame::Session {
                conversation,
                visitor_token,
                ..
            } => {
                self.visitors[i].token = Some(visitor_token.clone());
                self.check_own(i, conn, conversation).await;
                if let Some(p) = self.visitors[i].page.as_mut()
                    && p.conversation.as_ref() != Some(conversation)
                {
                    p.conversation = Some(conversation.clone());
                    p.view = Default::default();
                    p.status = Status::Bot;
                    p.cards.clear();
                }
            }
            ServerFrame::Cards { cards } => {
                if let Some(p) = self.visitors[i].page.as_mut() {
                    p.cards = cards.clone();
                }
            }
            ServerFrame::Message {
                conversation,
                message,
            } => {
                self.check_own(i, conn, conversation).await;
                self.check_shown(conn, message, Side::Visitor).await;
                self.visitor_shows(i, message);
            }
            ServerFrame::History {
                messages,
                before,
                next,
            } => {
                for m in messages {
                    self.check_own(i, conn, &m.conversation).await;
                    self.check_shown(conn, m, Side::Visitor).await;
                    self.visitor_shows(i, m);
                }
                // The latest page (after `start`), or the older page asked for.
                if let Some(p) = self.visitors[i].page.as_mut()
                    && (before.is_none() || *before == p.view.older)
                {
                    p.view.older = *next;
                }
            }
            ServerFrame::Typing { conversation, .. } => self.check_own(i, conn, conversation).await,
            ServerFrame::ChatEnded { conversation, .. } => {
                self.check_own(i, conn, conversation).await;
                self.set_status(i, Some(conversation), Status::Ended);
            }
            ServerFrame::AgentJoined { .. } => self.set_status(i, None, Status::Live),
            ServerFrame::AgentLeft { .. } | ServerFrame::Waiting { .. } => {
                self.set_status(i, None, Status::Waiting)
            }
            ServerFrame::Fallback { .. } => self.set_status(i, None, Status::Fallback),
            ServerFrame::DetailsReceived | ServerFrame::Pong => {}
            ServerFrame::Error { code, .. } => {
                if *code == ErrorCode::Internal
                    && let Some(p) = self.visitors[i].page.as_mut()
                {
                    p.retry = self.ctx.chance(0.8);
                }
            }
            ServerFrame::Ack { id, message } => {
                // The stored message comes back in the ack, as to the widget.
                self.check_shown(conn, message, Side::Visitor).await;
                self.visitor_shows(i, message);
                self.acknowledged(Owner::Visitor(i), conn, id.as_str())
                    .await
            }
            other => self.ctx.violate(
                "visitors_get_visitor_frames",
                format!("{} got an inbox frame: {}", self.who(conn), other.kind()),
            ),
        }
    }

    fn visitor_shows(&mut self, i: usize, m: &Message) {
        if let Some(p) = self.visitors[i].page.as_mut()
            && p.conversation.as_ref() == Some(&m.conversation)
        {
            p.view.messages.insert(m.seq, m.clone());
        }
    }

    fn set_status(&mut self, i: usize, conversation: Option<&ConversationId>, status: Status) {
        if let Some(p) = self.visitors[i].page.as_mut()
            && conversation.is_none_or(|c| p.conversation.as_ref() == Some(c))
        {
            p.status = status;
        }
    }

    async fn agent_frame(&mut self, j: usize, conn: &ConnectionId, raw: &str) {
        let Some(frame) = self.parse(conn, raw) else {
            return;
        };
        self.trace_frame(conn, &frame);
        match &frame {
            ServerFrame::Message {
                conversation,
                message,
            } => {
                self.check_shown(conn, message, Side::Agent).await;
                let rank = self.ctx.rank(conversation);
                if let Some(tab) = self.tab(j, conn)
                    && let Some((_, view)) = tab.live.get_mut(&rank)
                {
                    view.messages.insert(message.seq, message.clone());
                }
            }
            ServerFrame::ChatStarted {
                conversation,
                messages,
                next,
                version,
                ..
            } => {
                for m in messages {
                    self.check_shown(conn, m, Side::Agent).await;
                }
                let rank = self.ctx.rank(conversation);
                // Read before a move this tab has already heard of: the inbox
                // ignores it.
                let stale = self
                    .tab(j, conn)
                    .is_some_and(|tab| tab.moved.get(&rank).is_some_and(|moved| version < moved));
                if stale {
                    return;
                }
                self.started.push((j, conn.clone(), conversation.clone()));
                if let Some(tab) = self.tab(j, conn) {
                    tab.offers.remove(&rank);
                    let (_, view) = tab
                        .live
                        .entry(rank)
                        .or_insert_with(|| (conversation.clone(), Default::default()));
                    for m in messages {
                        view.messages.insert(m.seq, m.clone());
                    }
                    // The latest page; `next` asks for the one before it.
                    view.older = *next;
                }
            }
            ServerFrame::Transcript {
                conversation,
                messages,
                before,
                next,
                ..
            } => {
                for m in messages {
                    self.check_shown(conn, m, Side::Agent).await;
                }
                // A page of a chat the tab shows live joins it, as the inbox merges
                // it; the page answering the tab's cursor moves it on.
                let rank = self.ctx.rank(conversation);
                if let Some(tab) = self.tab(j, conn)
                    && let Some((_, view)) = tab.live.get_mut(&rank)
                {
                    for m in messages {
                        view.messages.insert(m.seq, m.clone());
                    }
                    if before.is_some() && *before == view.older {
                        view.older = *next;
                    }
                }
            }
            ServerFrame::Offer { conversation, .. } => {
                let rank = self.ctx.rank(conversation);
                if let Some(tab) = self.tab(j, conn) {
                    tab.offers.insert(rank, conversation.clone());
                }
            }
            ServerFrame::OfferWithdrawn { conversation, .. } => {
                let rank = self.ctx.rank(conversation);
                if let Some(tab) = self.tab(j, conn) {
                    tab.offers.remove(&rank);
                }
            }
            ServerFrame::ChatEnded { conversation, .. } => {
                let rank = self.ctx.rank(conversation);
                if let Some(tab) = self.tab(j, conn) {
                    tab.offers.remove(&rank);
                    tab.live.remove(&rank);
                }
            }
            ServerFrame::ChatMoved {
                conversation,
                version,
            } => {
                let rank = self.ctx.rank(conversation);
                if let Some(tab) = self.tab(j, conn) {
                    tab.offers.remove(&rank);
                    tab.live.remove(&rank);
                    let moved = tab.moved.entry(rank).or_default();
                    *moved = (*moved).max(*version);
                }
            }
            ServerFrame::Missed { chats, before, .. } => {
                let missed: Vec<ConversationId> =
                    chats.iter().map(|c| c.conversation.clone()).collect();
                if let Some(tab) = self.tab(j, conn) {
                    // The newest page replaces the list; an older one extends it.
                    if before.is_none() {
                        tab.missed = missed;
                    } else {
                        tab.missed.extend(missed);
                    }
                }
            }
            ServerFrame::Typing { .. } | ServerFrame::Availability { .. } | ServerFrame::Pong => {}
            ServerFrame::Error { code, .. } => {
                let retry = *code == ErrorCode::Internal && self.ctx.chance(0.8);
                if let Some(tab) = self.tab(j, conn) {
                    tab.retry = retry;
                }
            }
            ServerFrame::Ack { id, message } => {
                // The stored message comes back in the ack, as to the inbox.
                self.check_shown(conn, message, Side::Agent).await;
                let rank = self.ctx.rank(&message.conversation);
                if let Some(tab) = self.tab(j, conn)
                    && let Some((_, view)) = tab.live.get_mut(&rank)
                {
                    view.messages.insert(message.seq, message.clone());
                }
                self.acknowledged(Owner::Agent(j), conn, id.as_str()).await
            }
            other => self.ctx.violate(
                "agents_get_inbox_frames",
                format!("{} got a widget frame: {}", self.who(conn), other.kind()),
            ),
        }
    }

    /// An agent told a chat is theirs: within one step (the clock stands still) no
    /// other agent can have it, since it only moves on after a grace period.
    /// A tab told a chat is theirs (`chat_started`) must, once it has seen all of
    /// the step's frames, show it only if it is theirs: a chat that moved on in the
    /// meantime is followed by the news (`chat_moved`, `chat_ended`), unless that
    /// frame was lost on the way (the next sync puts it right).
    async fn check_started(&mut self, j: usize, conn: &ConnectionId) {
        let me = self.agents[j].id.clone();
        let lost = self.push.take_lost(conn);
        let told: Vec<ConversationId> = self
            .started
            .iter()
            .filter(|(a, c, _)| *a == j && c == conn)
            .map(|(_, _, conversation)| conversation.clone())
            .collect();
        self.started.retain(|(a, c, _)| !(*a == j && c == conn));
        for conversation in told {
            let rank = self.ctx.rank(&conversation);
            let shown = self
                .tab(j, conn)
                .is_some_and(|tab| tab.live.contains_key(&rank));
            let news_lost = lost.iter().any(|raw| {
                serde_json::from_str::<ServerFrame>(raw).is_ok_and(|f| {
                    matches!(
                        f,
                        ServerFrame::ChatMoved { conversation: c, .. }
                        | ServerFrame::ChatEnded { conversation: c, .. } if c == conversation
                    )
                })
            });
            if !shown || news_lost {
                continue;
            }
            let conv = self
                .store
                .truth()
                .conversation(&conversation)
                .await
                .ok()
                .flatten();
            if let Some(other) = conv.as_ref().and_then(|c| c.agent())
                && *other != me
            {
                self.ctx.violate(
                    "one_agent_per_chat",
                    format!(
                        "{} was told {} is theirs, but it is {} with {other}",
                        self.who(conn),
                        self.ctx.alias(&conversation),
                        conv.as_ref().map_or("gone", |c| c.state().name())
                    ),
                );
            }
        }
    }

    fn tab(&mut self, j: usize, conn: &ConnectionId) -> Option<&mut Tab> {
        self.agents[j].tabs.iter_mut().find(|t| &t.conn == conn)
    }

    fn trace_frame(&self, conn: &ConnectionId, frame: &ServerFrame) {
        let c = |c: &ConversationId| self.ctx.alias(c);
        let shown = match frame {
            ServerFrame::Session { conversation, .. } => format!("session {}", c(conversation)),
            ServerFrame::Cards { cards } => format!("cards x{}", cards.len()),
            ServerFrame::Message {
                conversation,
                message,
            } => format!(
                "message {} #{} {}",
                c(conversation),
                message.seq,
                self.ctx.scrub(message.id.as_str())
            ),
            ServerFrame::History {
                messages,
                before,
                next,
            } => format!("history x{}{}", messages.len(), pages(*before, *next)),
            ServerFrame::Typing { .. } | ServerFrame::Pong => return,
            ServerFrame::ChatEnded {
                conversation,
                reason,
            } => format!("chat_ended {} {reason:?}", c(conversation)),
            ServerFrame::Offer {
                conversation,
                attempt,
                ..
            } => format!("offer {} attempt {attempt}", c(conversation)),
            ServerFrame::OfferWithdrawn {
                conversation,
                reason,
            } => format!("offer_withdrawn {} {reason:?}", c(conversation)),
            ServerFrame::ChatStarted {
                conversation,
                messages,
                next,
                version,
                ..
            } => format!(
                "chat_started {} x{}{} v{version}",
                c(conversation),
                messages.len(),
                pages(None, *next)
            ),
            ServerFrame::ChatMoved {
                conversation,
                version,
            } => format!("chat_moved {} v{version}", c(conversation)),
            ServerFrame::Transcript {
                conversation,
                messages,
                before,
                next,
                ..
            } => format!(
                "transcript {} x{}{}",
                c(conversation),
                messages.len(),
                pages(*before, *next)
            ),
            ServerFrame::Missed { chats, .. } => format!(
                "missed [{}]",
                chats
                    .iter()
                    .map(|m| c(&m.conversation))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            ServerFrame::Error { code, message, .. } => {
                format!("error {code:?}: {}", self.ctx.scrub(message))
            }
            ServerFrame::Ack { id, message } => {
                format!("ack {} #{}", self.ctx.scrub(id.as_str()), message.seq)
            }
            other => other.kind().to_string(),
        };
        self.ctx
            .trace(format!("    -> {}: {shown}", self.who(conn)));
    }

    /// Ends the run: no more faults; every open page resumes and every open tab
    /// syncs (a client that missed a push gets the state on its next resume), and
    /// unacknowledged messages are sent again, as the widget does after a reconnect.
    pub async fn settle(&mut self) {
        self.ctx.set_faults(false);
        self.ctx
            .trace("settle: faults off, every client resyncs".into());
        let mut calls = Vec::new();
        self.notice_drops(&mut calls);
        for i in 0..self.visitors.len() {
            let Some(page) = self.visitors[i].page.clone() else {
                continue;
            };
            let mut bodies = vec![self.start_body(i)];
            for (id, p) in &self.visitors[i].pending {
                bodies
                    .push(json!({"action": "send_message", "id": id, "text": p.text}).to_string());
            }
            self.send(&page.conn, bodies, &mut calls);
        }
        self.run(calls).await;
        self.deliver().await;
        let mut calls = Vec::new();
        for j in 0..self.agents.len() {
            for tab in self.agents[j].tabs.clone() {
                self.send(
                    &tab.conn,
                    vec![json!({"action": "sync"}).to_string()],
                    &mut calls,
                );
            }
        }
        self.run(calls).await;
        self.deliver().await;
        self.read_older_pages().await;
    }

    /// Every open page and tab asks for the older pages of the chats it shows (a
    /// resume and a sync bring the latest page only), one page a round, until each
    /// has the page that starts its chat: the protocol promises the whole chat this
    /// way, not in one frame.
    async fn read_older_pages(&mut self) {
        // A chat holds at most a few thousand messages: far fewer rounds than this.
        for _ in 0..1000 {
            let mut calls = Vec::new();
            for i in 0..self.visitors.len() {
                let Some(page) = self.visitors[i].page.clone() else {
                    continue;
                };
                if let Some(before) = page.view.older {
                    let body = json!({"action": "history", "before": before}).to_string();
                    self.send(&page.conn, vec![body], &mut calls);
                }
            }
            for j in 0..self.agents.len() {
                for tab in self.agents[j].tabs.clone() {
                    let bodies: Vec<String> = tab
                        .live
                        .values()
                        .filter_map(|(conversation, view)| {
                            let before = view.older?;
                            let c = conversation.to_string();
                            Some(
                                json!({"action": "history", "conversation": c, "before": before})
                                    .to_string(),
                            )
                        })
                        .collect();
                    if !bodies.is_empty() {
                        self.send(&tab.conn, bodies, &mut calls);
                    }
                }
            }
            if calls.is_empty() {
                return;
            }
            self.run(calls).await;
            self.deliver().await;
        }
    }

    /// Agents with a connection the network dropped and whose `$disconnect` has
    /// not been sent yet.
    pub(super) fn agents_dropping(&self) -> BTreeSet<AgentId> {
        lock(&self.ctx.dropped)
            .iter()
            .filter_map(|c| match self.owners.get(c) {
                Some(Owner::Agent(j)) => Some(self.agents[*j].id.clone()),
                _ => None,
            })
            .collect()
    }

    /// The open inbox tabs of `agent`.
    pub(super) fn shown_live(&self, agent: &AgentId) -> Vec<&Tab> {
        self.agents
            .iter()
            .filter(|a| &a.id == agent)
            .flat_map(|a| a.tabs.iter())
            .collect()
    }
}

/// A page's place in the trace: the `before` it answers and the `next` it gives.
fn pages(before: Option<u64>, next: Option<u64>) -> String {
    let mut out = String::new();
    if let Some(b) = before {
        out.push_str(&format!(" before {b}"));
    }
    if let Some(n) = next {
        out.push_str(&format!(" next {n}"));
    }
    out
}

/// Which side of a chat a connection is: what it may be shown differs.
#[derive(Debug, Clone, Copy)]
enum Side {
    Visitor,
    Agent,
}
