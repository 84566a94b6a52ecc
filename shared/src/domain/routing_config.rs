//! What admins configure for routing: account routing, custom rules, the live chat
//! card's routing mode, and the account settings (wait time limit, fallback message).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AgentId, ConditionSet, RuleId, TeamId};

/// Where a custom rule sends the visitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleTarget {
    /// One or more agents, round robin among them in the listed order.
    Agents(Vec<AgentId>),
    /// A team, round robin among its members.
    Team(TeamId),
}

/// A custom routing rule: conditions on visitor attributes and a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomRule {
    /// Stable id, referenced by live chat cards.
    pub id: RuleId,
    /// Name shown to admins.
    pub name: String,
    /// When the rule applies.
    #[serde(flatten)]
    pub when: ConditionSet,
    /// Where it routes.
    pub target: RuleTarget,
}

/// How a live chat card picks an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RoutingMode {
    /// Every agent with the live chat permission, in rotation.
    RoundRobin,
    /// One named agent.
    Agent { agent: AgentId },
    /// The listed rules, tried in order; the first that matches picks the pool.
    CustomRules { rules: Vec<RuleId> },
    /// Round robin within a team.
    Team { team: TeamId },
}

/// Why a wait time limit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the visitor wait time limit is 10 to 500 seconds, not {0}")]
pub struct WaitTimeLimitError(pub u32);

/// How long an offered agent has to accept: 10-500 s, default 100 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct WaitTimeLimit(u32);

impl WaitTimeLimit {
    /// Parses a limit in seconds.
    pub fn from_secs(secs: u32) -> Result<Self, WaitTimeLimitError> {
        if (10..=500).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(WaitTimeLimitError(secs))
        }
    }

    /// The limit in seconds.
    pub fn secs(self) -> u32 {
        self.0
    }

    /// The limit as a span.
    pub fn span(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(i64::from(self.0))
    }
}

impl Default for WaitTimeLimit {
    fn default() -> Self {
        Self(100)
    }
}

impl TryFrom<u32> for WaitTimeLimit {
    type Error = WaitTimeLimitError;
    fn try_from(v: u32) -> Result<Self, WaitTimeLimitError> {
        Self::from_secs(v)
    }
}

impl From<WaitTimeLimit> for u32 {
    fn from(w: WaitTimeLimit) -> u32 {
        w.0
    }
}

/// The standard fallback text shown when nobody can take the chat.
pub const STANDARD_FALLBACK: &str = "Sorry, nobody is available to chat right now. Leave your email and a message and we will get back to you.";

/// What the visitor sees when nobody can take the chat.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum FallbackMessage {
    /// [`STANDARD_FALLBACK`].
    #[default]
    Standard,
    /// The admin's own text; links are allowed (the widget makes them clickable).
    Custom(String),
}

impl FallbackMessage {
    /// The text to show.
    pub fn text(&self) -> &str {
        match self {
            Self::Standard => STANDARD_FALLBACK,
            Self::Custom(t) => t,
        }
    }
}

/// Account-wide live chat settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    /// How long an offered agent has to accept.
    #[serde(default)]
    pub wait_time_limit: WaitTimeLimit,
    /// How long a request may wait in the live queue when every available agent is
    /// at their chat limit; unset, no queue: the fallback at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_wait_limit: Option<super::QueueWaitLimit>,
    /// What the visitor sees when nobody can take the chat.
    #[serde(default)]
    pub fallback: FallbackMessage,
    /// A meeting-booking link offered with the fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_link: Option<String>,
    /// How long an agent (or a waiting visitor) may be disconnected before their
    /// chats move on.
    #[serde(default)]
    pub grace_period: GracePeriod,
    /// The Agent Inbox's address, linked from email and webhook notices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox_url: Option<String>,
    /// The sites whose pages may open visitor sockets (their `Origin`), besides the
    /// chat's own pages; unset, every site may. A socket with no `Origin` (not a
    /// browser) is accepted either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<super::Origin>>,
    /// Per-connection and per-visitor rate limits.
    #[serde(default)]
    pub rate_limits: super::RateLimits,
    /// The IANA time zone whose calendar days analytics counts in; UTC when unset
    /// (docs/analytics.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<super::TimeZoneName>,
    /// Email domains a capture card and the fallback form refuse: each domain and
    /// its subdomains (docs/config.md#blocked-email-domains).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_email_domains: Vec<super::EmailDomain>,
    /// Attributes only a signed identify may set (docs/identify.md): an unsigned
    /// value of one is kept and shown to agents as unverified, but routing rules and
    /// branch cards read it as unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verified_attributes: Vec<super::AttributeName>,
}

/// Why a grace period was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the grace period is 10 to 600 seconds, not {0}")]
pub struct GracePeriodError(pub u32);

/// How long a party may be disconnected before their chats move on: 10-600 s,
/// default 60 s. Long enough to ride out a page reload or a network change, short
/// enough that a visitor is not left talking to nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct GracePeriod(u32);

impl GracePeriod {
    /// Parses a period in seconds.
    pub fn from_secs(secs: u32) -> Result<Self, GracePeriodError> {
        if (10..=600).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(GracePeriodError(secs))
        }
    }

    /// The period as a span.
    pub fn span(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(i64::from(self.0))
    }
}

impl Default for GracePeriod {
    fn default() -> Self {
        Self(60)
    }
}

impl TryFrom<u32> for GracePeriod {
    type Error = GracePeriodError;
    fn try_from(v: u32) -> Result<Self, GracePeriodError> {
        Self::from_secs(v)
    }
}

impl From<GracePeriod> for u32 {
    fn from(g: GracePeriod) -> u32 {
        g.0
    }
}

/// A live chat with no message from either side for this long ends.
pub const INACTIVITY_TIMEOUT: jiff::SignedDuration = jiff::SignedDuration::from_secs(10 * 60);

/// At most this many agents are offered one routing request.
pub const MAX_OFFERS_PER_REQUEST: u32 = 2;

/// Account routing: an email domain (lower-case) owned by an agent. Checked before the
/// card's own routing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountRouting(pub BTreeMap<String, AgentId>);

impl AccountRouting {
    /// The owner of an email domain, if any.
    pub fn owner(&self, domain: &str) -> Option<&AgentId> {
        self.0.get(&domain.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_time_limit_is_ten_to_five_hundred_seconds_default_one_hundred() {
        assert_eq!(WaitTimeLimit::default().secs(), 100);
        assert!(WaitTimeLimit::from_secs(9).is_err());
        assert!(WaitTimeLimit::from_secs(501).is_err());
        assert!(WaitTimeLimit::from_secs(500).is_ok());
    }

    #[test]
    fn routing_modes_read_as_tagged_objects() {
        let m: RoutingMode = serde_json::from_str(r#"{"mode":"team","team":"sales"}"#).unwrap();
        assert_eq!(
            m,
            RoutingMode::Team {
                team: TeamId::parse("sales").unwrap()
            }
        );
        let m: RoutingMode = serde_json::from_str(r#"{"mode":"round_robin"}"#).unwrap();
        assert_eq!(m, RoutingMode::RoundRobin);
    }

    #[test]
    fn custom_fallback_text_replaces_the_standard_one() {
        assert_eq!(FallbackMessage::Standard.text(), STANDARD_FALLBACK);
        assert_eq!(
            FallbackMessage::Custom("Book a call: https://x.y".into()).text(),
            "Book a call: https://x.y"
        );
    }
}
