//! Client frames: what the widget ([`VisitorFrame`]) and the Agent Inbox
//! ([`AgentFrame`]) send.
//!
//! A body is parsed in two steps, so that every refusal names its field:
//! 1. [`RawFrame::parse`]: size, JSON, object; fields stay untyped JSON values, so
//!    serde itself cannot fail on a field's type and hide which field it was.
//! 2. `TryFrom<RawFrame>` (declared with the frame, once per action, by
//!    `client_frames!`): the action is looked up and each field is parsed into its
//!    domain type (ids, [`MessageText`], [`Email`]...), yielding
//!    [`FrameError::BadField`] with the field's name on the first bad one.
//!
//! Unknown extra fields are ignored, so an older handler accepts a newer client.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{FieldError, FrameError, MAX_FRAME_BYTES, MAX_JSON_DEPTH};
use crate::analytics::{DayRange, Dimension, RangeError};
use crate::domain::{
    AgentId, AttributeName, Attributes, CardId, ConversationId, DialogId, Email, IdError, Lang,
    MAX_MESSAGE_CHARS, MAX_TRANSFER_NOTE_CHARS, MessageId, MessageText, Shortcut, TeamId,
    TransferNote, TransferTarget, check_attribute_value,
};
use crate::identify::SignedIdentity;
use crate::ports::ListCursor;

/// Longest `page_url` accepted, in characters (the de facto browser URL limit).
pub const MAX_PAGE_URL_CHARS: usize = 2_048;
/// Most attributes one `start` frame may pass.
pub const MAX_ATTRIBUTES: usize = 50;
/// Longest attribute value accepted, in characters.
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 500;
/// Longest `identity.signature` read, in characters: a valid one has 64, and a
/// longer one is refused as the frame's mistake rather than carried to the check.
pub const MAX_SIGNATURE_CHARS: usize = 128;
/// Longest value a `submit` may carry, in characters; the same as a chat message.
pub const MAX_SUBMIT_CHARS: usize = MAX_MESSAGE_CHARS;

/// Why a conversation score was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a conversation score is 0 to 3, not {0}")]
pub struct ScoreError(pub u64);

/// An agent's score of a conversation: 0 to 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u8")]
pub struct ConversationScore(u8);

impl ConversationScore {
    /// The highest score.
    pub const MAX: u8 = 3;

    /// Parses a score in `0..=3`.
    pub fn new(score: u64) -> Result<Self, ScoreError> {
        match u8::try_from(score) {
            Ok(s) if s <= Self::MAX => Ok(Self(s)),
            _ => Err(ScoreError(score)),
        }
    }

    /// The score.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u64> for ConversationScore {
    type Error = ScoreError;
    fn try_from(score: u64) -> Result<Self, ScoreError> {
        Self::new(score)
    }
}

impl From<ConversationScore> for u8 {
    fn from(s: ConversationScore) -> u8 {
        s.0
    }
}

/// A client frame after step 1: a JSON object whose fields are not yet typed.
///
/// Handlers that serve both visitors and agents (the same `action` can come from
/// either, e.g. `send_message`) parse it once, then convert with
/// `VisitorFrame::try_from` or `AgentFrame::try_from` by the connection's party.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RawFrame {
    #[serde(default)]
    action: Option<Value>,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

/// The deepest nesting of objects and arrays in `body`, brackets inside strings not
/// counted; one pass, no allocation. Meant for a bound checked before parsing, so
/// it does not validate the JSON (the parser does).
pub fn json_depth(body: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in body.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

impl RawFrame {
    /// Checks the size (at most [`MAX_FRAME_BYTES`]) and that the body is a JSON
    /// object. A non-object JSON value is [`FrameError::MissingAction`], as API
    /// Gateway routes it to `$default` for the same reason.
    pub fn parse(body: &str) -> Result<Self, FrameError> {
        if body.len() > MAX_FRAME_BYTES {
            return Err(FrameError::TooLarge { bytes: body.len() });
        }
        if json_depth(body) > MAX_JSON_DEPTH {
            return Err(FrameError::NotJson {
                detail: format!("it nests objects and arrays deeper than {MAX_JSON_DEPTH} levels"),
            });
        }
        let value: Value = serde_json::from_str(body).map_err(|e| FrameError::NotJson {
            detail: e.to_string(),
        })?;
        match value {
            Value::Object(mut fields) => Ok(Self {
                action: fields.remove("action"),
                fields,
            }),
            _ => Err(FrameError::MissingAction),
        }
    }

    /// A field other than `action`, as sent.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// The action, when it is a non-empty string.
    pub fn action(&self) -> Option<&str> {
        match &self.action {
            Some(Value::String(a)) if !a.is_empty() => Some(a),
            _ => None,
        }
    }
}

/// Declares a client frame enum once: each variant's action name, its fields with
/// their types and the [`Fields`] reader that parses each (a field's JSON name is its
/// Rust name). From that one declaration come the enum (its serde tag is the action),
/// `ACTIONS`, `action()` and the `TryFrom<RawFrame>` that refuses an unknown action.
macro_rules! client_frames {
    (
        $(#[$attr:meta])*
        pub enum $Frame:ident {
            $(
                $(#[$vattr:meta])*
                $action:literal => $Variant:ident $({
                    $(
                        $(#[$fattr:meta])*
                        $field:ident: $ty:ty = $reader:ident($($arg:expr),*)
                    ),* $(,)?
                })?
            ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "action", try_from = "RawFrame")]
        pub enum $Frame {
            $(
                $(#[$vattr])*
                #[serde(rename = $action)]
                $Variant $({
                    $(
                        $(#[$fattr])*
                        $field: $ty,
                    )*
                })?,
            )*
        }

        impl $Frame {
            /// Every action of this side, in declaration order.
            pub const ACTIONS: [&'static str; [$($action),*].len()] = [$($action),*];

            /// The frame's `action`, for logs.
            pub fn action(&self) -> &'static str {
                match self {
                    $(Self::$Variant { .. } => $action,)*
                }
            }
        }

        impl TryFrom<RawFrame> for $Frame {
            type Error = FrameError;

            fn try_from(raw: RawFrame) -> Result<Self, FrameError> {
                #[allow(unused_mut)]
                let mut f = Fields::open(raw)?;
                let action = f.action.clone();
                Ok(match action.as_str() {
                    $(
                        $action => Self::$Variant $({
                            $($field: f.$reader(stringify!($field) $(, $arg)*)?,)*
                        })?,
                    )*
                    _ => return Err(FrameError::UnknownAction { action }),
                })
            }
        }
    };
}

client_frames! {
    /// What the widget sends. `action` selects the variant.
    pub enum VisitorFrame {
        /// Open (or, after a reload, resume) the dialog. The host page may pass what it
        /// knows of the visitor (the widget's identify call) as `attributes`.
        "start" => Start {
            /// The page the widget runs on.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            page_url: Option<String> = optional_attribute(MAX_PAGE_URL_CHARS),
            /// Attributes from the host page; values may be sent as strings, numbers or
            /// booleans and are kept as text.
            #[serde(default, skip_serializing_if = "attributes_are_empty")]
            attributes: Attributes = attributes(),
            /// Attributes signed by the company's backend (docs/identify.md): checked
            /// against the account's secret; refused ones count as unsigned.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            identity: Option<SignedIdentity> = identity(),
            /// The visitor's language, a BCP 47 tag such as `de` or `pt-BR` (the
            /// widget's): the server's own texts and the dialog's come in it, for
            /// this `start` and every later frame of the session. Absent keeps the
            /// session's (English at first); a language the product has no texts in
            /// is English.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            lang: Option<Lang> = optional_lang(),
        },
        /// Click answer number `answer` (0-based) of question card `card`.
        "answer" => Answer {
            /// The question card.
            card: CardId = id(),
            /// The answer's index, in the order shown.
            answer: usize = index(),
        },
        /// Submit a value to information capture card `card`; the dialog engine checks
        /// it against the card's field type.
        "submit" => Submit {
            /// The capture card.
            card: CardId = id(),
            /// The value typed or picked, at most [`MAX_SUBMIT_CHARS`] characters.
            value: String = string(MAX_SUBMIT_CHARS),
        },
        /// Send a chat message. `id` is made by the widget so a retried send is stored
        /// once.
        "send_message" => SendMessage {
            /// The client-made message id.
            id: MessageId = id(),
            /// The text.
            text: MessageText = text(),
            /// The conversation (from the `session` frame). Optional; with it the
            /// server relays without looking the connection up.
            conversation: Option<ConversationId> = optional_id(),
        },
        /// The visitor started or stopped typing.
        "typing" => Typing {
            /// Typing now.
            typing: bool = boolean(),
        },
        /// The visitor ends the chat.
        "end_chat" => EndChat,
        /// The fallback form: the visitor's email and an optional message.
        "leave_details" => LeaveDetails {
            /// Where to reach the visitor.
            email: Email = email(),
            /// What they want; absent when the form's message box was left blank.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            message: Option<MessageText> = optional_text(),
        },
        /// Keeps the connection from API Gateway's 10 minute idle timeout; answered with
        /// `pong`.
        "ping" => Ping,
        /// An older page of the chat's messages, below `before` (a `history` frame's
        /// `next`); answered with `history`.
        "history" => History {
            /// The page's upper bound, exclusive.
            before: u64 = seq(),
        },
    }
}

fn attributes_are_empty(attributes: &Attributes) -> bool {
    attributes.iter().next().is_none()
}

impl VisitorFrame {
    /// Parses a widget frame; every refusal is a precise [`FrameError`].
    pub fn parse(body: &str) -> Result<Self, FrameError> {
        RawFrame::parse(body)?.try_into()
    }
}

client_frames! {
    /// What the Agent Inbox sends. Every action on a chat names its `conversation`,
    /// since an agent holds several at once.
    pub enum AgentFrame {
        /// Accept an offered chat.
        "accept" => Accept {
            /// The conversation offered.
            conversation: ConversationId = id(),
        },
        /// Decline an offered chat; the next agent is tried.
        "decline" => Decline {
            /// The conversation offered.
            conversation: ConversationId = id(),
        },
        /// Send a chat message. `id` is made by the inbox so a retried send is stored
        /// once.
        "send_message" => SendMessage {
            /// The chat.
            conversation: ConversationId = id(),
            /// The client-made message id.
            id: MessageId = id(),
            /// The text.
            text: MessageText = text(),
        },
        /// An internal note in a chat, for agents only: never sent, stored or shown
        /// where a visitor reads. Answered to every agent tab of the chat with
        /// `note`; `id` is made by the inbox, as for `send_message` (a resend is
        /// stored once).
        "add_note" => AddNote {
            /// The chat.
            conversation: ConversationId = id(),
            /// The client-made note id.
            id: MessageId = id(),
            /// The text.
            text: MessageText = text(),
        },
        /// The agent started or stopped typing in a chat.
        "typing" => Typing {
            /// The chat.
            conversation: ConversationId = id(),
            /// Typing now.
            typing: bool = boolean(),
        },
        /// End a chat ("End session").
        "end_session" => EndSession {
            /// The chat.
            conversation: ConversationId = id(),
        },
        /// The availability toggle; it overrides the schedule until local midnight.
        "set_availability" => SetAvailability {
            /// Available (true) or away (false).
            available: bool = boolean(),
        },
        /// Score a conversation 0-3.
        "score" => Score {
            /// The chat.
            conversation: ConversationId = id(),
            /// The score.
            score: ConversationScore = score(),
        },
        /// Ask for a page of a conversation's transcript (answered with `transcript`):
        /// the latest, or the one below `before` (a `transcript`'s `next`).
        "history" => History {
            /// The chat.
            conversation: ConversationId = id(),
            /// The page's upper bound, exclusive; absent for the latest page.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            before: Option<u64> = before_seq(),
        },
        /// Keeps the connection alive; answered with `pong`.
        "ping" => Ping,
        /// The live view now (who waits, offers out, the agents' load and status),
        /// as the agent's role may see it; answered with `live`. The same frame is
        /// pushed whenever the view moves.
        "live" => Live,
        /// Sent once the inbox's socket is open (API Gateway cannot push from inside
        /// `$connect`): answered with `availability`, then `offer` for each pending offer
        /// and `chat_started` for each live chat of the agent.
        "sync" => Sync,
        /// The requests nobody took (the last 7 days), answered with `missed`: newest
        /// first, a page at a time.
        "missed" => Missed {
            /// Absent for the newest page; a `missed` frame's `next` for the page after it.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            before: Option<ListCursor> = optional_cursor(),
        },
        /// Take a missed request: the chat opens with this agent and its history.
        "pick_up" => PickUp {
            /// The missed chat.
            conversation: ConversationId = id(),
        },
        /// The agent's past chats of the last 90 days (a Sales Admin's: the account's),
        /// newest first, a page at a time; answered with `past_chats`.
        "past_chats" => PastChats {
            /// Absent for the newest page; a `past_chats` frame's `next` for the page
            /// after it.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            before: Option<ListCursor> = optional_cursor(),
        },
        /// Answer a missed request by email (the visitor left their address): the text
        /// is emailed to the visitor with the agent's address to reply to, stored in the
        /// conversation's history, and the request leaves the missed list. Answered
        /// with `email_sent`. `id` is made by the inbox, as for `send_message`.
        "reply_by_email" => ReplyByEmail {
            /// The missed chat.
            conversation: ConversationId = id(),
            /// The client-made message id.
            id: MessageId = id(),
            /// The reply.
            text: MessageText = text(),
        },
        /// Hands a live chat of the agent's to another agent or to a team (its
        /// next eligible member by round robin), with a note for the receiver;
        /// answered with `transfer_pending` or `transfer_failed`.
        "transfer" => Transfer {
            /// The chat.
            conversation: ConversationId = id(),
            /// `{"agent": id}` or `{"team": id}`.
            to: TransferTarget = transfer_target(),
            /// For the receiver; at most 1,000 characters, absent for none.
            note: TransferNote = transfer_note(),
        },
        /// Why the chat went to whom: the trace of each of its routing decisions
        /// (docs/protocol.md). A Sales Admin's only; answered with `routing_trace`.
        "routing_trace" => RoutingTrace {
            /// The chat.
            conversation: ConversationId = id(),
        },
        /// The numbers of `docs/analytics.md` from `from` to `to` (days of the account's
        /// time zone, both included, at most 731), broken down `by` day, dialog, team
        /// or agent, as the agent's role may see them; answered with `report`.
        "report" => Report {
            /// `from` and `to`, each a `YYYY-MM-DD` date, `from <= to`.
            #[serde(flatten)]
            range: DayRange = day_range(),
            /// `day`, `dialog`, `team` or `agent`.
            by: Dimension = dimension(),
        },
        /// The account's canned responses and the agent's own; answered with
        /// `canned`.
        "canned" => Canned {},
        /// The account's dialogs with their audiences, priority and validation
        /// (answered with `dialogs`), or, with `dialog`, that one with its diagram
        /// (answered with `dialog`). A Marketing or Sales Admin's only.
        "dialogs" => Dialogs {
            /// Absent for the list; a dialog's id for that one.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            dialog: Option<DialogId> = optional_id(),
        },
        /// Adds one of the agent's own canned responses, or replaces the one with
        /// its shortcut; answered with `canned`.
        "save_canned" => SaveCanned {
            /// What follows the `/`.
            shortcut: Shortcut = shortcut(),
            /// The text, tokens allowed.
            text: String = canned_text(),
        },
        /// Removes one of the agent's own canned responses; answered with `canned`.
        "delete_canned" => DeleteCanned {
            /// Its shortcut.
            shortcut: Shortcut = shortcut(),
        },
        /// A new agent token for the open connection, verified as at `$connect` (it
        /// must name the same agent): the connection is then held to its expiry
        /// instead of the old token's. Answered with `token_renewed`.
        "renew_token" => RenewToken {
            /// The new agent token.
            token: String = string(MAX_TOKEN_CHARS),
        },
    }
}

/// Longest agent token accepted by `renew_token`, in characters (a Cognito ID token
/// with many groups stays well under it).
pub const MAX_TOKEN_CHARS: usize = 8_192;

impl AgentFrame {
    /// Parses an inbox frame; every refusal is a precise [`FrameError`].
    pub fn parse(body: &str) -> Result<Self, FrameError> {
        RawFrame::parse(body)?.try_into()
    }
}

/// The untyped fields of a frame whose action is known, with one typed reader per
/// kind of field. Each reader removes the field, so none is read twice.
struct Fields {
    action: String,
    map: Map<String, Value>,
}

impl Fields {
    fn open(raw: RawFrame) -> Result<Self, FrameError> {
        match raw.action {
            Some(Value::String(action)) if !action.is_empty() => Ok(Self {
                action,
                map: raw.fields,
            }),
            _ => Err(FrameError::MissingAction),
        }
    }

    fn bad(&self, field: &str, reason: impl Into<FieldError>) -> FrameError {
        FrameError::BadField {
            action: self.action.clone(),
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// The field's value; `null` counts as absent.
    fn take(&mut self, field: &str) -> Option<Value> {
        self.map.remove(field).filter(|v| !v.is_null())
    }

    fn required(&mut self, field: &str) -> Result<Value, FrameError> {
        self.take(field)
            .ok_or_else(|| self.bad(field, FieldError::Missing))
    }

    fn invalid(&self, field: &str, expected: &'static str, found: &Value) -> FrameError {
        self.bad(
            field,
            FieldError::Invalid {
                expected,
                found: describe(found),
            },
        )
    }

    fn check_string(&self, field: &str, value: Value, max: usize) -> Result<String, FrameError> {
        match value {
            Value::String(s) => {
                let chars = s.chars().count();
                if chars > max {
                    Err(self.bad(field, FieldError::TooLong { max, found: chars }))
                } else {
                    Ok(s)
                }
            }
            other => Err(self.invalid(field, "a string", &other)),
        }
    }

    fn string(&mut self, field: &str, max: usize) -> Result<String, FrameError> {
        let value = self.required(field)?;
        self.check_string(field, value, max)
    }

    fn optional_string(&mut self, field: &str, max: usize) -> Result<Option<String>, FrameError> {
        match self.take(field) {
            Some(value) => self.check_string(field, value, max).map(Some),
            None => Ok(None),
        }
    }

    /// An optional string stored as an attribute: no control characters.
    fn optional_attribute(
        &mut self,
        field: &str,
        max: usize,
    ) -> Result<Option<String>, FrameError> {
        let value = self.optional_string(field, max)?;
        if let Some(v) = &value {
            check_attribute_value(v).map_err(|e| self.bad(field, e))?;
        }
        Ok(value)
    }

    /// An optional language tag ([`Lang`]).
    fn optional_lang(&mut self, field: &str) -> Result<Option<Lang>, FrameError> {
        const EXPECTED: &str = "a language tag such as \"de\" or \"pt-BR\" (at most 35 characters)";
        match self.take(field) {
            None => Ok(None),
            Some(Value::String(s)) if s.chars().count() > crate::domain::MAX_LANG_CHARS => {
                let found = s.chars().count();
                Err(self.bad(
                    field,
                    FieldError::TooLong {
                        max: crate::domain::MAX_LANG_CHARS,
                        found,
                    },
                ))
            }
            Some(value) => match value.as_str().map(Lang::parse) {
                Some(Ok(lang)) => Ok(Some(lang)),
                _ => Err(self.invalid(field, EXPECTED, &value)),
            },
        }
    }

    fn id<T: TryFrom<String, Error = IdError>>(&mut self, field: &str) -> Result<T, FrameError> {
        match self.required(field)? {
            Value::String(s) => T::try_from(s).map_err(|e| self.bad(field, e)),
            other => Err(self.invalid(field, "an id (a string)", &other)),
        }
    }

    fn optional_id<T: TryFrom<String, Error = IdError>>(
        &mut self,
        field: &str,
    ) -> Result<Option<T>, FrameError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::String(s)) => T::try_from(s).map(Some).map_err(|e| self.bad(field, e)),
            Some(other) => Err(self.invalid(field, "an id (a string)", &other)),
        }
    }

    /// A required history page bound (see [`Fields::before_seq`]).
    fn seq(&mut self, field: &str) -> Result<u64, FrameError> {
        self.before_seq(field)?
            .ok_or_else(|| self.bad(field, FieldError::Missing))
    }

    /// A history page's bound: a message number (a page's `next`), at least 1.
    fn before_seq(&mut self, field: &str) -> Result<Option<u64>, FrameError> {
        match self.take(field) {
            None => Ok(None),
            Some(value) => match value.as_u64().filter(|&n| n >= 1) {
                Some(n) => Ok(Some(n)),
                None => Err(self.invalid(field, "a message number (a page's `next`)", &value)),
            },
        }
    }

    fn optional_cursor(&mut self, field: &str) -> Result<Option<ListCursor>, FrameError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::String(s)) => ListCursor::parse(&s)
                .map(Some)
                .map_err(|e| self.bad(field, e)),
            Some(other) => Err(self.invalid(field, "a cursor (a string)", &other)),
        }
    }

    /// A report's days: `from` and `to` (both required dates), read together so
    /// that the order and the length are checked; a refusal names `from` or `to`.
    /// `_field` is the Rust field they travel in, not on the wire.
    fn day_range(&mut self, _field: &str) -> Result<DayRange, FrameError> {
        let from = self.day("from")?;
        let to = self.day("to")?;
        DayRange::new(from, to).map_err(|e| {
            let expected = match e {
                RangeError::Reversed => "a date on or after `from`",
                RangeError::TooLong { .. } => "a date at most 730 days after `from` (731 days)",
            };
            self.bad(
                "to",
                FieldError::Invalid {
                    expected,
                    found: format!("{:?}", to.to_string()),
                },
            )
        })
    }

    fn day(&mut self, field: &str) -> Result<crate::analytics::Day, FrameError> {
        const EXPECTED: &str = "a date (YYYY-MM-DD)";
        let value = self.required(field)?;
        match &value {
            Value::String(s) if s.len() == 10 => {
                s.parse().map_err(|_| self.invalid(field, EXPECTED, &value))
            }
            _ => Err(self.invalid(field, EXPECTED, &value)),
        }
    }

    fn dimension(&mut self, field: &str) -> Result<Dimension, FrameError> {
        const EXPECTED: &str = "day, dialog, team or agent";
        let value = self.required(field)?;
        match value.as_str() {
            Some("day") => Ok(Dimension::Day),
            Some("dialog") => Ok(Dimension::Dialog),
            Some("team") => Ok(Dimension::Team),
            Some("agent") => Ok(Dimension::Agent),
            _ => Err(self.invalid(field, EXPECTED, &value)),
        }
    }

    fn shortcut(&mut self, field: &str) -> Result<Shortcut, FrameError> {
        match self.required(field)? {
            Value::String(s) => Shortcut::parse(s).map_err(|e| self.bad(field, e)),
            other => Err(self.invalid(field, "a shortcut (a string)", &other)),
        }
    }

    /// A transfer's receiver: an object with exactly one of `agent` and `team`.
    fn transfer_target(&mut self, field: &str) -> Result<TransferTarget, FrameError> {
        const EXPECTED: &str = "{\"agent\": id} or {\"team\": id}";
        let value = self.required(field)?;
        let Value::Object(map) = &value else {
            return Err(self.invalid(field, EXPECTED, &value));
        };
        match (map.get("agent"), map.get("team"), map.len()) {
            (Some(Value::String(id)), None, 1) => AgentId::try_from(id.clone())
                .map(TransferTarget::Agent)
                .map_err(|e| self.bad(field, e)),
            (None, Some(Value::String(id)), 1) => TeamId::try_from(id.clone())
                .map(TransferTarget::Team)
                .map_err(|e| self.bad(field, e)),
            _ => Err(self.invalid(field, EXPECTED, &value)),
        }
    }

    /// A transfer note: optional, at most [`MAX_TRANSFER_NOTE_CHARS`].
    fn transfer_note(&mut self, field: &str) -> Result<TransferNote, FrameError> {
        match self.optional_string(field, MAX_TRANSFER_NOTE_CHARS)? {
            None => Ok(TransferNote::default()),
            Some(s) => TransferNote::parse(s).map_err(|e| {
                self.bad(
                    field,
                    FieldError::TooLong {
                        max: MAX_TRANSFER_NOTE_CHARS,
                        found: e.0,
                    },
                )
            }),
        }
    }

    /// A canned response's text: its length and tokens checked.
    fn canned_text(&mut self, field: &str) -> Result<String, FrameError> {
        let text = self.string(field, crate::domain::MAX_CANNED_CHARS)?;
        let probe = Shortcut::parse("probe").map_err(|e| self.bad(field, e))?;
        crate::domain::CannedResponse::new(probe, text.clone())
            .map(|_| text)
            .map_err(|e| self.bad(field, e))
    }

    fn text(&mut self, field: &str) -> Result<MessageText, FrameError> {
        match self.required(field)? {
            Value::String(s) => MessageText::parse(s).map_err(|e| self.bad(field, e)),
            other => Err(self.invalid(field, "a string", &other)),
        }
    }

    /// Optional text: absent, `null` or blank is `None`, since a form's empty box
    /// means "nothing to say", not an error.
    fn optional_text(&mut self, field: &str) -> Result<Option<MessageText>, FrameError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => MessageText::parse(s)
                .map(Some)
                .map_err(|e| self.bad(field, e)),
            Some(other) => Err(self.invalid(field, "a string", &other)),
        }
    }

    fn email(&mut self, field: &str) -> Result<Email, FrameError> {
        match self.required(field)? {
            Value::String(s) => Email::parse(&s).map_err(|e| self.bad(field, e)),
            other => Err(self.invalid(field, "an email address (a string)", &other)),
        }
    }

    fn boolean(&mut self, field: &str) -> Result<bool, FrameError> {
        match self.required(field)? {
            Value::Bool(b) => Ok(b),
            other => Err(self.invalid(field, "true or false", &other)),
        }
    }

    fn index(&mut self, field: &str) -> Result<usize, FrameError> {
        const EXPECTED: &str = "an answer index (a whole number, 0 or more)";
        let value = self.required(field)?;
        value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| self.invalid(field, EXPECTED, &value))
    }

    fn score(&mut self, field: &str) -> Result<ConversationScore, FrameError> {
        const EXPECTED: &str = "a whole number from 0 to 3";
        let value = self.required(field)?;
        value
            .as_u64()
            .and_then(|n| ConversationScore::new(n).ok())
            .ok_or_else(|| self.invalid(field, EXPECTED, &value))
    }

    /// A signed identify: an object of `attributes` (read as `attributes` are),
    /// `expires` (whole seconds) and `signature` (a string; its digits are the
    /// verifier's to judge). Absent is `None`.
    fn identity(&mut self, field: &str) -> Result<Option<SignedIdentity>, FrameError> {
        let mut map = match self.take(field) {
            None => return Ok(None),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(self.invalid(
                    field,
                    "an object of attributes, expires and signature",
                    &other,
                ));
            }
        };
        let expires_field = format!("{field}.expires");
        let expires = match map.remove("expires") {
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or_default(),
            Some(other) => {
                return Err(self.invalid(&expires_field, "a Unix time in whole seconds", &other));
            }
            None => return Err(self.bad(&expires_field, FieldError::Missing)),
        };
        let signature_field = format!("{field}.signature");
        let signature = match map.remove("signature") {
            Some(Value::String(s)) if s.chars().count() <= MAX_SIGNATURE_CHARS => s,
            Some(Value::String(s)) => {
                return Err(self.bad(
                    &signature_field,
                    FieldError::TooLong {
                        max: MAX_SIGNATURE_CHARS,
                        found: s.chars().count(),
                    },
                ));
            }
            Some(other) => return Err(self.invalid(&signature_field, "a string", &other)),
            None => return Err(self.bad(&signature_field, FieldError::Missing)),
        };
        let attributes_field = format!("{field}.attributes");
        if let Some(attributes) = map.remove("attributes") {
            self.map.insert(attributes_field.clone(), attributes);
        }
        let attributes = self.attributes(&attributes_field)?;
        Ok(Some(SignedIdentity {
            attributes,
            expires,
            signature,
        }))
    }

    /// Host-page attributes: a JSON object of attribute name to string, number or
    /// boolean (kept as text). Absent is empty. A bad entry is reported as
    /// `attributes.<name>`.
    fn attributes(&mut self, field: &str) -> Result<Attributes, FrameError> {
        let map = match self.take(field) {
            None => return Ok(Attributes::new()),
            Some(Value::Object(map)) => map,
            Some(other) => return Err(self.invalid(field, "an object of attributes", &other)),
        };
        if map.len() > MAX_ATTRIBUTES {
            return Err(self.bad(
                field,
                FieldError::TooMany {
                    max: MAX_ATTRIBUTES,
                    found: map.len(),
                },
            ));
        }
        let mut attributes = Attributes::new();
        for (name, value) in map {
            let entry = format!("{field}.{name}");
            let text = match value {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                // The host page passing `null` means "not known": nothing to store.
                Value::Null => continue,
                other => {
                    return Err(self.invalid(&entry, "a string, number or boolean", &other));
                }
            };
            let chars = text.chars().count();
            if chars > MAX_ATTRIBUTE_VALUE_CHARS {
                return Err(self.bad(
                    &entry,
                    FieldError::TooLong {
                        max: MAX_ATTRIBUTE_VALUE_CHARS,
                        found: chars,
                    },
                ));
            }
            check_attribute_value(&text).map_err(|e| self.bad(&entry, e))?;
            let name = AttributeName::parse(name).map_err(|e| self.bad(&entry, e))?;
            attributes.set(name, text);
        }
        Ok(attributes)
    }
}

/// A short description of a JSON value for an error message: literals for small
/// scalars, the kind otherwise (never echoes a long string back).
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() <= 32 => format!("{s:?}"),
        Value::String(_) => "a string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(in crate::protocol) fn visitor_samples() -> Vec<VisitorFrame> {
        let mut attributes = Attributes::new();
        attributes.set(AttributeName::parse("first_name").unwrap(), "Ana");
        attributes.set(AttributeName::parse("company_size").unwrap(), "500");
        vec![
            VisitorFrame::Start {
                page_url: Some("https://acme.com/pricing".into()),
                attributes: attributes.clone(),
                identity: None,
                lang: Some(Lang::parse("pt-BR").unwrap()),
            },
            VisitorFrame::Start {
                page_url: None,
                attributes: Attributes::new(),
                identity: Some(SignedIdentity {
                    attributes,
                    expires: 1_800_000_600,
                    signature: "ab".repeat(32),
                }),
                lang: None,
            },
            VisitorFrame::Answer {
                card: CardId::parse("q1").unwrap(),
                answer: 1,
            },
            VisitorFrame::Submit {
                card: CardId::parse("email").unwrap(),
                value: "ana@acme.com".into(),
            },
            VisitorFrame::SendMessage {
                id: MessageId::parse("01JQ0000000000000000000000").unwrap(),
                text: MessageText::parse("Hello\nthere").unwrap(),
                conversation: None,
            },
            VisitorFrame::SendMessage {
                id: MessageId::parse("01JQ0000000000000000000001").unwrap(),
                text: MessageText::parse("with its conversation").unwrap(),
                conversation: Some(ConversationId::parse("01JQ8Z5Y0W3H7G2E6D9C4B1A0F").unwrap()),
            },
            VisitorFrame::Typing { typing: true },
            VisitorFrame::EndChat,
            VisitorFrame::LeaveDetails {
                email: Email::parse("ana@acme.com").unwrap(),
                message: Some(MessageText::parse("Call me").unwrap()),
            },
            VisitorFrame::LeaveDetails {
                email: Email::parse("ana@acme.com").unwrap(),
                message: None,
            },
            VisitorFrame::Ping,
            VisitorFrame::History { before: 51 },
        ]
    }

    pub(in crate::protocol) fn agent_samples() -> Vec<AgentFrame> {
        let c = || ConversationId::parse("01JQ0000000000000000000001").unwrap();
        vec![
            AgentFrame::Accept { conversation: c() },
            AgentFrame::Decline { conversation: c() },
            AgentFrame::SendMessage {
                conversation: c(),
                id: MessageId::parse("m-1").unwrap(),
                text: MessageText::parse("Hi, I'm Ana").unwrap(),
            },
            AgentFrame::AddNote {
                conversation: c(),
                id: MessageId::parse("n-1").unwrap(),
                text: MessageText::parse("Asked for the enterprise price list").unwrap(),
            },
            AgentFrame::Typing {
                conversation: c(),
                typing: false,
            },
            AgentFrame::EndSession { conversation: c() },
            AgentFrame::SetAvailability { available: true },
            AgentFrame::Score {
                conversation: c(),
                score: ConversationScore::new(3).unwrap(),
            },
            AgentFrame::History {
                conversation: c(),
                before: None,
            },
            AgentFrame::History {
                conversation: c(),
                before: Some(51),
            },
            AgentFrame::Ping,
            AgentFrame::Live,
            AgentFrame::Sync,
            AgentFrame::Missed { before: None },
            AgentFrame::Missed {
                before: Some(ListCursor {
                    at: "2026-03-02T10:05:00.25Z".parse().unwrap(),
                    conversation: c(),
                }),
            },
            AgentFrame::PickUp { conversation: c() },
            AgentFrame::PastChats { before: None },
            AgentFrame::PastChats {
                before: Some(ListCursor {
                    at: "2026-03-02T10:20:00Z".parse().unwrap(),
                    conversation: c(),
                }),
            },
            AgentFrame::ReplyByEmail {
                conversation: c(),
                id: MessageId::parse("m-2").unwrap(),
                text: MessageText::parse("Thanks for asking: yes, we ship to Peru.").unwrap(),
            },
            AgentFrame::Transfer {
                conversation: ConversationId::parse("01JQ8Z5Y0W3H7G2E6D9C4B1A0F").unwrap(),
                to: TransferTarget::Agent(AgentId::parse("ben").unwrap()),
                note: TransferNote::parse("Wants the enterprise plan").unwrap(),
            },
            AgentFrame::Transfer {
                conversation: ConversationId::parse("01JQ8Z5Y0W3H7G2E6D9C4B1A0F").unwrap(),
                to: TransferTarget::Team(TeamId::parse("sales").unwrap()),
                note: TransferNote::default(),
            },
            AgentFrame::RoutingTrace {
                conversation: ConversationId::parse("01JQ8Z5Y0W3H7G2E6D9C4B1A0F").unwrap(),
            },
            AgentFrame::Report {
                range: DayRange::new("2026-11-01".parse().unwrap(), "2026-11-30".parse().unwrap())
                    .unwrap(),
                by: Dimension::Day,
            },
            AgentFrame::Canned {},
            AgentFrame::Dialogs { dialog: None },
            AgentFrame::Dialogs {
                dialog: Some(DialogId::parse("pricing").unwrap()),
            },
            AgentFrame::SaveCanned {
                shortcut: Shortcut::parse("pricing").unwrap(),
                text: "Hi {{visitor.first_name:\"there\"}}, our plans: https://acme.example/plans"
                    .into(),
            },
            AgentFrame::DeleteCanned {
                shortcut: Shortcut::parse("pricing").unwrap(),
            },
            AgentFrame::RenewToken {
                token: "eyJhbGciOiJIUzI1NiJ9.e30.sig".into(),
            },
        ]
    }

    fn visitor(frame: serde_json::Value) -> Result<VisitorFrame, FrameError> {
        VisitorFrame::parse(&frame.to_string())
    }

    fn agent(frame: serde_json::Value) -> Result<AgentFrame, FrameError> {
        AgentFrame::parse(&frame.to_string())
    }

    fn bad_field(err: Result<impl std::fmt::Debug, FrameError>) -> (String, String, FieldError) {
        match err {
            Err(FrameError::BadField {
                action,
                field,
                reason,
            }) => (action, field, reason),
            other => panic!("expected BadField, got {other:?}"),
        }
    }

    #[test]
    fn every_visitor_frame_round_trips_through_json() {
        for frame in visitor_samples() {
            let json = serde_json::to_string(&frame).unwrap();
            assert_eq!(VisitorFrame::parse(&json), Ok(frame.clone()), "{json}");
            let via_serde: VisitorFrame = serde_json::from_str(&json).unwrap();
            assert_eq!(via_serde, frame);
        }
    }

    #[test]
    fn every_agent_frame_round_trips_through_json() {
        for frame in agent_samples() {
            let json = serde_json::to_string(&frame).unwrap();
            assert_eq!(AgentFrame::parse(&json), Ok(frame.clone()), "{json}");
            let via_serde: AgentFrame = serde_json::from_str(&json).unwrap();
            assert_eq!(via_serde, frame);
        }
    }

    #[test]
    fn samples_cover_every_action_and_the_action_lists_match_the_tags() {
        let mut visitor_actions: Vec<_> = visitor_samples().iter().map(|f| f.action()).collect();
        visitor_actions.dedup();
        assert_eq!(visitor_actions, VisitorFrame::ACTIONS);
        let mut agent_actions: Vec<_> = agent_samples().iter().map(|f| f.action()).collect();
        agent_actions.dedup();
        assert_eq!(agent_actions, AgentFrame::ACTIONS);
        for frame in visitor_samples() {
            let json = serde_json::to_value(&frame).unwrap();
            assert_eq!(json["action"], frame.action());
        }
        for frame in agent_samples() {
            let json = serde_json::to_value(&frame).unwrap();
            assert_eq!(json["action"], frame.action());
        }
    }

    #[test]
    fn an_unknown_action_is_refused_by_name() {
        assert_eq!(
            visitor(json!({"action": "fly"})),
            Err(FrameError::UnknownAction {
                action: "fly".into()
            })
        );
    }

    #[test]
    fn a_visitor_cannot_send_an_agent_action() {
        let err = visitor(json!({"action": "accept", "conversation": "c1"})).unwrap_err();
        assert_eq!(err.code(), crate::protocol::ErrorCode::UnknownAction);
    }

    #[test]
    fn a_body_that_is_not_json_is_not_json() {
        let err = VisitorFrame::parse("hello").unwrap_err();
        assert!(matches!(err, FrameError::NotJson { .. }), "{err:?}");
        assert_eq!(err.code().as_str(), "not_json");
    }

    #[test]
    fn json_without_a_string_action_is_missing_action() {
        for body in [
            r#"{"text":"hi"}"#,
            r#"{"action":7}"#,
            r#"{"action":""}"#,
            "[1]",
            "\"start\"",
        ] {
            assert_eq!(
                VisitorFrame::parse(body),
                Err(FrameError::MissingAction),
                "{body}"
            );
        }
    }

    #[test]
    fn a_text_of_4001_characters_is_a_bad_text_field() {
        let (action, field, reason) = bad_field(visitor(
            json!({"action": "send_message", "id": "m1", "text": "a".repeat(4_001)}),
        ));
        assert_eq!((action.as_str(), field.as_str()), ("send_message", "text"));
        assert_eq!(
            reason,
            FieldError::Text(crate::domain::MessageTextError::TooLong(4_001))
        );
    }

    #[test]
    fn a_text_of_4000_characters_is_accepted() {
        let frame = agent(
            json!({"action": "send_message", "conversation": "c1", "id": "m1", "text": "é".repeat(4_000)}),
        );
        assert!(frame.is_ok());
    }

    #[test]
    fn a_negative_fractional_or_textual_answer_is_a_bad_answer_field() {
        for answer in [json!(-1), json!(1.5), json!("2"), json!(true)] {
            let (_, field, reason) = bad_field(visitor(
                json!({"action": "answer", "card": "q1", "answer": answer}),
            ));
            assert_eq!(field, "answer");
            assert!(matches!(reason, FieldError::Invalid { .. }), "{reason:?}");
        }
        let (_, field, reason) = bad_field(visitor(json!({"action": "answer", "card": "q1"})));
        assert_eq!((field.as_str(), reason), ("answer", FieldError::Missing));
    }

    #[test]
    fn a_score_of_4_is_a_bad_score_field_and_3_is_accepted() {
        let err = agent(json!({"action": "score", "conversation": "c1", "score": 4}));
        let (_, field, reason) = bad_field(err.clone());
        assert_eq!(field, "score");
        assert_eq!(
            err.unwrap_err().to_string(),
            "\"score\" frame, field \"score\": expected a whole number from 0 to 3, found 4"
        );
        assert!(matches!(reason, FieldError::Invalid { .. }));
        assert!(agent(json!({"action": "score", "conversation": "c1", "score": 3})).is_ok());
    }

    #[test]
    fn a_report_range_needs_two_dates_in_order_and_at_most_731_days_naming_the_bad_one() {
        let report = |from: &str, to: &str, by: &str| {
            agent(json!({"action": "report", "from": from, "to": to, "by": by}))
        };
        assert!(report("2026-11-01", "2026-11-01", "day").is_ok(), "one day");
        assert!(
            report("2025-01-01", "2026-12-31", "agent").is_ok(),
            "730 days"
        );
        assert!(
            report("2024-01-01", "2025-12-31", "team").is_ok(),
            "731 days, a leap year's"
        );
        assert_eq!(
            bad_field(report("2024-01-01", "2026-01-01", "day")).1,
            "to",
            "732 days"
        );
        let reversed = report("2026-11-02", "2026-11-01", "day");
        assert_eq!(
            reversed.unwrap_err().to_string(),
            "\"report\" frame, field \"to\": expected a date on or after `from`, found \"2026-11-01\""
        );
        assert_eq!(
            bad_field(report("2026-02-30", "2026-03-01", "day")).1,
            "from"
        );
        assert_eq!(bad_field(report("2026-11-01", "yesterday", "day")).1, "to");
        assert_eq!(
            bad_field(report("2026-11-01T00:00:00Z", "2026-11-02", "day")).1,
            "from"
        );
        assert_eq!(
            bad_field(report("2026-11-01", "2026-11-02", "week")).1,
            "by"
        );
        assert_eq!(
            bad_field(agent(
                json!({"action": "report", "to": "2026-11-02", "by": "day"})
            ))
            .1,
            "from"
        );
    }

    #[test]
    fn a_bad_id_is_a_bad_field_naming_the_id() {
        let (_, field, reason) = bad_field(agent(
            json!({"action": "accept", "conversation": "not an id"}),
        ));
        assert_eq!(field, "conversation");
        assert!(matches!(reason, FieldError::Id(_)));
        let (_, field, _) = bad_field(visitor(
            json!({"action": "send_message", "id": 5, "text": "hi"}),
        ));
        assert_eq!(field, "id");
    }

    #[test]
    fn a_bad_email_in_the_fallback_form_is_refused_with_the_domain_message() {
        let err = visitor(json!({"action": "leave_details", "email": "ana@acme", "message": "hi"}))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"leave_details\" frame, field \"email\": enter an email address like name@example.com"
        );
    }

    #[test]
    fn a_blank_message_in_the_fallback_form_means_no_message() {
        let frame =
            visitor(json!({"action": "leave_details", "email": "ana@acme.com", "message": "  "}));
        assert_eq!(
            frame,
            Ok(VisitorFrame::LeaveDetails {
                email: Email::parse("ana@acme.com").unwrap(),
                message: None
            })
        );
    }

    #[test]
    fn typing_must_be_a_boolean() {
        let (_, field, _) = bad_field(visitor(json!({"action": "typing", "typing": "yes"})));
        assert_eq!(field, "typing");
    }

    #[test]
    fn a_frame_may_nest_32_levels_and_no_deeper() {
        // The frame object is level 1; `pad` holds 31 more.
        let nested = |levels: usize| {
            format!(
                r#"{{"action":"ping","pad":{}{}}}"#,
                "[".repeat(levels),
                "]".repeat(levels)
            )
        };
        assert_eq!(json_depth(&nested(31)), MAX_JSON_DEPTH);
        assert_eq!(VisitorFrame::parse(&nested(31)), Ok(VisitorFrame::Ping));
        let refused = VisitorFrame::parse(&nested(32)).unwrap_err();
        assert_eq!(refused.code(), crate::protocol::ErrorCode::NotJson);
        assert!(
            refused.to_string().contains("deeper than 32 levels"),
            "{refused}"
        );
        // Far deeper than serde_json's own limit, still one clear error.
        let deep = AgentFrame::parse(&nested(60_000)).unwrap_err();
        assert_eq!(deep.code(), crate::protocol::ErrorCode::NotJson);
    }

    #[test]
    fn brackets_in_strings_do_not_count_as_nesting() {
        assert_eq!(json_depth(r#"{"a":"[[[{{{"}"#), 1);
        assert_eq!(json_depth(r#"{"a":"\"[[[","b":[]}"#), 2);
        assert_eq!(json_depth(r#"{"a":"\\","b":[[]]}"#), 3);
        assert_eq!(json_depth("not json"), 0);
    }

    #[test]
    fn a_body_over_128_kb_is_too_large_and_128_kb_is_not() {
        let padding = "a".repeat(MAX_FRAME_BYTES);
        let body = format!(r#"{{"action":"ping","pad":"{padding}"}}"#);
        assert_eq!(
            VisitorFrame::parse(&body),
            Err(FrameError::TooLarge { bytes: body.len() })
        );
        let pad = MAX_FRAME_BYTES - r#"{"action":"ping","pad":""}"#.len();
        let body = format!(r#"{{"action":"ping","pad":"{}"}}"#, "a".repeat(pad));
        assert_eq!(body.len(), MAX_FRAME_BYTES);
        assert_eq!(VisitorFrame::parse(&body), Ok(VisitorFrame::Ping));
    }

    #[test]
    fn start_attributes_keep_numbers_and_booleans_as_text_and_skip_nulls() {
        let frame = visitor(json!({
            "action": "start",
            "attributes": {"company_size": 500, "vip": true, "first_name": "Ana", "phone": null}
        }))
        .unwrap();
        let VisitorFrame::Start { attributes, .. } = frame else {
            panic!("not start")
        };
        assert_eq!(attributes.get("company_size"), Some("500"));
        assert_eq!(attributes.get("vip"), Some("true"));
        assert_eq!(attributes.get("phone"), None);
    }

    #[test]
    fn a_bad_attribute_is_named_with_its_key() {
        let (_, field, reason) = bad_field(visitor(
            json!({"action": "start", "attributes": {"First Name": "Ana"}}),
        ));
        assert_eq!(field, "attributes.First Name");
        assert!(matches!(reason, FieldError::AttributeName(_)));
        let (_, field, _) = bad_field(visitor(
            json!({"action": "start", "attributes": {"tags": ["a"]}}),
        ));
        assert_eq!(field, "attributes.tags");
        let too_many: Map<String, Value> = (0..=MAX_ATTRIBUTES)
            .map(|i| (format!("a{i}"), json!("x")))
            .collect();
        let (_, field, reason) =
            bad_field(visitor(json!({"action": "start", "attributes": too_many})));
        assert_eq!(field, "attributes");
        assert!(matches!(reason, FieldError::TooMany { .. }));
    }

    #[test]
    fn an_attribute_value_or_page_url_with_control_characters_is_refused_by_name() {
        let (_, field, reason) = bad_field(visitor(
            json!({"action": "start", "attributes": {"first_name": "Ana\u{7}\u{7}"}}),
        ));
        assert_eq!(field, "attributes.first_name");
        assert!(matches!(reason, FieldError::AttributeValue(_)));
        assert_eq!(
            reason.to_string(),
            "an attribute value must not contain control characters (found U+0007)"
        );
        let (_, field, _) = bad_field(visitor(
            json!({"action": "start", "page_url": "https://acme.example/\n"}),
        ));
        assert_eq!(field, "page_url");
    }

    #[test]
    fn a_list_cursor_is_the_time_and_conversation_of_the_last_entry_shown() {
        let frame = AgentFrame::parse(
            r#"{"action":"missed","before":"2026-03-02T10:05:00.25Z/01JQ0000000000000000000001"}"#,
        )
        .unwrap();
        let AgentFrame::Missed {
            before: Some(cursor),
        } = frame
        else {
            panic!("not a missed page")
        };
        assert_eq!(cursor.at, "2026-03-02T10:05:00.25Z".parse().unwrap());
        assert_eq!(
            String::from(cursor),
            "2026-03-02T10:05:00.25Z/01JQ0000000000000000000001"
        );
        let err = AgentFrame::parse(r#"{"action":"past_chats","before":"yesterday"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"past_chats\" frame, field \"before\": expected a cursor as a list frame's `next` gives it"
        );
    }

    #[test]
    fn dialog_steps_keep_their_card_and_answer() {
        assert_eq!(
            visitor(json!({"action": "answer", "card": "q1", "answer": 0})),
            Ok(VisitorFrame::Answer {
                card: CardId::parse("q1").unwrap(),
                answer: 0
            })
        );
        assert_eq!(
            visitor(json!({"action": "submit", "card": "e", "value": "x"})),
            Ok(VisitorFrame::Submit {
                card: CardId::parse("e").unwrap(),
                value: "x".into()
            })
        );
    }

    #[test]
    fn unknown_extra_fields_are_ignored_and_null_counts_as_absent() {
        assert_eq!(
            visitor(json!({"action": "ping", "sent_at": 123})),
            Ok(VisitorFrame::Ping)
        );
        assert_eq!(
            visitor(json!({"action": "start", "page_url": null})),
            Ok(VisitorFrame::Start {
                page_url: None,
                attributes: Attributes::new(),
                identity: None,
                lang: None,
            })
        );
    }

    #[test]
    fn a_start_language_is_read_lower_cased_and_a_malformed_or_overlong_one_names_lang() {
        let frame = visitor(json!({"action": "start", "lang": "pt-BR"})).unwrap();
        let VisitorFrame::Start { lang, .. } = frame else {
            panic!("not a start: {frame:?}")
        };
        assert_eq!(lang.map(String::from).as_deref(), Some("pt-br"));
        for bad in [json!("de at"), json!(7), json!("x".repeat(36))] {
            let (action, field, _) = bad_field(visitor(json!({"action": "start", "lang": bad})));
            assert_eq!((action.as_str(), field.as_str()), ("start", "lang"));
        }
    }

    #[test]
    fn a_signed_identify_is_read_whole_and_a_bad_part_names_its_field() {
        let frame = visitor(json!({"action": "start", "identity": {
            "attributes": {"user_id": "u-42", "seats": 12},
            "expires": 1_800_000_600,
            "signature": "ab".repeat(32),
        }}))
        .unwrap();
        let VisitorFrame::Start {
            identity: Some(identity),
            ..
        } = frame
        else {
            panic!("no identity: {frame:?}")
        };
        assert_eq!(identity.attributes.get("seats"), Some("12"));
        assert_eq!(identity.expires, 1_800_000_600);
        for (identity, field) in [
            (json!("x"), "identity"),
            (json!({"signature": "ab"}), "identity.expires"),
            (
                json!({"expires": "soon", "signature": "ab"}),
                "identity.expires",
            ),
            (
                json!({"expires": 1.5, "signature": "ab"}),
                "identity.expires",
            ),
            (json!({"expires": 1}), "identity.signature"),
            (
                json!({"expires": 1, "signature": "a".repeat(129)}),
                "identity.signature",
            ),
            (
                json!({"expires": 1, "signature": "ab", "attributes": {"Bad Name": "x"}}),
                "identity.attributes.Bad Name",
            ),
        ] {
            let refused = visitor(json!({"action": "start", "identity": identity})).unwrap_err();
            let FrameError::BadField { field: got, .. } = &refused else {
                panic!("{refused:?}")
            };
            assert_eq!(got, field, "{identity}");
        }
    }

    #[test]
    fn an_error_never_echoes_a_long_string_back() {
        let long = "x".repeat(1_000);
        let err = visitor(json!({"action": "typing", "typing": long})).unwrap_err();
        assert!(!err.to_string().contains(&long));
        assert!(err.to_string().contains("a string"));
    }

    #[test]
    fn the_error_for_a_frame_that_fits_fits_too_however_its_names_escape() {
        // U+007F is one byte in a body and `\u{7f}` once quoted: an unknown action or
        // an attribute name of them came back in an error frame 7 times the body.
        let long = "\u{7f}".repeat(MAX_FRAME_BYTES - 64);
        let unknown = format!(r#"{{"action":"{long}"}}"#);
        let attribute = format!(r#"{{"action":"start","attributes":{{"{long}":"x"}}}}"#);
        for body in [unknown, attribute] {
            assert!(body.len() <= MAX_FRAME_BYTES);
            let err = VisitorFrame::parse(&body).unwrap_err();
            let frame = crate::protocol::ServerFrame::error(&err.into()).to_json();
            assert!(frame.len() <= 1_024, "a {} byte error frame", frame.len());
        }
    }

    #[test]
    fn agent_frames_name_the_conversation_they_act_on() {
        assert_eq!(
            agent(json!({"action": "end_session", "conversation": "c1"})),
            Ok(AgentFrame::EndSession {
                conversation: ConversationId::parse("c1").unwrap()
            })
        );
    }
}
