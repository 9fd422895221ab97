//! Requests this component signs (DESIGN §5): `Upstash-Signature` over the exact URL and body with
//! the current key and a fresh `jti`, the format every receiver of ours checks.

use shared::transport::{HttpResponse, HttpTransport, Method, TransportError};
use shared::webhook::{self, SignError, SignRequest, SigningKey};
use thiserror::Error;

use crate::config::{self, ConfigError, Var};
use crate::respond::unix_now;
use crate::transport::SpinTransport;

#[derive(Debug, Error)]
pub enum SignedCallError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("no randomness for the token id: {0}")]
    Random(String),
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// POSTs JSON `body` to `url`, signed as `issuer`; any HTTP answer is `Ok`.
pub async fn post_json(issuer: &str, url: &str, body: &[u8]) -> Result<HttpResponse, SignedCallError> {
    send(issuer, Method::Post, url, body).await
}

/// A signed GET (the signature covers the URL and the empty body).
pub async fn get(issuer: &str, url: &str) -> Result<HttpResponse, SignedCallError> {
    send(issuer, Method::Get, url, b"").await
}

async fn send(issuer: &str, method: Method, url: &str, body: &[u8]) -> Result<HttpResponse, SignedCallError> {
    let key = SigningKey::new(config::get(Var::WebhookKeyCurrent).await?);
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|error| SignedCallError::Random(error.to_string()))?;
    let jti = webhook::jti_from_random(random);
    let request = webhook::signed_request(&key, method, SignRequest { issuer, url, body, now: unix_now(), jti: &jti })?
        .header("content-type", "application/json");
    Ok(SpinTransport.send(request).await?)
}
