//! `POST /identity/passwords/hash` {password} → {hash}; `POST /identity/passwords/verify`
//! {password, hash} → {valid}. The password policy is checked by the caller and again here.

use serde::{Deserialize, Serialize};
use shared::api::{ApiError, ErrorCode};
use shared::identity::password::{self, Password};
use spin_platform::{Received, Response, error_response, json_response};

#[derive(Deserialize)]
struct HashRequest {
    password: String,
}

#[derive(Serialize)]
struct HashResponse {
    hash: String,
}

#[derive(Deserialize)]
struct VerifyRequest {
    password: String,
    hash: String,
}

#[derive(Serialize)]
struct VerifyResponse {
    valid: bool,
}

pub fn hash(request: &Received) -> Response {
    let result = parse::<HashRequest>(request).and_then(|body| {
        let password = Password::parse(&body.password)
            .map_err(|reason| ApiError::new(ErrorCode::ValidationFailed, reason.to_string()))?;
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|error| ApiError::new(ErrorCode::Internal, error.to_string()))?;
        password::hash_password(&password, salt).map_err(|error| ApiError::new(ErrorCode::Internal, error.to_string()))
    });
    match result {
        Ok(hash) => json_response(200, &HashResponse { hash }, &request.request_id),
        Err(error) => error_response(&error, &request.request_id),
    }
}

pub fn verify(request: &Received) -> Response {
    let result = parse::<VerifyRequest>(request).map(|body| {
        // A malformed stored hash or an out-of-policy password simply does not match.
        password::verify_password(&body.password, &body.hash).unwrap_or(false)
    });
    match result {
        Ok(valid) => json_response(200, &VerifyResponse { valid }, &request.request_id),
        Err(error) => error_response(&error, &request.request_id),
    }
}

fn parse<'a, T: Deserialize<'a>>(request: &'a Received) -> Result<T, ApiError> {
    serde_json::from_slice(&request.body)
        .map_err(|error| ApiError::new(ErrorCode::InvalidRequest, format!("invalid JSON body: {error}")))
}
