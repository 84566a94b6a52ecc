//! What the token targets share: the local gateway's secrets, issuer and audiences
//! (the seed tokens in `corpus/token*/` are signed with them), a fixed "now", the
//! three verifiers the functions build, and an oracle for the HS256 signature that
//! does not go through `jsonwebtoken`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use livechat_core::auth::{AgentVerifier, VisitorTokens};
use sha2::Sha256;

/// `livechat_gateway::LOCAL_AGENT_SECRET`.
pub const AGENT_SECRET: &[u8] = b"local-only-agent-token-secret-do-not-deploy";
/// `livechat_gateway::LOCAL_VISITOR_SECRET`.
pub const VISITOR_SECRET: &[u8] = b"local-only-visitor-token-secret-do-not-deploy";
/// `livechat_gateway::LOCAL_ISSUER`.
pub const ISSUER: &str = "livechat-local";
/// `livechat_gateway::LOCAL_AUDIENCE`, the inbox's.
pub const AGENT_AUDIENCE: &str = "livechat-inbox";
/// The audience the core gives visitor tokens.
pub const VISITOR_AUDIENCE: &str = "livechat-visitor";
/// Seconds of clock skew the verifiers tolerate on `exp`.
pub const LEEWAY_SECS: i64 = 30;
/// The seed tokens were minted at `NOW - 1 h`; they verify at `NOW`.
pub const NOW_SECS: i64 = 1_800_000_000;

/// A JWKS with one RSA key (the core's tests' Cognito-like key) for the RS256 verifier.
pub const JWKS: &str = r#"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}]}"#;

/// The fixed "now" every target verifies at.
pub fn now() -> Timestamp {
    Timestamp::from_second(NOW_SECS).expect("a valid timestamp")
}

/// The local gateway's agent verifier.
pub fn agent_verifier() -> AgentVerifier {
    AgentVerifier::hs256(AGENT_SECRET, ISSUER, AGENT_AUDIENCE)
}

/// An AWS-style agent verifier, RS256 over [`JWKS`].
pub fn jwks_verifier() -> AgentVerifier {
    AgentVerifier::rs256_jwks(JWKS, ISSUER, AGENT_AUDIENCE).expect("the JWKS reads")
}

/// The local gateway's visitor token verifier.
pub fn visitor_tokens() -> VisitorTokens {
    VisitorTokens::new(VISITOR_SECRET, ISSUER)
}

/// The HS256 signature of `header.payload` with `secret`, base64url without padding.
pub fn hs256(secret: &[u8], signing_input: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(signing_input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Whether `token` is `header.payload.signature` with a correct HS256 signature by
/// `secret` and a header naming `HS256`: what a token that verifies must be.
pub fn signed_hs256_by(token: &str, secret: &[u8]) -> bool {
    let Some((signing_input, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Some((header, _payload)) = signing_input.split_once('.') else {
        return false;
    };
    let alg = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .and_then(|h| h.get("alg").and_then(|a| a.as_str()).map(str::to_string));
    alg.as_deref() == Some("HS256") && hs256(secret, signing_input) == signature
}

/// The claims of a token, decoded without any check.
pub fn claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}
