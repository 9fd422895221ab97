//! Bindings the cart Worker needs, read once per request from `Env` (vars and secrets).

use std::fmt;

use shared::api::ApiError;
use shared::cart::CookieKey;
use shared::neon::NeonConfig;
use worker::Env;
use worker_platform::config::{RequiredVars, UpstashSettings, misconfigured};
use worker_platform::spin::SpinSettings;

/// Who a `SYS_9002` says is misconfigured.
const SERVICE: &str = "the cart service";

pub struct Config {
    pub neon: NeonConfig,
    pub upstash: UpstashSettings,
    /// Signs guest cart cookies.
    pub cookie_key: CookieKey,
    /// Guest cookies get `Secure` when the storefront is served over https.
    pub secure_cookies: bool,
    /// Checkout hands the cart to the `orders` component.
    pub spin: SpinSettings,
}

/// Hand-written so secrets never reach a log.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config").field("neon_url", &self.neon.url).finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ApiError> {
        let mut vars = RequiredVars::new(env);
        let neon = vars.neon();
        let upstash = vars.upstash();
        let key_text = vars.read("CART_COOKIE_KEY");
        let public_url = vars.read("PUBLIC_URL");
        let spin = vars.spin();
        vars.finish().map_err(|missing| missing.into_api_error(SERVICE))?;
        let cookie_key = CookieKey::from_base64url(&key_text)
            .map_err(|_| misconfigured(SERVICE, serde_json::json!({ "invalid": ["CART_COOKIE_KEY"] })))?;
        Ok(Config { neon, upstash, cookie_key, secure_cookies: public_url.starts_with("https://"), spin })
    }
}
