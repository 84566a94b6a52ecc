//! Notices outside the inbox: agents who are away hear of new and missed requests by
//! email and webhook, as each agent's settings say; visitors get agents' email
//! replies to the requests nobody took.

use std::collections::BTreeMap;

use tracing::{info, warn};

use super::Chat;
use crate::domain::{
    Agent, AgentId, Attributes, Conversation, NoticeKind, Permission, Role, RoutingMode,
};
use crate::ports::{AgentState, Notice, Recipient};
use crate::protocol::VisitorSummary;
use crate::routing::{Directory, pool_agents};

/// Who may hear of a request: agents who may take chats in its pool, and every Sales
/// Admin for a missed one (a missed request notifies the admin).
fn audience<'d>(directory: &'d Directory, kind: NoticeKind, pool: &[AgentId]) -> Vec<&'d Agent> {
    directory
        .agents
        .iter()
        .filter(|a| {
            let in_pool = pool.contains(&a.id) && a.has_permission(Permission::LiveChat);
            let admin = kind == NoticeKind::MissedRequest && a.roles.contains(&Role::SalesAdmin);
            in_pool || admin
        })
        .collect()
}

/// The channels `agent` wants `kind` on.
fn recipients(agent: &Agent, kind: NoticeKind) -> Vec<Recipient> {
    let mut out = Vec::new();
    if agent.notifications.email.wants(kind) {
        out.push(Recipient::Email(agent.email.clone()));
    }
    if let Some(hook) = &agent.notifications.webhook
        && hook.on().wants(kind)
    {
        out.push(Recipient::Webhook(hook.url.clone()));
    }
    out
}

/// The subject and body of a notice about a request from `visitor`.
pub(crate) fn compose(
    kind: NoticeKind,
    visitor: &VisitorSummary,
    inbox_url: Option<&str>,
) -> (String, String) {
    let who = visitor
        .name
        .clone()
        .or_else(|| visitor.email.as_ref().map(ToString::to_string))
        .unwrap_or_else(|| "a visitor".to_string());
    let subject = match kind {
        NoticeKind::NewRequest => format!("New chat request from {who}"),
        NoticeKind::MissedRequest => format!("Missed chat request from {who}"),
    };
    let mut body = String::new();
    let mut line = |label: &str, value: Option<&str>| {
        body.push_str(label);
        body.push_str(": ");
        body.push_str(value.unwrap_or("-"));
        body.push('\n');
    };
    line("Name", visitor.name.as_deref());
    line("Email", visitor.email.as_ref().map(|e| e.as_str()));
    line("Phone", visitor.phone.as_deref());
    line("Page", visitor.page_url.as_deref());
    for answer in &visitor.answers {
        body.push_str(&format!("{}: {}\n", answer.label, answer.value));
    }
    body.push('\n');
    body.push_str(match kind {
        NoticeKind::NewRequest => "A visitor is waiting for a live chat. Open the Agent Inbox to take it",
        NoticeKind::MissedRequest => {
            "Nobody could take this request. It waits in the missed list of the Agent Inbox: pick it up, or reply by email"
        }
    });
    match inbox_url {
        Some(url) => body.push_str(&format!(": {url}\n")),
        None => body.push_str(".\n"),
    }
    (subject, body)
}

impl Chat {
    /// Tells the agents concerned by a request that it came in (`NewRequest`: only
    /// those with no inbox open; the others got the offer or can see it) or that
    /// nobody took it (`MissedRequest`). Best effort: a notice that fails is logged
    /// and the others still go; routing never waits on a retry of a notice.
    /// `known`: agents' states the caller read already (the routing decision's),
    /// which saves reading them again; agents missing from it are read.
    pub(super) async fn notify_request(
        &self,
        kind: NoticeKind,
        conversation: &Conversation,
        directory: &Directory,
        mode: &RoutingMode,
        attributes: &Attributes,
        known: Option<&BTreeMap<AgentId, AgentState>>,
    ) {
        if let Err(e) = self
            .try_notify_request(kind, conversation, directory, mode, attributes, known)
            .await
        {
            warn!(conversation = %conversation.id(), error = %super::cause_chain(&e), "could not work out who to notify");
        }
    }

    async fn try_notify_request(
        &self,
        kind: NoticeKind,
        conversation: &Conversation,
        directory: &Directory,
        mode: &RoutingMode,
        attributes: &Attributes,
        known: Option<&BTreeMap<AgentId, AgentState>>,
    ) -> Result<(), crate::protocol::ServerError> {
        let pool = pool_agents(directory, mode, attributes);
        let mut agents = audience(directory, kind, &pool);
        if kind == NoticeKind::NewRequest {
            let ids: Vec<_> = agents.iter().map(|a| a.id.clone()).collect();
            let states = match known {
                Some(known) if ids.iter().all(|a| known.contains_key(a)) => known.clone(),
                _ => self.ports.store.agent_states(&ids, self.now()).await?,
            };
            agents.retain(|a| !states.get(&a.id).is_some_and(|s| s.online));
        }
        let visitor = VisitorSummary::from_attributes(attributes);
        let (subject, body) = compose(kind, &visitor, directory.settings.inbox_url.as_deref());
        for agent in agents {
            for to in recipients(agent, kind) {
                let notice = Notice {
                    to,
                    subject: subject.clone(),
                    body: body.clone(),
                    reply_to: None,
                };
                match self.ports.notifier.send(&notice).await {
                    Ok(()) => {
                        info!(conversation = %conversation.id(), agent = %agent.id, channel = notice.to.channel(), kind = ?kind, "notified");
                    }
                    Err(e) => {
                        warn!(conversation = %conversation.id(), agent = %agent.id, error = %e, "a notice failed");
                    }
                }
            }
        }
        Ok(())
    }
}
