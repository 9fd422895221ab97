//! Hands a request to an internal Worker through its service binding, with the verified caller
//! attached. Caller-supplied `x-auth-*` headers are always dropped first, so only the gateway can
//! say who is calling.

use shared::api::{ApiError, ErrorCode};
use shared::identity::access_token::VerifiedIdentity;
use worker::{Env, Request, Response};

pub const AUTH_HEADERS: [&str; 4] = ["x-auth-user-id", "x-auth-role", "x-auth-vendor-id", "x-auth-scope"];

pub async fn to_service(
    binding: &str,
    request: &Request,
    env: &Env,
    identity: Option<&VerifiedIdentity>,
    request_id: &str,
) -> Result<Response, ApiError> {
    let internal = |error: worker::Error| ApiError::new(ErrorCode::Internal, error.to_string());
    let mut forwarded = request.clone_mut().map_err(internal)?;
    let headers = forwarded.headers_mut().map_err(internal)?;
    for name in AUTH_HEADERS {
        headers.delete(name).map_err(internal)?;
    }
    headers.set("x-request-id", request_id).map_err(internal)?;
    // Set by Cloudflare's edge (and by wrangler locally); rate limits key on it.
    let client_ip = request.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_default();
    headers.set("x-client-ip", &client_ip).map_err(internal)?;
    if let Some(identity) = identity {
        let scope: Vec<&str> = identity.roles.iter().map(|role| role.as_str()).collect();
        headers.set("x-auth-user-id", &identity.user_id).map_err(internal)?;
        headers.set("x-auth-role", identity.role.as_str()).map_err(internal)?;
        headers.set("x-auth-scope", &scope.join(" ")).map_err(internal)?;
        if let Some(vendor_id) = &identity.vendor_id {
            headers.set("x-auth-vendor-id", vendor_id).map_err(internal)?;
        }
    }
    let service = env.service(binding).map_err(|error| {
        ApiError::new(ErrorCode::Misconfigured, format!("service binding {binding} is missing: {error}"))
    })?;
    service
        .fetch_request(forwarded)
        .await
        .map_err(|error| ApiError::new(ErrorCode::DependencyUnavailable, format!("{binding} did not answer: {error}")))
}
