//! The protocol's errors, split into the client's fault ([`FrameError`], and the
//! client-fault cases of [`ServerError`]) and ours ([`ServerError::Internal`]), and the
//! stable [`ErrorCode`] every `error` frame carries.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::MAX_FRAME_BYTES;
use crate::domain::{
    AttributeLimitError, AttributeNameError, AttributeValueError, EmailError, IdError,
    MessageTextError, Quoted, TransitionError,
};

/// The machine-readable code of an `error` frame. Widgets and the inbox branch on it;
/// the spelling (`snake_case`) is part of the protocol and never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body was over [`MAX_FRAME_BYTES`].
    TooLarge,
    /// The body was not JSON.
    NotJson,
    /// The body was JSON but not an object with a non-empty string `action`.
    MissingAction,
    /// The `action` is not one this client may send.
    UnknownAction,
    /// A field of a known action was missing or invalid.
    BadField,
    /// The sender may not do this (e.g. an agent acting on a chat they do not hold).
    Forbidden,
    /// The frame names something that does not exist (e.g. an unknown conversation).
    NotFound,
    /// The conversation is not in a state that allows this (e.g. a message to an
    /// ended chat).
    InvalidState,
    /// The agent token the connection was opened with (or last renewed with) has
    /// expired; the server closes the connection after this frame.
    TokenExpired,
    /// Too many frames of this kind from this connection or visitor: the frame was
    /// not acted on; send it again after the error's `retry_after` seconds.
    RateLimited,
    /// The conversation holds as many messages as a conversation may
    /// ([`crate::limits::MAX_CONVERSATION_MESSAGES`]); nothing was stored.
    ConversationFull,
    /// Our fault; the message is generic, the detail is in our logs.
    Internal,
    /// No email can be sent: the deployment has no sender address. Nothing was
    /// sent and nothing changed.
    EmailNotConfigured,
    /// The fallback form's email is at a domain the account blocks
    /// (`settings.blocked_email_domains`): nothing was stored; ask for another
    /// address.
    EmailDomainBlocked,
    /// A `start` that would open a new conversation, but no dialog it names (or,
    /// naming none, no dialog at all) is for this visitor on this page: nothing
    /// was stored; the connection stays open.
    NoDialog,
}

impl ErrorCode {
    /// Every code, in the order of the docs' table.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::TooLarge,
        ErrorCode::NotJson,
        ErrorCode::MissingAction,
        ErrorCode::UnknownAction,
        ErrorCode::BadField,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::InvalidState,
        ErrorCode::TokenExpired,
        ErrorCode::RateLimited,
        ErrorCode::ConversationFull,
        ErrorCode::Internal,
        ErrorCode::EmailNotConfigured,
        ErrorCode::EmailDomainBlocked,
        ErrorCode::NoDialog,
    ];

    /// The code as it appears on the wire, e.g. `not_json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::TooLarge => "too_large",
            ErrorCode::NotJson => "not_json",
            ErrorCode::MissingAction => "missing_action",
            ErrorCode::UnknownAction => "unknown_action",
            ErrorCode::BadField => "bad_field",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ConversationFull => "conversation_full",
            ErrorCode::Internal => "internal",
            ErrorCode::EmailNotConfigured => "email_not_configured",
            ErrorCode::EmailDomainBlocked => "email_domain_blocked",
            ErrorCode::NoDialog => "no_dialog",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was wrong with one field of a client frame. Its message is written for the
/// person integrating the widget or inbox, and is sent to them as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The field is absent (or `null`).
    #[error("missing")]
    Missing,
    /// The field has the wrong JSON type or is out of range.
    #[error("expected {expected}, found {found}")]
    Invalid {
        /// What the field must be, e.g. `a whole number from 0 to 3`.
        expected: &'static str,
        /// A short description of what was sent, e.g. `4` or `a string`.
        found: String,
    },
    /// A string longer than the field allows.
    #[error("expected at most {max} characters, found {found}")]
    TooLong {
        /// The limit, in characters.
        max: usize,
        /// The length sent, in characters.
        found: usize,
    },
    /// A map with more entries than the field allows.
    #[error("expected at most {max} entries, found {found}")]
    TooMany {
        /// The limit.
        max: usize,
        /// The number sent.
        found: usize,
    },
    /// Not a valid identifier.
    #[error(transparent)]
    Id(#[from] IdError),
    /// Not valid chat message text.
    #[error(transparent)]
    Text(#[from] MessageTextError),
    /// Not a valid email address.
    #[error(transparent)]
    Email(#[from] EmailError),
    /// Not a valid attribute name.
    #[error(transparent)]
    AttributeName(#[from] AttributeNameError),
    /// Not a valid attribute value (control characters).
    #[error(transparent)]
    AttributeValue(#[from] AttributeValueError),
    /// More attributes than a visitor session keeps.
    #[error(transparent)]
    AttributeLimit(#[from] AttributeLimitError),
    /// Not a list cursor.
    #[error(transparent)]
    Cursor(#[from] crate::ports::ListCursorError),
    /// Not a valid canned response shortcut or text.
    #[error(transparent)]
    Canned(#[from] crate::domain::CannedError),
}

/// Why a client frame was refused before any handler logic ran. Always the client's
/// fault; the message is precise and safe to send back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The body is over [`MAX_FRAME_BYTES`] (API Gateway's 128 KB message limit).
    #[error("a frame is at most {max} bytes; this one has {bytes}", max = MAX_FRAME_BYTES)]
    TooLarge {
        /// The body's size in bytes.
        bytes: usize,
    },
    /// The body is not JSON. API Gateway sends such bodies to `$default`.
    #[error("the frame is not JSON: {detail}")]
    NotJson {
        /// The JSON parser's message (line and column).
        detail: String,
    },
    /// The body is JSON but not an object with a non-empty string `action`.
    #[error("the frame must be a JSON object with a string \"action\"")]
    MissingAction,
    /// The `action` is not one this kind of client may send (a visitor sending an
    /// agent action lands here too).
    #[error("unknown action {}", Quoted(.action))]
    UnknownAction {
        /// The action sent.
        action: String,
    },
    /// A field of a known action is missing or invalid.
    #[error("{action:?} frame, field {}: {reason}", Quoted(.field))]
    BadField {
        /// The frame's action.
        action: String,
        /// The field, e.g. `text`; a map entry is `attributes.<name>`.
        field: String,
        /// What was wrong.
        reason: FieldError,
    },
}

impl FrameError {
    /// The stable machine code for the `error` frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::TooLarge { .. } => ErrorCode::TooLarge,
            FrameError::NotJson { .. } => ErrorCode::NotJson,
            FrameError::MissingAction => ErrorCode::MissingAction,
            FrameError::UnknownAction { .. } => ErrorCode::UnknownAction,
            FrameError::BadField { .. } => ErrorCode::BadField,
        }
    }
}

/// The generic text the client gets for our own failures. It promises nothing and
/// reveals nothing: the cause is in our logs, keyed by the request.
pub const INTERNAL_ERROR_MESSAGE: &str = "something went wrong on our side; please try again";

/// Everything a handler can answer with an `error` frame.
///
/// Every variant but [`ServerError::Internal`] is the client's fault and its
/// `Display` is the message sent. `Internal` keeps its cause as `source()` for the
/// logs; the client only ever sees [`INTERNAL_ERROR_MESSAGE`].
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The frame itself was refused.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The sender may not do this.
    #[error("{reason}")]
    Forbidden {
        /// Why, in words for the client, e.g. `this chat is not yours`.
        reason: String,
    },
    /// Something the frame names does not exist.
    #[error("{what} was not found")]
    NotFound {
        /// What, e.g. `conversation 01J...`.
        what: String,
    },
    /// The conversation's state machine refused the step.
    #[error(transparent)]
    InvalidState(#[from] TransitionError),
    /// The dialog refused the step (an answer to a card that is not the current one…).
    #[error(transparent)]
    Dialog(#[from] crate::dialog::ActionError),
    /// The deployment sends no email (no sender address): a setting to fix, not a
    /// failure to retry.
    #[error(
        "email is not configured on this server (it has no sender address), so nothing was sent"
    )]
    EmailNotConfigured,
    /// The fallback form's email is at a blocked domain; the message names the
    /// domain only (see [`crate::dialog::blocked_domain_message`]).
    #[error("{message}")]
    EmailDomainBlocked {
        /// What the visitor is told.
        message: String,
    },
    /// The agent token behind the connection expired: the connection is closed.
    #[error("your sign-in has expired: connect again with a new token")]
    TokenExpired,
    /// The agent behind the connection was removed, or sent a chat action without
    /// the live chat permission (a Marketing Admin, or an agent whose role
    /// changed): the connection is closed.
    #[error("this agent may not (or may no longer) chat in the inbox")]
    NoLongerAllowed,
    /// Too many frames of this kind: try again after `retry_after` seconds.
    #[error("too many {what}; try again in {retry_after} s")]
    RateLimited {
        /// What was counted, e.g. `messages from this connection`.
        what: &'static str,
        /// Seconds until the window that refused it ends.
        retry_after: u32,
    },
    /// No dialog of the `start` is for this visitor on this page.
    #[error(
        "no dialog is for this visitor on this page (none named matches its audience, or all were completed)"
    )]
    NoDialog,
    /// The conversation holds the most messages a conversation may.
    #[error("this conversation holds {max} messages, the most it may; start a new chat", max = crate::limits::MAX_CONVERSATION_MESSAGES)]
    ConversationFull,
    /// Our fault: a store, push or bug. Log it with its cause chain.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ServerError {
    /// Wraps one of our failures, keeping it as the source for the logs.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        ServerError::Internal(source.into())
    }

    /// The stable machine code for the `error` frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServerError::Frame(e) => e.code(),
            ServerError::Forbidden { .. } => ErrorCode::Forbidden,
            ServerError::NotFound { .. } => ErrorCode::NotFound,
            ServerError::InvalidState(_) | ServerError::Dialog(_) => ErrorCode::InvalidState,
            ServerError::EmailNotConfigured => ErrorCode::EmailNotConfigured,
            ServerError::EmailDomainBlocked { .. } => ErrorCode::EmailDomainBlocked,
            ServerError::TokenExpired => ErrorCode::TokenExpired,
            ServerError::NoLongerAllowed => ErrorCode::Forbidden,
            ServerError::RateLimited { .. } => ErrorCode::RateLimited,
            ServerError::ConversationFull => ErrorCode::ConversationFull,
            ServerError::NoDialog => ErrorCode::NoDialog,
            ServerError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Whether the server closes the connection after the `error` frame: its
    /// authorization ended, so no later frame on it would be served.
    pub fn closes_connection(&self) -> bool {
        matches!(
            self,
            ServerError::TokenExpired | ServerError::NoLongerAllowed
        )
    }

    /// For `rate_limited`: the seconds to wait before sending again.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            ServerError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Whether the client caused it (and should not simply retry); a refusal for a
    /// deployment's setting (`email_not_configured`) counts too: no failure of ours.
    pub fn is_client_fault(&self) -> bool {
        !matches!(self, ServerError::Internal(_))
    }

    /// The message for the client: precise for their mistakes, generic for ours.
    pub fn client_message(&self) -> String {
        match self {
            ServerError::Internal(_) => INTERNAL_ERROR_MESSAGE.to_string(),
            other => other.to_string(),
        }
    }
}
