//! A card's text as the dialog file gives it: one string for every visitor, or a
//! map of language to text (`text: {en: "Hi", de: "Hallo"}`), of which the visitor
//! gets their language, else the dialog's fallback language (docs/dialogs.md).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::domain::Lang;

/// A text of a card: the same for everyone, or one per language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Localized {
    /// One text for every language.
    Plain(String),
    /// One text per language tag; at least one entry.
    PerLanguage(BTreeMap<Lang, String>),
}

impl Localized {
    /// The text for a visitor speaking `lang`: their tag, else its language
    /// without the region (`pt` for `pt-br`), else `fallback` (the same way), else
    /// the first entry by tag. A plain text is the same for all.
    pub fn pick(&self, lang: &Lang, fallback: &Lang) -> &str {
        match self {
            Self::Plain(text) => text,
            Self::PerLanguage(map) => Self::lookup(map, lang)
                .or_else(|| Self::lookup(map, fallback))
                .or_else(|| map.values().next().map(String::as_str))
                .unwrap_or_default(),
        }
    }

    fn lookup<'a>(map: &'a BTreeMap<Lang, String>, lang: &Lang) -> Option<&'a str> {
        map.get(lang)
            .or_else(|| {
                map.iter()
                    .find(|(l, _)| l.as_str() == lang.primary())
                    .map(|(_, t)| t)
            })
            .map(String::as_str)
    }

    /// Every text it holds, with its language (`None` for a plain text): what the
    /// validator checks for blanks and tokens.
    pub fn texts(&self) -> Vec<(Option<&Lang>, &str)> {
        match self {
            Self::Plain(text) => vec![(None, text.as_str())],
            Self::PerLanguage(map) => map.iter().map(|(l, t)| (Some(l), t.as_str())).collect(),
        }
    }

    /// The languages of `wanted` a per-language text lacks (exactly, tag by tag);
    /// none for a plain text, which serves every language.
    pub fn missing<'a>(&self, wanted: &'a [Lang]) -> Vec<&'a Lang> {
        match self {
            Self::Plain(_) => Vec::new(),
            Self::PerLanguage(map) => wanted.iter().filter(|l| !map.contains_key(*l)).collect(),
        }
    }
}

impl From<&str> for Localized {
    fn from(text: &str) -> Self {
        Self::Plain(text.to_owned())
    }
}

impl From<String> for Localized {
    fn from(text: String) -> Self {
        Self::Plain(text)
    }
}

impl PartialEq<&str> for Localized {
    fn eq(&self, other: &&str) -> bool {
        matches!(self, Self::Plain(text) if text == other)
    }
}

/// Reads a string (numbers and booleans as their text, as answer labels always
/// were) or a map of language tag to such a string.
struct LocalizedVisitor;

impl<'de> Visitor<'de> for LocalizedVisitor {
    type Value = Localized;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text, or a map of language (such as en or de) to text")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Localized, E> {
        Ok(Localized::Plain(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Localized, E> {
        Ok(Localized::Plain(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Localized, E> {
        Ok(Localized::Plain(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Localized, E> {
        Ok(Localized::Plain(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Localized, E> {
        Ok(Localized::Plain(v.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Localized, A::Error> {
        let mut map = BTreeMap::new();
        while let Some(key) = access.next_key::<String>()? {
            let lang = Lang::parse(&key).map_err(de::Error::custom)?;
            let text: Localized = access.next_value()?;
            let Localized::Plain(text) = text else {
                return Err(de::Error::custom(format!(
                    "the text for {key} must be text, not another map"
                )));
            };
            if map.insert(lang, text).is_some() {
                return Err(de::Error::custom(format!("{key} is given twice")));
            }
        }
        if map.is_empty() {
            return Err(de::Error::custom(
                "a map of texts needs at least one language",
            ));
        }
        Ok(Localized::PerLanguage(map))
    }
}

impl<'de> Deserialize<'de> for Localized {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LocalizedVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(tag: &str) -> Lang {
        Lang::parse(tag).unwrap()
    }

    #[test]
    fn the_visitor_gets_their_language_then_its_region_free_form_then_the_fallback() {
        let text: Localized =
            serde_json::from_str(r#"{"en": "Hi", "de": "Hallo", "pt-BR": "Olá"}"#).unwrap();
        let en = lang("en");
        assert_eq!(text.pick(&lang("de"), &en), "Hallo");
        assert_eq!(text.pick(&lang("de-AT"), &en), "Hallo");
        assert_eq!(text.pick(&lang("pt-br"), &en), "Olá");
        assert_eq!(
            text.pick(&lang("pt-PT"), &en),
            "Hi",
            "no pt entry: the fallback"
        );
        assert_eq!(text.pick(&lang("ja"), &en), "Hi");
        assert_eq!(text.pick(&lang("ja"), &lang("de")), "Hallo");
        assert_eq!(
            text.pick(&lang("ja"), &lang("fr")),
            "Hallo",
            "else the first by tag"
        );
        let plain = Localized::from("Hi");
        assert_eq!(plain.pick(&lang("de"), &en), "Hi");
    }

    #[test]
    fn a_number_is_read_as_its_text_and_a_bad_language_or_a_nested_map_is_refused() {
        let n: Localized = serde_json::from_str("10").unwrap();
        assert_eq!(n, "10");
        for bad in [r#"{"d e": "x"}"#, r#"{"en": {"de": "x"}}"#, "{}"] {
            assert!(serde_json::from_str::<Localized>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_names_the_declared_languages_a_map_lacks() {
        let text: Localized = serde_json::from_str(r#"{"en": "Hi"}"#).unwrap();
        let wanted = [lang("en"), lang("de")];
        assert_eq!(text.missing(&wanted), [&lang("de")]);
        assert!(Localized::from("Hi").missing(&wanted).is_empty());
    }
}
