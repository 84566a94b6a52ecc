//! Identifiers. Each is a newtype so that an agent id can never be passed where a
//! conversation id is expected, and each is parsed once at the boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} is longer than {max} characters")]
    TooLong { kind: &'static str, max: usize },
    #[error("{kind} contains {found:?}; only letters, digits and - _ . : @ + = are allowed")]
    BadCharacter { kind: &'static str, found: char },
}

/// Longest identifier accepted. API Gateway connection ids are 16 characters, ULIDs 26,
/// emails used as ids fit comfortably; 128 keeps DynamoDB keys small.
pub const MAX_ID_LEN: usize = 128;

fn check_id(kind: &'static str, raw: &str) -> Result<(), IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if raw.chars().count() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            max: MAX_ID_LEN,
        });
    }
    if let Some(found) = raw
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:@+=".contains(*c)))
    {
        return Err(IdError::BadCharacter { kind, found });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier: 1 to [`MAX_ID_LEN`] characters of letters, digits
            /// and `- _ . : @ + =`.
            pub fn parse(raw: impl Into<String>) -> Result<Self, IdError> {
                let raw = raw.into();
                check_id($kind, &raw)?;
                Ok(Self(raw))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Makes a new time-ordered unique identifier (a ULID), for ids the server creates.
pub fn new_ulid() -> String {
    ulid::Ulid::new().to_string()
}

id_type!(
    /// An agent, as configured by an admin (e.g. `ana` or an email).
    AgentId, "agent id"
);
id_type!(
    /// A team of agents.
    TeamId, "team id"
);
id_type!(
    /// A custom routing rule.
    RuleId, "rule id"
);
id_type!(
    /// A dialog (a tree of cards).
    DialogId, "dialog id"
);
id_type!(
    /// A card inside a dialog; unique within its dialog.
    CardId, "card id"
);
id_type!(
    /// A visitor's session; stable across page loads and reconnects.
    VisitorId, "visitor id"
);
id_type!(
    /// A conversation between a visitor and (maybe) an agent.
    ConversationId, "conversation id"
);
id_type!(
    /// A chat message; made by the client so a retried send is stored once.
    MessageId, "message id"
);
id_type!(
    /// An API Gateway WebSocket connection.
    ConnectionId, "connection id"
);

impl VisitorId {
    /// A fresh visitor id.
    pub fn generate() -> Self {
        Self(new_ulid())
    }
}

impl ConversationId {
    /// A fresh conversation id.
    pub fn generate() -> Self {
        Self(new_ulid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_ulids_emails_and_api_gateway_connection_ids() {
        assert!(AgentId::parse("ana@example.com").is_ok());
        assert!(ConnectionId::parse("L0SM9cOFvHcCIhw=").is_ok());
        assert!(ConversationId::parse(new_ulid()).is_ok());
    }

    #[test]
    fn ids_refuse_empty_long_and_odd_characters() {
        assert_eq!(AgentId::parse(""), Err(IdError::Empty { kind: "agent id" }));
        assert!(matches!(
            AgentId::parse("a".repeat(129)),
            Err(IdError::TooLong { .. })
        ));
        assert_eq!(
            TeamId::parse("sales team"),
            Err(IdError::BadCharacter {
                kind: "team id",
                found: ' '
            })
        );
    }

    #[test]
    fn ids_deserialize_through_parse() {
        let bad: Result<AgentId, _> = serde_json::from_str("\"a b\"");
        assert!(bad.is_err());
        let good: AgentId = serde_json::from_str("\"ana\"").unwrap();
        assert_eq!(good.as_str(), "ana");
    }
}
