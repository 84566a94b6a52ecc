//! Email addresses and chat message text, parsed once at the boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string was refused as an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("enter an email address like name@example.com")]
    Malformed,
    #[error("an email address is at most 254 characters")]
    TooLong,
}

/// A syntactically valid email address, stored trimmed with its domain lower-cased.
///
/// This is the pragmatic check a sign-up form makes (one `@`, a dotted domain, no
/// spaces), not RFC 5322: a visitor typing `ana@example` gets told, a real address is
/// never refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses an address; see the type's contract.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let raw = raw.trim();
        if raw.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = raw.rsplit_once('@').ok_or(EmailError::Malformed)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.chars().any(|c| c.is_whitespace() || c.is_control());
        if !domain_ok || !local_ok {
            return Err(EmailError::Malformed);
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased domain, the key of account routing.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(raw: String) -> Result<Self, EmailError> {
        Self::parse(&raw)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest chat message, in characters (Unicode scalar values).
pub const MAX_MESSAGE_CHARS: usize = 4_000;

/// Why a chat message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageTextError {
    #[error("a message cannot be empty")]
    Empty,
    #[error("a message is at most {MAX_MESSAGE_CHARS} characters; this one has {0}")]
    TooLong(usize),
}

/// The text of a chat message: not blank, at most [`MAX_MESSAGE_CHARS`] characters.
/// Kept exactly as typed (new lines included); only the blank check trims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageText(String);

impl MessageText {
    /// Parses message text; see the type's contract.
    pub fn parse(raw: impl Into<String>) -> Result<Self, MessageTextError> {
        let raw = raw.into();
        if raw.trim().is_empty() {
            return Err(MessageTextError::Empty);
        }
        let chars = raw.chars().count();
        if chars > MAX_MESSAGE_CHARS {
            return Err(MessageTextError::TooLong(chars));
        }
        Ok(Self(raw))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageText {
    type Error = MessageTextError;
    fn try_from(raw: String) -> Result<Self, MessageTextError> {
        Self::parse(raw)
    }
}

impl From<MessageText> for String {
    fn from(t: MessageText) -> String {
        t.0
    }
}

/// Most characters of a client's string that an error message quotes.
pub const MAX_QUOTED_CHARS: usize = 64;

/// A string a client sent, quoted in an error message as `{:?}` quotes it, cut with
/// `…` after [`MAX_QUOTED_CHARS`] characters, so that an error message stays short
/// whatever was sent. Quoted whole, a name of characters that `{:?}` escapes (U+007F
/// is one byte sent, seven once quoted in JSON) turned a frame that fits in 128 KB
/// into an `error` frame far over the 128 KB API Gateway lets a function push.
pub(crate) struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_QUOTED_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}", format!("{}…", &self.0[..cut])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_string_is_cut_after_64_characters_and_short_ones_are_quoted_whole() {
        assert_eq!(Quoted("fly").to_string(), r#""fly""#);
        assert_eq!(Quoted("a\"b").to_string(), r#""a\"b""#);
        let exactly = "é".repeat(MAX_QUOTED_CHARS);
        assert_eq!(Quoted(&exactly).to_string(), format!("{exactly:?}"));
        let long = format!("{exactly}\u{7f}{}", "x".repeat(100_000));
        assert_eq!(Quoted(&long).to_string(), format!("\"{exactly}…\""));
        let escaped = "\u{7f}".repeat(1_000);
        assert_eq!(
            Quoted(&escaped).to_string().len(),
            r#""…""#.len() + MAX_QUOTED_CHARS * r"\u{7f}".len()
        );
    }

    #[test]
    fn email_domain_is_lower_cased_for_account_routing() {
        let email = Email::parse("  Ana.Lima@ACME.com ").unwrap();
        assert_eq!(email.as_str(), "Ana.Lima@acme.com");
        assert_eq!(email.domain(), "acme.com");
    }

    #[test]
    fn email_without_a_dotted_domain_is_refused_with_a_clear_message() {
        for bad in [
            "ana",
            "ana@",
            "@acme.com",
            "ana@acme",
            "ana @acme.com",
            "ana@acme..com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                "enter an email address like name@example.com",
                "{bad}"
            );
        }
    }

    #[test]
    fn message_text_allows_4000_characters_and_refuses_4001() {
        assert!(MessageText::parse("é".repeat(4_000)).is_ok());
        assert_eq!(
            MessageText::parse("é".repeat(4_001)),
            Err(MessageTextError::TooLong(4_001))
        );
    }

    #[test]
    fn blank_message_text_is_refused() {
        assert_eq!(MessageText::parse(" \n\t"), Err(MessageTextError::Empty));
    }
}
