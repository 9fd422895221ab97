//! Bindings the gateway needs, read once per request from `Env` (vars and secrets).

use shared::api::{ApiError, ErrorCode};
use worker::Env;

pub struct Config {
    pub neon_url: String,
    pub neon_connection_string: String,
    pub upstash_url: String,
    pub upstash_token: String,
    /// Base URL of the Spin app, no trailing slash, as Spin sees it (the signature's `sub`).
    pub spin_url: String,
    pub webhook_key_current: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ApiError> {
        let mut missing = Vec::new();
        let mut read = |name: &'static str| match env.secret(name) {
            Ok(value) => value.to_string(),
            Err(_) => {
                missing.push(name);
                String::new()
            }
        };
        let config = Config {
            neon_url: read("NEON_URL"),
            neon_connection_string: read("NEON_CONNECTION_STRING"),
            upstash_url: read("UPSTASH_URL"),
            upstash_token: read("UPSTASH_TOKEN"),
            spin_url: read("SPIN_URL").trim_end_matches('/').to_owned(),
            webhook_key_current: read("WEBHOOK_KEY_CURRENT"),
        };
        if missing.is_empty() {
            Ok(config)
        } else {
            Err(ApiError::new(ErrorCode::Misconfigured, "the gateway is missing configuration")
                .with_details(serde_json::json!({ "missing": missing })))
        }
    }
}
