//! Structure-aware tokens: a JWT built from fuzzed parts (algorithm, signing key,
//! issuer, audience, subject, expiry, claims left out, extra header fields), signed,
//! then possibly edited byte by byte, and given to both local verifiers.
//!
//! Beyond "no panic": an unedited token gets exactly the answer its parts call for
//! (signature and algorithm, required claims and a well-formed `exp`, then issuer
//! and audience, then expiry with its leeway, then the subject), and an edited token
//! never verifies.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use livechat_core::auth::AuthError;
use livechat_core::domain::{AgentId, VisitorId};
use livechat_fuzz::{
    AGENT_AUDIENCE, AGENT_SECRET, ISSUER, LEEWAY_SECS, NOW_SECS, VISITOR_AUDIENCE, VISITOR_SECRET,
    agent_verifier, now, visitor_tokens,
};
use serde_json::{Value, json};

#[derive(Debug, Arbitrary)]
enum Alg {
    Hs256,
    Hs384,
    Hs512,
    /// `{"alg":"none"}` with an empty signature.
    None,
}

#[derive(Debug, Arbitrary)]
enum Key {
    Agent,
    Visitor,
    Other(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Audience {
    Agent,
    Visitor,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Subject {
    /// One of a few valid ids.
    Known(u8),
    Any(String),
}

#[derive(Debug, Arbitrary)]
enum Edit {
    Set { at: u16, byte: u8 },
    Insert { at: u16, byte: u8 },
    Remove { at: u16 },
    Truncate { at: u16 },
}

#[derive(Debug, Arbitrary)]
struct Input {
    alg: Alg,
    key: Key,
    issuer: Option<String>,
    audience: Audience,
    subject: Subject,
    /// Seconds from "now".
    exp_from_now: i32,
    /// Leave out `exp`, `iss`, `aud` or `sub` (bits 0 to 3).
    omit: u8,
    kid: Option<String>,
    edits: Vec<Edit>,
}

const SUBJECTS: [&str; 4] = [
    "ana",
    "dan",
    "01JQ8Z5Y0W3H7G2E6D9C4B1A0F",
    "v-1.a@b+c=d:e_f",
];

fuzz_target!(|input: Input| {
    let token = build(&input);
    let mut edited = token.clone().into_bytes();
    for edit in &input.edits {
        apply(&mut edited, edit);
    }
    let Ok(edited) = String::from_utf8(edited) else {
        return;
    };
    let agent = agent_verifier()
        .verify(&edited, now())
        .map(|a| a.to_string());
    let visitor = visitor_tokens()
        .verify(&edited, now())
        .map(|v| v.visitor.to_string());
    if edited == token {
        assert_eq!(
            agent,
            expected(&input, AGENT_SECRET, AGENT_AUDIENCE, true),
            "{token}"
        );
        assert_eq!(
            visitor,
            expected(&input, VISITOR_SECRET, VISITOR_AUDIENCE, false),
            "{token}"
        );
    } else {
        assert!(
            agent.is_err(),
            "edited {token} into {edited}, which verifies: {agent:?}"
        );
        assert!(
            visitor.is_err(),
            "edited {token} into {edited}, which verifies: {visitor:?}"
        );
    }
});

fn subject(input: &Input) -> String {
    match &input.subject {
        Subject::Known(i) => SUBJECTS[usize::from(*i) % SUBJECTS.len()].to_string(),
        Subject::Any(s) => s.clone(),
    }
}

fn secret(key: &Key) -> &[u8] {
    match key {
        Key::Agent => AGENT_SECRET,
        Key::Visitor => VISITOR_SECRET,
        Key::Other(bytes) => bytes,
    }
}

fn audience(input: &Input) -> String {
    match &input.audience {
        Audience::Agent => AGENT_AUDIENCE.to_string(),
        Audience::Visitor => VISITOR_AUDIENCE.to_string(),
        Audience::Other(a) => a.clone(),
    }
}

fn build(input: &Input) -> String {
    let mut claims = serde_json::Map::new();
    let exp = NOW_SECS + i64::from(input.exp_from_now);
    let fields = [
        ("exp", json!(exp)),
        ("iss", json!(input.issuer.as_deref().unwrap_or(ISSUER))),
        ("aud", json!(audience(input))),
        ("sub", json!(subject(input))),
    ];
    for (bit, (name, value)) in fields.into_iter().enumerate() {
        if input.omit & (1 << bit) == 0 {
            claims.insert(name.to_string(), value);
        }
    }
    let claims = Value::Object(claims);
    let alg = match input.alg {
        Alg::Hs256 => Algorithm::HS256,
        Alg::Hs384 => Algorithm::HS384,
        Alg::Hs512 => Algorithm::HS512,
        Alg::None => {
            let header = json!({"alg": "none", "typ": "JWT", "kid": input.kid});
            let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
            return format!("{}.{}.", part(&header), part(&claims));
        }
    };
    let mut header = Header::new(alg);
    header.kid = input.kid.clone();
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret(&input.key)),
    )
    .expect("HMAC signing does not fail")
}

fn apply(token: &mut Vec<u8>, edit: &Edit) {
    let at = |at: &u16, len: usize| usize::from(*at) % len.max(1);
    match edit {
        Edit::Set { at: i, byte } if !token.is_empty() => {
            let i = at(i, token.len());
            token[i] = *byte;
        }
        Edit::Insert { at: i, byte } => {
            let i = at(i, token.len() + 1);
            token.insert(i, *byte);
        }
        Edit::Remove { at: i } if !token.is_empty() => {
            let i = at(i, token.len());
            token.remove(i);
        }
        Edit::Truncate { at: i } => {
            let i = at(i, token.len() + 1);
            token.truncate(i);
        }
        Edit::Set { .. } | Edit::Remove { .. } => {}
    }
}

/// What a verifier with `own_secret`, [`ISSUER`] and `own_audience` must answer.
fn expected(
    input: &Input,
    own_secret: &[u8],
    own_audience: &str,
    agent: bool,
) -> Result<String, AuthError> {
    if !matches!(input.alg, Alg::Hs256) || secret(&input.key) != own_secret {
        return Err(AuthError::Invalid);
    }
    if input.omit & 0b1111 != 0 {
        // Every one of exp, iss, aud and sub is required.
        return Err(AuthError::Invalid);
    }
    if NOW_SECS + i64::from(input.exp_from_now) < 0 {
        // jsonwebtoken reads `exp` as seconds since 1970, unsigned: an earlier one is
        // malformed rather than expired.
        return Err(AuthError::Invalid);
    }
    if input.issuer.as_deref().unwrap_or(ISSUER) != ISSUER || audience(input) != own_audience {
        return Err(AuthError::WrongIssuerOrAudience);
    }
    if NOW_SECS + i64::from(input.exp_from_now) + LEEWAY_SECS < NOW_SECS {
        return Err(AuthError::Expired);
    }
    let sub = subject(input);
    let valid = if agent {
        AgentId::parse(sub.clone()).is_ok()
    } else {
        VisitorId::parse(sub.clone()).is_ok()
    };
    if valid {
        Ok(sub)
    } else {
        Err(AuthError::BadSubject)
    }
}
