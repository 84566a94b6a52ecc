//! The agent's side: sync after connecting, accept or decline offers, chat, typing,
//! end session, availability, score and transcripts.

use std::collections::{BTreeMap, BTreeSet};

use super::Chat;
use crate::analytics::{DayRange, Dimension, Scope};
use crate::domain::{
    AgentId, ConnectionId, Conversation, ConversationId, ConversationState, EndReason,
    INACTIVITY_TIMEOUT, Permission, Sender, TransitionError, VisitorId, next_local_midnight,
};
use crate::limits::{MISSED_LIST_SPAN, MISSED_PAGE_SIZE, PAST_CHATS_PAGE_SIZE, SUMMARY_NAME_BYTES};
use crate::ports::{DelayedEvent, ListCursor, Party, VisitorSession};
use crate::protocol::{AgentFrame, ServerError, ServerFrame, WithdrawReason};

impl Chat {
    /// One frame from an agent's inbox, to the use case of its action.
    pub(super) async fn agent_frame(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        frame: AgentFrame,
    ) -> Result<(), ServerError> {
        if is_chat_action(&frame) {
            self.may_chat(agent).await?;
        }
        match frame {
            // Served with the connection record, before the authorization check.
            AgentFrame::RenewToken { .. } => Err(ServerError::internal(
                "renew_token reached the agent's frame handler",
            )),
            AgentFrame::Sync => self.sync(connection, agent).await,
            AgentFrame::Missed { before } => {
                let frame = self.missed_list(before).await?;
                self.send(connection, &frame).await;
                Ok(())
            }
            AgentFrame::PickUp { conversation } => self.pick_up(agent, conversation).await,
            AgentFrame::ReplyByEmail {
                conversation,
                id,
                text,
            } => {
                self.reply_by_email(connection, agent, &conversation, id, text)
                    .await
            }
            AgentFrame::Accept { conversation } => self.accept(agent, conversation).await,
            AgentFrame::Decline { conversation } => self.decline(agent, conversation).await,
            AgentFrame::SendMessage {
                conversation,
                id,
                text,
            } => {
                let hub = self.hub(&conversation).await?;
                self.relay(connection, &agent_party(agent), hub, id, text)
                    .await
            }
            AgentFrame::Typing {
                conversation,
                typing,
            } => {
                self.agent_typing(connection, agent, conversation, typing)
                    .await
            }
            AgentFrame::EndSession { conversation } => self.end_session(agent, conversation).await,
            AgentFrame::SetAvailability { available } => {
                self.set_availability(agent, available).await
            }
            AgentFrame::Score {
                conversation,
                score,
            } => self.score(agent, conversation, score.get()).await,
            AgentFrame::History {
                conversation,
                before,
            } => {
                self.transcript(connection, agent, conversation, before)
                    .await
            }
            AgentFrame::PastChats { before } => self.past_chats(connection, agent, before).await,
            AgentFrame::AddNote {
                conversation,
                id,
                text,
            } => {
                self.add_note(connection, agent, conversation, id, text)
                    .await
            }
            AgentFrame::Canned {} => self.send_canned(connection, agent).await,
            AgentFrame::Dialogs { dialog } => self.dialogs(connection, agent, dialog).await,
            AgentFrame::SaveCanned { shortcut, text } => {
                self.save_canned(connection, agent, shortcut, text).await
            }
            AgentFrame::DeleteCanned { shortcut } => {
                self.delete_canned(connection, agent, shortcut).await
            }
            AgentFrame::Transfer {
                conversation,
                to,
                note,
            } => {
                self.transfer(connection, agent, conversation, to, note)
                    .await
            }
            AgentFrame::RoutingTrace { conversation } => {
                self.routing_trace(connection, agent, conversation).await
            }
            AgentFrame::Report { range, by } => self.report(connection, agent, range, by).await,
            AgentFrame::Ping => {
                self.send(connection, &ServerFrame::Pong).await;
                Ok(())
            }
            AgentFrame::Live => self.live(connection, agent).await,
        }
    }

    /// `routing_trace`: the chat's routing traces, for a Sales Admin (who sees
    /// every chat) only.
    async fn routing_trace(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        conversation: ConversationId,
    ) -> Result<(), ServerError> {
        if !self.sees_all(agent).await? {
            return Err(ServerError::Forbidden {
                reason: "only a Sales Admin sees why a chat went to whom".into(),
            });
        }
        // Named chats only: an unknown id is refused as for every chat frame.
        self.conversation(&conversation).await?;
        let mut traces = self.ports.store.traces(&conversation).await?;
        let skip = traces.len().saturating_sub(crate::protocol::MAX_TRACES);
        traces.drain(..skip);
        self.send(
            connection,
            &ServerFrame::RoutingTrace {
                conversation,
                traces,
            },
        )
        .await;
        Ok(())
    }

    /// `report`: the counters of the range, cut to what the agent's role may see
    /// (a Sales Admin everything, a Live Agent their own numbers, a Marketing
    /// Admin the dialog funnel). A breakdown the role may not see is refused
    /// before the counters are read.
    async fn report(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        range: DayRange,
        by: Dimension,
    ) -> Result<(), ServerError> {
        let directory = self.cached_directory().await?;
        let scope = directory
            .agent(agent)
            .and_then(Scope::of)
            .ok_or(ServerError::NoLongerAllowed)?;
        let forbidden = |reason: &str| ServerError::Forbidden {
            reason: reason.into(),
        };
        scope.allows(by).map_err(forbidden)?;
        // Counted before the counters are read: a report of many months is the
        // dearest read an agent can ask for.
        let limits = self.rate_limits().await?;
        let key = format!("report#conn#{connection}");
        if let Err(retry_after) = self
            .ports
            .store
            .count_rate(&key, limits.reports_per_connection, self.now())
            .await?
        {
            return Err(ServerError::RateLimited {
                what: "report frames from this connection",
                retry_after,
            });
        }
        let table = self.ports.store.counters(range.from, range.to).await?;
        let zone = directory
            .settings
            .time_zone
            .as_ref()
            .map_or("UTC", |z| z.as_str());
        let parts = crate::analytics::report::report_parts(
            &table,
            range,
            by,
            &scope,
            zone,
            crate::protocol::MAX_FRAME_BYTES,
        )
        .map_err(forbidden)?;
        // In order: the inbox joins the parts by their number either way.
        for part in parts {
            self.send(connection, &ServerFrame::Report(part)).await;
        }
        Ok(())
    }

    /// `live`: the live view as the agent's role may see it (a chat action: an
    /// agent without the live chat permission was refused before). The
    /// connection then watches the view: it is pushed to it as it moves.
    async fn live(&self, connection: &ConnectionId, agent: &AgentId) -> Result<(), ServerError> {
        let key = format!("live#conn#{connection}");
        let counted = self
            .ports
            .store
            .count_rate(&key, crate::limits::LIVE_REQUESTS, self.now())
            .await?;
        if let Err(retry_after) = counted {
            return Err(ServerError::RateLimited {
                what: "live requests from this connection",
                retry_after,
            });
        }
        let now = self.now();
        let until = now.saturating_add(super::CONNECTION_TTL).unwrap_or(now);
        self.ports.store.watch_live(connection, until).await?;
        let directory = self.cached_directory().await?;
        let view = crate::analytics::live::view_for(
            self.ports.store.as_ref(),
            &directory,
            agent,
            self.now(),
        )
        .await?
        .ok_or(ServerError::NoLongerAllowed)?;
        self.send(connection, &ServerFrame::Live(view)).await;
        Ok(())
    }

    /// `pick_up`: a missed request opens as a live chat with `agent`.
    async fn pick_up(
        &self,
        agent: &AgentId,
        conversation: ConversationId,
    ) -> Result<(), ServerError> {
        let before = self.conversation(&conversation).await?;
        let ConversationState::Ended { at: missed_at, .. } = before.state() else {
            return Err(ServerError::Forbidden {
                reason: "this request is no longer missed".into(),
            });
        };
        self.schedule_inactivity_check(&conversation).await?;
        let Some(live) = self.router.pick_up(&conversation, agent).await? else {
            return Err(ServerError::Forbidden {
                reason: "someone took this request already, or you are at your chat limit".into(),
            });
        };
        self.ports
            .store
            .clear_missed(&conversation, *missed_at)
            .await?;
        self.agent_joins(&agent_party(agent), agent, &live).await
    }

    /// `accept`: the offer is taken, the chat goes live with `agent`.
    async fn accept(
        &self,
        agent: &AgentId,
        conversation: ConversationId,
    ) -> Result<(), ServerError> {
        let read = self.conversation(&conversation).await?;
        if read.transfer().is_some_and(|t| &t.to == agent) {
            return self.accept_transfer(agent, read).await;
        }
        let offered = offered(agent, read)?;
        self.schedule_inactivity_check(&conversation).await?;
        let Some(live) = self
            .writer
            .accept_from(&conversation, Some(offered), agent)
            .await?
        else {
            return Err(ServerError::Forbidden {
                reason: "this offer is no longer open to you".into(),
            });
        };
        self.agent_joins(&agent_party(agent), agent, &live).await
    }

    /// `decline`: the offer is withdrawn and the request routed again.
    async fn decline(
        &self,
        agent: &AgentId,
        conversation: ConversationId,
    ) -> Result<(), ServerError> {
        let read = self.conversation(&conversation).await?;
        if read.transfer().is_some_and(|t| &t.to == agent) {
            return self.decline_transfer(agent, read).await;
        }
        offered(agent, read)?;
        self.settle_later(&conversation).await?;
        if !self.writer.withdraw(&conversation, agent, None).await? {
            return Err(ServerError::Forbidden {
                reason: "this offer is no longer open to you".into(),
            });
        }
        // The next routing first: the pushes below must not stand between a
        // withdrawn offer and its second attempt.
        let retry = DelayedEvent::Route {
            conversation: conversation.clone(),
        };
        self.ports
            .scheduler
            .schedule(retry, self.now())
            .await
            .map_err(ServerError::internal)?;
        let withdrawn = ServerFrame::OfferWithdrawn {
            conversation,
            reason: WithdrawReason::Declined,
        };
        self.send_to(&agent_party(agent), &withdrawn).await?;
        // Their slot is free again: the live queue's head may have it.
        self.slot_freed_or_log().await;
        Ok(())
    }

    /// `typing` in a live chat of `agent`'s, relayed to the visitor.
    async fn agent_typing(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        conversation: ConversationId,
        typing: bool,
    ) -> Result<(), ServerError> {
        if !self.typing_allowed(connection).await? {
            return Ok(());
        }
        let conv = self.live_chat_of(agent, &conversation, "type in").await?;
        let frame = ServerFrame::Typing {
            conversation,
            from: Sender::agent(agent.clone()),
            typing,
        };
        self.send_to(
            &Party::Visitor {
                visitor: conv.visitor().clone(),
            },
            &frame.for_visitor(),
        )
        .await
    }

    /// `end_session`: `agent` ends a live chat of theirs.
    async fn end_session(
        &self,
        agent: &AgentId,
        conversation: ConversationId,
    ) -> Result<(), ServerError> {
        let conv = self.live_chat_of(agent, &conversation, "end").await?;
        // Only while it is still theirs: it may have moved on since the read.
        let theirs = |c: &Conversation| matches!(&c.state(), ConversationState::Live { agent: with, .. } if with == agent);
        self.end_conversation(&conv, EndReason::Completed, theirs)
            .await?
            .required()?;
        Ok(())
    }

    /// `set_availability`: a manual toggle until the agent's local midnight.
    async fn set_availability(&self, agent: &AgentId, available: bool) -> Result<(), ServerError> {
        let profile = self.profile(agent).await?;
        let now = self.now();
        let toggle = crate::domain::ManualToggle {
            available,
            until: next_local_midnight(now, &profile.zone()),
        };
        self.ports
            .store
            .set_manual_availability(agent, toggle)
            .await?;
        self.send_to(
            &agent_party(agent),
            &ServerFrame::Availability {
                available,
                until: Some(toggle.until),
            },
        )
        .await?;
        if available {
            // An agent back with free slots: the live queue's head may have one.
            self.slot_freed_or_log().await;
        }
        Ok(())
    }

    /// `score`: by the agent who holds or last held the chat, or an admin.
    async fn score(
        &self,
        agent: &AgentId,
        conversation: ConversationId,
        score: u8,
    ) -> Result<(), ServerError> {
        self.readable_by(agent, &conversation).await?;
        let admin = self.sees_all(agent).await?;
        // Checked on the conversation as written: it may have moved on.
        let scored = self
            .writer
            .update(&conversation, |c| c.score_by(agent, admin, score).is_ok());
        if scored.await?.is_none() {
            return Err(ServerError::Forbidden {
                reason: "only the agent who holds or last held this chat, or an admin, scores it"
                    .into(),
            });
        }
        Ok(())
    }

    /// `history`: one page of a transcript the agent may read.
    async fn transcript(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        conversation: ConversationId,
        before: Option<u64>,
    ) -> Result<(), ServerError> {
        let conv = self.readable_by(agent, &conversation).await?;
        let messages = self
            .ports
            .store
            .messages_page(&conversation, before, crate::limits::HISTORY_PAGE_SIZE)
            .await?;
        self.send(
            connection,
            &ServerFrame::Transcript {
                conversation: conversation.clone(),
                next: ServerFrame::next_page(&messages),
                messages,
                before,
                score: conv.score(),
            },
        )
        .await;
        if before.is_none() {
            self.send_notes(connection, &conversation).await?;
        }
        Ok(())
    }

    /// `past_chats`: a page of the agent's ended chats (everyone's for an admin).
    async fn past_chats(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        before: Option<ListCursor>,
    ) -> Result<(), ServerError> {
        let directory = self.cached_directory().await?;
        let sees_all = directory
            .agent(agent)
            .is_some_and(|a| a.has_permission(Permission::ReadAllConversations));
        let since = self
            .now()
            .checked_sub(crate::ports::PAST_CHATS_KEPT)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let mut chats = self
            .ports
            .store
            .past_chats(
                (!sees_all).then_some(agent),
                since,
                before.as_ref(),
                PAST_CHATS_PAGE_SIZE,
            )
            .await?;
        let next = (chats.len() == PAST_CHATS_PAGE_SIZE)
            .then(|| chats.last())
            .flatten()
            .map(|c| ListCursor {
                at: c.ended_at,
                conversation: c.conversation.clone(),
            });
        // Listed before names were clipped when recorded: clip them here too.
        for chat in &mut chats {
            chat.visitor_name = chat
                .visitor_name
                .as_deref()
                .map(|n| crate::limits::clip(n, SUMMARY_NAME_BYTES));
        }
        let page = ServerFrame::PastChats {
            chats,
            before,
            next,
        };
        self.send(connection, &page).await;
        Ok(())
    }

    /// One page of the `missed` frame: requests nobody took in the last
    /// [`MISSED_LIST_SPAN`], at most [`MISSED_PAGE_SIZE`], after `before`. Its cost
    /// does not grow with the page: the list's shards, then one batched read of the
    /// page's conversations and one of their sessions. Built once per change and
    /// pushed to every online agent ([`Chat::announce_missed`]).
    pub(super) async fn missed_list(
        &self,
        before: Option<ListCursor>,
    ) -> Result<ServerFrame, ServerError> {
        let since = self
            .now()
            .checked_sub(MISSED_LIST_SPAN)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let entries = self
            .ports
            .store
            .missed_since(since, before.as_ref(), MISSED_PAGE_SIZE)
            .await?;
        // From the entries read, not those shown: one taken meanwhile is skipped.
        let next = (entries.len() == MISSED_PAGE_SIZE)
            .then(|| entries.last())
            .flatten()
            .map(|(conversation, at)| ListCursor {
                at: *at,
                conversation: conversation.clone(),
            });
        // Two batched reads for the whole page, whatever its size: the
        // conversations (one taken meanwhile is skipped), then their visitors.
        let ids: Vec<ConversationId> = entries.iter().map(|(c, _)| c.clone()).collect();
        let missed: BTreeMap<ConversationId, Conversation> = if ids.is_empty() {
            BTreeMap::new()
        } else {
            let conversations = self.ports.store.conversations(&ids).await?;
            conversations
                .into_iter()
                .filter(|c| {
                    matches!(
                        c.state(),
                        ConversationState::Ended {
                            reason: EndReason::Missed | EndReason::Fallback,
                            ..
                        }
                    )
                })
                .map(|c| (c.id().clone(), c))
                .collect()
        };
        let visitors: BTreeSet<VisitorId> = missed.values().map(|c| c.visitor().clone()).collect();
        let sessions: BTreeMap<VisitorId, VisitorSession> = if visitors.is_empty() {
            BTreeMap::new()
        } else {
            let visitors: Vec<VisitorId> = visitors.into_iter().collect();
            let found = self.ports.store.sessions(&visitors, self.now()).await?;
            found.into_iter().map(|s| (s.visitor.clone(), s)).collect()
        };
        let chats = entries
            .into_iter()
            .filter_map(|(conversation, at)| {
                let conv = missed.get(&conversation)?;
                let ConversationState::Ended { reason, .. } = conv.state() else {
                    return None;
                };
                Some(crate::protocol::MissedChat {
                    visitor: super::summary_of(sessions.get(conv.visitor())),
                    conversation,
                    at,
                    reason: *reason,
                })
            })
            .collect();
        Ok(ServerFrame::Missed {
            chats,
            before,
            next,
        })
    }

    /// Emails an agent's answer to a missed request to the visitor, keeps it in the
    /// conversation's history and takes the request off the missed list. Nothing is
    /// stored or cleared when the email could not be sent, so the agent can retry,
    /// nor when the deployment sends no email (`email_not_configured`).
    async fn reply_by_email(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        conversation: &ConversationId,
        id: crate::domain::MessageId,
        text: crate::domain::MessageText,
    ) -> Result<(), ServerError> {
        let conv = self.conversation(conversation).await?;
        let ConversationState::Ended {
            reason: EndReason::Missed | EndReason::Fallback,
            at: missed_at,
        } = conv.state()
        else {
            return Err(ServerError::Forbidden {
                reason: "this request is no longer missed".into(),
            });
        };
        if !self.ports.store.is_missed(conversation, *missed_at).await? {
            return Err(ServerError::Forbidden {
                reason: "this request was answered already".into(),
            });
        }
        // One read of the session: the visitor's address and their language.
        let session = self.ports.store.session(conv.visitor(), self.now()).await?;
        let Some(to) = super::summary_of(session.as_ref()).email else {
            return Err(ServerError::Forbidden {
                reason: "the visitor left no email address; pick the request up instead".into(),
            });
        };
        let lang = session.map(|s| s.dialog.lang).unwrap_or_default();
        let profile = self.profile(agent).await?;
        let notice = crate::ports::Notice {
            to: crate::ports::Recipient::Email(to.clone()),
            subject: crate::texts::reply_subject(crate::domain::UiLang::of(&lang)).into(),
            body: format!("{}\n\n{}", text.as_str(), profile.name),
            reply_to: Some(profile.email.clone()),
        };
        self.ports
            .notifier
            .send(&notice)
            .await
            .map_err(|e| match e {
                crate::ports::NotifyError::EmailNotConfigured => ServerError::EmailNotConfigured,
                e => ServerError::internal(e),
            })?;
        self.store_message(conversation, id, Sender::agent(agent.clone()), text)
            .await?;
        // The request is answered: the conversation is the replying agent's.
        self.writer
            .update(conversation, |c| c.answer_by_email(agent).is_ok())
            .await?;
        self.record_past(&conv, agent, EndReason::Completed).await;
        self.ports
            .store
            .clear_missed(conversation, *missed_at)
            .await?;
        let sent = ServerFrame::EmailSent {
            conversation: conversation.clone(),
            to,
        };
        self.send(connection, &sent).await;
        if let Err(e) = self.announce_missed().await {
            tracing::warn!(conversation = %conversation, error = %super::cause_chain(&e), "could not refresh the missed lists");
        }
        Ok(())
    }

    /// The agent as the directory read at most [`super::DIRECTORY_REFRESH`] ago
    /// describes them (their zone, their name: not their availability).
    async fn profile(&self, agent: &AgentId) -> Result<crate::domain::Agent, ServerError> {
        let directory = self.cached_directory().await?;
        directory
            .agent(agent)
            .cloned()
            .ok_or_else(|| ServerError::NotFound {
                what: format!("agent {agent}"),
            })
    }

    /// Lists an ended chat among `agent`'s past chats. Best effort: the chat and its
    /// transcript are stored either way; only the list entry would be missing.
    pub(super) async fn record_past(
        &self,
        conv: &Conversation,
        agent: &AgentId,
        reason: EndReason,
    ) {
        let visitor = match self.visitor_summary(conv).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(conversation = %conv.id(), error = %super::cause_chain(&e), "no visitor details for the past chat");
                crate::protocol::VisitorSummary::default()
            }
        };
        let past = crate::ports::PastChat {
            conversation: conv.id().clone(),
            agent: agent.clone(),
            ended_at: self.now(),
            reason,
            visitor_name: visitor.name,
            visitor_email: visitor.email,
        };
        if let Err(e) = self.ports.store.record_past(&past).await {
            tracing::warn!(conversation = %conv.id(), error = %super::cause_chain(&e), "could not list the past chat");
        }
    }

    /// Tells every agent who may take chats and is online about the missed list
    /// (the inbox shows it; an agent who becomes available can pick a request up).
    pub(super) async fn announce_missed(&self) -> Result<(), ServerError> {
        let frame = self.missed_list(None).await?;
        let directory = self.cached_directory().await?;
        for agent in directory
            .agents
            .iter()
            .filter(|a| a.has_permission(Permission::LiveChat))
        {
            self.send_to(
                &Party::Agent {
                    agent: agent.id.clone(),
                },
                &frame,
            )
            .await?;
        }
        Ok(())
    }

    /// Schedules the inactivity check of a chat about to go live, before the write
    /// that makes it live: a handler that dies after that write must not leave a chat
    /// that can idle forever. A check on a chat that did not go live is a no-op.
    async fn schedule_inactivity_check(
        &self,
        conversation: &ConversationId,
    ) -> Result<(), ServerError> {
        let check = DelayedEvent::InactivityCheck {
            conversation: conversation.clone(),
        };
        let at = self
            .now()
            .saturating_add(INACTIVITY_TIMEOUT)
            .unwrap_or(self.now());
        self.ports
            .scheduler
            .schedule(check, at)
            .await
            .map_err(ServerError::internal)
    }

    /// The chat is now `agent`'s: every tab of theirs subscribes and gets
    /// `chat_started` with the history, and the visitor (when this is still their
    /// conversation) sees them join. The inactivity check was scheduled before.
    pub(super) async fn agent_joins(
        &self,
        me: &Party,
        agent: &AgentId,
        conv: &Conversation,
    ) -> Result<(), ServerError> {
        let now = self.now();
        let tabs = self.ports.store.connections_of(me, now).await?;
        for tab in &tabs {
            self.ports.store.subscribe(conv.id(), tab, me).await?;
        }
        let session = self.ports.store.session(conv.visitor(), now).await?;
        let latest = self
            .ports
            .store
            .messages_page(conv.id(), None, crate::limits::HISTORY_PAGE_SIZE)
            .await?;
        let started = ServerFrame::ChatStarted {
            conversation: conv.id().clone(),
            visitor: super::summary_of(session.as_ref()),
            messages: latest.clone(),
            next: ServerFrame::next_page(&latest),
            version: conv.version(),
        };
        futures_util::future::join_all(tabs.iter().map(|tab| self.send(tab, &started))).await;
        if session.is_some_and(|s| &s.conversation == conv.id()) {
            let directory = self.cached_directory().await?;
            let agent_name = directory
                .agent(agent)
                .map_or_else(|| agent.to_string(), |a| a.name.clone());
            self.send_to(
                &Party::Visitor {
                    visitor: conv.visitor().clone(),
                },
                &ServerFrame::AgentJoined { agent_name },
            )
            .await?;
        }
        Ok(())
    }

    /// What the inbox needs after (re)connecting: availability, pending offers, live
    /// chats with their messages.
    /// An agent without the live chat permission (a Marketing Admin) gets
    /// `reports_only` instead: nothing of a chat, and no availability to show.
    async fn sync(&self, connection: &ConnectionId, agent: &AgentId) -> Result<(), ServerError> {
        let now = self.now();
        let directory = self.cached_directory().await?;
        let profile = directory
            .agent(agent)
            .ok_or_else(|| ServerError::NotFound {
                what: format!("agent {agent}"),
            })?;
        if !profile.has_permission(Permission::LiveChat) {
            let scope = Scope::of(profile).ok_or(ServerError::NoLongerAllowed)?;
            let frame = ServerFrame::ReportsOnly {
                scope: scope.name().into(),
            };
            self.send(connection, &frame).await;
            return Ok(());
        }
        // The toggle as stored: the availability shown must be the agent's last.
        let manual = self
            .ports
            .store
            .agent_states(std::slice::from_ref(agent), now)
            .await?
            .remove(agent)
            .and_then(|s| s.manual)
            .or(profile.manual);
        let until = manual.map(|m| m.until).filter(|until| *until > now);
        self.send(
            connection,
            &ServerFrame::Availability {
                available: profile.is_available_with(manual, now),
                until,
            },
        )
        .await;
        for id in self.ports.store.agent_chats(agent).await? {
            let conv = self.conversation(&id).await?;
            match &conv.state() {
                ConversationState::Offered {
                    agent: to,
                    expires_at,
                } if to == agent => {
                    let offer = ServerFrame::Offer {
                        conversation: id.clone(),
                        visitor: self.visitor_summary(&conv).await?,
                        expires_at: *expires_at,
                        attempt: u32::try_from(conv.offered_to().len()).unwrap_or(u32::MAX),
                        transfer: None,
                    };
                    self.send(connection, &offer).await;
                    self.still_offered(connection, agent, &id).await?;
                }
                ConversationState::Live { agent: with, .. } if with == agent => {
                    let me = Party::Agent {
                        agent: agent.clone(),
                    };
                    self.ports.store.subscribe(&id, connection, &me).await?;
                    let latest = self
                        .ports
                        .store
                        .messages_page(&id, None, crate::limits::HISTORY_PAGE_SIZE)
                        .await?;
                    let started = ServerFrame::ChatStarted {
                        conversation: id.clone(),
                        visitor: self.visitor_summary(&conv).await?,
                        next: ServerFrame::next_page(&latest),
                        messages: latest,
                        version: conv.version(),
                    };
                    self.send(connection, &started).await;
                    if let Some(pending) = conv.transfer() {
                        let pending = ServerFrame::TransferPending {
                            conversation: id.clone(),
                            to: pending.to.clone(),
                            to_name: directory
                                .agent(&pending.to)
                                .map_or_else(|| pending.to.to_string(), |a| a.name.clone()),
                            expires_at: pending.expires_at,
                        };
                        self.send(connection, &pending).await;
                    }
                    self.still_theirs(connection, agent, &id).await?;
                }
                // A transfer offered to this agent: the chat is the sender's still.
                ConversationState::Live { .. }
                    if conv.transfer().is_some_and(|t| &t.to == agent) =>
                {
                    if let Some(offer) = self.transfer_offer(&conv).await? {
                        self.send(connection, &offer).await;
                    }
                }
                _ => {}
            }
        }
        // An agent online again may have free slots: the live queue's head may
        // have one.
        self.slot_freed_or_log().await;
        Ok(())
    }

    /// After a sync showed an offer: if it closed meanwhile, the handler that closed
    /// it may have told the agent's tabs before this one showed it, so this reads it
    /// again and withdraws it from this tab. As for a live chat
    /// ([`Chat::still_theirs`]), the tab hears of the close from one or the other,
    /// after the offer.
    async fn still_offered(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        id: &ConversationId,
    ) -> Result<(), ServerError> {
        let now = self.conversation(id).await?;
        let reason = match &now.state() {
            // (A request is never offered to the same agent twice.)
            ConversationState::Offered { agent: to, .. } if to == agent => return Ok(()),
            ConversationState::Live { .. } => WithdrawReason::Taken,
            ConversationState::Ended {
                reason: EndReason::Dropped | EndReason::Completed,
                ..
            } => WithdrawReason::VisitorLeft,
            // Back in the queue or on to someone else: most often the offer lapsed.
            _ => WithdrawReason::TimedOut,
        };
        let withdrawn = ServerFrame::OfferWithdrawn {
            conversation: id.clone(),
            reason,
        };
        self.send(connection, &withdrawn).await;
        Ok(())
    }

    /// After a sync showed a live chat: if the agent's grace period ended meanwhile
    /// (the handler found no connection just before this one was made), the chat
    /// is on its way to someone else. That handler tells the agent's connections
    /// after moving the chat, and this one reads again after showing it, so the tab
    /// hears of the move from one or the other, after `chat_started`.
    async fn still_theirs(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        id: &ConversationId,
    ) -> Result<(), ServerError> {
        let now = self.conversation(id).await?;
        let news = match now.state() {
            ConversationState::Live { agent: with, .. } if with == agent => return Ok(()),
            ConversationState::Ended { reason, .. } => ServerFrame::ChatEnded {
                conversation: id.clone(),
                reason: *reason,
            },
            _ => ServerFrame::ChatMoved {
                conversation: id.clone(),
                version: now.version(),
            },
        };
        self.send(connection, &news).await;
        Ok(())
    }

    /// The conversation, if it is a live chat of `agent`.
    pub(super) async fn live_chat_of(
        &self,
        agent: &AgentId,
        id: &ConversationId,
        action: &'static str,
    ) -> Result<Conversation, ServerError> {
        let conv = self.conversation(id).await?;
        match &conv.state() {
            ConversationState::Live { agent: with, .. } if with == agent => Ok(conv),
            ConversationState::Live { .. } => Err(ServerError::Forbidden {
                reason: "this chat is not yours".into(),
            }),
            other => Err(TransitionError {
                action,
                state: other.name(),
            }
            .into()),
        }
    }

    /// The conversation, if the agent may read it ([`Conversation::readable_by`], or
    /// they may read every conversation). A refusal is answered as an unknown id is,
    /// so that it does not tell the conversation exists.
    pub(super) async fn readable_by(
        &self,
        agent: &AgentId,
        id: &ConversationId,
    ) -> Result<Conversation, ServerError> {
        let conv = self.conversation(id).await?;
        if conv.readable_by(agent) || self.sees_all(agent).await? {
            Ok(conv)
        } else {
            Err(ServerError::NotFound {
                what: format!("conversation {id}"),
            })
        }
    }

    /// Whether the agent may read (and score) every conversation: an admin.
    async fn sees_all(&self, agent: &AgentId) -> Result<bool, ServerError> {
        let directory = self.cached_directory().await?;
        Ok(directory
            .agent(agent)
            .is_some_and(|a| a.has_permission(Permission::ReadAllConversations)))
    }
}

/// Whether a frame acts on chats or lists them (everything but `ping`, `sync`,
/// `report`, `dialogs` and `renew_token`): only an agent with the live chat permission may
/// send it ([`Chat::may_chat`]).
fn is_chat_action(frame: &AgentFrame) -> bool {
    !matches!(
        frame,
        AgentFrame::Ping
            | AgentFrame::Sync
            | AgentFrame::Report { .. }
            | AgentFrame::Dialogs { .. }
            | AgentFrame::RenewToken { .. }
    )
}

/// Checks the conversation (read, so it exists: `not_found` otherwise) is offered
/// to `agent` now (`forbidden`), before an `accept` or `decline` queues any timer: a
/// frame that names someone else's offer, or a made-up id, leaves nothing behind.
/// The conversation as read, for the claim to start from.
fn offered(agent: &AgentId, conversation: Conversation) -> Result<Conversation, ServerError> {
    match &conversation.state() {
        ConversationState::Offered { agent: to, .. } if to == agent => Ok(conversation),
        _ => Err(ServerError::Forbidden {
            reason: "this offer is no longer open to you".into(),
        }),
    }
}

/// The party an agent's pushes go to: every tab of theirs.
fn agent_party(agent: &AgentId) -> Party {
    Party::Agent {
        agent: agent.clone(),
    }
}
