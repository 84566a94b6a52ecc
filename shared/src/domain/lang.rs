//! Languages: the visitor's language tag as the widget sends it, and the five
//! languages the product's own visitor-facing texts are written in.
//!
//! A tag is kept as sent (lower-cased), so that a dialog may be written in any
//! language (`ar`, `pt-br`); the product's own texts come in [`UiLang`], to which
//! a tag maps by its primary subtag, any other language being English.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest language tag accepted, in characters (BCP 47's practical limit, as
/// RFC 5646 section 4.4.1 advises buffers to hold).
pub const MAX_LANG_CHARS: usize = 35;

/// Why a language tag was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected a language tag such as \"de\" or \"pt-BR\" (letters, digits and '-', at most {MAX_LANG_CHARS} characters)"
)]
pub struct LangError;

/// A BCP 47-ish language tag, lower-cased: a primary subtag of 2 to 8 letters, then
/// subtags of 1 to 8 letters or digits, joined by `-` (`_` is read as `-`, as some
/// systems write `pt_BR`). Not checked against the registry: an unknown language
/// is a valid tag whose texts fall back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Lang(String);

impl Lang {
    /// Parses a tag; see the type's contract.
    pub fn parse(raw: &str) -> Result<Self, LangError> {
        let tag = raw.trim().replace('_', "-").to_ascii_lowercase();
        if tag.is_empty() || tag.chars().count() > MAX_LANG_CHARS {
            return Err(LangError);
        }
        let mut subtags = tag.split('-');
        let primary = subtags.next().unwrap_or_default();
        let primary_ok =
            (2..=8).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
        let rest_ok = subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
        if primary_ok && rest_ok {
            Ok(Self(tag))
        } else {
            Err(LangError)
        }
    }

    /// English, the default.
    pub fn english() -> Self {
        Self("en".into())
    }

    /// The tag, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The language without region or script: `pt` for `pt-br`.
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }

    /// Whether this is the default, `en` itself (not `en-gb`, which a dialog may
    /// give texts for): what a stored state leaves out.
    pub fn is_default(&self) -> bool {
        self.0 == "en"
    }
}

impl Default for Lang {
    fn default() -> Self {
        Self::english()
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Lang {
    type Error = LangError;
    fn try_from(s: String) -> Result<Self, LangError> {
        Self::parse(&s)
    }
}

impl From<Lang> for String {
    fn from(l: Lang) -> String {
        l.0
    }
}

/// The languages the product's own visitor-facing texts are written in (the
/// widget's strings, capture errors, the standard fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UiLang {
    /// English: also every language not listed here.
    #[default]
    En,
    /// German.
    De,
    /// French.
    Fr,
    /// Spanish.
    Es,
    /// Portuguese.
    Pt,
}

impl UiLang {
    /// The language for `lang`'s texts: by its primary subtag (`pt-br` is `Pt`),
    /// English for any other.
    pub fn of(lang: &Lang) -> Self {
        match lang.primary() {
            "de" => Self::De,
            "fr" => Self::Fr,
            "es" => Self::Es,
            "pt" => Self::Pt,
            _ => Self::En,
        }
    }

    /// Picks the text for this language from one per language, in the order
    /// English, German, French, Spanish, Portuguese.
    pub fn pick<T: Copy>(self, [en, de, fr, es, pt]: [T; 5]) -> T {
        match self {
            Self::En => en,
            Self::De => de,
            Self::Fr => fr,
            Self::Es => es,
            Self::Pt => pt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_lower_cased_and_underscores_read_as_hyphens() {
        assert_eq!(Lang::parse("pt-BR").unwrap().as_str(), "pt-br");
        assert_eq!(Lang::parse("pt_BR").unwrap().as_str(), "pt-br");
        assert_eq!(Lang::parse(" DE ").unwrap().as_str(), "de");
        assert_eq!(Lang::parse("zh-Hant-TW").unwrap().primary(), "zh");
    }

    #[test]
    fn malformed_or_overlong_tags_are_refused() {
        for bad in [
            "",
            "d",
            "-de",
            "de-",
            "de--at",
            "d3",
            "de at",
            "<b>",
            "ünï",
            "de-toolongsubtag",
        ] {
            assert_eq!(Lang::parse(bad), Err(LangError), "{bad:?}");
        }
        let long = format!("de{}", "-abcdefgh".repeat(4));
        assert_eq!(long.len(), 38);
        assert_eq!(Lang::parse(&long), Err(LangError));
        let at_limit = "de-abcdefgh-abcdefgh-abcdefgh-abcd".to_string();
        assert_eq!(at_limit.len(), MAX_LANG_CHARS - 1);
        assert!(Lang::parse(&at_limit).is_ok());
    }

    #[test]
    fn a_state_leaves_out_plain_english_only() {
        use crate::dialog::DialogState;
        let english = serde_json::to_value(DialogState::default()).unwrap();
        assert_eq!(english.get("lang"), None);
        let british = DialogState {
            lang: Lang::parse("en-GB").unwrap(),
            ..DialogState::default()
        };
        let json = serde_json::to_string(&british).unwrap();
        assert!(json.contains(r#""lang":"en-gb""#), "{json}");
        let back: DialogState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, british);
        let old: DialogState =
            serde_json::from_str(r#"{"position": {"at": "not_started"}}"#).unwrap();
        assert_eq!(
            old.lang,
            Lang::english(),
            "a session stored before languages"
        );
    }

    #[test]
    fn a_region_falls_back_to_its_language_and_an_unknown_language_to_english() {
        let ui = |tag: &str| UiLang::of(&Lang::parse(tag).unwrap());
        assert_eq!(ui("pt-BR"), UiLang::Pt);
        assert_eq!(ui("de-CH"), UiLang::De);
        assert_eq!(ui("fr"), UiLang::Fr);
        assert_eq!(ui("es-419"), UiLang::Es);
        assert_eq!(ui("en-GB"), UiLang::En);
        assert_eq!(ui("ar"), UiLang::En);
        assert_eq!(ui("ja-JP"), UiLang::En);
    }
}
