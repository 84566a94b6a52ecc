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
///
/// Kept as typed (new lines and tabs included) except for what could change how
/// other text is shown (display spoofing), so that every path (visitor, agent,
/// stored, emailed) carries the same safe text:
/// - other control characters (`char::is_control`: CR, NUL, ESC, BEL...) are removed;
/// - bidi embeddings and overrides become isolates (LRE and LRO become LRI, RLE
///   and RLO become RLI, PDF becomes PDI), which can reorder only the text inside
///   them; a PDI with nothing open is dropped, and every isolate still open at the
///   end of a line is closed there, so no direction change leaks past its line;
/// - the marks right-to-left text needs (LRM, RLM, ALM) stay.
///
/// The length limit and the blank check apply to the text after this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageText(String);

/// Left-to-right and right-to-left isolates, first strong isolate, and their end.
const LRI: char = '\u{2066}';
const RLI: char = '\u{2067}';
const FSI: char = '\u{2068}';
const PDI: char = '\u{2069}';

/// `raw` with control characters removed and bidi controls made balanced
/// isolates, line by line; see [`MessageText`].
pub(super) fn neutralise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut open = 0usize;
    for c in raw.chars() {
        match c {
            // LRE, LRO.
            '\u{202A}' | '\u{202D}' => {
                out.push(LRI);
                open += 1;
            }
            // RLE, RLO.
            '\u{202B}' | '\u{202E}' => {
                out.push(RLI);
                open += 1;
            }
            LRI | RLI | FSI => {
                out.push(c);
                open += 1;
            }
            // PDF, PDI.
            '\u{202C}' | PDI => {
                if open > 0 {
                    out.push(PDI);
                    open -= 1;
                }
            }
            // The paragraph separators kept: a paragraph ends every isolate anyway.
            '\n' | '\u{2029}' => {
                out.extend(std::iter::repeat_n(PDI, open));
                open = 0;
                out.push(c);
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.extend(std::iter::repeat_n(PDI, open));
    out
}

impl MessageText {
    /// Parses message text; see the type's contract.
    pub fn parse(raw: impl Into<String>) -> Result<Self, MessageTextError> {
        let raw: String = raw.into();
        let text = neutralise(&raw);
        if text.trim().is_empty() {
            return Err(MessageTextError::Empty);
        }
        let chars = text.chars().count();
        if chars > MAX_MESSAGE_CHARS {
            return Err(MessageTextError::TooLong(chars));
        }
        Ok(Self(text))
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

    #[test]
    fn control_characters_are_removed_but_new_lines_and_tabs_kept() {
        let text = MessageText::parse("a\u{1b}[2Jb\r\nc\td\u{7}\u{0}").unwrap();
        assert_eq!(text.as_str(), "a[2Jb\nc\td");
        assert_eq!(
            MessageText::parse("\u{7}\u{1b}\r"),
            Err(MessageTextError::Empty)
        );
    }

    #[test]
    fn an_override_becomes_an_isolate_closed_before_the_line_ends() {
        // "invoice_\u{202E}fdp.exe" would show as "invoice_exe.pdf" and spill over.
        let text = MessageText::parse("invoice_\u{202E}fdp.exe\nnext line").unwrap();
        assert_eq!(text.as_str(), "invoice_\u{2067}fdp.exe\u{2069}\nnext line");
        let text = MessageText::parse("\u{202A}a\u{202C}\u{202C}b\u{2069}").unwrap();
        assert_eq!(
            text.as_str(),
            "\u{2066}a\u{2069}b",
            "closers with nothing open go"
        );
    }

    #[test]
    fn balanced_isolates_and_the_marks_rtl_text_needs_are_kept_as_typed() {
        for typed in [
            "שלום \u{2067}עולם\u{2069} 123",
            "\u{200F}مرحبا\u{061C} 5\u{200E}",
            "Zoë\t\u{2068}x\u{2069}",
        ] {
            assert_eq!(MessageText::parse(typed).unwrap().as_str(), typed);
        }
    }

    /// Whether every line of `text` opens no more isolates than it closes, never
    /// closes one it did not open, and holds no embedding or override.
    fn balanced(text: &str) -> bool {
        text.split(['\n', '\u{2029}']).all(|line| {
            let mut depth: i64 = 0;
            for c in line.chars() {
                match c {
                    '\u{202A}'..='\u{202E}' => return false,
                    LRI | RLI | FSI => depth += 1,
                    PDI => depth -= 1,
                    _ => {}
                }
                if depth < 0 {
                    return false;
                }
            }
            depth == 0
        })
    }

    fn tricky_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let pick = prop::sample::select(vec![
            'a', 'Z', ' ', '1', 'é', 'ש', 'م', '😀', '\n', '\t', '\r', '\u{0}', '\u{7}', '\u{1b}',
            '\u{7f}', '\u{85}', '\u{2029}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{202A}',
            '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', LRI, RLI, FSI, PDI,
        ]);
        prop::collection::vec(pick, 0..60).prop_map(|cs| cs.into_iter().collect())
    }

    proptest::proptest! {
        #[test]
        fn message_text_never_holds_an_unbalanced_override_or_a_stray_control(raw in tricky_text()) {
            if let Ok(text) = MessageText::parse(raw.as_str()) {
                let out = text.as_str();
                proptest::prop_assert!(balanced(out), "{:?} -> {:?}", raw, out);
                proptest::prop_assert!(
                    out.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'),
                    "{:?}", out
                );
                let marks = |s: &str| s.chars().filter(|c| matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')).count();
                proptest::prop_assert_eq!(marks(out), marks(&raw));
                let again = MessageText::parse(out).unwrap();
                proptest::prop_assert_eq!(again.as_str(), out, "parsing is idempotent");
            }
        }

        #[test]
        fn text_without_bidi_or_control_characters_is_kept_exactly(raw in "[a-zA-Z0-9 éשم😀.,!?\n\t]{1,80}") {
            if let Ok(text) = MessageText::parse(raw.as_str()) {
                proptest::prop_assert_eq!(text.as_str(), raw.as_str());
            }
        }
    }
}
