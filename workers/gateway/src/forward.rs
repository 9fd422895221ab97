//! Hands a request to an internal Worker through its service binding, with the verified caller
//! attached (`worker_platform::forwarded`), so only the gateway can say who is calling.

use shared::api::{ApiError, ErrorCode};
use shared::identity::access_token::VerifiedIdentity;
use worker::{Env, Request, Response};
use worker_platform::forwarded;

pub async fn to_service(
    binding: &str,
    request: &Request,
    env: &Env,
    identity: Option<&VerifiedIdentity>,
    request_id: &str,
) -> Result<Response, ApiError> {
    let internal = |error: worker::Error| ApiError::new(ErrorCode::Internal, error.to_string());
    let mut forwarded = request.clone_mut().map_err(internal)?;
    // Set by Cloudflare's edge (and by wrangler locally); rate limits key on it.
    let client_ip = request.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_default();
    forwarded::stamp(forwarded.headers_mut().map_err(internal)?, identity, &client_ip, request_id).map_err(internal)?;
    let service = env.service(binding).map_err(|error| {
        ApiError::new(ErrorCode::Misconfigured, format!("service binding {binding} is missing: {error}"))
    })?;
    service
        .fetch_request(forwarded)
        .await
        .map_err(|error| ApiError::new(ErrorCode::DependencyUnavailable, format!("{binding} did not answer: {error}")))
}
