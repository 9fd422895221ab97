//! Hands a request on: to an internal Worker through its service binding, with the verified caller
//! attached (`worker_platform::forwarded`), or to a Spin component in a signed envelope
//! (`shared::forwarding`); either way only the gateway can say who is calling.

use std::time::Duration;

use shared::api::{ApiError, ErrorCode};
use shared::forwarding::{ApiMethod, Forwarded, MAX_FORWARDED_BODY_BYTES};
use shared::identity::access_token::VerifiedIdentity;
use shared::identity::principal::Principal;
use worker::{Env, Request, Response};
use worker_platform::request::{idempotency_key, read_body};
use worker_platform::spin::{SpinCall, SpinError};
use worker_platform::{forwarded, respond};

use crate::config::Config;

pub async fn to_service(
    binding: &str,
    request: &Request,
    env: &Env,
    identity: Option<&VerifiedIdentity>,
    request_id: &str,
) -> Result<Response, ApiError> {
    let mut forwarded = request.clone_mut().map_err(respond::internal)?;
    // Set by Cloudflare's edge (and by wrangler locally); rate limits key on it.
    let client_ip = request.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_default();
    let headers = forwarded.headers_mut().map_err(respond::internal)?;
    forwarded::stamp(headers, identity, &client_ip, request_id).map_err(respond::internal)?;
    let service = env.service(binding).map_err(|error| {
        ApiError::new(ErrorCode::Misconfigured, format!("service binding {binding} is missing: {error}"))
    })?;
    service.fetch_request(forwarded).await.map_err(|error| respond::unavailable(binding, error))
}

/// Longer than any inventory or checkout call takes; short enough that a hung core answers 503
/// well inside the client's patience.
const SPIN_TIMEOUT: Duration = Duration::from_secs(25);
const SIGNATURE_ISSUER: &str = "marketplace-gateway";

/// Hands a public API call to a Spin component: the client's method, path, query, body and
/// `Idempotency-Key` and the verified caller go in one signed envelope (docs/adr/0006), because the
/// signature covers only the URL and the body. Spin's answer is passed back as it is.
pub async fn to_spin(
    component: &str,
    request: &Request,
    config: &Config,
    identity: Option<&VerifiedIdentity>,
    request_id: &str,
) -> Result<Response, ApiError> {
    let path = request.path();
    let spin_path = Forwarded::spin_path(component, &path)
        .ok_or_else(|| ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}")))?;
    let method = ApiMethod::parse(request.method().as_ref()).ok_or_else(|| {
        ApiError::new(ErrorCode::MethodNotAllowed, format!("{} is not allowed here", request.method()))
    })?;
    let idempotency_key = idempotency_key(request)?;
    let principal = identity
        .map(Principal::try_from)
        .transpose()
        .map_err(|_| ApiError::new(ErrorCode::TokenInvalid, "the access token is invalid"))?;
    let query = request.url().map_err(respond::internal)?;
    let query = query.query().unwrap_or_default().to_owned();
    let mut copy = request.clone_mut().map_err(respond::internal)?;
    let body = read_body(&mut copy, MAX_FORWARDED_BODY_BYTES).await?;
    let body = if body.is_empty() {
        None
    } else {
        Some(
            String::from_utf8(body)
                .map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "the body is not UTF-8 text"))?,
        )
    };
    let envelope = Forwarded { method, path, query, principal, idempotency_key, body };
    let call =
        SpinCall::post_json(&spin_path, envelope.to_json()).header("x-request-id", request_id).timeout(SPIN_TIMEOUT);
    let answer = match config.spin.client(SIGNATURE_ISSUER).send(call).await {
        Ok(answer) => answer,
        Err(SpinError::Sign(error)) => return Err(respond::internal(error)),
        Err(error) => return Err(respond::unavailable(component, error)),
    };
    worker_platform::spin::relay(answer)
}
