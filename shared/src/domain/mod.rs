//! The product's nouns as types: ids, emails, message text, visitors and their
//! attributes, conditions, agents and teams, routing configuration, settings,
//! conversations and messages. Pure data and rules: no I/O, no AWS.

mod agent;
mod audience;
mod branding;
mod canned;
mod condition;
mod conversation;
mod email_domain;
mod ids;
mod lang;
mod notify;
mod origin;
mod queue;
mod rate;
mod recent;
mod routing_config;
mod text;
mod timeline;
mod transfer;
mod visitor;

pub use agent::{
    Agent, AvailabilityBlock, ChatLimit, ChatLimitError, ClockTime, ManualToggle, Permission, Role,
    ScheduleError, Team, TimeZoneName, WeeklySchedule, next_local_midnight,
};
pub use audience::{
    Audience, AudienceError, MAX_AUDIENCE_CONDITIONS, MAX_PATTERN_CHARS, MAX_PATTERNS,
    MAX_SECONDS_ON_PAGE, PatternError, UrlPattern, page_key,
};
pub use branding::{
    AvatarUrl, AvatarUrlError, Branding, BrandingError, HexColour, HexColourError, MAX_OFFSET_PX,
    MIN_CONTRAST, Offset, Pixels, PixelsError, Position,
};
pub use canned::{
    CannedError, CannedResponse, MAX_ACCOUNT_CANNED, MAX_CANNED_CHARS, MAX_OWN_CANNED, Shortcut,
};
pub use condition::{Combine, Condition, ConditionError, ConditionSet, ConditionValue, Operator};
pub use conversation::{
    Conversation, ConversationState, EndReason, Message, Note, Sender, TransitionError,
};
pub use email_domain::{EmailDomain, EmailDomainError, blocked_by};
pub use ids::{
    AgentId, CardId, ConnectionId, ConversationId, DialogId, IdError, MAX_ID_LEN, MessageId,
    RuleId, TeamId, VisitorId, new_ulid,
};
pub use lang::{Lang, LangError, MAX_LANG_CHARS, UiLang};
pub use notify::{
    NoticeKind, Notifications, NotifyOn, WebhookSettings, WebhookUrl, WebhookUrlError,
};
pub use origin::{Origin, OriginError};
pub use queue::{
    ChatLengths, MAX_QUEUE_LEN, QueueWaitLimit, QueueWaitLimitError, estimated_wait_secs,
};
pub use rate::{Rate, RateLimits, RateLimitsError, Window, Windows, count_in};
pub use recent::{MAX_UNACKED, RECENT_PER_SIDE, RecentMessages};
pub use routing_config::{
    AccountRouting, CustomRule, FallbackMessage, GracePeriod, GracePeriodError, INACTIVITY_TIMEOUT,
    MAX_OFFERS_PER_REQUEST, RoutingMode, RuleTarget, STANDARD_FALLBACK, Settings, WaitTimeLimit,
    WaitTimeLimitError,
};
pub(crate) use text::Quoted;
pub use text::{
    Email, EmailError, MAX_MESSAGE_CHARS, MAX_QUOTED_CHARS, MessageText, MessageTextError,
};
pub use timeline::{
    OfferOutcome, OfferRecord, Stint, StintStart, Timeline, TransferRecord, Unanswered,
};
pub use transfer::{
    MAX_TRANSFER_NOTE_CHARS, PendingTransfer, TransferNote, TransferNoteError, TransferOutcome,
    TransferTarget,
};
pub use visitor::{
    AttributeLimitError, AttributeName, AttributeNameError, AttributeValueError, Attributes,
    PageUrl, Visitor, check_attribute_value, well_known,
};
