//! `POST /orders/checkout`, signed by the cart Worker (docs/adr/0009): the buyer's Idempotency-Key
//! and a new saga in one statement, then the saga driven as far as it goes now (to the payment's
//! answer, usually the end). Answers 201 paid, 202 still going (read the group later), or the
//! refusal that undid it. The saga's final save keeps its answer under the key, so a retry gets
//! the same bytes; a retry while it is still going gets where it stands now (202).

use shared::api::{ApiError, ErrorCode};
use shared::idempotency::idempotency_key_reused;
use shared::orders::checkout::CheckoutCall;
use shared::saga::{DEFAULT_TIMING, SagaId, SagaState};
use spin_platform::ids::{new_id, now_ms};
use spin_platform::respond::json_bytes_response;
use spin_platform::{Received, Response, config, database_failure, error_response, misconfigured};

use crate::runner::{CheckoutInput, DriveError, Runner};
use crate::saga_store::{self as store, Start};

pub async fn handle(request: &Received) -> Response {
    let call: CheckoutCall = match serde_json::from_slice(&request.body) {
        Ok(call) => call,
        Err(error) => {
            let error = ApiError::new(ErrorCode::InvalidRequest, format!("invalid checkout call: {error}"));
            return error_response(&error, &request.request_id);
        }
    };
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return misconfigured(&error, &request.request_id),
    };
    let Ok(saga_id) = SagaId::parse(&new_id("sga")) else {
        return error_response(&ApiError::new(ErrorCode::Internal, "internal error"), &request.request_id);
    };
    let (mut state, action) = SagaState::start(saga_id, now_ms(), DEFAULT_TIMING);
    let fingerprint = call.request.fingerprint();
    match store::start_checkout(&neon, &call.buyer_id, &call.idempotency_key, &fingerprint, &state).await {
        Ok(Start::New) => {}
        Ok(Start::Replay { status, body }) => return raw(status, &body, &request.request_id, true),
        Ok(Start::InProgress(saga)) => return in_progress(&neon, saga.as_ref(), &request.request_id).await,
        Ok(Start::Mismatch) => return error_response(&idempotency_key_reused(), &request.request_id),
        Err(error) => return database_failure(&error, &request.request_id),
    }
    let input = CheckoutInput {
        cart: call.cart,
        coupons: call.coupons,
        expected_total: call.request.expected_total,
        method: call.request.payment_method,
        shipping_address: call.request.shipping_address,
    };
    let mut runner = Runner::new(&neon, call.buyer_id.clone(), Some(&input), &request.request_id);
    match runner.drive(&mut state, action).await {
        Ok(()) => {}
        // Another runner (the payment's event) moved the saga on: answer where it stands now.
        Err(DriveError::Lost) => {
            if let Ok(Some(stored)) = store::load(&neon, state.saga_id()).await {
                state = stored.state;
            }
        }
        // The saga is saved up to its last step; the sweep carries it on.
        Err(error) => eprintln!("[{}] checkout {}: {error:?}", request.request_id, state.saga_id()),
    }
    let (status, body) = runner.answer(&state, Some(input.expected_total));
    raw(status, &body, &request.request_id, false)
}

/// Another request with the key is still working, or its checkout waits for the payment: where
/// that checkout stands now, never kept (it moves on).
async fn in_progress(neon: &crate::store::Neon, saga: Option<&SagaId>, request_id: &str) -> Response {
    let stored = match saga {
        Some(saga) => match store::load(neon, saga).await {
            Ok(stored) => stored,
            Err(error) => return database_failure(&error, request_id),
        },
        None => None,
    };
    let Some(stored) = stored else {
        let error = ApiError::new(ErrorCode::Conflict, "a checkout with this Idempotency-Key is in progress")
            .with_details(serde_json::json!({ "reason": "in_progress" }));
        return error_response(&error, request_id);
    };
    let (status, body) = Runner::new(neon, stored.buyer, None, request_id).answer(&stored.state, None);
    raw(status, &body, request_id, true)
}

/// The answer kept under the key: the bytes first answered are the bytes replayed.
fn raw(status: u16, body: &str, request_id: &str, replayed: bool) -> Response {
    let mut response = json_bytes_response(status, body.to_owned(), request_id);
    if replayed {
        response.headers_mut().insert("idempotent-replayed", http::HeaderValue::from_static("true"));
    }
    response
}
