//! Requests this component signs (DESIGN §5): `Upstash-Signature` over the exact URL and body with
//! the current key and a fresh `jti`, the format every receiver of ours checks.

use std::time::{SystemTime, UNIX_EPOCH};

use shared::transport::{HttpRequest, HttpResponse, HttpTransport, Method, TransportError};
use shared::webhook::{self, SignError, SignRequest, SigningKey};
use thiserror::Error;

use crate::config::{self, ConfigError, Var};
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
pub async fn post_json(issuer: &str, url: &str, body: Vec<u8>) -> Result<HttpResponse, SignedCallError> {
    let key = SigningKey::new(config::get(Var::WebhookKeyCurrent).await?);
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|error| SignedCallError::Random(error.to_string()))?;
    let jti = webhook::jti_from_random(random);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let signature = webhook::sign(&key, SignRequest { issuer, url, body: &body, now, jti: &jti })?;
    let request = HttpRequest::new(Method::Post, url)
        .header("content-type", "application/json")
        .header(webhook::SIGNATURE_HEADER, signature)
        .body(body);
    Ok(SpinTransport.send(request).await?)
}
