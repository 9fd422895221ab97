//! Signed webhooks between the edge and Spin (DESIGN §5), in QStash's format so QStash can
//! replace the queue hop: header `Upstash-Signature` = HS256 JWT with claims `iss`, `sub` (the
//! target URL), `iat`, `nbf`, `exp`, `jti`, and `body` = base64url(SHA-256(raw body)).
//!
//! QStash's documented example (upstash.com/docs/qstash/features/security) has header
//! `{"alg":"HS256","typ":"JWT"}`, `nbf == iat`, `exp = iat + 300` and a *padded* body hash
//! (`"qK78…vY4="`); its receivers compare the hash with padding stripped (@upstash/qstash
//! `Receiver.verifyBodyAndUrl`) and use the signing key's UTF-8 bytes as the HMAC key.
//!
//! No clock or randomness in here (Workers' wasm32-unknown-unknown has neither): callers pass
//! `now` in unix seconds and the `jti`.

mod replay;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt as _, Claims, Header, TimeOptions, UntrustedToken, ValidationError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use replay::{SeenJtiStore, StoreError, UpstashSeenJtiStore};

use crate::api::{ApiError, ErrorCode};
use crate::transport::{HttpRequest, Method};

pub const SIGNATURE_HEADER: &str = "Upstash-Signature";
/// QStash's token lifetime ("5 minutes by default"); longer tokens are refused.
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Allowed clock skew between signer and receiver for `exp`, `nbf` and `iat`.
pub const CLOCK_LEEWAY_SECS: i64 = 30;
/// Bounds parsing work on hostile input; real tokens are a few hundred bytes plus the URL.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// An HS256 secret. QStash keys (`sig_…`) are used as their UTF-8 bytes.
#[derive(Clone)]
pub struct SigningKey(Hs256Key);

impl SigningKey {
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self(Hs256Key::new(secret))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

/// The receiver's keys: `next` is accepted too, so the signer can rotate without downtime.
#[derive(Debug, Clone)]
pub struct Keys {
    pub current: SigningKey,
    pub next: Option<SigningKey>,
}

#[derive(Debug, Clone, Copy)]
pub struct SignRequest<'a> {
    pub issuer: &'a str,
    /// The exact URL the request is sent to; the receiver compares it with its own.
    pub url: &'a str,
    pub body: &'a [u8],
    /// Unix seconds.
    pub now: i64,
    /// Unique per request, e.g. from `jti_from_random`.
    pub jti: &'a str,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SignError {
    #[error("time {0} is outside the representable range")]
    ClockOutOfRange(i64),
    #[error("cannot encode token: {0}")]
    Encode(String),
}

/// Why a signature was refused. Every variant means 401 and nothing processed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SignatureError {
    #[error("no {SIGNATURE_HEADER} header")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("signature matches neither the current nor the next key")]
    BadSignature,
    #[error("token expired at {expires_at} (now {now})")]
    Expired { expires_at: i64, now: i64 },
    #[error("token not valid before {not_before} (now {now})")]
    NotYetValid { not_before: i64, now: i64 },
    #[error("token lifetime {lifetime_secs}s exceeds {MAX_LIFETIME_SECS}s")]
    LifetimeTooLong { lifetime_secs: i64 },
    #[error("token is for {subject:?}, not {url:?}")]
    WrongSubject { subject: String, url: String },
    #[error("body does not match the signed hash")]
    BodyMismatch,
    #[error("token {jti} was already used")]
    Replayed { jti: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("receiver time {0} is outside the representable range")]
    ClockOutOfRange(i64),
}

impl SignatureError {
    /// What the caller is told, the same at every receiver: 401 with `AUTH_…` missing, replayed or
    /// invalid, and the reason; a replay store that could not be asked is 503 (retry later).
    pub fn to_api_error(&self) -> ApiError {
        let code = match self {
            SignatureError::Missing => ErrorCode::SignatureMissing,
            SignatureError::Replayed { .. } => ErrorCode::SignatureReplayed,
            SignatureError::Store(_) => {
                return ApiError::new(
                    ErrorCode::DependencyUnavailable,
                    "cannot check the signature for replay right now; retry later",
                );
            }
            _ => ErrorCode::SignatureInvalid,
        };
        ApiError::new(code, self.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUsed {
    Current,
    /// Seeing this means the signer has rotated: time to promote `next`.
    Next,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub issuer: String,
    pub subject: String,
    pub jti: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub key: KeyUsed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WebhookClaims {
    iss: String,
    sub: String,
    jti: String,
    body: String,
}

/// The `body` claim: base64url of SHA-256, padded as QStash writes it.
pub fn body_hash(body: &[u8]) -> String {
    URL_SAFE.encode(Sha256::digest(body))
}

/// A `jti` from caller-supplied random bytes (the caller owns the RNG; see module docs).
pub fn jti_from_random(random: [u8; 16]) -> String {
    format!("jwt_{}", URL_SAFE_NO_PAD.encode(random))
}

/// The `Upstash-Signature` value for one request, valid from `now` for `MAX_LIFETIME_SECS`.
pub fn sign(key: &SigningKey, request: SignRequest<'_>) -> Result<String, SignError> {
    let now = timestamp(request.now).ok_or(SignError::ClockOutOfRange(request.now))?;
    request.now.checked_add(MAX_LIFETIME_SECS).and_then(timestamp).ok_or(SignError::ClockOutOfRange(request.now))?;
    let clock = TimeOptions::new(TimeDelta::zero(), move || now);
    let claims = Claims::new(WebhookClaims {
        iss: request.issuer.to_owned(),
        sub: request.url.to_owned(),
        jti: request.jti.to_owned(),
        body: body_hash(request.body),
    })
    .set_duration_and_issuance(&clock, TimeDelta::seconds(MAX_LIFETIME_SECS))
    .set_not_before(now);
    Hs256
        .token(&Header::empty().with_token_type("JWT"), &claims, &key.0)
        .map_err(|error| SignError::Encode(error.to_string()))
}

/// The request that carries its own signature: `method` to `request.url` with exactly
/// `request.body` and its `Upstash-Signature`, so what is sent is what was signed. Every signer
/// (Spin components, Workers calling Spin) builds its requests here; add headers to the result.
pub fn signed_request(key: &SigningKey, method: Method, request: SignRequest<'_>) -> Result<HttpRequest, SignError> {
    let signature = sign(key, request)?;
    Ok(HttpRequest::new(method, request.url).header(SIGNATURE_HEADER, signature).body(request.body))
}

/// Checks a request's `Upstash-Signature` (pass the header as received, `None` if absent)
/// against the URL it arrived at and its raw body. Cryptographic and claim checks all run
/// before the `jti` is recorded, so a forged or stale request cannot burn a real token's id.
pub async fn verify<S: SeenJtiStore + ?Sized>(
    keys: &Keys,
    header: Option<&str>,
    url: &str,
    body: &[u8],
    now: i64,
    seen: &S,
) -> Result<VerifiedSignature, SignatureError> {
    let token = header.map(str::trim).filter(|token| !token.is_empty()).ok_or(SignatureError::Missing)?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(SignatureError::Malformed(format!("token longer than {MAX_TOKEN_LEN} bytes")));
    }
    let token = UntrustedToken::new(token).map_err(|error| SignatureError::Malformed(error.to_string()))?;
    let (claims, key) = validate_signature(keys, &token)?;
    let (issued_at, expires_at) = check_times(&claims, now)?;

    let WebhookClaims { iss, sub, jti, body: signed_hash } = claims.custom;
    if sub != url {
        return Err(SignatureError::WrongSubject { subject: sub, url: url.to_owned() });
    }
    if signed_hash.trim_end_matches('=') != body_hash(body).trim_end_matches('=') {
        return Err(SignatureError::BodyMismatch);
    }
    if jti.is_empty() {
        return Err(SignatureError::Malformed("empty jti".into()));
    }
    // Remembered until the token could no longer pass the expiry check.
    if !seen.first_seen(&jti, expires_at.saturating_add(CLOCK_LEEWAY_SECS)).await? {
        return Err(SignatureError::Replayed { jti });
    }
    Ok(VerifiedSignature { issuer: iss, subject: sub, jti, issued_at, expires_at, key })
}

fn validate_signature(
    keys: &Keys,
    token: &UntrustedToken<'_>,
) -> Result<(Claims<WebhookClaims>, KeyUsed), SignatureError> {
    match validate_with(&keys.current, token) {
        Ok(claims) => Ok((claims, KeyUsed::Current)),
        Err(error) if is_signature_failure(&error) => match &keys.next {
            Some(next) => match validate_with(next, token) {
                Ok(claims) => Ok((claims, KeyUsed::Next)),
                Err(error) => Err(signature_error(error)),
            },
            None => Err(SignatureError::BadSignature),
        },
        Err(error) => Err(signature_error(error)),
    }
}

fn validate_with(key: &SigningKey, token: &UntrustedToken<'_>) -> Result<Claims<WebhookClaims>, ValidationError> {
    let (_, claims) = Hs256.validator::<WebhookClaims>(&key.0).validate(token)?.into_parts();
    Ok(claims)
}

fn is_signature_failure(error: &ValidationError) -> bool {
    matches!(
        error,
        ValidationError::InvalidSignature
            | ValidationError::InvalidSignatureLen { .. }
            | ValidationError::MalformedSignature(_)
    )
}

fn signature_error(error: ValidationError) -> SignatureError {
    if is_signature_failure(&error) {
        SignatureError::BadSignature
    } else {
        SignatureError::Malformed(error.to_string())
    }
}

/// Returns (`iat`, `exp`) once lifetime, expiry and maturity pass, with `CLOCK_LEEWAY_SECS`.
fn check_times(claims: &Claims<WebhookClaims>, now: i64) -> Result<(i64, i64), SignatureError> {
    let missing = |claim: &str| SignatureError::Malformed(format!("missing {claim}"));
    let issued_at = claims.issued_at.ok_or_else(|| missing("iat"))?.timestamp();
    let expires_at = claims.expiration.ok_or_else(|| missing("exp"))?.timestamp();
    let not_before = claims.not_before.ok_or_else(|| missing("nbf"))?.timestamp();
    let lifetime_secs = expires_at - issued_at;
    if lifetime_secs < 0 {
        return Err(SignatureError::Malformed("exp before iat".into()));
    }
    if lifetime_secs > MAX_LIFETIME_SECS {
        return Err(SignatureError::LifetimeTooLong { lifetime_secs });
    }

    let clock = timestamp(now).ok_or(SignatureError::ClockOutOfRange(now))?;
    let options = TimeOptions::new(TimeDelta::seconds(CLOCK_LEEWAY_SECS), move || clock);
    claims.validate_expiration(&options).map_err(|_| SignatureError::Expired { expires_at, now })?;
    claims.validate_maturity(&options).map_err(|_| SignatureError::NotYetValid { not_before, now })?;
    // A token issued in the future would otherwise outlive its stated lifetime.
    if issued_at > now.saturating_add(CLOCK_LEEWAY_SECS) {
        return Err(SignatureError::NotYetValid { not_before: issued_at, now });
    }
    Ok((issued_at, expires_at))
}

fn timestamp(unix_seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(unix_seconds, 0)
}

#[cfg(test)]
mod tests;
