//! Maps method and path to a handler. Paths are matched in full (`/orders/...`), not through
//! Spin's `spin-path-info`, so the component behaves the same in any wasi:http host.

use http::Method;
use shared::api::ApiError;
use spin_platform::{Response, error_response, receive};
use spin_sdk::http::Request;

use crate::{api, health};

/// Public API calls the gateway forwards (docs/adr/0006).
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
    match received.path() {
        "/orders/health" if method == Method::GET => health::handle(&received).await,
        "/orders/health" => error_response(
            &ApiError::new(shared::api::ErrorCode::MethodNotAllowed, format!("{method} is not allowed here")),
            &received.request_id,
        ),
        path => error_response(
            &ApiError::new(shared::api::ErrorCode::RouteNotFound, format!("no route for {path}")),
            &received.request_id,
        ),
    }
}
