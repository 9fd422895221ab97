//! Bindings the identity Worker needs, read once per request from `Env` (vars and secrets).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use shared::api::{ApiError, ErrorCode};
use worker::Env;

/// Domain separation: the rate-limit key is a hash of the seed under this label, never the seed.
const RATE_LIMIT_KEY_LABEL: &[u8] = b"marketplace-identity/rate-limit-identifiers/v1\0";

pub struct Config {
    pub neon_url: String,
    pub neon_connection_string: String,
    pub upstash_url: String,
    pub upstash_token: String,
    /// Base URL of the Spin app, no trailing slash, as Spin sees it (the signature's `sub`).
    pub spin_url: String,
    pub webhook_key_current: String,
    /// The Ed25519 private key (RFC 8032 seed) that signs access tokens.
    pub jwt_signing_seed: [u8; 32],
    pub jwt_key_id: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// The storefront's origin, no trailing slash: emailed links point there.
    pub public_url: String,
    /// Keys the hash of rate-limit identifiers (emails, IPs) kept in Redis; derived from the signing
    /// seed so it needs no secret of its own, and useless for signing.
    pub rate_limit_key: [u8; 32],
}

/// Hand-written so secrets never reach a log.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("neon_url", &self.neon_url)
            .field("upstash_url", &self.upstash_url)
            .field("spin_url", &self.spin_url)
            .field("jwt_key_id", &self.jwt_key_id)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ApiError> {
        let mut missing = Vec::new();
        let mut read = |name: &'static str| match env.secret(name) {
            Ok(value) if !value.to_string().is_empty() => value.to_string(),
            _ => {
                missing.push(name);
                String::new()
            }
        };
        let seed_text = read("JWT_SIGNING_SEED");
        let config = Config {
            neon_url: read("NEON_URL"),
            neon_connection_string: read("NEON_CONNECTION_STRING"),
            upstash_url: read("UPSTASH_URL"),
            upstash_token: read("UPSTASH_TOKEN"),
            spin_url: read("SPIN_URL").trim_end_matches('/').to_owned(),
            webhook_key_current: read("WEBHOOK_KEY_CURRENT"),
            jwt_signing_seed: [0; 32],
            jwt_key_id: read("JWT_KEY_ID"),
            jwt_issuer: read("JWT_ISSUER"),
            jwt_audience: read("JWT_AUDIENCE"),
            public_url: read("PUBLIC_URL").trim_end_matches('/').to_owned(),
            rate_limit_key: [0; 32],
        };
        if !missing.is_empty() {
            return Err(misconfigured(serde_json::json!({ "missing": missing })));
        }
        let jwt_signing_seed = decode_seed(&seed_text)
            .ok_or_else(|| misconfigured(serde_json::json!({ "invalid": ["JWT_SIGNING_SEED"] })))?;
        let rate_limit_key =
            Sha256::new_with_prefix(RATE_LIMIT_KEY_LABEL).chain_update(jwt_signing_seed).finalize().into();
        Ok(Config { jwt_signing_seed, rate_limit_key, ..config })
    }
}

fn misconfigured(details: serde_json::Value) -> ApiError {
    ApiError::new(ErrorCode::Misconfigured, "the identity service is missing configuration").with_details(details)
}

/// base64url, padded or not: exactly 32 bytes.
fn decode_seed(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = URL_SAFE_NO_PAD.decode(text).or_else(|_| URL_SAFE.decode(text)).ok()?;
    bytes.try_into().ok()
}
