//! Each agent's notification settings: which events reach them by email and by a
//! Slack-compatible incoming webhook, for the times they are not in the inbox.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The events an agent can be notified of outside the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyOn {
    /// A visitor asked for a live chat in one of the agent's pools while the agent
    /// had no inbox open.
    #[serde(default = "yes")]
    pub new_requests: bool,
    /// A request nobody took (it is in the missed list).
    #[serde(default = "yes")]
    pub missed_requests: bool,
}

fn yes() -> bool {
    true
}

impl Default for NotifyOn {
    fn default() -> Self {
        Self {
            new_requests: true,
            missed_requests: true,
        }
    }
}

impl NotifyOn {
    /// Nothing.
    pub const NONE: Self = Self {
        new_requests: false,
        missed_requests: false,
    };

    /// Whether `event` is wanted.
    pub fn wants(self, event: NoticeKind) -> bool {
        match event {
            NoticeKind::NewRequest => self.new_requests,
            NoticeKind::MissedRequest => self.missed_requests,
        }
    }
}

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// See [`NotifyOn::new_requests`].
    NewRequest,
    /// See [`NotifyOn::missed_requests`].
    MissedRequest,
}

/// Why a webhook address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a webhook must be an https:// URL (http:// only for localhost or 127.0.0.1), not {0:?}")]
pub struct WebhookUrlError(pub String);

/// A Slack-compatible incoming webhook: an `https://` URL, or `http://` on the local
/// machine (for the local gateway and tests). Notices are posted as `{"text": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Parses an address; see the type's contract.
    pub fn parse(raw: &str) -> Result<Self, WebhookUrlError> {
        let raw = raw.trim();
        let refuse = || WebhookUrlError(raw.to_string());
        let rest = if let Some(rest) = raw.strip_prefix("https://") {
            rest
        } else if let Some(rest) = raw.strip_prefix("http://") {
            let host = rest.split(['/', ':']).next().unwrap_or_default();
            if host != "localhost" && host != "127.0.0.1" {
                return Err(refuse());
            }
            rest
        } else {
            return Err(refuse());
        };
        let host = rest.split(['/', ':', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refuse());
        }
        Ok(Self(raw.to_string()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = WebhookUrlError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<WebhookUrl> for String {
    fn from(url: WebhookUrl) -> Self {
        url.0
    }
}

impl fmt::Display for WebhookUrl {
    /// Webhook URLs are secrets (anyone holding one can post): only the host shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = self.0.split_once("://").map_or("", |(_, r)| r);
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        write!(f, "webhook at {host}")
    }
}

/// A webhook and the events posted to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to post.
    pub url: WebhookUrl,
    /// Post new requests (see [`NotifyOn::new_requests`]).
    #[serde(default = "yes")]
    pub new_requests: bool,
    /// Post missed requests (see [`NotifyOn::missed_requests`]).
    #[serde(default = "yes")]
    pub missed_requests: bool,
}

impl WebhookSettings {
    /// The events posted.
    pub fn on(&self) -> NotifyOn {
        NotifyOn {
            new_requests: self.new_requests,
            missed_requests: self.missed_requests,
        }
    }
}

/// An agent's notification settings. By default both events are emailed to the
/// agent's address and no webhook is set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Events emailed to the agent.
    #[serde(default)]
    pub email: NotifyOn,
    /// A Slack-compatible incoming webhook, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSettings>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_must_be_https_except_on_the_local_machine() {
        assert!(WebhookUrl::parse("https://hooks.slack.com/services/T0/B0/x").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook").is_ok());
        assert!(WebhookUrl::parse("http://localhost/hook").is_ok());
        for bad in [
            "http://hooks.slack.com/services/x",
            "ftp://example.com",
            "https://",
            "https:// spaces.example",
            "hooks.slack.com",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn a_webhook_url_is_never_printed_whole_because_it_is_a_secret() {
        let url = WebhookUrl::parse("https://hooks.slack.com/services/T0/B0/secret").unwrap();
        assert_eq!(url.to_string(), "webhook at hooks.slack.com");
    }

    #[test]
    fn unset_settings_email_both_events_and_post_nowhere() {
        let n: Notifications = serde_json::from_str("{}").unwrap();
        assert_eq!(n.email, NotifyOn::default());
        assert!(n.email.wants(NoticeKind::NewRequest) && n.email.wants(NoticeKind::MissedRequest));
        assert_eq!(n.webhook, None);
        let n: Notifications = serde_json::from_str(
            r#"{"email":{"new_requests":false},"webhook":{"url":"https://h.example/x","new_requests":false}}"#,
        )
        .unwrap();
        assert!(!n.email.wants(NoticeKind::NewRequest));
        assert!(n.email.wants(NoticeKind::MissedRequest));
        let hook = n.webhook.unwrap();
        assert!(!hook.on().new_requests && hook.on().missed_requests);
    }
}
