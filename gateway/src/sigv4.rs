//! AWS Signature Version 4 on the local `@connections` API, as API Gateway demands
//! it: only a request signed with the gateway's credentials may push to, describe or
//! close a connection. The handlers' SDK client signs its requests already, and so
//! does any other real client (boto3, the AWS CLI); a web page cannot, so a
//! cross-site request or a DNS-rebound one is refused.
//!
//! The check recomputes the signature of the request as received (the canonical
//! request of the SigV4 specification, for a service other than S3: the path is
//! URI-encoded once more) and compares it in constant time.

use std::fmt::Write as _;

use axum::http::{HeaderMap, Method, Uri};
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

/// How far a request's `X-Amz-Date` may be from the gateway's clock, as AWS allows.
pub const MAX_CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(15);
/// The SigV4 service name of the Management API.
pub const SERVICE: &str = "execute-api";

/// The access key the `@connections` API accepts: made per run from the operating
/// system's random source, or given (`--connections-access-key-id` and
/// `--connections-secret-access-key`, or their environment variables) so that
/// functions running as separate processes can be given the same.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AWS_ACCESS_KEY_ID` for the clients.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY` for the clients.
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Fresh credentials from the OS random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self {
            access_key_id: format!("LOCAL{}", random_token(15, ALPHA_UPPER)?),
            secret_access_key: random_token(40, ALPHA_MIXED)?,
        })
    }
}

const ALPHA_UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALPHA_MIXED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `len` characters of `alphabet` (of 32 or 64 symbols, so no modulo bias) from the
/// OS random source.
pub fn random_token(len: usize, alphabet: &[u8]) -> Result<String, getrandom::Error> {
    debug_assert!(alphabet.len().is_power_of_two() && alphabet.len() <= 256);
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect())
}

/// Why a request was refused; API Gateway's answer for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No `Authorization` header.
    #[error("Missing Authentication Token")]
    Missing,
    /// An `Authorization` header that is not a SigV4 one, or lacks a part.
    #[error("Authorization header is malformed: {0}")]
    Malformed(&'static str),
    /// Signed with another access key.
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// Signed too long ago, or in the future.
    #[error("Signature expired: the request's X-Amz-Date is more than 15 minutes from now.")]
    Expired,
    /// The signature does not match the request.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
    )]
    Mismatch,
}

impl Refusal {
    /// The `x-amzn-ErrorType` API Gateway sends with it.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationTokenException",
            Self::Malformed(_) => "IncompleteSignatureException",
            Self::UnknownKey => "UnrecognizedClientException",
            Self::Expired => "InvalidSignatureException",
            Self::Mismatch => "InvalidSignatureException",
        }
    }
}

/// The parts of a SigV4 `Authorization` header.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, Refusal> {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or(Refusal::Malformed("not AWS4-HMAC-SHA256"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, val) = part
            .trim()
            .split_once('=')
            .ok_or(Refusal::Malformed("a part without '='"))?;
        match key {
            "Credential" => credential = Some(val),
            "SignedHeaders" => signed = Some(val),
            "Signature" => signature = Some(val),
            _ => return Err(Refusal::Malformed("an unknown part")),
        }
    }
    let credential = credential.ok_or(Refusal::Malformed("no Credential"))?;
    let mut scope = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(Refusal::Malformed(
            "a Credential that is not key/date/region/service/aws4_request",
        ));
    };
    let signed_headers: Vec<&str> = signed
        .ok_or(Refusal::Malformed("no SignedHeaders"))?
        .split(';')
        .collect();
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers,
        signature: signature.ok_or(Refusal::Malformed("no Signature"))?,
    })
}

/// Checks that the request was signed with `credentials`, at most
/// [`MAX_CLOCK_SKEW`] from `now`.
pub fn verify(
    credentials: &Credentials,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<(), Refusal> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(Refusal::Missing)?
        .to_str()
        .map_err(|_| Refusal::Malformed("not text"))?;
    let auth = parse_authorization(header)?;
    if auth.access_key_id != credentials.access_key_id {
        return Err(Refusal::UnknownKey);
    }
    if auth.service != SERVICE {
        return Err(Refusal::Malformed("the service is not execute-api"));
    }
    for required in ["host", "x-amz-date"] {
        if !auth.signed_headers.contains(&required) {
            return Err(Refusal::Malformed("host and x-amz-date must be signed"));
        }
    }
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Malformed("no X-Amz-Date"))?;
    let signed_at = parse_amz_date(amz_date).ok_or(Refusal::Malformed("a bad X-Amz-Date"))?;
    if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
        return Err(Refusal::Malformed(
            "the Credential's date is not X-Amz-Date's",
        ));
    }
    if now.duration_since(signed_at).abs() > MAX_CLOCK_SKEW {
        return Err(Refusal::Expired);
    }

    let payload_hash = hex(&Sha256::digest(body));
    if let Some(claimed) = headers.get("x-amz-content-sha256")
        && claimed.as_bytes() != payload_hash.as_bytes()
        && claimed.as_bytes() != b"UNSIGNED-PAYLOAD"
    {
        return Err(Refusal::Mismatch);
    }
    let mut canonical = String::new();
    canonical.push_str(method.as_str());
    canonical.push('\n');
    canonical.push_str(&encode(uri.path(), true));
    canonical.push('\n');
    canonical.push_str(&canonical_query(uri.query().unwrap_or("")));
    canonical.push('\n');
    for name in &auth.signed_headers {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| collapse_spaces(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        if values.is_empty() {
            return Err(Refusal::Mismatch);
        }
        let _ = writeln!(canonical, "{name}:{}", values.join(","));
    }
    canonical.push('\n');
    canonical.push_str(&auth.signed_headers.join(";"));
    canonical.push('\n');
    canonical.push_str(
        headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(&payload_hash),
    );

    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", credentials.secret_access_key).as_bytes(),
        auth.date.as_bytes(),
    );
    for part in [auth.region, auth.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| Refusal::Mismatch)?;
    mac.update(string_to_sign.as_bytes());
    let given = unhex(auth.signature).ok_or(Refusal::Mismatch)?;
    // verify_slice compares in constant time.
    mac.verify_slice(&given).map_err(|_| Refusal::Mismatch)
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length; new_from_slice cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `20261201T101500Z`.
fn parse_amz_date(s: &str) -> Option<Timestamp> {
    let dt = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", s).ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()
}

/// URI-encodes every byte but the unreserved ones (and `/` when `keep_slash`).
fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                encode(&percent_decode(k), false),
                encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn collapse_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_sorted_and_encoded_for_the_canonical_request() {
        assert_eq!(canonical_query("b=2&a=1%20x&c"), "a=1%20x&b=2&c=");
    }

    #[test]
    fn paths_are_encoded_once_more_for_the_canonical_request() {
        assert_eq!(
            encode("/local/%40connections/ab=", true),
            "/local/%2540connections/ab%3D"
        );
        assert_eq!(
            encode("/local/@connections/ab", true),
            "/local/%40connections/ab"
        );
    }

    #[test]
    fn generated_credentials_differ_and_have_the_aws_shape() {
        let a = Credentials::generate().unwrap();
        let b = Credentials::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.access_key_id.len(), 20);
        assert_eq!(a.secret_access_key.len(), 40);
        assert!(
            !format!("{a:?}").contains(&a.secret_access_key),
            "Debug hides the secret"
        );
    }
}
