//! The visitor's side: start and resume, dialog steps, chat messages, typing, ending
//! the chat, and the details left after a fallback.

use std::collections::BTreeSet;

use tracing::{info, warn};

use super::Chat;
use crate::auth::VISITOR_TOKEN_OVERLAP;
use crate::dialog::{Context, DialogEvent, DialogState, Step, ValidDialog, VisitorAction, advance};
use crate::domain::{
    AttributeName, Attributes, ConnectionId, Conversation, ConversationId, ConversationState,
    EndReason, Lang, MessageId, MessageText, PageUrl, Sender, VisitorId, well_known,
};
use crate::identify::{IdentityOutcome, SignedIdentity};
use crate::ports::{Appended, CasOutcome, DelayedEvent, NewMessage, Party, VisitorSession};
use crate::protocol::{FrameError, ServerError, ServerFrame, VisitorFrame, WithdrawReason};
use crate::routing::Ending;

/// The id of the message left with the fallback form: one per conversation.
const DETAILS_MESSAGE_ID: &str = "leave_details";

/// What a `start` frame brings, as parsed.
struct Opening {
    page_url: Option<String>,
    attributes: Attributes,
    identity: Option<SignedIdentity>,
    lang: Option<Lang>,
    dialogs: Option<Vec<crate::domain::DialogId>>,
}

/// What a `start` adds to the visitor's attributes (`held`): every `signed` value,
/// whose name joins `verified`, and the `unsigned` ones, whose names leave it;
/// except that an unsigned value of a verified-only attribute does not replace a
/// verified value already held (a page that signs on login and not on every page
/// view keeps what it signed).
fn admit(
    held: &Attributes,
    verified: &mut BTreeSet<AttributeName>,
    verified_only: &[AttributeName],
    unsigned: Attributes,
    signed: Attributes,
) -> Attributes {
    let mut incoming = Attributes::new();
    for (name, value) in unsigned.iter() {
        let keeps_signed =
            verified_only.contains(name) && verified.contains(name) && held.is_known(name.as_str());
        if keeps_signed {
            continue;
        }
        verified.remove(name);
        incoming.set(name.clone(), value);
    }
    for (name, value) in signed.iter() {
        verified.insert(name.clone());
        incoming.set(name.clone(), value);
    }
    incoming
}

/// The verified-only attributes `attributes` holds a value of that was not signed:
/// counted from the current settings at every `start`, so that an attribute listed
/// after its value was stored is not taken as verified.
fn unverified_of(
    attributes: &Attributes,
    verified: &BTreeSet<AttributeName>,
    verified_only: &[AttributeName],
) -> BTreeSet<AttributeName> {
    verified_only
        .iter()
        .filter(|name| attributes.is_known(name.as_str()) && !verified.contains(*name))
        .cloned()
        .collect()
}

impl Chat {
    pub(super) async fn visitor_frame(
        &self,
        connection: &ConnectionId,
        visitor: &VisitorId,
        frame: VisitorFrame,
    ) -> Result<(), ServerError> {
        match frame {
            VisitorFrame::Start {
                page_url,
                attributes,
                identity,
                lang,
                dialogs,
            } => {
                let opening = Opening {
                    page_url,
                    attributes,
                    identity,
                    lang,
                    dialogs,
                };
                self.start(connection, visitor, opening).await
            }
            VisitorFrame::Answer { card, answer } => {
                self.dialog_step(connection, visitor, VisitorAction::Answer { card, answer })
                    .await
            }
            VisitorFrame::Submit { card, value } => {
                self.dialog_step(connection, visitor, VisitorAction::Submit { card, value })
                    .await
            }
            VisitorFrame::SendMessage {
                id,
                text,
                conversation,
            } => {
                self.visitor_message(connection, visitor, conversation, id, text)
                    .await
            }
            VisitorFrame::Typing { typing } => {
                self.visitor_typing(connection, visitor, typing).await
            }
            VisitorFrame::EndChat => self.end_chat(visitor).await,
            VisitorFrame::LeaveDetails { email, message } => {
                self.leave_details(connection, visitor, email, message)
                    .await
            }
            VisitorFrame::Ping => {
                self.send(connection, &ServerFrame::Pong).await;
                Ok(())
            }
            VisitorFrame::History { before } => self.history(connection, visitor, before).await,
        }
    }

    /// Tells the live agent the visitor started or stopped typing (rate limited).
    async fn visitor_typing(
        &self,
        connection: &ConnectionId,
        visitor: &VisitorId,
        typing: bool,
    ) -> Result<(), ServerError> {
        if !self.typing_allowed(connection).await? {
            return Ok(());
        }
        let (_, conv) = self.visitor_conversation(visitor).await?;
        if let ConversationState::Live { agent, .. } = &conv.state() {
            let frame = ServerFrame::Typing {
                conversation: conv.id().clone(),
                from: Sender::Visitor,
                typing,
            };
            self.send_to(
                &Party::Agent {
                    agent: agent.clone(),
                },
                &frame,
            )
            .await?;
        }
        Ok(())
    }

    /// The visitor ends the chat, whatever state it is in, and no token issued so
    /// far reopens its session.
    async fn end_chat(&self, visitor: &VisitorId) -> Result<(), ServerError> {
        let (mut session, conv) = self.visitor_conversation(visitor).await?;
        self.end_conversation(&conv, EndReason::Completed, |_| true)
            .await?
            .required()?;
        session.token.revoke();
        session.updated_at = self.now();
        self.ports.store.put_session(&session).await?;
        Ok(())
    }

    /// A page of the visitor's chat below `before`, as the visitor may see it.
    async fn history(
        &self,
        connection: &ConnectionId,
        visitor: &VisitorId,
        before: u64,
    ) -> Result<(), ServerError> {
        let (session, _) = self.visitor_conversation(visitor).await?;
        let messages = self
            .ports
            .store
            .messages_page(
                &session.conversation,
                Some(before),
                crate::limits::HISTORY_PAGE_SIZE,
            )
            .await?;
        let page = ServerFrame::History {
            next: ServerFrame::next_page(&messages),
            messages,
            before: Some(before),
        };
        self.send(connection, &page.for_visitor()).await;
        Ok(())
    }

    /// The fallback form, for a request nobody took, once: the email replaces the
    /// visitor's, the message joins the conversation. Checked on the read, written,
    /// then marked left with compare-and-set: a retry after a handler died part-way
    /// writes the same again (the message has a fixed id, so it is stored once).
    async fn leave_details(
        &self,
        connection: &ConnectionId,
        visitor: &VisitorId,
        email: crate::domain::Email,
        message: Option<MessageText>,
    ) -> Result<(), ServerError> {
        let directory = self.cached_directory().await?;
        let (mut session, conv) = self.visitor_conversation(visitor).await?;
        if crate::domain::blocked_by(&directory.settings.blocked_email_domains, &email).is_some() {
            // Refused before anything is written: the form stays open for another
            // address. The session is read first for the visitor's language.
            return Err(ServerError::EmailDomainBlocked {
                message: crate::dialog::blocked_domain_message(&email, &session.dialog.lang),
            });
        }
        let now = self.now();
        conv.clone().leave_details(now)?;
        let email_attr = AttributeName::parse(well_known::EMAIL).map_err(ServerError::internal)?;
        session.dialog.attributes.set(email_attr, email.to_string());
        session.updated_at = now;
        self.ports.store.put_session(&session).await?;
        if let Some(text) = message {
            let id = MessageId::parse(DETAILS_MESSAGE_ID).map_err(ServerError::internal)?;
            self.store_message(conv.id(), id, Sender::Visitor, text)
                .await?;
        }
        let mut refused = None;
        let left = self.writer.update(conv.id(), |c| {
            let left = c.leave_details(now);
            let ok = left.is_ok();
            refused = left.err();
            ok
        });
        if left.await?.is_none() {
            // Another frame got in between the read and the write.
            return Err(
                refused.map_or_else(|| ServerError::internal("no details were left"), Into::into)
            );
        }
        info!(conversation = %conv.id(), "visitor left their details after the fallback");
        self.send(connection, &ServerFrame::DetailsReceived).await;
        Ok(())
    }

    async fn visitor_conversation(
        &self,
        visitor: &VisitorId,
    ) -> Result<(VisitorSession, Conversation), ServerError> {
        let session = self.visitor_session(visitor).await?;
        let conv = self.conversation(&session.conversation).await?;
        Ok((session, conv))
    }

    /// The visitor's session; `NotFound` before their first `start`.
    async fn visitor_session(&self, visitor: &VisitorId) -> Result<VisitorSession, ServerError> {
        self.ports
            .store
            .session(visitor, self.now())
            .await?
            .ok_or_else(|| ServerError::NotFound {
                what: "your session (send start first)".into(),
            })
    }

    /// Advances the dialog, reading whether any agent is available only when this
    /// step's outcome depends on it: the engine is a pure function, so a step that
    /// comes out the same both ways did not reach an availability branch, and
    /// costs no read of the agents.
    async fn advance_dialog(
        &self,
        dialog: &ValidDialog,
        state: &DialogState,
        action: &VisitorAction,
    ) -> Result<Step, ServerError> {
        // Only a submit can be refused for its email's domain; the other steps
        // need no look at the settings.
        let directory = match action {
            VisitorAction::Submit { .. } => Some(self.cached_directory().await?),
            _ => None,
        };
        let blocked_email_domains = directory
            .as_deref()
            .map_or(&[][..], |d| &d.settings.blocked_email_domains);
        let assuming = |any_agent_available| {
            advance(
                dialog,
                state,
                action,
                &Context {
                    any_agent_available,
                    blocked_email_domains,
                },
            )
        };
        let nobody = assuming(false);
        if !dialog.needs_availability() {
            return Ok(nobody?);
        }
        let somebody = assuming(true);
        if somebody == nobody {
            return Ok(nobody?);
        }
        Ok(if self.any_agent_eligible().await? {
            somebody?
        } else {
            nobody?
        })
    }

    /// Whether any agent is eligible now (or, with a live queue, at their limit),
    /// for the dialog's "is any agent available" branch: the agents' load, connections and availability toggles
    /// as stored (one BatchGetItem), the rest from the cached directory.
    async fn any_agent_eligible(&self) -> Result<bool, ServerError> {
        let directory = self.cached_directory().await?;
        let now = self.now();
        let agents: Vec<_> = directory
            .agents
            .iter()
            .filter(|a| a.has_permission(crate::domain::Permission::LiveChat))
            .map(|a| a.id.clone())
            .collect();
        let facts = crate::routing::Facts {
            directory: &directory,
            now,
            states: self.ports.store.agent_states(&agents, now).await?,
        };
        // With a live queue, an agent at their limit will free a slot: the visitor
        // is queued for it rather than sent past the live chat.
        let queue = directory.settings.queue_wait_limit.is_some();
        Ok(agents.iter().any(|a| match facts.verdict(a) {
            crate::routing::Verdict::Eligible => true,
            crate::routing::Verdict::AtLimit { .. } => queue,
            _ => false,
        }))
    }

    /// Opens or resumes the visitor's conversation: `session`, the history if any,
    /// the current cards, and where the live chat stands.
    async fn start(
        &self,
        connection: &ConnectionId,
        visitor: &VisitorId,
        opening: Opening,
    ) -> Result<(), ServerError> {
        let Opening {
            page_url,
            attributes,
            identity,
            lang,
            dialogs,
        } = opening;
        let now = self.now();
        let store = &self.ports.store;
        let limits = self.rate_limits().await?;
        let key = format!("start#visitor#{visitor}");
        if let Err(retry_after) = store
            .count_rate(&key, limits.starts_per_visitor, now)
            .await?
        {
            return Err(ServerError::RateLimited {
                what: "start frames from this visitor",
                retry_after,
            });
        }
        let existing = store.session(visitor, now).await?;
        let current = match &existing {
            Some(s) => store
                .conversation(&s.conversation)
                .await?
                .filter(|c| !matches!(c.state(), ConversationState::Ended { .. })),
            None => None,
        };
        // Capped per session, not only per frame, so repeated `start`s cannot grow
        // them; checked before anything is written.
        let outcome = identity.as_ref().map(|signed| match &self.identify {
            Some(key) => key.verify(signed, now),
            None => IdentityOutcome::NotConfigured,
        });
        if let Some(outcome) = outcome.filter(|o| *o != IdentityOutcome::Verified) {
            // The reason only: the attributes are the visitor's.
            warn!(visitor = %visitor, outcome = outcome.as_str(), "signed identify refused; its attributes count as unsigned");
        }
        let (signed, mut unsigned) = match (identity, outcome) {
            (Some(id), Some(IdentityOutcome::Verified)) => (id.attributes, attributes),
            (Some(id), _) => {
                let mut unsigned = attributes;
                for (name, value) in id.attributes.iter() {
                    unsigned.set(name.clone(), value);
                }
                (Attributes::new(), unsigned)
            }
            (None, _) => (Attributes::new(), attributes),
        };
        let page = page_url.as_deref().map(PageUrl::parse);
        if let Some(page) = &page {
            let name = AttributeName::parse(well_known::PAGE_URL).map_err(ServerError::internal)?;
            unsigned.set(name, page.url.clone());
        }
        let verified_only = &self.cached_directory().await?.settings.verified_attributes;
        let mut merged = existing
            .as_ref()
            .map(|s| s.dialog.attributes.clone())
            .unwrap_or_default();
        let mut verified = existing
            .as_ref()
            .map(|s| s.dialog.verified.clone())
            .unwrap_or_default();
        let incoming = admit(&merged, &mut verified, verified_only, unsigned, signed);
        merged
            .merge_capped(&incoming)
            .map_err(|e| FrameError::BadField {
                action: "start".into(),
                field: "attributes".into(),
                reason: e.into(),
            })?;
        // Campaign parameters of the page's URL, each while it fits the caps: a
        // link with too many must not keep the visitor from starting.
        for (name, value) in page.iter().flat_map(|p| &p.campaign) {
            let mut one = Attributes::new();
            one.set(name.clone(), value.clone());
            let mut marked = verified.clone();
            let one = admit(&merged, &mut marked, verified_only, one, Attributes::new());
            if merged.merge_capped(&one).is_ok() {
                verified = marked;
            }
        }
        let (mut session, conv) = match (existing, current) {
            (Some(mut session), Some(conv)) => {
                // A resume: the token used is replaced, and stays accepted a little
                // while (another tab, or a `session` frame lost on the way).
                session.token.rotate(now, VISITOR_TOKEN_OVERLAP);
                (session, conv)
            }
            (previous, _) => {
                // A first visit, or the last conversation ended: start a new one,
                // keeping what we know of the visitor.
                // Tokens of the ended chat are refused from now on.
                // The dialog of the conversation that ended is completed.
                let mut completed = previous
                    .as_ref()
                    .map(|s| s.completed.clone())
                    .unwrap_or_default();
                if let Some(done) = previous.as_ref().and_then(|s| s.dialog_id.clone()) {
                    crate::ports::remember_completed(&mut completed, done);
                }
                let unverified = unverified_of(&merged, &verified, verified_only);
                let dialog_id = self
                    .pick_dialog(
                        dialogs.as_deref(),
                        page_url.as_deref(),
                        &merged.without(&unverified),
                        &completed,
                    )
                    .await?;
                let mut token = previous.as_ref().map(|s| s.token).unwrap_or_default();
                token.revoke();
                let known = previous.map(|s| s.dialog.attributes).unwrap_or_default();
                let conv = Conversation::new(
                    ConversationId::generate(),
                    visitor.clone(),
                    self.dialog_for(dialog_id.as_ref())
                        .await?
                        .dialog()
                        .id
                        .clone(),
                    now,
                );
                if store.create_conversation(&conv).await? == CasOutcome::Conflict {
                    return Err(ServerError::internal(
                        "a new conversation id was already taken",
                    ));
                }
                let session = VisitorSession {
                    visitor: visitor.clone(),
                    conversation: conv.id().clone(),
                    dialog: DialogState::new(known),
                    updated_at: now,
                    token,
                    dialog_id,
                    completed,
                };
                (session, conv)
            }
        };
        session.dialog.unverified = unverified_of(&merged, &verified, verified_only);
        session.dialog.attributes = merged;
        session.dialog.verified = verified;
        if let Some(lang) = lang {
            session.dialog.lang = lang;
        }

        // This page gets the conversation's pushes (messages, typing, the end).
        let me = Party::Visitor {
            visitor: visitor.clone(),
        };
        store.subscribe(conv.id(), connection, &me).await?;
        let dialog = self.dialog_for(session.dialog_id.as_ref()).await?;
        let step = self
            .advance_dialog(&dialog, &session.dialog, &VisitorAction::Start)
            .await?;
        session.dialog = step.state;
        session.updated_at = now;
        // Stored before the token goes out: a token is only ever handed out at a
        // version its session holds.
        store.put_session(&session).await?;
        let token = self.visitors.issue(visitor, session.token.current, now);
        self.send(
            connection,
            &ServerFrame::Session {
                visitor_token: token,
                conversation: conv.id().clone(),
                dialog: session.dialog_id.clone(),
                identity: outcome,
            },
        )
        .await;
        // The latest page only: older ones come with `history`.
        let messages = store
            .messages_page(conv.id(), None, crate::limits::HISTORY_PAGE_SIZE)
            .await?;
        if !messages.is_empty() {
            let history = ServerFrame::History {
                next: ServerFrame::next_page(&messages),
                messages,
                before: None,
            }
            .for_visitor();
            self.send(connection, &history).await;
        }
        if !step.cards.is_empty() {
            self.send(connection, &ServerFrame::Cards { cards: step.cards })
                .await;
        }
        self.apply_events(conv.id(), step.events).await?;
        match &conv.state() {
            ConversationState::Live { agent, .. } => {
                let directory = self.cached_directory().await?;
                let agent_name = directory
                    .agent(agent)
                    .map_or_else(|| agent.to_string(), |a| a.name.clone());
                self.send(connection, &ServerFrame::AgentJoined { agent_name })
                    .await;
            }
            ConversationState::Waiting { .. } | ConversationState::Offered { .. } => {
                // A visitor back on a waiting request (a reload) asks for its routing
                // again: if the handler that set it waiting died before queueing the
                // routing, this is what gets it routed. A duplicate routing is a
                // no-op (see `Router::route`).
                let route = DelayedEvent::Route {
                    conversation: conv.id().clone(),
                };
                self.ports
                    .scheduler
                    .schedule(route, now)
                    .await
                    .map_err(ServerError::internal)?;
                self.send(
                    connection,
                    &ServerFrame::Waiting {
                        position: None,
                        estimated_wait_seconds: None,
                    },
                )
                .await;
            }
            ConversationState::Bot | ConversationState::Ended { .. } => {}
        }
        Ok(())
    }

    async fn dialog_step(
        &self,
        connection: &ConnectionId,
        visitor: &VisitorId,
        action: VisitorAction,
    ) -> Result<(), ServerError> {
        // The session names the conversation: a step that changes it (a live chat
        // requested, the dialog finished) reads it there, and the others need no
        // read of it.
        let mut session = self.visitor_session(visitor).await?;
        let dialog = self.dialog_for(session.dialog_id.as_ref()).await?;
        let step = self
            .advance_dialog(&dialog, &session.dialog, &action)
            .await?;
        session.dialog = step.state;
        session.updated_at = self.now();
        self.ports.store.put_session(&session).await?;
        if !step.cards.is_empty() {
            self.send(connection, &ServerFrame::Cards { cards: step.cards })
                .await;
        }
        self.apply_events(&session.conversation, step.events).await
    }

    /// What the dialog's events mean for the conversation: a live chat request moves
    /// it to `waiting` and asks for routing; the end of the dialog completes it.
    async fn apply_events(
        &self,
        conversation: &ConversationId,
        events: Vec<DialogEvent>,
    ) -> Result<(), ServerError> {
        let now = self.now();
        for event in events {
            match event {
                DialogEvent::LiveChatRequested { card, routing } => {
                    // Should this handler die between setting the conversation
                    // waiting and queueing its routing, the settle routes it.
                    self.settle_later(conversation).await?;
                    let requested = self
                        .writer
                        .update(conversation, |c| {
                            c.request_live_chat_routed(routing.clone(), now).is_ok()
                        })
                        .await?;
                    if requested.is_some() {
                        info!(conversation = %conversation, card = %card, "live chat requested");
                        let event = DelayedEvent::Route {
                            conversation: conversation.clone(),
                        };
                        self.ports
                            .scheduler
                            .schedule(event, now)
                            .await
                            .map_err(ServerError::internal)?;
                    }
                }
                DialogEvent::Finished => {
                    let ended = self
                        .writer
                        .update(conversation, |c| c.end(EndReason::Completed, now).is_ok())
                        .await?;
                    // The widget learns the dialog is over from the server, not from
                    // what its last card happens to be (a hidden goal may end it).
                    if let Some(conv) = ended {
                        let frame = ServerFrame::ChatEnded {
                            conversation: conv.id().clone(),
                            reason: EndReason::Completed,
                        };
                        self.send_to(
                            &Party::Visitor {
                                visitor: conv.visitor().clone(),
                            },
                            &frame,
                        )
                        .await?;
                    }
                }
                DialogEvent::GoalReached { card, name, score } => {
                    info!(conversation = %conversation, card = %card, goal = %name, score = ?score, "goal reached");
                }
                DialogEvent::Captured { .. } => {}
            }
        }
        Ok(())
    }

    /// A visitor's message to the conversation it names, or without one to their
    /// session's. A named conversation that is not theirs is refused exactly as an
    /// unknown one is (`not_found`), so that an id does not reveal a chat exists.
    async fn visitor_message(
        &self,
        connection: &ConnectionId,
        visitor: &VisitorId,
        named: Option<ConversationId>,
        id: MessageId,
        text: MessageText,
    ) -> Result<(), ServerError> {
        let conversation = match named {
            Some(conversation) => conversation,
            None => {
                self.ports
                    .store
                    .session(visitor, self.now())
                    .await?
                    .ok_or_else(|| ServerError::NotFound {
                        what: "your session (send start first)".into(),
                    })?
                    .conversation
            }
        };
        let hub = self.hub(&conversation).await?;
        let party = Party::Visitor {
            visitor: visitor.clone(),
        };
        self.relay(connection, &party, hub, id, text).await
    }

    pub(super) async fn store_message(
        &self,
        conversation: &ConversationId,
        id: MessageId,
        sender: Sender,
        text: MessageText,
    ) -> Result<Appended, ServerError> {
        let hub = self.hub(conversation).await?;
        let (_, appended) = self
            .append(hub, |_| {
                Ok(NewMessage {
                    id: id.clone(),
                    conversation: conversation.clone(),
                    sender: sender.clone(),
                    text: text.clone(),
                    at: self.now(),
                    windows: None,
                })
            })
            .await?;
        Ok(appended)
    }

    /// Ends a conversation for `reason`, if it still passes `still` when the end is
    /// written (see [`crate::routing::Router::end_if`]), and tells both sides as it
    /// was then: the agent holding it sees it end, an agent still deciding on the
    /// offer sees it withdrawn. `conv` is the caller's earlier read, whose state may
    /// be out of date by now.
    pub(super) async fn end_conversation(
        &self,
        conv: &Conversation,
        reason: EndReason,
        still: impl Fn(&Conversation) -> bool,
    ) -> Result<Ending, ServerError> {
        self.settle_later(conv.id()).await?;
        let ending = self.writer.end_if(conv.id(), reason, still).await?;
        let Ending::Ended(before) = &ending else {
            return Ok(ending);
        };
        if let ConversationState::Live { agent, .. } = &before.state() {
            self.record_past(before, agent, reason).await;
        }
        let ended = ServerFrame::ChatEnded {
            conversation: conv.id().clone(),
            reason,
        };
        self.send_to(
            &Party::Visitor {
                visitor: before.visitor().clone(),
            },
            &ended,
        )
        .await?;
        match &before.state() {
            ConversationState::Live { agent, .. } => {
                self.send_to(
                    &Party::Agent {
                        agent: agent.clone(),
                    },
                    &ended,
                )
                .await?;
                // Ending the chat cancels the transfer pending on it.
                if let Some(pending) = before.transfer() {
                    let receiver = pending.to.clone();
                    self.transfer_ended(
                        before,
                        &receiver,
                        crate::domain::TransferOutcome::Cancelled,
                    )
                    .await?;
                }
            }
            ConversationState::Offered { agent, .. } => {
                let withdrawn = ServerFrame::OfferWithdrawn {
                    conversation: conv.id().clone(),
                    reason: WithdrawReason::VisitorLeft,
                };
                self.send_to(
                    &Party::Agent {
                        agent: agent.clone(),
                    },
                    &withdrawn,
                )
                .await?;
            }
            _ => {}
        }
        // The agent's slot is free: the live queue's head may have it. The chat
        // has ended either way: a failure here is logged, not answered.
        if let ConversationState::Live { since, .. } = before.state() {
            let secs = self.now().duration_since(*since).as_secs().max(0);
            if let Err(e) = self.chat_length(secs.unsigned_abs()).await {
                tracing::warn!(error = %super::cause_chain(&e), "could not measure a chat's length");
            }
        }
        match before.state() {
            ConversationState::Live { .. } | ConversationState::Offered { .. } => {
                self.slot_freed_or_log().await;
            }
            // A queued request that ended (its visitor left): those behind it move up.
            ConversationState::Waiting { .. } => self.left_queue_or_log(conv.id()).await,
            _ => {}
        }
        Ok(ending)
    }
}
