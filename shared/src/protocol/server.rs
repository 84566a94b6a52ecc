//! Server frames: everything the handlers push to widgets and inboxes, as one enum
//! tagged by `type`. Agents hold several chats, so every frame about a chat names its
//! `conversation`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{ErrorCode, FrameError, MAX_FRAME_BYTES, ServerError};
use crate::dialog::CardView;
use crate::domain::{
    Attributes, ConversationId, Email, EndReason, Message, MessageId, Sender, well_known,
};
use crate::limits::{
    SUMMARY_ANSWER_VALUE_BYTES, SUMMARY_ANSWERS_BYTES, SUMMARY_NAME_BYTES, SUMMARY_PAGE_URL_BYTES,
    SUMMARY_PHONE_BYTES, clip,
};
use crate::ports::ListCursor;

/// The most routing traces a `routing_trace` frame carries: a chat's latest.
pub const MAX_TRACES: usize = 20;
/// The frame [`ServerFrame::to_json`] sends if serialization ever failed. It cannot
/// for these types (string keys, no custom serializer that errors); this keeps the
/// promise of always sending something valid without a panic path.
pub const FALLBACK_ERROR_JSON: &str = r#"{"type":"error","code":"internal","message":"something went wrong on our side; please try again"}"#;

/// Attribute names the visitor panel reads, beside [`well_known`]'s.
pub mod panel_attributes {
    /// The visitor's last name, appended to the first name.
    pub const LAST_NAME: &str = "last_name";
    /// A full name, used when no first name is known.
    pub const NAME: &str = "name";
    /// The visitor's job title.
    pub const JOB_TITLE: &str = "job_title";
    /// The visitor's phone number.
    pub const PHONE: &str = "phone";
}

/// One captured answer or attribute shown in the visitor panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedAnswer {
    /// What was asked or the attribute's name, e.g. `company_size`.
    pub label: String,
    /// What the visitor answered.
    pub value: String,
    /// The attribute is verified-only (`settings.verified_attributes`) and this
    /// value was not signed (docs/identify.md): routing and branches ignored it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
}

/// A request nobody took, as the inbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedChat {
    /// The conversation (pick it up with `pick_up`).
    pub conversation: ConversationId,
    /// Who asked.
    pub visitor: VisitorSummary,
    /// When it was missed.
    pub at: Timestamp,
    /// `fallback` (nobody eligible) or `missed` (offers went unanswered).
    pub reason: EndReason,
}

/// Who the visitor is, for the inbox's visitor panel. Every field may be unknown
/// (`null` on the wire); the inbox shows "-" for those. Its JSON is at most
/// [`crate::limits::MAX_SUMMARY_BYTES`]: text fields are clipped (see [`crate::limits::clip`]) and
/// answers that do not fit are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorSummary {
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Job title.
    #[serde(default)]
    pub job_title: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<Email>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// The page the visitor is on.
    #[serde(default)]
    pub page_url: Option<String>,
    /// Every other captured answer or attribute, in name order.
    #[serde(default)]
    pub answers: Vec<CapturedAnswer>,
}

impl VisitorSummary {
    /// Builds the panel from the visitor's attributes: the name from `first_name` and
    /// `last_name` (or `name`), then `job_title`, `email`, `phone`, `page_url`; every
    /// other attribute becomes an answer labelled with its name.
    pub fn from_attributes(attributes: &Attributes) -> Self {
        Self::marking(attributes, &std::collections::BTreeSet::new())
    }

    /// [`VisitorSummary::from_attributes`] of a visitor's dialog state: its
    /// unverified attributes are marked so.
    pub fn from_state(state: &crate::dialog::DialogState) -> Self {
        Self::marking(&state.attributes, &state.unverified)
    }

    fn marking(
        attributes: &Attributes,
        unverified: &std::collections::BTreeSet<crate::domain::AttributeName>,
    ) -> Self {
        use panel_attributes::{JOB_TITLE, LAST_NAME, NAME, PHONE};
        let known = |name: &str| {
            attributes
                .get(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let name = match (known(well_known::FIRST_NAME), known(LAST_NAME)) {
            (Some(first), Some(last)) => Some(format!("{first} {last}")),
            (Some(first), None) => Some(first),
            (None, Some(last)) => Some(last),
            (None, None) => known(NAME),
        };
        let clipped = |value: Option<String>, max: usize| value.map(|v| clip(&v, max));
        let shown = [
            well_known::FIRST_NAME,
            LAST_NAME,
            NAME,
            JOB_TITLE,
            well_known::EMAIL,
            PHONE,
            well_known::PAGE_URL,
        ];
        // `[]`, then each answer and a comma between neighbours.
        let mut answers_bytes = 2;
        let answers = attributes
            .iter()
            .filter(|(k, v)| !shown.contains(&k.as_str()) && !v.trim().is_empty())
            .map(|(k, v)| CapturedAnswer {
                label: k.to_string(),
                value: clip(v, SUMMARY_ANSWER_VALUE_BYTES),
                unverified: unverified.contains(k),
            })
            .filter(|answer| {
                let bytes = serde_json::to_vec(answer).map_or(usize::MAX, |v| v.len()) + 1;
                let fits = answers_bytes + bytes <= SUMMARY_ANSWERS_BYTES;
                if fits {
                    answers_bytes += bytes;
                }
                fits
            })
            .collect();
        Self {
            name: clipped(name, SUMMARY_NAME_BYTES),
            job_title: clipped(known(JOB_TITLE), SUMMARY_NAME_BYTES),
            email: attributes.email(),
            phone: clipped(known(PHONE), SUMMARY_PHONE_BYTES),
            page_url: clipped(known(well_known::PAGE_URL), SUMMARY_PAGE_URL_BYTES),
            answers,
        }
    }
}

/// Why an offer was taken back from an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawReason {
    /// The agent did not accept within the visitor wait time limit.
    TimedOut,
    /// The agent declined.
    Declined,
    /// Another agent (or another tab of this agent) accepted first.
    Taken,
    /// The visitor left before anyone accepted.
    VisitorLeft,
    /// The agent had no connection for longer than the grace period, so the
    /// request went on to someone else.
    Away,
    /// A transfer offered to the agent was cancelled: the chat ended, or its
    /// sender was lost, before they accepted.
    Cancelled,
}

/// A transfer, as its receiver's offer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferSummary {
    /// The sender.
    pub from: crate::domain::AgentId,
    /// The sender's name.
    pub from_name: String,
    /// The sender's note (possibly empty), at most 1,000 characters.
    pub note: crate::domain::TransferNote,
}

/// Why a `transfer` offered the chat to nobody: the receiver's verdict for a
/// transfer to an agent, `nobody_eligible` for a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferFailure {
    /// No such agent in the directory.
    UnknownAgent,
    /// No such team.
    UnknownTeam,
    /// The sender named themselves.
    Yourself,
    /// The agent has no live chat permission.
    NoLiveChat,
    /// The agent is away by their availability toggle.
    Away,
    /// The agent is outside their schedule.
    NotInSchedule,
    /// The agent has no open inbox.
    Offline,
    /// The agent holds as many chats as their limit.
    AtLimit,
    /// Nobody of the team but the sender could take it now.
    NobodyEligible,
    /// A transfer of this chat is pending already.
    Pending,
}

/// A frame the server pushes. `type` selects the variant (`snake_case`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// To a visitor after `start`: the signed token to reconnect with (the widget
    /// stores it and passes it when it reconnects) and the conversation.
    Session {
        /// Opaque signed visitor session token.
        visitor_token: String,
        /// The visitor's conversation.
        conversation: ConversationId,
        /// The dialog the conversation walks, when the account has dialogs of its
        /// own: the widget remembers it completed once the chat ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dialog: Option<crate::domain::DialogId>,
        /// How the `start`'s signed identify was taken, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<crate::identify::IdentityOutcome>,
    },
    /// To a visitor: cards to show, in order.
    Cards {
        /// The cards, tokens already rendered.
        cards: Vec<CardView>,
    },
    /// To both sides: a stored chat message. `conversation` repeats
    /// `message.conversation` so that every chat frame is routed the same way.
    Message {
        /// The chat.
        conversation: ConversationId,
        /// The message.
        message: Message,
    },
    /// To a visitor after `start` (the latest page) and after `history` (an older
    /// page): at most [`crate::limits::HISTORY_PAGE_SIZE`] messages. Clients merge
    /// messages by `seq` (ignoring ids they have), since a page may come in several
    /// frames.
    History {
        /// Messages in `seq` order.
        messages: Vec<Message>,
        /// The `before` this page answers; `null` for the latest page.
        #[serde(default)]
        before: Option<u64>,
        /// The `before` of the next (older) page; `null` when this page starts the
        /// chat.
        #[serde(default)]
        next: Option<u64>,
    },
    /// To both sides: the other side started or stopped typing.
    Typing {
        /// The chat.
        conversation: ConversationId,
        /// Who is typing.
        from: Sender,
        /// Typing now.
        typing: bool,
    },
    /// To a visitor: an agent accepted the chat.
    AgentJoined {
        /// The agent's display name.
        agent_name: String,
    },
    /// To a visitor: the agent lost their connection for longer than the grace
    /// period; the chat, with its history, goes to another agent.
    AgentLeft {
        /// The agent's display name.
        agent_name: String,
    },
    /// To a visitor: routing is looking for an agent.
    Waiting {
        /// Place in the live queue (1 is next), when queued.
        position: Option<u32>,
        /// The wait the queue's place suggests, in seconds, once the pool measured a
        /// chat's length (docs/protocol.md, "waiting"); left out otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimated_wait_seconds: Option<u64>,
    },
    /// To a visitor: nobody can take the chat now.
    Fallback {
        /// The fallback message (standard or custom; may contain links).
        text: String,
        /// A meeting-booking link, if the operator set one.
        meeting_link: Option<String>,
        /// Whether to show the leave-your-details form.
        can_leave_details: bool,
    },
    /// To both sides: the chat is over.
    ChatEnded {
        /// The chat.
        conversation: ConversationId,
        /// Why.
        reason: EndReason,
    },
    /// To a visitor: their `leave_details` form was stored.
    DetailsReceived,
    /// To an agent: a chat is offered; accept before `expires_at`.
    Offer {
        /// The chat.
        conversation: ConversationId,
        /// Who the visitor is.
        visitor: VisitorSummary,
        /// When the offer lapses.
        expires_at: Timestamp,
        /// 1 for the first agent tried, 2 for the second (a transfer's: 1).
        attempt: u32,
        /// Set when the offer is a transfer from the agent holding the chat: who
        /// sends it and their note. The chat stays theirs until this is accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transfer: Option<TransferSummary>,
    },
    /// To an agent: an offer is no longer open.
    OfferWithdrawn {
        /// The chat.
        conversation: ConversationId,
        /// Why.
        reason: WithdrawReason,
    },
    /// To an agent: a live chat of theirs went back to the queue, with its history,
    /// because they had no connection for longer than the grace period. A tab that
    /// reconnected just then may have been shown it as theirs: it is not any more.
    ChatMoved {
        /// The chat.
        conversation: ConversationId,
        /// The conversation's version after the move: a `chat_started` with a
        /// lower one was read before the move and is stale.
        version: u64,
    },
    /// To an agent after `accept`: the chat is theirs, with its history so far.
    ChatStarted {
        /// The chat.
        conversation: ConversationId,
        /// Who the visitor is.
        visitor: VisitorSummary,
        /// The latest page of messages in `seq` order (a requeued chat has some).
        messages: Vec<Message>,
        /// The `before` of the older page (ask with `history`); `null` when the
        /// page starts the chat.
        #[serde(default)]
        next: Option<u64>,
        /// The conversation's version this was read at. Two handlers' pushes to one
        /// tab may arrive in either order: a tab that already got a `chat_moved`
        /// with a higher version ignores this one.
        version: u64,
    },
    /// To an agent: their availability as the server sees it.
    Availability {
        /// Available now.
        available: bool,
        /// When a manual toggle lapses (local midnight); `null` when following the
        /// schedule.
        until: Option<Timestamp>,
    },
    /// To an agent after `history`: a conversation's transcript.
    Transcript {
        /// The chat.
        conversation: ConversationId,
        /// One page of messages in `seq` order: the latest, or those below `before`.
        messages: Vec<Message>,
        /// The `before` this page answers; `null` for the latest page.
        #[serde(default)]
        before: Option<u64>,
        /// The `before` of the next (older) page; `null` when this page starts the
        /// chat.
        #[serde(default)]
        next: Option<u64>,
        /// The agent's score of the conversation (0-3), if scored.
        score: Option<u8>,
    },
    /// To an agent after `past_chats`: one page of the chats that ended with an
    /// agent in the last 90 days, newest first (at most
    /// [`crate::limits::PAST_CHATS_PAGE_SIZE`]).
    PastChats {
        /// The chats.
        chats: Vec<crate::ports::PastChat>,
        /// The `before` this page answers; `null` for the newest page.
        before: Option<ListCursor>,
        /// The `before` of the next (older) page; `null` when this is the last.
        next: Option<ListCursor>,
    },
    /// To an agent: one page of the requests nobody took, newest first (at most
    /// [`crate::limits::MISSED_PAGE_SIZE`]).
    Missed {
        /// The missed chats.
        chats: Vec<MissedChat>,
        /// The `before` this page answers; `null` for the newest page, which
        /// replaces the list (the server pushes it when the list changes).
        before: Option<ListCursor>,
        /// The `before` of the next (older) page; `null` when this is the last.
        next: Option<ListCursor>,
    },
    /// To either side: a frame was refused or failed.
    Error {
        /// Stable machine code.
        code: ErrorCode,
        /// Human-readable; generic for `internal`.
        message: String,
        /// For `rate_limited`: seconds until the frame may be sent again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u32>,
    },
    /// To an agent after `reply_by_email`: the reply went to the visitor's address
    /// and the request left the missed list.
    EmailSent {
        /// The missed chat.
        conversation: ConversationId,
        /// The visitor's address.
        to: Email,
    },
    /// To an agent after `renew_token`: the connection is now held to the new
    /// token's expiry.
    TokenRenewed {
        /// When the new token expires (its `exp`).
        expires_at: Timestamp,
    },
    /// To every agent tab of a chat after `add_note`, and after an agent's latest
    /// `transcript` page (one frame per note): an internal note. Never to a
    /// visitor.
    Note {
        /// The chat.
        conversation: ConversationId,
        /// The note.
        note: crate::domain::Note,
    },
    /// To an agent after `canned`, `save_canned` or `delete_canned`: the
    /// account's canned responses (from the configuration) and the agent's own.
    Canned {
        /// The account's, in the configuration's order.
        account: Vec<crate::domain::CannedResponse>,
        /// The agent's own, by shortcut.
        own: Vec<crate::domain::CannedResponse>,
    },
    /// To a Sales Admin after `routing_trace`: why the chat went to whom, one trace
    /// per routing decision, oldest first (at most [`MAX_TRACES`], the latest).
    RoutingTrace {
        /// The chat.
        conversation: ConversationId,
        /// The decisions' traces.
        traces: Vec<crate::routing::Trace>,
    },
    /// To a Marketing or Sales Admin after `dialogs`: the account's dialogs in file
    /// order, without diagrams.
    Dialogs {
        /// The dialogs.
        dialogs: Vec<crate::service::DialogSummary>,
    },
    /// To a Marketing or Sales Admin after `dialogs` naming one: it, with its
    /// diagram.
    Dialog {
        /// The dialog.
        dialog: crate::service::DialogSummary,
    },
    /// To every tab of the sender after a `transfer` found a receiver: the chat is
    /// offered to them until `expires_at`, and stays the sender's until they accept.
    TransferPending {
        /// The chat.
        conversation: ConversationId,
        /// The receiver.
        to: crate::domain::AgentId,
        /// The receiver's name.
        to_name: String,
        /// When the offer lapses.
        expires_at: Timestamp,
    },
    /// To every tab of the sender: the pending transfer ended. `accepted`: the chat
    /// is the receiver's now (a `chat_moved` follows); otherwise it never left the
    /// sender.
    TransferEnded {
        /// The chat.
        conversation: ConversationId,
        /// `accepted`, `declined`, `timed_out` or `cancelled`.
        outcome: crate::domain::TransferOutcome,
        /// The receiver's name.
        to_name: String,
    },
    /// To the connection that sent `transfer`: nobody could be offered the chat,
    /// and why; the chat stays the sender's.
    TransferFailed {
        /// The chat.
        conversation: ConversationId,
        /// Why (see [`TransferFailure`]).
        reason: TransferFailure,
    },
    /// To an agent after `report`: the rows of the range as their role may see
    /// them, as JSON and as CSV (see [`crate::analytics::report`]).
    Report(crate::analytics::Report),
    /// To an agent with the live chat permission, after `live` and whenever the
    /// live view moved (at most once per analytics batch): who waits, the offers
    /// out, the agents' load and status, as their role may see them (see
    /// [`crate::analytics::live`]).
    Live(crate::analytics::live::LiveView),
    /// To an agent without the live chat permission (a Marketing Admin) after
    /// `sync`, instead of `availability`, offers and chats: they are never
    /// routable, and their inbox shows only the reports `scope` allows.
    ReportsOnly {
        /// What their `report`s show: `funnel`.
        scope: String,
    },
    /// Answer to `ping`.
    Pong,
    /// To the sender of `send_message`: the message is stored (sent once per id,
    /// retries included), with the message as stored: the sending connection gets
    /// no `message` frame of its own message (its other connections do).
    Ack {
        /// The client-made message id.
        id: MessageId,
        /// The message as stored (its `seq`, its time).
        message: Message,
    },
}

impl ServerFrame {
    /// The frame's `type`, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerFrame::Session { .. } => "session",
            ServerFrame::Cards { .. } => "cards",
            ServerFrame::Message { .. } => "message",
            ServerFrame::History { .. } => "history",
            ServerFrame::Typing { .. } => "typing",
            ServerFrame::AgentJoined { .. } => "agent_joined",
            ServerFrame::AgentLeft { .. } => "agent_left",
            ServerFrame::Waiting { .. } => "waiting",
            ServerFrame::Fallback { .. } => "fallback",
            ServerFrame::ChatEnded { .. } => "chat_ended",
            ServerFrame::DetailsReceived => "details_received",
            ServerFrame::Offer { .. } => "offer",
            ServerFrame::OfferWithdrawn { .. } => "offer_withdrawn",
            ServerFrame::ChatStarted { .. } => "chat_started",
            ServerFrame::ChatMoved { .. } => "chat_moved",
            ServerFrame::Availability { .. } => "availability",
            ServerFrame::Transcript { .. } => "transcript",
            ServerFrame::PastChats { .. } => "past_chats",
            ServerFrame::Missed { .. } => "missed",
            ServerFrame::Error { .. } => "error",
            ServerFrame::EmailSent { .. } => "email_sent",
            ServerFrame::TokenRenewed { .. } => "token_renewed",
            ServerFrame::Note { .. } => "note",
            ServerFrame::Canned { .. } => "canned",
            ServerFrame::RoutingTrace { .. } => "routing_trace",
            ServerFrame::Dialogs { .. } => "dialogs",
            ServerFrame::Dialog { .. } => "dialog",
            ServerFrame::TransferPending { .. } => "transfer_pending",
            ServerFrame::TransferEnded { .. } => "transfer_ended",
            ServerFrame::TransferFailed { .. } => "transfer_failed",
            ServerFrame::Report(_) => "report",
            ServerFrame::Live(_) => "live",
            ServerFrame::ReportsOnly { .. } => "reports_only",
            ServerFrame::Pong => "pong",
            ServerFrame::Ack { .. } => "ack",
        }
    }

    /// The `next` of a page of messages: the `before` of the page older than it
    /// (its first message's number), unless it starts the chat.
    pub fn next_page(messages: &[Message]) -> Option<u64> {
        messages.first().map(|m| m.seq).filter(|&seq| seq > 1)
    }

    /// A `message` frame; its `conversation` is taken from the message, so the two
    /// cannot disagree.
    pub fn message(message: Message) -> Self {
        ServerFrame::Message {
            conversation: message.conversation.clone(),
            message,
        }
    }

    /// The `error` frame for `error`: its precise message when it is the client's
    /// fault, [`super::INTERNAL_ERROR_MESSAGE`] when it is ours.
    pub fn error(error: &ServerError) -> Self {
        ServerFrame::Error {
            code: error.code(),
            message: error.client_message(),
            retry_after: error.retry_after(),
        }
    }

    /// The frame as JSON text, ready to push. Never fails: see
    /// [`FALLBACK_ERROR_JSON`].
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| FALLBACK_ERROR_JSON.to_string())
    }

    /// Splits a frame so that each part's JSON fits in [`MAX_FRAME_BYTES`], API
    /// Gateway's message limit. Only frames carrying a message list (`history`,
    /// `chat_started`, `transcript`) can outgrow it; they are split into frames of the
    /// same type carrying consecutive runs of messages (clients merge by `seq`).
    /// Every other frame comes back alone. A run never splits a message, and one
    /// message always fits: 4,000 characters escaped at worst 6 bytes each.
    pub fn fit(self) -> Vec<ServerFrame> {
        let size = |frame: &ServerFrame| serde_json::to_vec(frame).map_or(0, |v| v.len());
        if size(&self) <= MAX_FRAME_BYTES {
            return vec![self];
        }
        let mut template = self;
        let messages = match template.messages_mut() {
            Some(messages) => std::mem::take(messages),
            None => return vec![template],
        };
        let rebuild = |run: Vec<Message>| {
            let mut frame = template.clone();
            if let Some(messages) = frame.messages_mut() {
                *messages = run;
            }
            frame
        };
        // compact JSON of the list is `[a,b,c]`: the empty frame's size plus each
        // message plus one comma between neighbours, so sizes add up exactly.
        let base = size(&rebuild(Vec::new()));
        let mut frames = Vec::new();
        let mut run = Vec::new();
        let mut run_bytes = base;
        for message in messages {
            let bytes = serde_json::to_vec(&message).map_or(0, |v| v.len());
            let added = bytes + usize::from(!run.is_empty());
            if !run.is_empty() && run_bytes + added > MAX_FRAME_BYTES {
                frames.push(rebuild(std::mem::take(&mut run)));
                run_bytes = base + bytes;
            } else {
                run_bytes += added;
            }
            run.push(message);
        }
        if !run.is_empty() || frames.is_empty() {
            frames.push(rebuild(run));
        }
        frames
    }
}

impl ServerFrame {
    /// The frame as a visitor may see it: message and typing senders without agent
    /// ids ([`Sender::for_visitor`]). Every frame the service sends a visitor's
    /// connection that can name an agent goes through it.
    pub fn for_visitor(self) -> ServerFrame {
        match self {
            ServerFrame::Message {
                conversation,
                message,
            } => ServerFrame::Message {
                conversation,
                message: message.for_visitor(),
            },
            ServerFrame::Ack { id, message } => ServerFrame::Ack {
                id,
                message: message.for_visitor(),
            },
            ServerFrame::History {
                messages,
                before,
                next,
            } => ServerFrame::History {
                messages: messages.into_iter().map(Message::for_visitor).collect(),
                before,
                next,
            },
            ServerFrame::Typing {
                conversation,
                from,
                typing,
            } => ServerFrame::Typing {
                conversation,
                from: from.for_visitor(),
                typing,
            },
            other => other,
        }
    }

    /// The message list of the frames that carry one.
    fn messages_mut(&mut self) -> Option<&mut Vec<Message>> {
        match self {
            ServerFrame::History { messages, .. }
            | ServerFrame::Transcript { messages, .. }
            | ServerFrame::ChatStarted { messages, .. } => Some(messages),
            _ => None,
        }
    }
}

impl From<&FrameError> for ServerFrame {
    fn from(error: &FrameError) -> Self {
        ServerFrame::Error {
            code: error.code(),
            message: error.to_string(),
            retry_after: None,
        }
    }
}

impl From<&ServerError> for ServerFrame {
    fn from(error: &ServerError) -> Self {
        ServerFrame::error(error)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::{AgentId, AttributeName, CardId, MessageText, TransitionError};
    use crate::protocol::INTERNAL_ERROR_MESSAGE;

    fn conv() -> ConversationId {
        ConversationId::parse("01JQ0000000000000000000001").unwrap()
    }

    fn at() -> Timestamp {
        "2026-03-02T09:30:00Z".parse().unwrap()
    }

    fn message(seq: u64, text: &str) -> Message {
        Message {
            id: MessageId::parse(format!("m{seq}")).unwrap(),
            conversation: conv(),
            seq,
            sender: if seq.is_multiple_of(2) {
                Sender::agent(AgentId::parse("ana").unwrap())
            } else {
                Sender::Visitor
            },
            text: MessageText::parse(text).unwrap(),
            at: at(),
        }
    }

    fn summary() -> VisitorSummary {
        VisitorSummary {
            name: Some("Ana Lima".into()),
            email: Some(Email::parse("ana@acme.com").unwrap()),
            page_url: Some("https://acme.com/pricing".into()),
            answers: vec![CapturedAnswer {
                label: "company_size".into(),
                value: "500".into(),
                unverified: false,
            }],
            ..VisitorSummary::default()
        }
    }

    pub(in crate::protocol) fn server_samples() -> Vec<ServerFrame> {
        vec![
            ServerFrame::Session {
                visitor_token: "v1.sig".into(),
                conversation: conv(),
                dialog: Some(crate::domain::DialogId::parse("pricing").unwrap()),
                identity: None,
            },
            ServerFrame::Session {
                visitor_token: "v1.sig".into(),
                conversation: conv(),
                dialog: None,
                identity: Some(crate::identify::IdentityOutcome::Expired),
            },
            ServerFrame::Cards {
                cards: vec![
                    CardView::Message {
                        card: CardId::parse("hello").unwrap(),
                        text: "Hi there".into(),
                    },
                    CardView::Question {
                        card: CardId::parse("q1").unwrap(),
                        prompt: "Talk to sales?".into(),
                        answers: vec!["Yes".into(), "No".into()],
                    },
                ],
            },
            ServerFrame::message(message(1, "Hello")),
            ServerFrame::History {
                before: None,
                next: None,
                messages: vec![message(1, "Hello"), message(2, "Hi")],
            },
            ServerFrame::Typing {
                conversation: conv(),
                from: Sender::agent(AgentId::parse("ana").unwrap()),
                typing: true,
            },
            ServerFrame::AgentJoined {
                agent_name: "Ana".into(),
            },
            ServerFrame::AgentLeft {
                agent_name: "Ana".into(),
            },
            ServerFrame::Waiting {
                position: Some(2),
                estimated_wait_seconds: Some(240),
            },
            ServerFrame::Waiting {
                position: None,
                estimated_wait_seconds: None,
            },
            ServerFrame::Fallback {
                text: "Nobody is free right now.".into(),
                meeting_link: Some("https://cal.example/ana".into()),
                can_leave_details: true,
            },
            ServerFrame::ChatEnded {
                conversation: conv(),
                reason: EndReason::Completed,
            },
            ServerFrame::DetailsReceived,
            ServerFrame::Offer {
                conversation: conv(),
                visitor: summary(),
                expires_at: at(),
                attempt: 1,
                transfer: None,
            },
            ServerFrame::Offer {
                conversation: conv(),
                visitor: summary(),
                expires_at: at(),
                attempt: 1,
                transfer: Some(TransferSummary {
                    from: AgentId::parse("ana").unwrap(),
                    from_name: "Ana".into(),
                    note: crate::domain::TransferNote::parse("Wants the enterprise plan").unwrap(),
                }),
            },
            ServerFrame::TransferPending {
                conversation: conv(),
                to: AgentId::parse("ben").unwrap(),
                to_name: "Ben".into(),
                expires_at: at(),
            },
            ServerFrame::TransferEnded {
                conversation: conv(),
                outcome: crate::domain::TransferOutcome::TimedOut,
                to_name: "Ben".into(),
            },
            ServerFrame::TransferFailed {
                conversation: conv(),
                reason: TransferFailure::AtLimit,
            },
            ServerFrame::OfferWithdrawn {
                conversation: conv(),
                reason: WithdrawReason::VisitorLeft,
            },
            ServerFrame::OfferWithdrawn {
                conversation: conv(),
                reason: WithdrawReason::Away,
            },
            ServerFrame::ChatMoved {
                conversation: conv(),
                version: 7,
            },
            ServerFrame::ChatStarted {
                version: 6,
                next: None,
                conversation: conv(),
                visitor: VisitorSummary::default(),
                messages: vec![message(1, "Hello")],
            },
            ServerFrame::Availability {
                available: true,
                until: Some(at()),
            },
            ServerFrame::Transcript {
                before: None,
                next: None,
                conversation: conv(),
                messages: vec![message(1, "Hello")],
                score: Some(2),
            },
            ServerFrame::PastChats {
                chats: vec![crate::ports::PastChat {
                    conversation: conv(),
                    agent: crate::domain::AgentId::parse("ana").unwrap(),
                    ended_at: "2026-03-02T10:20:00Z".parse().unwrap(),
                    reason: EndReason::Completed,
                    visitor_name: Some("Jo".into()),
                    visitor_email: None,
                }],
                before: None,
                next: Some(ListCursor {
                    at: "2026-03-02T10:20:00Z".parse().unwrap(),
                    conversation: conv(),
                }),
            },
            ServerFrame::Missed {
                chats: vec![MissedChat {
                    conversation: conv(),
                    visitor: VisitorSummary::default(),
                    at: "2026-03-02T10:05:00Z".parse().unwrap(),
                    reason: EndReason::Fallback,
                }],
                before: None,
                next: None,
            },
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                message: "too many messages from this connection; try again in 4 s".into(),
                retry_after: Some(4),
            },
            ServerFrame::EmailSent {
                conversation: conv(),
                to: Email::parse("jo@acme.example").unwrap(),
            },
            ServerFrame::TokenRenewed { expires_at: at() },
            ServerFrame::Pong,
            ServerFrame::Ack {
                id: MessageId::parse("m1").unwrap(),
                message: message(1, "Hi, do you ship to Canada?"),
            },
            ServerFrame::Canned {
                account: vec![
                    crate::domain::CannedResponse::new(
                        crate::domain::Shortcut::parse("pricing").unwrap(),
                        "Our plans: https://acme.example/plans".into(),
                    )
                    .unwrap(),
                ],
                own: Vec::new(),
            },
            ServerFrame::Note {
                conversation: ConversationId::parse("01JQ8Z5Y0W3H7G2E6D9C4B1A0F").unwrap(),
                note: crate::domain::Note {
                    id: MessageId::parse("n-1").unwrap(),
                    conversation: ConversationId::parse("01JQ8Z5Y0W3H7G2E6D9C4B1A0F").unwrap(),
                    agent: AgentId::parse("ana").unwrap(),
                    text: crate::domain::MessageText::parse("Asked for the enterprise price list")
                        .unwrap(),
                    at: "2026-03-02T09:31:00Z".parse().unwrap(),
                },
            },
            ServerFrame::Dialogs {
                dialogs: vec![crate::service::DialogSummary {
                    id: crate::domain::DialogId::parse("pricing").unwrap(),
                    name: "Pricing page".into(),
                    priority: 10,
                    audience: serde_json::json!({"include": ["*/pricing*"]}),
                    teaser: true,
                    languages: Vec::new(),
                    cards: 4,
                    problems: Vec::new(),
                    warnings: Vec::new(),
                    svg: None,
                }],
            },
            ServerFrame::Dialog {
                dialog: crate::service::DialogSummary {
                    id: crate::domain::DialogId::parse("pricing").unwrap(),
                    name: "Pricing page".into(),
                    priority: 10,
                    audience: serde_json::json!({}),
                    teaser: false,
                    languages: Vec::new(),
                    cards: 4,
                    problems: Vec::new(),
                    warnings: Vec::new(),
                    svg: Some("<svg></svg>".into()),
                },
            },
            ServerFrame::RoutingTrace {
                conversation: ConversationId::parse("01JQ8Z5Y0W3H7G2E6D9C4B1A0F").unwrap(),
                traces: vec![crate::routing::Trace {
                    at: "2026-03-02T09:30:00Z".parse().unwrap(),
                    owner: None,
                    rules: Vec::new(),
                    pools: vec![crate::routing::PoolTrace {
                        pool: Some("team:sales".into()),
                        via: crate::routing::Via::CardPool,
                        candidates: vec![crate::routing::Candidate {
                            agent: AgentId::parse("ana").unwrap(),
                            verdict: crate::routing::Verdict::Chosen,
                        }],
                        cursor_before: None,
                        cursor_after: Some(AgentId::parse("ana").unwrap()),
                    }],
                    outcome: crate::routing::Outcome::Offer {
                        agent: AgentId::parse("ana").unwrap(),
                    },
                }],
            },
            ServerFrame::Report(sample_report()),
            ServerFrame::ReportsOnly {
                scope: "funnel".into(),
            },
            ServerFrame::Live(sample_live()),
        ]
    }

    fn sample_live() -> crate::analytics::live::LiveView {
        use crate::analytics::live::{AgentRow, AgentStatus, LiveView, OfferRow, WaitingRow};
        use crate::domain::AgentId;
        let ana = AgentId::parse("ana").unwrap();
        LiveView {
            scope: "all".into(),
            now: "2026-03-02T10:00:00Z".parse().unwrap(),
            waiting_count: 2,
            oldest_since: Some("2026-03-02T09:58:40Z".parse().unwrap()),
            waiting: vec![
                WaitingRow {
                    conversation: conv(),
                    since: "2026-03-02T09:58:40Z".parse().unwrap(),
                    offer: Some(OfferRow {
                        agent: ana.clone(),
                        name: "Ana".into(),
                        since: "2026-03-02T09:59:30Z".parse().unwrap(),
                        expires_at: "2026-03-02T10:01:10Z".parse().unwrap(),
                    }),
                },
                WaitingRow {
                    conversation: ConversationId::parse("c-2").unwrap(),
                    since: "2026-03-02T09:59:50Z".parse().unwrap(),
                    offer: None,
                },
            ],
            agents: vec![AgentRow {
                agent: ana,
                name: "Ana".into(),
                status: AgentStatus::Available,
                chats: 2,
                offers: 1,
                limit: 3,
                routable: false,
            }],
        }
    }

    fn sample_report() -> crate::analytics::Report {
        use crate::analytics::{Counters, Day, Dimension, Scope, Table};
        let day: Day = "2026-11-01".parse().unwrap();
        let mut table = Table::default();
        let counters = Counters {
            requested: 2,
            ..Counters::default()
        };
        table.add(day, crate::analytics::Bucket::All, &counters, 1);
        let range = crate::analytics::DayRange::new(day, day).unwrap();
        crate::analytics::report(&table, range, Dimension::Day, &Scope::All, "UTC").unwrap()
    }

    #[test]
    fn every_server_frame_round_trips_through_json() {
        for frame in server_samples() {
            let json = frame.to_json();
            let back: ServerFrame = serde_json::from_str(&json).unwrap();
            assert_eq!(back, frame, "{json}");
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(value["type"], frame.kind());
        }
    }

    #[test]
    fn timestamps_are_rfc_3339_strings() {
        let json = ServerFrame::Availability {
            available: false,
            until: Some(at()),
        }
        .to_json();
        assert_eq!(
            json,
            r#"{"type":"availability","available":false,"until":"2026-03-02T09:30:00Z"}"#
        );
    }

    #[test]
    fn a_message_frame_names_its_conversation_at_the_top() {
        let value: serde_json::Value =
            serde_json::from_str(&ServerFrame::message(message(1, "Hi")).to_json()).unwrap();
        assert_eq!(value["conversation"], conv().as_str());
        assert_eq!(value["message"]["seq"], 1);
        assert_eq!(value["message"]["sender"]["kind"], "visitor");
    }

    #[test]
    fn an_internal_error_frame_never_contains_the_internal_detail() {
        let detail = "DynamoDB table lc-prod-conversations: AccessDenied for arn:aws:iam::123";
        let error = ServerError::internal(detail);
        let json = ServerFrame::error(&error).to_json();
        assert!(!json.contains("DynamoDB"), "{json}");
        assert!(!json.contains("arn:aws"), "{json}");
        assert_eq!(
            serde_json::from_str::<ServerFrame>(&json).unwrap(),
            ServerFrame::Error {
                code: ErrorCode::Internal,
                message: INTERNAL_ERROR_MESSAGE.into(),
                retry_after: None,
            }
        );
        let source = std::error::Error::source(&error).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some(detail), "the logs keep the cause");
        assert!(!error.is_client_fault());
    }

    #[test]
    fn a_client_error_frame_carries_its_code_and_precise_message() {
        let err = crate::protocol::VisitorFrame::parse(r#"{"action":"typing"}"#).unwrap_err();
        let frame = ServerFrame::from(&err);
        assert_eq!(
            frame,
            ServerFrame::Error {
                code: ErrorCode::BadField,
                message: "\"typing\" frame, field \"typing\": missing".into(),
                retry_after: None,
            }
        );
        let refused = ServerError::from(TransitionError {
            action: "accept",
            state: "ended",
        });
        assert_eq!(
            ServerFrame::from(&refused),
            ServerFrame::Error {
                code: ErrorCode::InvalidState,
                message: "cannot accept a conversation that is ended".into(),
                retry_after: None,
            }
        );
        assert!(refused.is_client_fault());
    }

    #[test]
    fn the_fallback_error_json_is_the_internal_error_frame() {
        assert_eq!(
            serde_json::from_str::<ServerFrame>(FALLBACK_ERROR_JSON).unwrap(),
            ServerFrame::error(&ServerError::internal("x"))
        );
    }

    #[test]
    fn error_codes_are_spelled_on_the_wire_as_as_str_says() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_str())
            );
        }
    }

    #[test]
    fn a_transcript_over_128_kb_is_split_into_frames_that_fit_in_order() {
        let messages: Vec<Message> = (1..=100)
            .map(|seq| message(seq, &"é".repeat(4_000)))
            .collect();
        let frames = ServerFrame::Transcript {
            before: None,
            next: None,
            conversation: conv(),
            messages: messages.clone(),
            score: None,
        }
        .fit();
        assert!(frames.len() > 1);
        let mut seen = Vec::new();
        for frame in frames {
            assert!(frame.to_json().len() <= MAX_FRAME_BYTES);
            let ServerFrame::Transcript { messages, .. } = frame else {
                panic!("split frames keep their type")
            };
            seen.extend(messages);
        }
        assert_eq!(seen, messages);
    }

    #[test]
    fn split_frames_are_filled_close_to_the_limit() {
        let messages: Vec<Message> = (1..=200)
            .map(|seq| message(seq, &"a".repeat(1_000)))
            .collect();
        let frames = ServerFrame::History {
            messages,
            before: None,
            next: None,
        }
        .fit();
        let first = frames[0].to_json().len();
        assert!(
            first <= MAX_FRAME_BYTES && first > MAX_FRAME_BYTES - 1_200,
            "{first}"
        );
    }

    #[test]
    fn a_small_frame_is_not_split() {
        assert_eq!(ServerFrame::Pong.fit(), vec![ServerFrame::Pong]);
        let history = ServerFrame::History {
            messages: vec![],
            before: None,
            next: None,
        };
        assert_eq!(history.clone().fit(), vec![history]);
    }

    #[test]
    fn the_visitor_panel_reads_known_attributes_and_lists_the_rest() {
        let mut attrs = Attributes::new();
        for (k, v) in [
            ("first_name", "Ana"),
            ("last_name", "Lima"),
            ("email", "ana@ACME.com"),
            ("job_title", "CTO"),
            ("company_size", "500"),
            ("page_url", "https://acme.com/pricing"),
        ] {
            attrs.set(AttributeName::parse(k).unwrap(), v);
        }
        let panel = VisitorSummary::from_attributes(&attrs);
        assert_eq!(panel.name.as_deref(), Some("Ana Lima"));
        assert_eq!(
            panel.email.as_ref().map(Email::as_str),
            Some("ana@acme.com")
        );
        assert_eq!(panel.job_title.as_deref(), Some("CTO"));
        assert_eq!(panel.phone, None);
        assert_eq!(
            panel.answers,
            vec![CapturedAnswer {
                label: "company_size".into(),
                value: "500".into(),
                unverified: false,
            }]
        );
    }

    /// The largest attributes a visitor could ever hold, each value as costly in
    /// JSON as possible (quotes escape to two bytes, emoji take four).
    fn worst_attributes() -> Attributes {
        let mut attrs = Attributes::new();
        let mut set = |k: &str, v: String| attrs.set(AttributeName::parse(k).unwrap(), v);
        for k in [
            "first_name",
            "last_name",
            "name",
            "job_title",
            "phone",
            "page_url",
        ] {
            set(k, "\"".repeat(2_048));
        }
        set(
            "email",
            format!("{}@{}.com", "\"".repeat(64), "a".repeat(180)),
        );
        for i in 0..200 {
            set(&format!("answer_{i:0>56}"), "😀".repeat(500));
        }
        attrs
    }

    fn worst_id() -> ConversationId {
        ConversationId::parse("c".repeat(crate::domain::MAX_ID_LEN)).unwrap()
    }

    fn worst_at() -> Timestamp {
        "2026-03-02T10:05:00.123456789Z".parse().unwrap()
    }

    #[test]
    fn a_visitor_summary_stays_within_its_budget_whatever_the_attributes() {
        let summary = VisitorSummary::from_attributes(&worst_attributes());
        let bytes = serde_json::to_vec(&summary).unwrap().len();
        assert!(bytes <= crate::limits::MAX_SUMMARY_BYTES, "{bytes}");
        assert!(
            !summary.answers.is_empty(),
            "as many answers as fit are kept"
        );
        assert!(summary.name.as_deref().is_some_and(|n| n.ends_with('…')));
    }

    #[test]
    fn a_full_missed_page_of_the_largest_summaries_fits_in_one_frame() {
        let visitor = VisitorSummary::from_attributes(&worst_attributes());
        let cursor = Some(ListCursor {
            at: worst_at(),
            conversation: worst_id(),
        });
        let chats = (0..crate::limits::MISSED_PAGE_SIZE)
            .map(|_| MissedChat {
                conversation: worst_id(),
                visitor: visitor.clone(),
                at: worst_at(),
                reason: EndReason::Fallback,
            })
            .collect();
        let frame = ServerFrame::Missed {
            chats,
            before: cursor.clone(),
            next: cursor,
        };
        let bytes = frame.to_json().len();
        assert!(bytes <= MAX_FRAME_BYTES, "{bytes}");
    }

    #[test]
    fn a_full_past_chats_page_of_the_largest_entries_fits_in_one_frame() {
        let visitor = VisitorSummary::from_attributes(&worst_attributes());
        let cursor = Some(ListCursor {
            at: worst_at(),
            conversation: worst_id(),
        });
        let chats = (0..crate::limits::PAST_CHATS_PAGE_SIZE)
            .map(|_| crate::ports::PastChat {
                conversation: worst_id(),
                agent: AgentId::parse("a".repeat(crate::domain::MAX_ID_LEN)).unwrap(),
                ended_at: worst_at(),
                reason: EndReason::Fallback,
                visitor_name: visitor.name.clone(),
                visitor_email: visitor.email.clone(),
            })
            .collect();
        let frame = ServerFrame::PastChats {
            chats,
            before: cursor.clone(),
            next: cursor,
        };
        let bytes = frame.to_json().len();
        assert!(bytes <= MAX_FRAME_BYTES, "{bytes}");
    }

    #[test]
    fn a_chat_started_with_the_largest_summary_is_split_into_frames_that_fit() {
        let frames = ServerFrame::ChatStarted {
            version: u64::MAX,
            next: None,
            conversation: worst_id(),
            visitor: VisitorSummary::from_attributes(&worst_attributes()),
            messages: (1..=60)
                .map(|seq| message(seq, &"😀".repeat(4_000)))
                .collect(),
        }
        .fit();
        assert!(frames.len() > 1);
        assert!(frames.iter().all(|f| f.to_json().len() <= MAX_FRAME_BYTES));
    }

    #[test]
    fn unknown_panel_fields_are_null_on_the_wire_so_the_inbox_shows_a_dash() {
        let value = serde_json::to_value(VisitorSummary::default()).unwrap();
        assert_eq!(value["phone"], serde_json::Value::Null);
        assert!(value.as_object().unwrap().contains_key("job_title"));
    }
}
