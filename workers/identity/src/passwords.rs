//! Password hashing and verification, done by the Spin `identity` component: Argon2id costs tens of
//! milliseconds of CPU, far over a free Worker's budget (DESIGN §6, docs/adr/0003). Every call is
//! signed through `worker_platform::spin`, like every Worker's calls to Spin (`sub` = the full Spin URL).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::api::{ApiError, ErrorCode, ErrorEnvelope};
use worker_platform::respond::{self, REQUEST_ID_HEADER};
use worker_platform::spin::{SpinCall, SpinError, SpinSettings};

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
    spin: &'a SpinSettings,
    request_id: &'a str,
}

impl<'a> PasswordService<'a> {
    pub fn new(spin: &'a SpinSettings, request_id: &'a str) -> Self {
        Self { spin, request_id }
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
        let body = serde_json::to_vec(body).map_err(|error| internal(error.to_string()))?;
        let call = SpinCall::post_json(path, body).header(REQUEST_ID_HEADER, self.request_id).timeout(SPIN_TIMEOUT);
        let response = self.spin.client(SIGNATURE_ISSUER).send(call).await.map_err(|error| match error {
            SpinError::Sign(_) => internal(error.to_string()),
            SpinError::Transport(_) | SpinError::Timeout(_) => unavailable(error.to_string()),
        })?;
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
    respond::internal(format_args!("password service: {message}"))
}

fn unavailable(message: String) -> ApiError {
    worker::console_error!("password service unavailable: {message}");
    ApiError::new(ErrorCode::DependencyUnavailable, "the password service is unavailable")
}
