//! Maps method and path to a handler. Paths are matched in full (`/orders/...`), not through
//! Spin's `spin-path-info`, so the component behaves the same in any wasi:http host. Every route
//! but health is a signed internal call, checked here before anything is read.

use http::Method;
use shared::api::{ApiError, ErrorCode};
use spin_platform::{Response, error_response, receive, require_signature};
use spin_sdk::http::Request;

use crate::{REPLAY_TABLE, api, checkout, events, health, sweep};

/// Public API calls the gateway forwards (docs/adr/0006), signed as envelopes (`api`).
const FORWARDED_PREFIX: &str = "/orders/api/";

pub async fn route(request: Request) -> Response {
    let received = match receive(request).await {
        Ok(received) => received,
        Err(response) => return response,
    };
    if received.path().starts_with(FORWARDED_PREFIX) {
        return api::handle(&received).await;
    }
    let method = received.parts.method.clone();
    let allowed = match received.path() {
        "/orders/health" => Method::GET,
        "/orders/checkout" | "/orders/payment-events" | "/orders/sweep" => Method::POST,
        path => {
            let error = ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}"));
            return error_response(&error, &received.request_id);
        }
    };
    if method != allowed {
        let error = ApiError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed here; use {allowed}"));
        return error_response(&error, &received.request_id);
    }
    if received.path() != "/orders/health"
        && let Err(rejection) = require_signature(&received, REPLAY_TABLE).await
    {
        return error_response(&rejection.to_api_error(), &received.request_id);
    }
    match received.path() {
        "/orders/checkout" => checkout::handle(&received).await,
        "/orders/payment-events" => events::handle(&received).await,
        "/orders/sweep" => sweep::handle(&received).await,
        _ => health::handle(&received).await,
    }
}
