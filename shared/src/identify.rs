//! Signed identify: attributes the host page passes with an HMAC-SHA256 its
//! company's backend made, so that attributes routing trusts (a plan, a customer
//! id) cannot be typed into the browser's console. The canonical string, the
//! expiry rule and a backend example are in `docs/identify.md`; this module is
//! their one implementation.
//!
//! The key is the account's `IDENTIFY_SECRET`, never in the configuration file
//! (which is in version control and published to the table). The signature binds
//! every signed attribute, the person it was made for (`user_id`, required) and an
//! expiry: changing any of them, or using it after it expires, fails the check.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::Attributes;

/// The first line of the canonical string: names the scheme and its version, so a
/// signature made for anything else (or a later version) never verifies here.
pub const CANONICAL_PREFIX: &str = "livechat-identify-v1";

/// The signed attribute that names the person: the company's own id for them.
pub const USER_ID: &str = "user_id";

/// The furthest ahead an expiry may be, in seconds (24 hours): a leaked signature
/// is good for a day at most, whatever the backend chose.
pub const MAX_LIFETIME_SECS: i64 = 24 * 3600;

/// The shortest secret accepted, in bytes: HMAC-SHA256 wants at least its output.
pub const MIN_SECRET_BYTES: usize = 32;

/// What the host page sends in `start` as `identity`: the attributes its backend
/// signed, the expiry and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIdentity {
    /// The signed attributes; `user_id` among them.
    pub attributes: Attributes,
    /// Unix time in seconds after which the signature is refused.
    pub expires: i64,
    /// HMAC-SHA256 of the canonical string, 64 lower-case hex digits.
    pub signature: String,
}

/// How the server took a signed identify; sent back in the `session` frame so that
/// the integrator can see why attributes were not verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityOutcome {
    /// The signature holds: the attributes are verified.
    Verified,
    /// The signature does not match the attributes, the person or the expiry (or
    /// was made with another secret).
    BadSignature,
    /// The expiry has passed (a replay, or a page left open too long).
    Expired,
    /// Not a signature of this scheme: not 64 lower-case hex digits, no `user_id`,
    /// or an expiry more than [`MAX_LIFETIME_SECS`] ahead.
    Malformed,
    /// This deployment has no `IDENTIFY_SECRET`: nothing can be verified.
    NotConfigured,
}

impl IdentityOutcome {
    /// The outcome as it appears on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::Malformed => "malformed",
            Self::NotConfigured => "not_configured",
        }
    }
}

/// Why a secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the identify secret must be at least {MIN_SECRET_BYTES} bytes, not {0}")]
pub struct SecretTooShort(pub usize);

/// The account's identify secret.
#[derive(Clone)]
pub struct IdentifyKey(Vec<u8>);

impl std::fmt::Debug for IdentifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself, not even in a debug log.
        f.write_str("IdentifyKey(..)")
    }
}

/// The exact bytes that are signed: [`CANONICAL_PREFIX`], `expires=<seconds>`, then
/// one `name=value` line per attribute in ascending byte order of the name, every
/// line ended by a line feed. Attribute names hold no `=` and values no control
/// characters, so the string reads back one way only.
pub fn canonical_string(attributes: &Attributes, expires: i64) -> String {
    let mut out = format!("{CANONICAL_PREFIX}\nexpires={expires}\n");
    // `Attributes` iterates in name order, which for names of `a-z0-9_.` is byte order.
    for (name, value) in attributes.iter() {
        let _ = writeln!(out, "{name}={value}");
    }
    out
}

impl IdentifyKey {
    /// The key of `secret`, at least [`MIN_SECRET_BYTES`] bytes.
    pub fn new(secret: &[u8]) -> Result<Self, SecretTooShort> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(SecretTooShort(secret.len()));
        }
        Ok(Self(secret.to_vec()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; the length was checked in `new` anyway.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    /// The signature of `attributes` until `expires`, as the company's backend makes
    /// it (for tests and the local demo).
    pub fn sign(&self, attributes: &Attributes, expires: i64) -> String {
        let mut mac = self.mac();
        mac.update(canonical_string(attributes, expires).as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .fold(String::with_capacity(64), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            })
    }

    /// Checks `identity` at `now`: its shape, its expiry, then its signature, the
    /// last compared in constant time (`Mac::verify_slice`), so that the time taken
    /// tells nothing of how much of a forged signature was right.
    pub fn verify(&self, identity: &SignedIdentity, now: Timestamp) -> IdentityOutcome {
        let Some(claimed) = decode_hex(&identity.signature) else {
            return IdentityOutcome::Malformed;
        };
        if !identity.attributes.is_known(USER_ID) {
            return IdentityOutcome::Malformed;
        }
        let now = now.as_second();
        if identity.expires > now.saturating_add(MAX_LIFETIME_SECS) {
            return IdentityOutcome::Malformed;
        }
        if now >= identity.expires {
            return IdentityOutcome::Expired;
        }
        let mut mac = self.mac();
        mac.update(canonical_string(&identity.attributes, identity.expires).as_bytes());
        match mac.verify_slice(&claimed) {
            Ok(()) => IdentityOutcome::Verified,
            Err(_) => IdentityOutcome::BadSignature,
        }
    }
}

/// 64 lower-case hex digits as 32 bytes; anything else is `None`.
fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let value = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = value(pair[0])? << 4 | value(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AttributeName;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn attributes(pairs: &[(&str, &str)]) -> Attributes {
        let mut a = Attributes::new();
        for (k, v) in pairs {
            a.set(AttributeName::parse(*k).unwrap(), *v);
        }
        a
    }

    fn now() -> Timestamp {
        Timestamp::from_second(NOW).unwrap()
    }

    fn signed(pairs: &[(&str, &str)], expires: i64) -> SignedIdentity {
        let attributes = attributes(pairs);
        let signature = IdentifyKey::new(SECRET).unwrap().sign(&attributes, expires);
        SignedIdentity {
            attributes,
            expires,
            signature,
        }
    }

    fn verify(identity: &SignedIdentity) -> IdentityOutcome {
        IdentifyKey::new(SECRET).unwrap().verify(identity, now())
    }

    const ANA: &[(&str, &str)] = &[("user_id", "u-42"), ("plan", "enterprise")];

    #[test]
    fn the_canonical_string_is_the_prefix_the_expiry_and_sorted_lines() {
        assert_eq!(
            canonical_string(&attributes(ANA), 1_800_000_600),
            "livechat-identify-v1\nexpires=1800000600\nplan=enterprise\nuser_id=u-42\n"
        );
    }

    #[test]
    fn the_documented_example_signature_is_what_the_server_computes() {
        // docs/identify.md gives this secret, these attributes and this signature;
        // its Node.js and Python snippets print the same.
        let key = IdentifyKey::new(b"test-secret-of-at-least-32-bytes!!").unwrap();
        let attributes = attributes(&[("user_id", "u-42"), ("plan", "enterprise")]);
        assert_eq!(
            key.sign(&attributes, 1_800_000_600),
            DOCUMENTED_SIGNATURE,
            "update docs/identify.md if the scheme changed"
        );
    }

    /// The example signature of docs/identify.md.
    const DOCUMENTED_SIGNATURE: &str =
        "a0a5997d6703c80318b433e10bfa1c3e954dec2aac673573e329590a085c90f8";

    #[test]
    fn a_good_signature_verifies() {
        assert_eq!(verify(&signed(ANA, NOW + 600)), IdentityOutcome::Verified);
    }

    #[test]
    fn a_changed_attribute_is_refused() {
        let mut identity = signed(ANA, NOW + 600);
        identity
            .attributes
            .set(AttributeName::parse("plan").unwrap(), "free");
        assert_eq!(verify(&identity), IdentityOutcome::BadSignature);
        let mut added = signed(ANA, NOW + 600);
        added
            .attributes
            .set(AttributeName::parse("vip").unwrap(), "yes");
        assert_eq!(verify(&added), IdentityOutcome::BadSignature);
    }

    #[test]
    fn a_signature_made_for_another_visitor_is_refused() {
        let mut identity = signed(ANA, NOW + 600);
        identity
            .attributes
            .set(AttributeName::parse(USER_ID).unwrap(), "u-43");
        assert_eq!(verify(&identity), IdentityOutcome::BadSignature);
    }

    #[test]
    fn a_moved_expiry_is_refused() {
        let mut identity = signed(ANA, NOW + 600);
        identity.expires += 60;
        assert_eq!(verify(&identity), IdentityOutcome::BadSignature);
    }

    #[test]
    fn an_expired_signature_is_refused_from_its_expiry_second_on() {
        assert_eq!(verify(&signed(ANA, NOW)), IdentityOutcome::Expired);
        assert_eq!(verify(&signed(ANA, NOW - 1)), IdentityOutcome::Expired);
        assert_eq!(verify(&signed(ANA, NOW + 1)), IdentityOutcome::Verified);
    }

    #[test]
    fn a_signature_made_with_another_secret_is_refused() {
        let other = IdentifyKey::new(b"another-secret-another-secret-xx").unwrap();
        let mut identity = signed(ANA, NOW + 600);
        identity.signature = other.sign(&identity.attributes, identity.expires);
        assert_eq!(verify(&identity), IdentityOutcome::BadSignature);
    }

    #[test]
    fn a_malformed_signature_is_refused() {
        let good = signed(ANA, NOW + 600);
        for signature in [
            String::new(),
            "zz".repeat(32),
            good.signature.to_uppercase(),
            good.signature[..62].to_string(),
            format!("{}00", good.signature),
        ] {
            let identity = SignedIdentity {
                signature: signature.clone(),
                ..good.clone()
            };
            assert_eq!(verify(&identity), IdentityOutcome::Malformed, "{signature}");
        }
        let nobody = signed(&[("plan", "enterprise")], NOW + 600);
        assert_eq!(verify(&nobody), IdentityOutcome::Malformed);
        let too_long = signed(ANA, NOW + MAX_LIFETIME_SECS + 1);
        assert_eq!(verify(&too_long), IdentityOutcome::Malformed);
        let a_day = signed(ANA, NOW + MAX_LIFETIME_SECS);
        assert_eq!(verify(&a_day), IdentityOutcome::Verified);
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert_eq!(
            IdentifyKey::new(b"short").unwrap_err().to_string(),
            "the identify secret must be at least 32 bytes, not 5"
        );
    }
}
