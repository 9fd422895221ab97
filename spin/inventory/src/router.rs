//! Maps method and path to a handler. Paths are matched in full, as in the other components.
//! Internal routes are signed JSON calls from trusted callers; `/inventory/api/…` are the public
//! vendor routes, forwarded by the gateway with the caller inside the signed body.

use http::Method;
use serde::de::DeserializeOwned;
use shared::api::{ApiError, ErrorCode};
use shared::neon::NeonError;
use spin_platform::{Received, Response, database_failure, error_response, receive, require_signature};
use spin_sdk::http::Request;

use crate::{REPLAY_TABLE, reservations, stock, sweep, vendor};

const FORWARDED_PREFIX: &str = "/inventory/api/";

#[derive(Clone, Copy)]
enum Internal {
    Reserve,
    Release,
    ReleaseVendor,
    Consume,
    SetStock,
    InitialStock,
    Sweep,
}

pub async fn route(request: Request) -> Response {
    let received = match receive(request).await {
        Ok(received) => received,
        Err(response) => return response,
    };
    if received.path().starts_with(FORWARDED_PREFIX) {
        return vendor::handle(&received).await;
    }
    let internal = match received.path() {
        "/inventory/reservations" => Internal::Reserve,
        "/inventory/reservations/release" => Internal::Release,
        "/inventory/reservations/release-vendor" => Internal::ReleaseVendor,
        "/inventory/reservations/consume" => Internal::Consume,
        "/inventory/stock/set" => Internal::SetStock,
        "/inventory/stock/initial" => Internal::InitialStock,
        "/inventory/sweep" => Internal::Sweep,
        path => {
            let error = ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}"));
            return error_response(&error, &received.request_id);
        }
    };
    if received.parts.method != Method::POST {
        let error = ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{} is not allowed here; use POST", received.parts.method),
        );
        return error_response(&error, &received.request_id);
    }
    match internal {
        Internal::Reserve => reservations::reserve(&received).await,
        Internal::Release => reservations::release(&received).await,
        Internal::ReleaseVendor => reservations::release_vendor(&received).await,
        Internal::Consume => reservations::consume(&received).await,
        Internal::SetStock => stock::set(&received).await,
        Internal::InitialStock => stock::initial(&received).await,
        Internal::Sweep => sweep::handle(&received).await,
    }
}

/// The signed JSON body of an internal call as `T`. `Err` is the answer: 401 with nothing
/// processed, or `VAL_3001` for a body that is not a `T`.
pub async fn verified<T: DeserializeOwned>(request: &Received) -> Result<T, Response> {
    signed(request).await?;
    serde_json::from_slice(&request.body).map_err(|error| {
        error_response(
            &ApiError::new(ErrorCode::InvalidRequest, format!("invalid JSON body: {error}")),
            &request.request_id,
        )
    })
}

/// Only a valid, unused signature for this URL and body passes; `Err` is the 401 to answer.
pub async fn signed(request: &Received) -> Result<(), Response> {
    match require_signature(request, REPLAY_TABLE).await {
        Ok(_) => Ok(()),
        Err(rejection) => Err(error_response(&rejection.to_api_error(), &request.request_id)),
    }
}

/// A refusal of the inventory functions as its API error (409 short stock, 404 not this vendor's…);
/// anything else is an outage or our bug.
pub fn failure(error: &NeonError, request_id: &str) -> Response {
    match shared::inventory::errors::refusal(error) {
        Some(refusal) => error_response(&refusal, request_id),
        None => database_failure(error, request_id),
    }
}
