//! Password hashing and verification, done by the Spin `identity` component: Argon2id costs tens of
//! milliseconds of CPU, far over a free Worker's budget (DESIGN §6, docs/adr/0003). Every call is
//! signed exactly as the gateway signs its Spin calls (`sub` = the full Spin URL).

use std::time::Duration;

use futures_util::future::{Either, select};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::api::{ApiError, ErrorCode, ErrorEnvelope};
use shared::transport::{HttpRequest, HttpTransport, Method, ReqwestTransport};
use shared::webhook::{self, SignRequest, SigningKey};

use crate::config::Config;
use crate::platform;

const HASH_PATH: &str = "/identity/passwords/hash";
const VERIFY_PATH: &str = "/identity/passwords/verify";
const SIGNATURE_ISSUER: &str = "marketplace-identity";
/// Argon2id takes ~50 ms; a hung core must not hold a login open for the runtime's whole limit.
const SPIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Serialize)]
struct HashRequest<'a> {
    password: &'a str,
}

#[derive(Deserialize)]
struct HashResponse {
    hash: String,
}

#[derive(Serialize)]
struct VerifyRequest<'a> {
    password: &'a str,
    hash: &'a str,
}

#[derive(Deserialize)]
struct VerifyResponse {
    valid: bool,
}

pub struct PasswordService<'a> {
    config: &'a Config,
    request_id: &'a str,
}

impl<'a> PasswordService<'a> {
    pub fn new(config: &'a Config, request_id: &'a str) -> Self {
        Self { config, request_id }
    }

    /// An Argon2id PHC string for a password that already passed the policy.
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let reply: HashResponse = self.call(HASH_PATH, &HashRequest { password }).await?;
        Ok(reply.hash)
    }

    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, ApiError> {
        let reply: VerifyResponse = self.call(VERIFY_PATH, &VerifyRequest { password, hash }).await?;
        Ok(reply.valid)
    }

    async fn call<B: Serialize, R: DeserializeOwned>(&self, path: &str, body: &B) -> Result<R, ApiError> {
        let url = format!("{}{path}", self.config.spin_url);
        let body = serde_json::to_vec(body).map_err(|error| internal(error.to_string()))?;
        let signature = webhook::sign(
            &SigningKey::new(self.config.webhook_key_current.as_bytes()),
            SignRequest {
                issuer: SIGNATURE_ISSUER,
                url: &url,
                body: &body,
                now: platform::now_unix_seconds(),
                jti: &platform::new_id("sig"),
            },
        )
        .map_err(|error| internal(error.to_string()))?;
        let request = HttpRequest::new(Method::Post, &url)
            .header("content-type", "application/json")
            .header("x-request-id", self.request_id)
            .header(webhook::SIGNATURE_HEADER, signature)
            .body(body);
        let transport = ReqwestTransport::default();
        let sent = Box::pin(transport.send(request));
        let response = match select(sent, worker::Delay::from(SPIN_TIMEOUT)).await {
            Either::Left((Ok(response), _)) => response,
            Either::Left((Err(error), _)) => return Err(unavailable(error.to_string())),
            Either::Right(_) => return Err(unavailable(format!("no answer within {}s", SPIN_TIMEOUT.as_secs()))),
        };
        if response.status == 200 {
            return serde_json::from_slice(&response.body).map_err(|error| unavailable(error.to_string()));
        }
        // A policy refusal from Spin is the caller's fault and keeps its code; anything else is an outage.
        match serde_json::from_slice::<ErrorEnvelope>(&response.body) {
            Ok(envelope) if envelope.error.code == ErrorCode::ValidationFailed => {
                let error = ApiError::new(envelope.error.code, envelope.error.message);
                Err(match envelope.error.details {
                    Some(details) => error.with_details(details),
                    None => error,
                })
            }
            _ => Err(unavailable(format!("{path} answered {}", response.status))),
        }
    }
}

fn internal(message: String) -> ApiError {
    worker::console_error!("password service: {message}");
    ApiError::new(ErrorCode::Internal, "internal error")
}

fn unavailable(message: String) -> ApiError {
    worker::console_error!("password service unavailable: {message}");
    ApiError::new(ErrorCode::DependencyUnavailable, "the password service is unavailable")
}
