//! Blocked email domains (`settings.blocked_email_domains`): the domains whose
//! addresses a capture card and the fallback form refuse, e.g. free mail providers
//! for a sales team that only answers company addresses.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Email;

/// Why a text is not an email domain to block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an email domain to block: {1}")]
pub struct EmailDomainError(pub String, &'static str);

/// A DNS name in lower-case ASCII with at least two labels (`gmail.com`,
/// `mail.example.co.uk`; internationalised names in punycode). Written as it is
/// compared, so that the file says exactly what is blocked: `Gmail.com` or
/// `@gmail.com` are refused with the reason rather than silently rewritten.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailDomain(String);

impl EmailDomain {
    /// Parses a domain as written in the configuration.
    pub fn parse(text: &str) -> Result<Self, EmailDomainError> {
        let fail = |why| Err(EmailDomainError(text.to_string(), why));
        if text.starts_with('@') {
            return fail("write the domain without the @, as in gmail.com");
        }
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return fail("write it in lower case");
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if text.len() > 253 || !text.contains('.') || !text.split('.').all(label_ok) {
            return fail(
                "a domain is dotted labels of a-z, 0-9 and -, as in gmail.com (internationalised ones in punycode)",
            );
        }
        Ok(Self(text.to_string()))
    }

    /// The domain as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `domain` (lower-case) is this domain or one of its subdomains:
    /// `gmail.com` covers `gmail.com` and `eu.gmail.com`, not `notgmail.com`.
    pub fn covers(&self, domain: &str) -> bool {
        domain == self.0
            || domain
                .strip_suffix(self.0.as_str())
                .is_some_and(|head| head.ends_with('.'))
    }
}

/// The blocked domain that covers `email`'s domain, if any (the first in the list).
/// [`Email`] keeps its domain lower-cased, so the comparison ignores case.
pub fn blocked_by<'a>(blocked: &'a [EmailDomain], email: &Email) -> Option<&'a EmailDomain> {
    blocked.iter().find(|d| d.covers(email.domain()))
}

impl fmt::Display for EmailDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailDomain {
    type Error = EmailDomainError;
    fn try_from(v: String) -> Result<Self, EmailDomainError> {
        Self::parse(&v)
    }
}

impl From<EmailDomain> for String {
    fn from(d: EmailDomain) -> String {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains(list: &[&str]) -> Vec<EmailDomain> {
        list.iter()
            .map(|d| EmailDomain::parse(d).unwrap())
            .collect()
    }

    #[test]
    fn a_blocked_domain_covers_itself_and_its_subdomains_whatever_the_case_of_the_address() {
        let blocked = domains(&["gmail.com", "mail.example.org"]);
        for (address, hit) in [
            ("ana@gmail.com", Some("gmail.com")),
            ("Ana@GMail.COM", Some("gmail.com")),
            ("ana@eu.gmail.com", Some("gmail.com")),
            ("ana@notgmail.com", None),
            ("ana@gmail.com.evil.example", None),
            ("ana@x.mail.example.org", Some("mail.example.org")),
            ("ana@example.org", None),
            ("gmail.com@acme.example", None),
        ] {
            let email = Email::parse(address).unwrap();
            assert_eq!(
                blocked_by(&blocked, &email).map(EmailDomain::as_str),
                hit,
                "{address}"
            );
        }
    }

    #[test]
    fn a_domain_to_block_is_lower_case_dotted_and_has_no_at_sign() {
        for (text, why) in [
            ("Gmail.com", "lower case"),
            ("@gmail.com", "without the @"),
            ("gmail", "dotted labels"),
            ("gmail..com", "dotted labels"),
            ("-gmail.com", "dotted labels"),
            ("gmail.com/", "dotted labels"),
            ("", "dotted labels"),
        ] {
            let err = EmailDomain::parse(text).unwrap_err();
            assert!(err.to_string().contains(why), "{text}: {err}");
        }
        assert_eq!(
            EmailDomain::parse("xn--bcher-kva.example")
                .unwrap()
                .as_str(),
            "xn--bcher-kva.example"
        );
    }
}
