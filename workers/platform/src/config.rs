//! Required vars and secrets from `Env`. Every name is read before failing, so one `SYS_9002`
//! lists everything missing instead of one name per deploy.

use std::fmt;

use shared::api::{ApiError, ErrorCode};
use shared::neon::NeonConfig;
use worker::Env;

use crate::spin::SpinSettings;

pub struct RequiredVars<'a> {
    env: &'a Env,
    empty_is_missing: bool,
    missing: Vec<&'static str>,
}

impl<'a> RequiredVars<'a> {
    /// A var or secret set to "" counts as missing.
    pub fn new(env: &'a Env) -> Self {
        Self { env, empty_is_missing: true, missing: Vec::new() }
    }

    /// Any binding counts, even "" (kept for the Workers that always read this way).
    pub fn allowing_empty(env: &'a Env) -> Self {
        Self { env, empty_is_missing: false, missing: Vec::new() }
    }

    /// The value, or "" with `name` noted as missing.
    pub fn read(&mut self, name: &'static str) -> String {
        match self.env.secret(name).map(|value| value.to_string()) {
            Ok(value) if !(self.empty_is_missing && value.is_empty()) => value,
            _ => {
                self.missing.push(name);
                String::new()
            }
        }
    }

    /// A base URL without its trailing slash, so paths append cleanly.
    pub fn url(&mut self, name: &'static str) -> String {
        self.read(name).trim_end_matches('/').to_owned()
    }

    /// `NEON_URL` and the secret `NEON_CONNECTION_STRING`.
    pub fn neon(&mut self) -> NeonConfig {
        NeonConfig { url: self.read("NEON_URL"), connection_string: self.read("NEON_CONNECTION_STRING") }
    }

    /// `UPSTASH_URL` and the secret `UPSTASH_TOKEN`.
    pub fn upstash(&mut self) -> UpstashSettings {
        UpstashSettings { url: self.read("UPSTASH_URL"), token: self.read("UPSTASH_TOKEN") }
    }

    /// `SPIN_URL` and the secret `WEBHOOK_KEY_CURRENT`.
    pub fn spin(&mut self) -> SpinSettings {
        SpinSettings { url: self.url("SPIN_URL"), webhook_key_current: self.read("WEBHOOK_KEY_CURRENT") }
    }

    pub fn finish(self) -> Result<(), MissingVars> {
        if self.missing.is_empty() { Ok(()) } else { Err(MissingVars(self.missing)) }
    }
}

pub struct UpstashSettings {
    pub url: String,
    pub token: String,
}

/// The names that were absent, in the order they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVars(pub Vec<&'static str>);

impl MissingVars {
    /// `SYS_9002` with `{"missing":[…]}`; `service` names who is misconfigured, e.g. "the gateway".
    pub fn into_api_error(self, service: &str) -> ApiError {
        misconfigured(service, serde_json::json!({ "missing": self.0 }))
    }
}

impl fmt::Display for MissingVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "missing configuration: {}", self.0.join(", "))
    }
}

/// `SYS_9002`; `details` says what is wrong (names only, never values).
pub fn misconfigured(service: &str, details: serde_json::Value) -> ApiError {
    ApiError::new(ErrorCode::Misconfigured, format!("{service} is missing configuration")).with_details(details)
}
