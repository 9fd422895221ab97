//! JSON responses, DESIGN §8's error envelope and the `x-request-id` every response carries.

use std::fmt::Display;

use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::ids::is_acceptable_request_id;
use shared::neon::NeonError;
use worker::{Headers, Request, Response, Result};

use crate::random;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Keeps the caller's id so a trace spans services; otherwise mints one.
pub fn request_id(request: &Request) -> String {
    match request.headers().get(REQUEST_ID_HEADER) {
        Ok(Some(id)) if is_acceptable_request_id(&id) => id,
        _ => random::new_id("req"),
    }
}

/// Responses from service bindings have immutable headers, so the id goes on a copy.
pub fn with_request_id(response: Response, request_id: &str) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    headers.set(REQUEST_ID_HEADER, request_id)?;
    Ok(response.with_headers(headers))
}

/// An already-encoded JSON body with its content type.
pub fn json(status: u16, body: String) -> Result<Response> {
    let mut response = Response::ok(body)?.with_status(status);
    response.headers_mut().set("content-type", "application/json")?;
    Ok(response)
}

/// `body` as JSON; failing to encode it is `SYS_9001`.
pub fn json_of<T: Serialize>(status: u16, body: &T) -> std::result::Result<Response, ApiError> {
    let body = serde_json::to_string(body).map_err(internal)?;
    json(status, body).map_err(internal)
}

/// The error envelope with the code's HTTP status.
pub fn error(error: &ApiError, request_id: &str) -> Result<Response> {
    json(error.status(), error.to_json(request_id))
}

/// Logged in full; the client sees only that something went wrong (`SYS_9001`).
pub fn internal(message: impl Display) -> ApiError {
    worker::console_error!("internal error: {message}");
    ApiError::new(ErrorCode::Internal, "internal error")
}

/// A dependency is down (`EXT_6001`); the cause is logged, the client learns only which.
pub fn unavailable(what: &str, message: impl Display) -> ApiError {
    worker::console_error!("{what} unavailable: {message}");
    ApiError::new(ErrorCode::DependencyUnavailable, format!("{what} is unavailable"))
}

/// The database failing is an outage when it may pass, a bug otherwise (e.g. a bad statement).
pub fn database_failure(error: &NeonError) -> ApiError {
    if error.is_transient() || matches!(error, NeonError::Unauthorized { .. }) {
        unavailable("the database", error)
    } else {
        internal(format_args!("database: {error}"))
    }
}
