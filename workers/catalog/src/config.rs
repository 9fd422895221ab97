//! Bindings the catalog Worker needs, read once per request from `Env` (vars and secrets).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use shared::api::ApiError;
use shared::catalog::CursorKey;
use shared::neon::NeonConfig;
use worker::Env;
use worker_platform::config::{RequiredVars, UpstashSettings, misconfigured};
use worker_platform::spin::SpinSettings;

/// Who a `SYS_9002` says is misconfigured.
const SERVICE: &str = "the catalog service";

pub struct Config {
    pub neon: NeonConfig,
    /// The second cache layer and its tag index.
    pub upstash: UpstashSettings,
    /// Signs pagination cursors so clients can neither forge nor move them between queries.
    pub cursor_key: CursorKey,
    /// The inventory component, which owns stock: variant stock edits go there (signed).
    pub spin: SpinSettings,
}

/// Hand-written so secrets never reach a log.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("neon_url", &self.neon.url)
            .field("upstash_url", &self.upstash.url)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ApiError> {
        let mut vars = RequiredVars::new(env);
        let neon = vars.neon();
        let upstash = vars.upstash();
        let key_text = vars.read("CATALOG_CURSOR_KEY");
        let spin = vars.spin();
        vars.finish().map_err(|missing| missing.into_api_error(SERVICE))?;
        let cursor_key = decode_key(&key_text)
            .ok_or_else(|| misconfigured(SERVICE, serde_json::json!({ "invalid": ["CATALOG_CURSOR_KEY"] })))?;
        Ok(Config { neon, upstash, cursor_key, spin })
    }
}

/// base64url, padded or not, at least `cursor::MIN_KEY_BYTES` long (checked by `CursorKey::new`).
fn decode_key(text: &str) -> Option<CursorKey> {
    let text = text.trim();
    let bytes = URL_SAFE_NO_PAD.decode(text).or_else(|_| URL_SAFE.decode(text)).ok()?;
    CursorKey::new(&bytes).ok()
}
