//! Visitors and their attributes: what the widget knows about the person, what the
//! dialog captured, and the page they are on.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Email, Quoted, VisitorId};

/// Why a string was refused as an attribute name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "attribute name {} must be 1-64 characters of a-z, 0-9, _ and ., starting with a letter",
    Quoted(.0)
)]
pub struct AttributeNameError(pub String);

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

    /// Iterates the attributes in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&AttributeName, &str)> {
        self.0.iter().map(|(k, v)| (k, v.as_str()))
    }
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

    #[test]
    fn attribute_names_are_lower_case_identifiers() {
        assert!(AttributeName::parse("company_size").is_ok());
        assert!(AttributeName::parse("utm.source").is_ok());
        assert!(AttributeName::parse("First Name").is_err());
        assert!(AttributeName::parse("").is_err());
    }
}
