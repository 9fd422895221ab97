//! Bindings the gateway needs, read once per request from `Env` (vars and secrets).

use shared::api::ApiError;
use shared::neon::NeonConfig;
use worker::Env;
use worker_platform::config::{RequiredVars, UpstashSettings};
use worker_platform::spin::SpinSettings;

pub struct Config {
    pub neon: NeonConfig,
    pub upstash: UpstashSettings,
    pub spin: SpinSettings,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ApiError> {
        let mut vars = RequiredVars::allowing_empty(env);
        let config = Config { neon: vars.neon(), upstash: vars.upstash(), spin: vars.spin() };
        vars.finish().map_err(|missing| missing.into_api_error("the gateway"))?;
        Ok(config)
    }
}
