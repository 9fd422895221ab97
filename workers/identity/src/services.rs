//! Everything a handler talks to, built once per request from `Env`.

use shared::identity::access_token::AccessTokenIssuer;
use shared::neon::NeonClient;
use shared::upstash::UpstashClient;
use worker::Env;
use worker_platform::fetch::FetchTransport;

use crate::config::Config;
use crate::limits::Limiter;
use crate::passwords::PasswordService;
use crate::store::Store;

pub struct Services {
    pub env: Env,
    pub config: Config,
    pub store: Store,
    pub upstash: UpstashClient<FetchTransport>,
    pub request_id: String,
    /// As the gateway saw it (`x-client-ip`); empty if it sent none.
    pub client_ip: String,
}

impl Services {
    pub fn new(env: Env, config: Config, request_id: String, client_ip: String) -> Self {
        let neon = NeonClient::from_config(FetchTransport, config.neon.clone());
        let upstash = UpstashClient::new(FetchTransport, &config.upstash.url, &config.upstash.token);
        Self { env, config, store: Store::new(neon), upstash, request_id, client_ip }
    }

    pub fn passwords(&self) -> PasswordService<'_> {
        PasswordService::new(&self.config.spin, &self.request_id)
    }

    pub fn limiter(&self) -> Limiter<'_> {
        Limiter::new(&self.upstash, &self.config.rate_limit_key, &self.client_ip)
    }

    pub fn token_issuer(&self) -> AccessTokenIssuer {
        AccessTokenIssuer::from_seed(self.config.jwt_signing_seed, &self.config.jwt_key_id)
            .with_issuer(&self.config.jwt_issuer)
            .with_audience(&self.config.jwt_audience)
    }

    /// `PUBLIC_URL` + path + `?token=…` (the token is base64url: no escaping needed).
    pub fn link(&self, path: &str, token: &str) -> String {
        format!("{}{path}?token={token}", self.config.public_url)
    }
}
