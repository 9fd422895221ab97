//! Maps method and path to a handler; every route is signed.

use http::Method;
use shared::api::{ApiError, ErrorCode};
use spin_platform::{Response, error_response, receive, require_signature};
use spin_sdk::http::Request;

use crate::{REPLAY_TABLE, passwords};

pub async fn route(request: Request) -> Response {
    let received = match receive(request).await {
        Ok(received) => received,
        Err(response) => return response,
    };
    let handler = match (received.parts.method.clone(), received.path()) {
        (Method::POST, "/identity/passwords/hash") => passwords::hash,
        (Method::POST, "/identity/passwords/verify") => passwords::verify,
        (_, "/identity/passwords/hash" | "/identity/passwords/verify") => {
            let error = ApiError::new(ErrorCode::MethodNotAllowed, "use POST");
            return error_response(&error, &received.request_id);
        }
        (_, path) => {
            let error = ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}"));
            return error_response(&error, &received.request_id);
        }
    };
    if let Err(rejection) = require_signature(&received, REPLAY_TABLE).await {
        return error_response(&rejection.to_api_error(), &received.request_id);
    }
    handler(&received)
}
