//! Visitors and their attributes: what the widget knows about the person, what the
//! dialog captured, and the page they are on.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Email, Quoted, VisitorId};
use crate::limits::{MAX_SESSION_ATTRIBUTE_BYTES, MAX_SESSION_ATTRIBUTES};

/// Why a string was refused as an attribute name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "attribute name {} must be 1-64 characters of a-z, 0-9, _ and ., starting with a letter",
    Quoted(.0)
)]
pub struct AttributeNameError(pub String);

/// Why an attribute value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an attribute value must not contain control characters (found U+{0:04X})")]
pub struct AttributeValueError(pub u32);

/// Checks an attribute value from a visitor: no control characters (`char::is_control`,
/// new lines and tabs included). They have no place in a name, a URL or an answer,
/// and each one takes 6 bytes once JSON-escaped.
pub fn check_attribute_value(value: &str) -> Result<(), AttributeValueError> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(AttributeValueError(u32::from(c))),
        None => Ok(()),
    }
}

/// Why a merge into a visitor's attributes was refused: it would take them past
/// [`MAX_SESSION_ATTRIBUTES`] or [`MAX_SESSION_ATTRIBUTE_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeLimitError {
    /// Too many attributes.
    #[error(
        "a visitor keeps at most {max} attributes; these would make {found}",
        max = MAX_SESSION_ATTRIBUTES
    )]
    TooMany {
        /// How many the visitor would have.
        found: usize,
    },
    /// Too many bytes.
    #[error(
        "a visitor's attributes hold at most {max} bytes; these would make {found}",
        max = MAX_SESSION_ATTRIBUTE_BYTES
    )]
    TooLarge {
        /// How many bytes the visitor's attributes would hold.
        found: usize,
    },
}

/// The name of a visitor attribute, such as `first_name`, `email`, `page_url`,
/// `country` or `company_size`. Lower-case so that dialogs, rules and tokens agree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttributeName(String);

impl AttributeName {
    /// Parses an attribute name; see the type's contract.
    pub fn parse(raw: impl Into<String>) -> Result<Self, AttributeNameError> {
        let raw = raw.into();
        let mut chars = raw.chars();
        let ok = raw.len() <= 64
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if ok {
            Ok(Self(raw))
        } else {
            Err(AttributeNameError(raw))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AttributeName {
    type Error = AttributeNameError;
    fn try_from(raw: String) -> Result<Self, AttributeNameError> {
        Self::parse(raw)
    }
}

impl From<AttributeName> for String {
    fn from(a: AttributeName) -> String {
        a.0
    }
}

impl fmt::Display for AttributeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Well-known attribute names the product itself reads or writes.
pub mod well_known {
    /// The visitor's email; its domain drives account routing.
    pub const EMAIL: &str = "email";
    /// The URL of the page the visitor is on.
    pub const PAGE_URL: &str = "page_url";
    /// Derived from `email`: the part after `@`, lower-cased.
    pub const EMAIL_DOMAIN: &str = "email_domain";
    /// The visitor's first name.
    pub const FIRST_NAME: &str = "first_name";
}

/// A visitor's attributes: captured fields, page URL, anything the host page passed.
/// Values are text; comparisons that need numbers parse them (see `Condition`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attributes(BTreeMap<AttributeName, String>);

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of an attribute. `email_domain` is derived from `email` when not set.
    pub fn get(&self, name: &str) -> Option<&str> {
        let value = self
            .0
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v.as_str());
        match value {
            Some(v) => Some(v),
            None if name == well_known::EMAIL_DOMAIN => self
                .get(well_known::EMAIL)
                .and_then(|e| e.rsplit_once('@'))
                .map(|(_, d)| d),
            None => None,
        }
    }

    /// Whether the attribute has a non-blank value.
    pub fn is_known(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.trim().is_empty())
    }

    /// Sets an attribute, replacing any earlier value.
    pub fn set(&mut self, name: AttributeName, value: impl Into<String>) {
        self.0.insert(name, value.into());
    }

    /// The visitor's email, when one was captured and is valid.
    pub fn email(&self) -> Option<Email> {
        self.get(well_known::EMAIL)
            .and_then(|e| Email::parse(e).ok())
    }

    /// Sets every attribute of `incoming`, replacing earlier values, unless the result
    /// would hold more than [`MAX_SESSION_ATTRIBUTES`] attributes or more than
    /// [`MAX_SESSION_ATTRIBUTE_BYTES`] bytes: then nothing changes. A merge that
    /// grows neither the count nor the size is always accepted, so that attributes
    /// already over a cap (dialog answers count too) never lock a visitor out.
    pub fn merge_capped(&mut self, incoming: &Attributes) -> Result<(), AttributeLimitError> {
        let mut merged = self.clone();
        for (name, value) in incoming.iter() {
            merged.set(name.clone(), value);
        }
        let (count, bytes) = (merged.0.len(), merged.bytes());
        if count > MAX_SESSION_ATTRIBUTES && count > self.0.len() {
            return Err(AttributeLimitError::TooMany { found: count });
        }
        if bytes > MAX_SESSION_ATTRIBUTE_BYTES && bytes > self.bytes() {
            return Err(AttributeLimitError::TooLarge { found: bytes });
        }
        *self = merged;
        Ok(())
    }

    /// The size of the attributes: names and values, in UTF-8 bytes.
    pub fn bytes(&self) -> usize {
        self.0.iter().map(|(k, v)| k.as_str().len() + v.len()).sum()
    }

    /// These attributes but `names`.
    pub fn without(&self, names: &std::collections::BTreeSet<AttributeName>) -> Attributes {
        if names.is_empty() {
            return self.clone();
        }
        Self(
            self.0
                .iter()
                .filter(|(k, _)| !names.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// Iterates the attributes in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&AttributeName, &str)> {
        self.0.iter().map(|(k, v)| (k, v.as_str()))
    }
}

/// The page a visitor is on, as stored: the URL without its query and fragment
/// (they may hold session ids, emails or tokens the site put there), and the
/// campaign parameters of the query (`utm_source`, `utm_campaign`...) that sales
/// teams route and report on, to keep as attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUrl {
    /// Scheme, host and path.
    pub url: String,
    /// The `utm_*` query parameters, decoded, in the order given (a repeated one
    /// keeps its last value); names that are not attribute names and values with
    /// control characters are left out.
    pub campaign: Vec<(AttributeName, String)>,
}

impl PageUrl {
    /// Splits a page URL as the widget sends it (`location.href`).
    pub fn parse(raw: &str) -> Self {
        let without_fragment = raw.split_once('#').map_or(raw, |(before, _)| before);
        let (url, query) = match without_fragment.split_once('?') {
            Some((url, query)) => (url, query),
            None => (without_fragment, ""),
        };
        let campaign = query
            .split('&')
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let name = percent_decode(name).to_ascii_lowercase();
                let value = percent_decode(value);
                if !name.starts_with("utm_") || check_attribute_value(&value).is_err() {
                    return None;
                }
                Some((AttributeName::parse(name).ok()?, value))
            })
            .collect();
        Self {
            url: url.to_string(),
            campaign,
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte;
/// a malformed escape is kept as is, invalid UTF-8 becomes U+FFFD.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A visitor: an anonymous session until they give their details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visitor {
    /// Stable across page loads: the signed visitor session token carries it.
    pub id: VisitorId,
    /// Everything known about the visitor, captured fields included.
    pub attributes: Attributes,
}

impl Visitor {
    /// A new anonymous visitor.
    pub fn new(id: VisitorId) -> Self {
        Self {
            id,
            attributes: Attributes::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_domain_is_derived_from_the_captured_email() {
        let mut attrs = Attributes::new();
        attrs.set(AttributeName::parse("email").unwrap(), "ana@acme.com");
        assert_eq!(attrs.get("email_domain"), Some("acme.com"));
    }

    fn many(prefix: &str, count: usize, value: &str) -> Attributes {
        let mut attrs = Attributes::new();
        for i in 0..count {
            attrs.set(AttributeName::parse(format!("{prefix}{i}")).unwrap(), value);
        }
        attrs
    }

    #[test]
    fn merges_accumulate_only_up_to_the_session_cap_on_attributes() {
        let mut session = Attributes::new();
        session.merge_capped(&many("a", 50, "x")).unwrap();
        session.merge_capped(&many("b", 50, "x")).unwrap();
        let refused = session.merge_capped(&many("c", 1, "x"));
        assert_eq!(refused, Err(AttributeLimitError::TooMany { found: 101 }));
        assert_eq!(session.iter().count(), MAX_SESSION_ATTRIBUTES, "unchanged");
        session.merge_capped(&many("a", 50, "y")).unwrap();
        assert_eq!(
            session.get("a0"),
            Some("y"),
            "replacing a value still works"
        );
    }

    #[test]
    fn merges_accumulate_only_up_to_the_session_cap_on_bytes() {
        let mut session = Attributes::new();
        let big = "é".repeat(500);
        session.merge_capped(&many("a", 15, &big)).unwrap();
        let refused = session.merge_capped(&many("b", 10, &big)).unwrap_err();
        assert!(matches!(refused, AttributeLimitError::TooLarge { .. }));
        assert!(session.bytes() <= MAX_SESSION_ATTRIBUTE_BYTES);
        assert!(
            session.get("b0").is_none(),
            "nothing of a refused merge is kept"
        );
    }

    #[test]
    fn a_merge_that_does_not_grow_attributes_over_a_cap_is_accepted() {
        let mut session = many("a", 120, "x");
        session.merge_capped(&many("a", 10, "y")).unwrap();
        assert_eq!(session.get("a3"), Some("y"));
    }

    #[test]
    fn attribute_values_with_control_characters_are_refused() {
        assert_eq!(
            check_attribute_value("Ana\u{1}"),
            Err(AttributeValueError(1))
        );
        assert_eq!(check_attribute_value("a\nb"), Err(AttributeValueError(10)));
        assert!(check_attribute_value("Zoë \u{202B}שלום").is_ok());
    }

    #[test]
    fn a_page_url_is_kept_without_query_and_fragment_and_its_utm_parameters_as_attributes() {
        let page = PageUrl::parse(
            "https://acme.example/pricing?session=s3cr3t&utm_source=news%20letter&UTM_Medium=e+mail&utm_bad=%01&email=jo%40x.example#token=abc",
        );
        assert_eq!(page.url, "https://acme.example/pricing");
        let campaign: Vec<(&str, &str)> = page
            .campaign
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            campaign,
            [("utm_source", "news letter"), ("utm_medium", "e mail")]
        );
        assert_eq!(
            PageUrl::parse("https://a.example/#x").url,
            "https://a.example/"
        );
        assert_eq!(
            PageUrl::parse("https://a.example/p?utm_id=%E2%82")
                .campaign
                .len(),
            1
        );
    }

    #[test]
    fn attribute_names_are_lower_case_identifiers() {
        assert!(AttributeName::parse("company_size").is_ok());
        assert!(AttributeName::parse("utm.source").is_ok());
        assert!(AttributeName::parse("First Name").is_err());
        assert!(AttributeName::parse("").is_err());
    }
}
