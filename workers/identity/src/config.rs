//! Bindings the identity Worker needs, read once per request from `Env` (vars and secrets).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use shared::api::ApiError;
use shared::neon::NeonConfig;
use worker::Env;
use worker_platform::config::{RequiredVars, UpstashSettings, misconfigured};
use worker_platform::spin::SpinSettings;

/// Domain separation: the rate-limit key is a hash of the seed under this label, never the seed.
const RATE_LIMIT_KEY_LABEL: &[u8] = b"marketplace-identity/rate-limit-identifiers/v1\0";
/// Who a `SYS_9002` says is misconfigured.
const SERVICE: &str = "the identity service";

pub struct Config {
    pub neon: NeonConfig,
    pub upstash: UpstashSettings,
    pub spin: SpinSettings,
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
            .field("neon_url", &self.neon.url)
            .field("upstash_url", &self.upstash.url)
            .field("spin_url", &self.spin.url)
            .field("jwt_key_id", &self.jwt_key_id)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ApiError> {
        let mut vars = RequiredVars::new(env);
        let seed_text = vars.read("JWT_SIGNING_SEED");
        let config = Config {
            neon: vars.neon(),
            upstash: vars.upstash(),
            spin: vars.spin(),
            jwt_signing_seed: [0; 32],
            jwt_key_id: vars.read("JWT_KEY_ID"),
            jwt_issuer: vars.read("JWT_ISSUER"),
            jwt_audience: vars.read("JWT_AUDIENCE"),
            public_url: vars.url("PUBLIC_URL"),
            rate_limit_key: [0; 32],
        };
        vars.finish().map_err(|missing| missing.into_api_error(SERVICE))?;
        let jwt_signing_seed = decode_seed(&seed_text)
            .ok_or_else(|| misconfigured(SERVICE, serde_json::json!({ "invalid": ["JWT_SIGNING_SEED"] })))?;
        let rate_limit_key =
            Sha256::new_with_prefix(RATE_LIMIT_KEY_LABEL).chain_update(jwt_signing_seed).finalize().into();
        Ok(Config { jwt_signing_seed, rate_limit_key, ..config })
    }
}

/// base64url, padded or not: exactly 32 bytes.
fn decode_seed(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = URL_SAFE_NO_PAD.decode(text).or_else(|_| URL_SAFE.decode(text)).ok()?;
    bytes.try_into().ok()
}
