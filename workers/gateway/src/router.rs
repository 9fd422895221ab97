//! Routes requests, stamps every response with `x-request-id` and renders errors as the envelope.

use crate::{config::Config, health, platform};
use shared::api::{ApiError, ErrorCode};
use shared::ids::is_acceptable_request_id;
use worker::{Env, Method, Request, Response, Result};

const REQUEST_ID_HEADER: &str = "x-request-id";

pub async fn handle(request: Request, env: Env) -> Result<Response> {
    let request_id = request_id_for(&request);
    let mut response = match route(&request, &env).await {
        Ok(response) => response,
        Err(error) => error_response(&error, &request_id)?,
    };
    response.headers_mut().set(REQUEST_ID_HEADER, &request_id)?;
    Ok(response)
}

async fn route(request: &Request, env: &Env) -> std::result::Result<Response, ApiError> {
    let path = request.path();
    match (request.method(), path.as_str()) {
        (Method::Get, "/api/v1/health") => {
            let config = Config::from_env(env)?;
            let report = health::check_all(&config).await;
            json_response(&report, report.http_status())
        }
        (_, "/api/v1/health") => Err(ApiError::new(ErrorCode::MethodNotAllowed, "use GET")),
        _ => Err(ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}"))),
    }
}

/// Keeps a caller's id so a trace spans services; otherwise mints one.
fn request_id_for(request: &Request) -> String {
    match request.headers().get(REQUEST_ID_HEADER) {
        Ok(Some(id)) if is_acceptable_request_id(&id) => id,
        _ => platform::new_id("req"),
    }
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
