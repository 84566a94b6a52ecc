//! Canned responses: texts an agent inserts by typing `/` and a few letters of the
//! shortcut in the composer. The account's come from the configuration file; each
//! agent keeps their own in the inbox (stored apart from the directory, so that
//! applying the file again keeps them, as it keeps availability toggles). A text
//! may hold visitor tokens, `{{visitor.first_name}}` or with a fallback
//! `{{visitor.first_name:"there"}}`, filled in by the inbox when inserted.

use serde::{Deserialize, Serialize};

/// The longest text, in characters.
pub const MAX_CANNED_CHARS: usize = 2_000;
/// The most canned responses one agent keeps.
pub const MAX_OWN_CANNED: usize = 100;
/// The most the account's configuration holds.
pub const MAX_ACCOUNT_CANNED: usize = 200;

/// Why a canned response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CannedError {
    #[error(
        "a shortcut is 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter or digit: {0:?}"
    )]
    Shortcut(String),
    #[error("a canned response's text is 1 to {MAX_CANNED_CHARS} characters and not blank")]
    Length,
    #[error(
        "a token is {{{{visitor.<attribute>}}}} or {{{{visitor.<attribute>:\"fallback\"}}}}: {0:?}"
    )]
    Token(String),
}

/// A shortcut: what follows the `/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Shortcut(String);

impl Shortcut {
    /// Checks `raw`.
    pub fn parse(raw: impl Into<String>) -> Result<Self, CannedError> {
        let raw = raw.into();
        let ok = (1..=32).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            && raw
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if ok {
            Ok(Self(raw))
        } else {
            Err(CannedError::Shortcut(raw.chars().take(40).collect()))
        }
    }

    /// The shortcut.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Shortcut {
    type Error = CannedError;
    fn try_from(raw: String) -> Result<Self, CannedError> {
        Self::parse(raw)
    }
}

impl From<Shortcut> for String {
    fn from(s: Shortcut) -> String {
        s.0
    }
}

impl std::fmt::Display for Shortcut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A canned response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCanned")]
pub struct CannedResponse {
    /// What the agent types after `/`.
    pub shortcut: Shortcut,
    /// The text inserted, its tokens filled in.
    pub text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanned {
    shortcut: Shortcut,
    text: String,
}

impl TryFrom<RawCanned> for CannedResponse {
    type Error = CannedError;
    fn try_from(raw: RawCanned) -> Result<Self, CannedError> {
        Self::new(raw.shortcut, raw.text)
    }
}

impl CannedResponse {
    /// Checks the text's length and every token in it.
    pub fn new(shortcut: Shortcut, text: String) -> Result<Self, CannedError> {
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_CANNED_CHARS || text.trim().is_empty() {
            return Err(CannedError::Length);
        }
        check_tokens(&text)?;
        Ok(Self { shortcut, text })
    }
}

/// Every `{{...}}` of `text` is a visitor token: `visitor.` then an attribute name
/// (a-z, 0-9, `_`), optionally `:` and a quoted fallback without quotes or braces.
fn check_tokens(text: &str) -> Result<(), CannedError> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(CannedError::Token(after.chars().take(40).collect()));
        };
        let token = &after[..end];
        let bad = || CannedError::Token(token.chars().take(40).collect());
        let (name, fallback) = match token.split_once(':') {
            Some((name, fallback)) => (name, Some(fallback)),
            None => (token, None),
        };
        let attribute = name.strip_prefix("visitor.").ok_or_else(bad)?;
        let name_ok = !attribute.is_empty()
            && attribute
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let fallback_ok = fallback.is_none_or(|f| {
            f.len() >= 2
                && f.starts_with('"')
                && f.ends_with('"')
                && !f[1..f.len() - 1].contains(['"', '{', '}'])
        });
        if !name_ok || !fallback_ok {
            return Err(bad());
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canned(shortcut: &str, text: &str) -> Result<CannedResponse, CannedError> {
        CannedResponse::new(Shortcut::parse(shortcut)?, text.to_string())
    }

    #[test]
    fn a_canned_response_takes_visitor_tokens_with_or_without_a_fallback() {
        assert!(
            canned(
                "hi",
                "Hi {{visitor.first_name:\"there\"}}, thanks for asking!"
            )
            .is_ok()
        );
        assert!(canned("plan-2", "Your plan: {{visitor.plan}}").is_ok());
        assert!(canned("plain", "No tokens at all").is_ok());
    }

    #[test]
    fn a_bad_shortcut_token_or_length_is_refused_with_the_reason() {
        for bad in ["", "Hi", "-x", "a b", &"x".repeat(33)] {
            assert!(
                matches!(Shortcut::parse(bad), Err(CannedError::Shortcut(_))),
                "{bad:?}"
            );
        }
        for text in [
            "Hi {{first_name}}",
            "Hi {{visitor.First}}",
            "Hi {{visitor.name:there}}",
            "Hi {{visitor.name:\"a\"b\"}}",
            "Hi {{visitor.name",
        ] {
            assert!(
                matches!(canned("hi", text), Err(CannedError::Token(_))),
                "{text}"
            );
        }
        assert_eq!(canned("hi", "   "), Err(CannedError::Length));
        assert_eq!(
            canned("hi", &"x".repeat(MAX_CANNED_CHARS + 1)),
            Err(CannedError::Length)
        );
    }

    #[test]
    fn a_canned_response_reads_from_yaml_and_refuses_unknown_fields() {
        let ok: CannedResponse = serde_saphyr::from_str(
            "shortcut: pricing\ntext: \"See {{visitor.company:\\\"your team\\\"}}\"\n",
        )
        .unwrap();
        assert_eq!(ok.shortcut.as_str(), "pricing");
        assert!(
            serde_saphyr::from_str::<CannedResponse>("shortcut: p\ntext: x\nextra: 1\n").is_err()
        );
    }
}
