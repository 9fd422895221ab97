//! Routes requests by the table in `routes.rs`, checks access, stamps every response with
//! `x-request-id` and renders errors as the envelope.

use crate::auth::{self, TokenSettings};
use crate::routes::{self, Lookup, Target};
use crate::{config::Config, forward, health, platform};
use shared::api::{ApiError, ErrorCode};
use shared::ids::is_acceptable_request_id;
use worker::{Env, Headers, Request, Response, Result};

const REQUEST_ID_HEADER: &str = "x-request-id";

pub async fn handle(request: Request, env: Env) -> Result<Response> {
    let request_id = request_id_for(&request);
    let response = match route(&request, &env, &request_id).await {
        Ok(response) => response,
        Err(error) => error_response(&error, &request_id)?,
    };
    with_request_id(response, &request_id)
}

async fn route(request: &Request, env: &Env, request_id: &str) -> std::result::Result<Response, ApiError> {
    let path = request.path();
    let route = match routes::find(&request.method(), &path) {
        Lookup::Found(route) => route,
        Lookup::WrongMethod => {
            return Err(ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed here", request.method()),
            ));
        }
        Lookup::NotFound => return Err(ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}"))),
    };
    let identity = auth::authorize(request, env, route.access, &token_settings(env)).await?;
    match route.target {
        Target::Health => {
            let config = Config::from_env(env)?;
            let report = health::check_all(&config).await;
            json_response(&report, report.http_status())
        }
        Target::Identity => forward::to_service("IDENTITY", request, env, identity.as_ref(), request_id).await,
    }
}

fn token_settings(env: &Env) -> TokenSettings {
    let var = |name: &str, default: &str| env.var(name).map(|value| value.to_string()).unwrap_or(default.to_owned());
    TokenSettings {
        issuer: var("JWT_ISSUER", shared::identity::access_token::DEFAULT_ISSUER),
        audience: var("JWT_AUDIENCE", shared::identity::access_token::DEFAULT_AUDIENCE),
    }
}

/// Keeps a caller's id so a trace spans services; otherwise mints one.
fn request_id_for(request: &Request) -> String {
    match request.headers().get(REQUEST_ID_HEADER) {
        Ok(Some(id)) if is_acceptable_request_id(&id) => id,
        _ => platform::new_id("req"),
    }
}

/// Responses from service bindings have immutable headers, so the id goes on a copy.
fn with_request_id(response: Response, request_id: &str) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    headers.set(REQUEST_ID_HEADER, request_id)?;
    Ok(response.with_headers(headers))
}

fn json_response<T: serde::Serialize>(body: &T, status: u16) -> std::result::Result<Response, ApiError> {
    Response::from_json(body)
        .map(|response| response.with_status(status))
        .map_err(|error| ApiError::new(ErrorCode::Internal, error.to_string()))
}

fn error_response(error: &ApiError, request_id: &str) -> Result<Response> {
    let mut response = Response::ok(error.to_json(request_id))?.with_status(error.status());
    response.headers_mut().set("content-type", "application/json")?;
    Ok(response)
}
