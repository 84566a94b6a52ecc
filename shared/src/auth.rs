//! Who is on a connection: agents prove it with a signed token (a JWT whose
//! signature, expiry, issuer and audience are checked), visitors carry a signed
//! visitor session token so that a refresh or another page resumes their own
//! conversation, and nobody else's.
//!
//! Locally both are HS256 with secrets from the configuration. In AWS the agent
//! verifier takes the issuer's JWKS (e.g. a Cognito user pool's), so RS256 tokens are
//! verified by the key their `kid` names.

use jiff::{SignedDuration, Timestamp};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::domain::{AgentId, VisitorId};

/// How long a visitor session token lasts. It travels in the `$connect` URL, so it is
/// short-lived, and every `start` replaces it (see [`VisitorTokens::issue`]): a visitor
/// who refreshes or comes back within a day continues their conversation.
pub const VISITOR_TOKEN_TTL: SignedDuration = SignedDuration::from_hours(24);

/// The audience of visitor tokens, so an agent token can never pass as one.
const VISITOR_AUDIENCE: &str = "livechat-visitor";

/// Why a token was refused. Every variant is the client's fault; `status` is the
/// HTTP status `$connect` answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a token we can read, or its signature does not verify.
    #[error("the token is malformed or its signature does not verify")]
    Invalid,
    /// Its `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// Signed for someone else (`iss` or `aud`).
    #[error("the token was not issued for this live chat")]
    WrongIssuerOrAudience,
    /// Its subject is not an id we accept.
    #[error("the token's subject is not a valid id")]
    BadSubject,
    /// Valid, but the agent is unknown or lacks the live chat permission.
    #[error("this agent may not use the inbox")]
    NotAllowed,
    /// A visitor token the visitor's session no longer accepts: replaced by a newer
    /// one more than [`VISITOR_TOKEN_OVERLAP`] ago, or revoked by the end of its chat.
    #[error("this visitor token was replaced or revoked")]
    Revoked,
    /// The verifier's keys could not be read (a configuration error).
    #[error("the signing keys are unusable: {0}")]
    Keys(String),
}

impl AuthError {
    /// 401 when the caller is not authenticated, 403 when they are but may not.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::NotAllowed => 403,
            _ => 401,
        }
    }
}

fn refusal(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => AuthError::WrongIssuerOrAudience,
        _ => AuthError::Invalid,
    }
}

/// The claims we read from an agent token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentClaims {
    /// The agent id.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    #[serde(default)]
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

enum Keys {
    Shared(DecodingKey),
    Jwks(JwkSet),
}

/// Verifies agent tokens.
pub struct AgentVerifier {
    keys: Keys,
    validation: Validation,
}

impl AgentVerifier {
    /// HS256 tokens signed with `secret` (local runs and tests).
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Self {
        Self {
            keys: Keys::Shared(DecodingKey::from_secret(secret)),
            validation: validation(Algorithm::HS256, issuer, audience),
        }
    }

    /// RS256 tokens signed by one of the keys of `jwks` (the issuer's
    /// `/.well-known/jwks.json`, fetched once at cold start), chosen by the token's `kid`.
    pub fn rs256_jwks(jwks: &str, issuer: &str, audience: &str) -> Result<Self, AuthError> {
        let set: JwkSet = serde_json::from_str(jwks).map_err(|e| AuthError::Keys(e.to_string()))?;
        Ok(Self {
            keys: Keys::Jwks(set),
            validation: validation(Algorithm::RS256, issuer, audience),
        })
    }

    /// The agent a token names, if it verifies at `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<AgentId, AuthError> {
        self.verify_until(token, now).map(|(agent, _)| agent)
    }

    /// The agent a token names and when the token expires (its `exp`), if it
    /// verifies at `now`.
    pub fn verify_until(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<(AgentId, Timestamp), AuthError> {
        let claims = match &self.keys {
            Keys::Shared(key) => jsonwebtoken::decode::<AgentClaims>(token, key, &self.validation),
            Keys::Jwks(set) => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
                let jwk = header
                    .kid
                    .as_deref()
                    .and_then(|kid| set.find(kid))
                    .ok_or(AuthError::Invalid)?;
                let key = DecodingKey::from_jwk(jwk).map_err(|e| AuthError::Keys(e.to_string()))?;
                jsonwebtoken::decode::<AgentClaims>(token, &key, &self.validation)
            }
        }
        .map_err(refusal)?
        .claims;
        check_expiry(claims.exp, now)?;
        let exp = Timestamp::from_second(claims.exp).map_err(|_| AuthError::Invalid)?;
        let agent = AgentId::parse(claims.sub).map_err(|_| AuthError::BadSubject)?;
        Ok((agent, exp))
    }
}

fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut v = Validation::new(alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Expiry is checked against the Clock port, not the system clock, so that tests
    // and simulations control time.
    v.validate_exp = false;
    v
}

/// Seconds of clock skew tolerated on `exp`.
const LEEWAY_SECS: i64 = 30;

/// Whether a token expiring at `exp` has expired at `now`, with the same leeway as
/// at `$connect`: an open connection is held to its token's expiry frame by frame.
pub fn has_expired(exp: Timestamp, now: Timestamp) -> bool {
    check_expiry(exp.as_second(), now).is_err()
}

fn check_expiry(exp: i64, now: Timestamp) -> Result<(), AuthError> {
    if exp.saturating_add(LEEWAY_SECS) < now.as_second() {
        Err(AuthError::Expired)
    } else {
        Ok(())
    }
}

/// Issues HS256 agent tokens: the local gateway prints them for its demo agents, and
/// tests sign with it.
pub struct AgentTokenIssuer {
    key: EncodingKey,
    issuer: String,
    audience: String,
}

impl AgentTokenIssuer {
    /// An issuer signing with `secret`.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Self {
        Self {
            key: EncodingKey::from_secret(secret),
            issuer: issuer.into(),
            audience: audience.into(),
        }
    }

    /// A token for `agent`, valid from `now` for `ttl`.
    pub fn issue(&self, agent: &AgentId, now: Timestamp, ttl: SignedDuration) -> String {
        let claims = AgentClaims {
            sub: agent.to_string(),
            iat: now.as_second(),
            exp: now.as_second().saturating_add(ttl.as_secs()),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        // HS256 signing of a small struct only fails on a broken serializer.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key).unwrap_or_default()
    }
}

/// How long a visitor token stays accepted after a newer one replaced it: two tabs
/// reconnecting at once, or a `session` frame lost in a reconnect, do not lock the
/// visitor out.
pub const VISITOR_TOKEN_OVERLAP: SignedDuration = SignedDuration::from_mins(2);

#[derive(Debug, Serialize, Deserialize)]
struct VisitorClaims {
    sub: String,
    /// The session's token version the token was issued for (0 before versions).
    #[serde(default)]
    ver: u64,
    exp: i64,
    iss: String,
    aud: String,
}

/// What a verified visitor token says: whose it is and which of their session's
/// token versions it carries ([`crate::ports::TokenVersion`] decides if it still counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorToken {
    /// The visitor.
    pub visitor: VisitorId,
    /// The session's token version when it was issued.
    pub version: u64,
}

/// Signs and verifies visitor session tokens (HS256 with the server's secret).
pub struct VisitorTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    validation: Validation,
}

impl VisitorTokens {
    /// Tokens signed with `secret`, naming `issuer`.
    pub fn new(secret: &[u8], issuer: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: issuer.into(),
            validation: validation(Algorithm::HS256, issuer, VISITOR_AUDIENCE),
        }
    }

    /// A token for `visitor` at their session's token `version`, valid for
    /// [`VISITOR_TOKEN_TTL`] from `now`.
    pub fn issue(&self, visitor: &VisitorId, version: u64, now: Timestamp) -> String {
        let claims = VisitorClaims {
            sub: visitor.to_string(),
            ver: version,
            exp: now.as_second().saturating_add(VISITOR_TOKEN_TTL.as_secs()),
            iss: self.issuer.clone(),
            aud: VISITOR_AUDIENCE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default()
    }

    /// The visitor a token names and its version, if it verifies at `now` (whether
    /// the visitor's session still accepts that version is the caller's check).
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<VisitorToken, AuthError> {
        let claims = jsonwebtoken::decode::<VisitorClaims>(token, &self.decoding, &self.validation)
            .map_err(refusal)?
            .claims;
        check_expiry(claims.exp, now)?;
        let visitor = VisitorId::parse(claims.sub).map_err(|_| AuthError::BadSubject)?;
        Ok(VisitorToken {
            visitor,
            version: claims.ver,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret-of-at-least-32-bytes!!";

    fn ana() -> AgentId {
        AgentId::parse("ana").unwrap()
    }

    #[test]
    fn an_agent_token_signed_with_the_secret_names_its_agent() {
        let issuer = AgentTokenIssuer::hs256(SECRET, "livechat-local", "inbox");
        let token = issuer.issue(&ana(), Timestamp::now(), SignedDuration::from_hours(1));

        let verified = AgentVerifier::hs256(SECRET, "livechat-local", "inbox")
            .verify(&token, Timestamp::now());

        assert_eq!(verified, Ok(ana()));
    }

    #[test]
    fn agent_tokens_with_a_wrong_signature_issuer_audience_or_expiry_are_refused() {
        let verifier = AgentVerifier::hs256(SECRET, "livechat-local", "inbox");
        let now = Timestamp::now();
        let hour = SignedDuration::from_hours(1);
        let forged = AgentTokenIssuer::hs256(
            b"another-secret-another-secret-xx",
            "livechat-local",
            "inbox",
        );
        assert_eq!(
            verifier.verify(&forged.issue(&ana(), now, hour), now),
            Err(AuthError::Invalid)
        );
        let other_iss = AgentTokenIssuer::hs256(SECRET, "someone-else", "inbox");
        assert_eq!(
            verifier.verify(&other_iss.issue(&ana(), now, hour), now),
            Err(AuthError::WrongIssuerOrAudience)
        );
        let other_aud = AgentTokenIssuer::hs256(SECRET, "livechat-local", "billing");
        assert_eq!(
            verifier.verify(&other_aud.issue(&ana(), now, hour), now),
            Err(AuthError::WrongIssuerOrAudience)
        );
        let issuer = AgentTokenIssuer::hs256(SECRET, "livechat-local", "inbox");
        let expired = issuer.issue(&ana(), now - SignedDuration::from_hours(3), hour);
        assert_eq!(verifier.verify(&expired, now), Err(AuthError::Expired));
        assert_eq!(verifier.verify("not.a.jwt", now), Err(AuthError::Invalid));
        assert_eq!(AuthError::Expired.status(), 401);
        assert_eq!(AuthError::NotAllowed.status(), 403);
    }

    #[test]
    fn a_visitor_token_resumes_its_own_visitor_and_cannot_pass_as_an_agent_token() {
        let tokens = VisitorTokens::new(SECRET, "livechat-local");
        let visitor = VisitorId::generate();
        let token = tokens.issue(&visitor, 7, Timestamp::now());

        assert_eq!(
            tokens.verify(&token, Timestamp::now()),
            Ok(VisitorToken {
                visitor,
                version: 7
            })
        );
        let agents = AgentVerifier::hs256(SECRET, "livechat-local", "inbox");
        assert_eq!(
            agents.verify(&token, Timestamp::now()),
            Err(AuthError::WrongIssuerOrAudience)
        );
        let mut tampered = token.clone();
        tampered.pop();
        assert_eq!(
            tokens.verify(&tampered, Timestamp::now()),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn a_jwks_verifier_refuses_a_token_whose_key_id_it_does_not_know() {
        let jwks = r#"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}]}"#;
        let verifier = AgentVerifier::rs256_jwks(
            jwks,
            "https://cognito-idp.eu-west-1.amazonaws.com/pool",
            "client",
        )
        .unwrap();
        let hs = AgentTokenIssuer::hs256(SECRET, "x", "y").issue(
            &ana(),
            Timestamp::now(),
            SignedDuration::from_hours(1),
        );

        assert_eq!(
            verifier.verify(&hs, Timestamp::now()),
            Err(AuthError::Invalid)
        );
        assert!(matches!(
            AgentVerifier::rs256_jwks("{}", "i", "a"),
            Err(AuthError::Keys(_))
        ));
    }
}
