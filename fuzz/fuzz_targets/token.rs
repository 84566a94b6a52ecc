//! Any string as a token, as `$connect` gets it from `?agent_token=` or
//! `?visitor_token=`: the local agent verifier (HS256), the AWS one (RS256 over a
//! JWKS) and the visitor token verifier.
//!
//! Beyond "no panic": a token verifies only if it really is what the verifier
//! promises, checked without `jsonwebtoken`: HS256 named in its header and signed with
//! the verifier's secret (recomputed here), for the verifier's issuer and audience, not
//! expired at "now", and naming the subject returned. Nobody here holds the JWKS's
//! private key, so the RS256 verifier never accepts anything.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livechat_core::auth::{AgentVerifier, VisitorTokens};
use livechat_fuzz::{
    AGENT_AUDIENCE, AGENT_SECRET, ISSUER, LEEWAY_SECS, NOW_SECS, VISITOR_AUDIENCE, VISITOR_SECRET,
    agent_verifier, claims, jwks_verifier, now, signed_hs256_by, visitor_tokens,
};

struct Verifiers {
    agent: AgentVerifier,
    jwks: AgentVerifier,
    visitor: VisitorTokens,
}

fuzz_target!(
    init: {
        // Built once: a verifier is made once per cold start, not per token.
        let _ = VERIFIERS.set(Verifiers {
            agent: agent_verifier(),
            jwks: jwks_verifier(),
            visitor: visitor_tokens(),
        });
    },
    |data: &[u8]| {
        let Ok(token) = std::str::from_utf8(data) else {
            return;
        };
        let v = VERIFIERS.get().expect("set in init");
        if let Ok(agent) = v.agent.verify(token, now()) {
            assert_genuine(token, AGENT_SECRET, AGENT_AUDIENCE, agent.as_str());
        }
        if let Ok(agent) = v.jwks.verify(token, now()) {
            panic!("an RS256 token for {agent} verified without the private key");
        }
        if let Ok(visitor) = v.visitor.verify(token, now()) {
            assert_genuine(token, VISITOR_SECRET, VISITOR_AUDIENCE, visitor.visitor.as_str());
        }
    }
);

static VERIFIERS: std::sync::OnceLock<Verifiers> = std::sync::OnceLock::new();

fn assert_genuine(token: &str, secret: &[u8], audience: &str, subject: &str) {
    assert!(
        signed_hs256_by(token, secret),
        "{token} is not signed by the secret"
    );
    let claims = claims(token).expect("a verified token has JSON claims");
    assert_eq!(claims["iss"], ISSUER, "{token}");
    assert_eq!(claims["aud"], audience, "{token}");
    assert_eq!(claims["sub"], subject, "{token}");
    let exp = claims["exp"]
        .as_i64()
        .expect("a verified token has a whole exp");
    assert!(
        exp.saturating_add(LEEWAY_SECS) >= NOW_SECS,
        "{token} has expired"
    );
}
