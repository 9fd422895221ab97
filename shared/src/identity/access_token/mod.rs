//! Access tokens (DESIGN §6): short-lived JWTs signed with EdDSA (Ed25519), so every Worker and Spin
//! component verifies with a public key from the JWKS and only the identity Worker can issue.
//!
//! Header `{"alg":"EdDSA","kid":"…","typ":"JWT"}`; claims `iss`, `aud`, `sub` (`usr_…`), `role` (the
//! primary, most privileged role), `vendor_id` (only with vendor roles), `scope` (every granted role,
//! space-separated, least privileged first), `iat`, `exp` (`iat + ACCESS_TOKEN_TTL_SECS`), `jti`.
//!
//! No clock or randomness in here: callers pass `now` (unix seconds), the `jti`, and the key seed.

use std::fmt;

use chrono::{DateTime, Utc};
use jwt_compact::{AlgorithmExt as _, Claims, Header, UntrustedToken, ValidationError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use super::role::{GrantError, Identity, Role, RoleGrant, USER_ID_PREFIX, UnknownRole};
pub use remembering::RememberingVerifier;

use super::eddsa::{EdDsa, EdSigningKey, EdVerifyingKey};
use super::jwks::{Jwk, JwkError, Jwks};
use super::role::{is_plain_id, is_user_id};
use crate::api::{ApiError, ErrorCode};

/// 15 minutes: short enough that a leaked token or a revoked role stops working soon without a
/// revocation list (OWASP JWT cheat sheet: keep access tokens short-lived; refresh tokens renew them).
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;
/// Allowed clock skew between issuer and verifier for `exp` and `iat` (the webhook signer's too).
pub const CLOCK_LEEWAY_SECS: i64 = 30;
pub const DEFAULT_ISSUER: &str = "marketplace-identity";
pub const DEFAULT_AUDIENCE: &str = "marketplace-api";
/// Bounds parsing work on hostile input; real tokens are about 400 bytes.
const MAX_TOKEN_LEN: usize = 4 * 1024;

/// Signs access tokens with one Ed25519 key, named by `kid` in the JWKS.
#[derive(Clone)]
pub struct AccessTokenIssuer {
    key: EdSigningKey,
    kid: String,
    issuer: String,
    audience: String,
}

/// Hand-written so the key never reaches a log.
impl fmt::Debug for AccessTokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenIssuer")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IssueError {
    #[error("time {0} is outside the representable range")]
    ClockOutOfRange(i64),
    #[error("jti must not be empty")]
    EmptyJti,
    #[error("cannot encode token: {0}")]
    Encode(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    aud: Audience,
    sub: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vendor_id: Option<String>,
    scope: String,
    jti: String,
}

/// RFC 7519 §4.1.3 allows one audience or several; we issue one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, expected: &str) -> bool {
        match self {
            Audience::One(audience) => audience == expected,
            Audience::Many(audiences) => audiences.iter().any(|audience| audience == expected),
        }
    }
}

impl AccessTokenIssuer {
    /// `seed` is the 32-byte Ed25519 private key (RFC 8032), e.g. from a Worker secret.
    pub fn from_seed(seed: [u8; 32], kid: impl Into<String>) -> Self {
        Self {
            key: EdSigningKey::from_seed(seed),
            kid: kid.into(),
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
        }
    }

    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// This key's public half, for the JWKS the verifiers load.
    pub fn jwk(&self) -> Jwk {
        Jwk::ed25519(&self.kid, self.public_key())
    }

    /// A token for `identity`, valid from `now` (unix seconds) for `ACCESS_TOKEN_TTL_SECS`.
    pub fn issue(&self, identity: &Identity, now: i64, jti: &str) -> Result<String, IssueError> {
        if jti.is_empty() {
            return Err(IssueError::EmptyJti);
        }
        let issued_at = timestamp(now).ok_or(IssueError::ClockOutOfRange(now))?;
        let expires_at = now.checked_add(ACCESS_TOKEN_TTL_SECS).and_then(timestamp);
        let expires_at = expires_at.ok_or(IssueError::ClockOutOfRange(now))?;
        let scope = identity.roles().iter().map(|role| role.as_str()).collect::<Vec<_>>().join(" ");
        let mut claims = Claims::new(AccessClaims {
            iss: self.issuer.clone(),
            aud: Audience::One(self.audience.clone()),
            sub: identity.user_id().to_owned(),
            role: identity.primary_role(),
            vendor_id: identity.vendor_id().map(str::to_owned),
            scope,
            jti: jti.to_owned(),
        });
        claims.issued_at = Some(issued_at);
        claims.expiration = Some(expires_at);
        let header = Header::empty().with_key_id(&self.kid).with_token_type("JWT");
        EdDsa.token(&header, &claims, &self.key).map_err(|error| IssueError::Encode(error.to_string()))
    }
}

/// Why an access token was refused. `error_code()` gives the API code; every one is a 401.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token signed by unknown key {kid:?}")]
    UnknownKey { kid: Option<String> },
    #[error("bad token signature")]
    BadSignature,
    #[error("token expired at {expires_at} (now {now})")]
    Expired { expires_at: i64, now: i64 },
    #[error("token issued in the future at {issued_at} (now {now})")]
    NotYetValid { issued_at: i64, now: i64 },
    #[error("token issued by {issuer:?}")]
    WrongIssuer { issuer: String },
    #[error("token is for another audience")]
    WrongAudience,
}

impl TokenError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            TokenError::Missing => ErrorCode::TokenMissing,
            TokenError::Expired { .. } => ErrorCode::TokenExpired,
            TokenError::WrongIssuer { .. } | TokenError::WrongAudience => ErrorCode::TokenWrongAudience,
            // A token from the future is unusable, and refreshing will not fix it: treat it as invalid.
            TokenError::Malformed(_)
            | TokenError::UnknownKey { .. }
            | TokenError::BadSignature
            | TokenError::NotYetValid { .. } => ErrorCode::TokenInvalid,
        }
    }

    /// The client-facing error: the code says enough, details stay in logs.
    pub fn to_api_error(&self) -> ApiError {
        let message = match self.error_code() {
            ErrorCode::TokenMissing => "an access token is required",
            ErrorCode::TokenExpired => "the access token has expired",
            ErrorCode::TokenWrongAudience => "the access token is not for this service",
            _ => "the access token is invalid",
        };
        ApiError::new(self.error_code(), message)
    }
}

/// The claims of a token that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub user_id: String,
    /// The most privileged role.
    pub role: Role,
    /// Set exactly when `roles` has a vendor role; vendor queries filter by it (DESIGN §3).
    pub vendor_id: Option<String>,
    /// Every granted role, least privileged first.
    pub roles: Vec<Role>,
    pub jti: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

impl VerifiedIdentity {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        roles.iter().any(|role| self.has_role(*role))
    }
}

/// Verifies access tokens against the public keys of a JWKS, chosen by the token's `kid`.
#[derive(Debug, Clone)]
pub struct AccessTokenVerifier {
    keys: Vec<(String, EdVerifyingKey)>,
    issuer: String,
    audience: String,
}

impl AccessTokenVerifier {
    /// Every key must be a valid Ed25519 signing key with a unique `kid`: the JWKS is ours, so a
    /// bad entry is a deployment mistake to surface, not to skip.
    pub fn from_jwks(jwks: &Jwks) -> Result<Self, JwkError> {
        let mut keys: Vec<(String, EdVerifyingKey)> = Vec::with_capacity(jwks.keys.len());
        for jwk in &jwks.keys {
            if keys.iter().any(|(kid, _)| *kid == jwk.kid) {
                return Err(JwkError::DuplicateKid(jwk.kid.clone()));
            }
            keys.push((jwk.kid.clone(), jwk.verifying_key()?));
        }
        if keys.is_empty() {
            return Err(JwkError::NoKeys);
        }
        Ok(Self { keys, issuer: DEFAULT_ISSUER.to_owned(), audience: DEFAULT_AUDIENCE.to_owned() })
    }

    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Checks, in order: shape, key, signature, issuer, audience, expiry, issue time, claim consistency.
    pub fn verify(&self, token: &str, now: i64) -> Result<VerifiedIdentity, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed(format!("token longer than {MAX_TOKEN_LEN} bytes")));
        }
        let untrusted = UntrustedToken::new(token).map_err(|error| TokenError::Malformed(error.to_string()))?;
        let kid = untrusted.header().key_id.clone();
        let key = kid
            .as_deref()
            .and_then(|kid| self.keys.iter().find(|(known, _)| known == kid))
            .map(|(_, key)| key)
            .ok_or(TokenError::UnknownKey { kid })?;
        let claims =
            EdDsa.validator::<AccessClaims>(key).validate(&untrusted).map_err(validation_error)?.into_parts().1;

        if claims.custom.iss != self.issuer {
            return Err(TokenError::WrongIssuer { issuer: claims.custom.iss });
        }
        if !claims.custom.aud.contains(&self.audience) {
            return Err(TokenError::WrongAudience);
        }
        let missing = |claim: &str| TokenError::Malformed(format!("missing {claim}"));
        let expires_at = claims.expiration.ok_or_else(|| missing("exp"))?.timestamp();
        let issued_at = claims.issued_at.ok_or_else(|| missing("iat"))?.timestamp();
        if now > expires_at.saturating_add(CLOCK_LEEWAY_SECS) {
            return Err(TokenError::Expired { expires_at, now });
        }
        if issued_at > now.saturating_add(CLOCK_LEEWAY_SECS) {
            return Err(TokenError::NotYetValid { issued_at, now });
        }
        if let Some(not_before) = claims.not_before.map(|nbf| nbf.timestamp())
            && not_before > now.saturating_add(CLOCK_LEEWAY_SECS)
        {
            return Err(TokenError::NotYetValid { issued_at: not_before, now });
        }
        consistent_identity(claims.custom, issued_at, expires_at)
    }
}

/// Rejects claims our issuer never writes: ids not shaped as `Identity` and `RoleGrant` require, a
/// role outside the scope, or a vendor id that does not match the vendor roles. Signed garbage is
/// still garbage.
fn consistent_identity(claims: AccessClaims, issued_at: i64, expires_at: i64) -> Result<VerifiedIdentity, TokenError> {
    let AccessClaims { sub, role, vendor_id, scope, jti, .. } = claims;
    let malformed = |what: &str| Err(TokenError::Malformed(what.to_owned()));
    let mut roles = scope
        .split(' ')
        .map(str::parse::<Role>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TokenError::Malformed(error.to_string()))?;
    roles.sort_unstable();
    roles.dedup();
    if !is_user_id(&sub) {
        return malformed("sub is not a user id");
    }
    if vendor_id.as_deref().is_some_and(|vendor| !is_plain_id(vendor)) {
        return malformed("vendor_id is not an id");
    }
    if jti.is_empty() {
        return malformed("empty jti");
    }
    if roles.last() != Some(&role) {
        return malformed("role is not the highest role in scope");
    }
    if roles.iter().any(|role| role.is_vendor_role()) != vendor_id.is_some() {
        return malformed("vendor_id does not match the vendor roles");
    }
    Ok(VerifiedIdentity { user_id: sub, role, vendor_id, roles, jti, issued_at, expires_at })
}

fn validation_error(error: ValidationError) -> TokenError {
    match error {
        ValidationError::InvalidSignature
        | ValidationError::InvalidSignatureLen { .. }
        | ValidationError::MalformedSignature(_) => TokenError::BadSignature,
        other => TokenError::Malformed(other.to_string()),
    }
}

/// The token of an `Authorization: Bearer <token>` header (`None` if the header is absent).
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, TokenError> {
    let value = authorization.map(str::trim).filter(|value| !value.is_empty()).ok_or(TokenError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| TokenError::Malformed("not a bearer token".into()))?;
    // The scheme is case-insensitive (RFC 9110 §11.1).
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Malformed("not a bearer token".into()));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    Ok(token)
}

fn timestamp(unix_seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(unix_seconds, 0)
}

mod remembering;
#[cfg(test)]
mod tests;
