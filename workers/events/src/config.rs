//! Bindings this Worker needs, read from `Env` (vars and secrets).

use worker::Env;

pub struct Config {
    /// Spin's origin without a trailing slash, as Spin sees it (the signature's `sub`).
    pub spin_url: String,
    pub webhook_key_current: String,
}

impl Config {
    /// Err names what is missing.
    pub fn from_env(env: &Env) -> Result<Self, String> {
        let read = |name: &str| env.secret(name).map(|value| value.to_string()).map_err(|_| name.to_owned());
        match (read("SPIN_URL"), read("WEBHOOK_KEY_CURRENT")) {
            (Ok(spin_url), Ok(webhook_key_current)) => {
                Ok(Config { spin_url: spin_url.trim_end_matches('/').to_owned(), webhook_key_current })
            }
            (spin, key) => {
                let missing: Vec<String> = [spin.err(), key.err()].into_iter().flatten().collect();
                Err(format!("missing configuration: {}", missing.join(", ")))
            }
        }
    }
}
