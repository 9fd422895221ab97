//! Public API calls the gateway forwards to this component (docs/adr/0006): a signed `POST` to
//! `/orders/api/v1/…` carrying the client's method, path, query, body and the verified caller.
//!
//! - `GET /api/v1/orders`, `GET /api/v1/orders/{group_id}`: the buyer's ([`crate::buyer`]);
//! - `GET /api/v1/vendor/orders`, `GET /api/v1/vendor/orders/{order_id}`,
//!   `POST /api/v1/vendor/orders/{order_id}/{processing|ship|deliver|cancel}`: the vendor's
//!   ([`crate::vendor`]).

use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::forwarding::{ApiMethod, Forwarded};
use shared::neon::NeonError;
use spin_platform::{ConfigError, Received, Response, database_failure, error_response, json_response, misconfigured};

use crate::{COMPONENT, REPLAY_TABLE, buyer, vendor};

const BUYER_ORDERS: &str = "/api/v1/orders";
const VENDOR_ORDERS: &str = "/api/v1/vendor/orders";

pub async fn handle(request: &Received) -> Response {
    let call = match spin_platform::receive_forwarded(request, COMPONENT, REPLAY_TABLE).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    let result = route(&call).await;
    answer(request, result)
}

async fn route(call: &Forwarded) -> Result<Reply, Failure> {
    let method = call.method;
    if let Some(rest) = segments(&call.path, VENDOR_ORDERS) {
        return match (method, rest.as_slice()) {
            (ApiMethod::Get, []) => vendor::list(call).await,
            (ApiMethod::Get, [order]) => vendor::get(call, order).await,
            (ApiMethod::Post, [order, action]) => vendor::act(call, order, action).await,
            (_, [] | [_]) => Err(wrong_method("GET")),
            (_, [_, _]) => Err(wrong_method("POST")),
            _ => Err(no_route(&call.path)),
        };
    }
    if let Some(rest) = segments(&call.path, BUYER_ORDERS) {
        return match (method, rest.as_slice()) {
            (ApiMethod::Get, []) => buyer::list(call).await,
            (ApiMethod::Get, [group]) => buyer::get(call, group).await,
            (_, [] | [_]) => Err(wrong_method("GET")),
            _ => Err(no_route(&call.path)),
        };
    }
    Err(no_route(&call.path))
}

/// The segments after `prefix`; `None` when the path is not under it or has an empty segment.
fn segments<'a>(path: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let rest = path.strip_prefix(prefix)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let parts: Vec<&str> = rest.split('/').skip(1).collect();
    (!parts.iter().any(|part| part.is_empty())).then_some(parts)
}

fn wrong_method(allowed: &str) -> Failure {
    Failure::Api(ApiError::new(ErrorCode::MethodNotAllowed, format!("use {allowed}")))
}

fn no_route(path: &str) -> Failure {
    Failure::Api(ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}")))
}

/// A handler's successful answer: 200 with this JSON.
pub struct Reply(serde_json::Value);

impl Reply {
    pub fn json(value: &impl Serialize) -> Result<Self, Failure> {
        serde_json::to_value(value)
            .map(Reply)
            .map_err(|error| Failure::Api(ApiError::new(ErrorCode::Internal, format!("cannot encode: {error}"))))
    }
}

/// Why a handler could not answer; `?` turns the component's errors into one.
#[derive(Debug)]
pub enum Failure {
    /// An answer for the caller, as is.
    Api(ApiError),
    Neon(NeonError),
    Config(ConfigError),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure::Api(error)
    }
}

impl From<shared::catalog::validation::FieldErrors> for Failure {
    fn from(errors: shared::catalog::validation::FieldErrors) -> Self {
        Failure::Api(errors.to_api_error())
    }
}

impl From<NeonError> for Failure {
    fn from(error: NeonError) -> Self {
        Failure::Neon(error)
    }
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Self {
        Failure::Config(error)
    }
}

impl From<shared::orders::TransitionError> for Failure {
    fn from(error: shared::orders::TransitionError) -> Self {
        Failure::Api(error.to_api_error())
    }
}

impl Failure {
    /// `RES_4004`: unknown, malformed or someone else's — the caller cannot tell which.
    pub fn not_found(what: &str) -> Self {
        Failure::Api(ApiError::new(ErrorCode::NotFound, format!("{what} not found")))
    }

    /// `RES_4003` with a stable `details.reason`.
    pub fn conflict(reason: &str, message: impl Into<String>) -> Self {
        Failure::Api(ApiError::new(ErrorCode::Conflict, message).with_details(serde_json::json!({"reason": reason})))
    }
}

fn answer(request: &Received, result: Result<Reply, Failure>) -> Response {
    match result {
        Ok(Reply(value)) => json_response(200, &value, &request.request_id),
        Err(Failure::Api(error)) => error_response(&error, &request.request_id),
        Err(Failure::Neon(error)) => database_failure(&error, &request.request_id),
        Err(Failure::Config(error)) => misconfigured(&error, &request.request_id),
    }
}
