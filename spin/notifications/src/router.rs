//! Maps method and path to a handler. Paths are matched in full, as in `orders`, so the component
//! behaves the same in any wasi:http host.

use http::Method;
use shared::api::{ApiError, ErrorCode};
use spin_platform::{Response, error_response, receive};
use spin_sdk::http::Request;

use crate::{events, sweep};

pub async fn route(request: Request) -> Response {
    let received = match receive(request).await {
        Ok(received) => received,
        Err(response) => return response,
    };
    let post = received.parts.method == Method::POST;
    match received.path() {
        "/notifications/events" if post => events::handle(&received).await,
        "/notifications/sweep" if post => sweep::handle(&received).await,
        "/notifications/events" | "/notifications/sweep" => error_response(
            &ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed here; use POST", received.parts.method),
            ),
            &received.request_id,
        ),
        path => error_response(
            &ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}")),
            &received.request_id,
        ),
    }
}
