//! Maps method and path to a handler. Paths are matched in full (`/payments/...`), as in the other
//! components, so the component behaves the same in any wasi:http host. Every route but the
//! provider's webhook is signed (`Upstash-Signature`), checked here before anything is read.

use http::Method;
use shared::api::{ApiError, ErrorCode};
use shared::payments::PaymentId;
use spin_platform::{Response, error_response, receive, require_signature};
use spin_sdk::http::Request;

use crate::{REPLAY_TABLE, accounts, intents, journals, refunds, sweep, void, webhook};

enum Route {
    CreateIntent,
    GetIntent(PaymentId),
    VoidIntent(PaymentId),
    StripeWebhook,
    RecordLedger,
    CreateRefund,
    CreateAccount,
    Sweep,
}

pub async fn route(request: Request) -> Response {
    let received = match receive(request).await {
        Ok(received) => received,
        Err(response) => return response,
    };
    let route = match resolve(&received.parts.method, received.path()) {
        Ok(route) => route,
        Err(error) => return error_response(&error, &received.request_id),
    };
    if !matches!(route, Route::StripeWebhook)
        && let Err(rejection) = require_signature(&received, REPLAY_TABLE).await
    {
        return error_response(&rejection.to_api_error(), &received.request_id);
    }
    match route {
        Route::CreateIntent => intents::create(&received).await,
        Route::GetIntent(payment_id) => intents::get(&received, &payment_id).await,
        Route::VoidIntent(payment_id) => void::handle(&received, &payment_id).await,
        Route::StripeWebhook => webhook::handle(&received).await,
        Route::RecordLedger => journals::handle(&received).await,
        Route::CreateRefund => refunds::handle(&received).await,
        Route::CreateAccount => accounts::handle(&received).await,
        Route::Sweep => sweep::handle(&received).await,
    }
}

fn resolve(method: &Method, path: &str) -> Result<Route, ApiError> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let post = method == Method::POST;
    let get = method == Method::GET;
    let payment =
        |id: &str| PaymentId::parse(id).map_err(|_| ApiError::new(ErrorCode::NotFound, format!("no payment {id:?}")));
    let route = match segments.as_slice() {
        ["payments", "intents"] if post => Route::CreateIntent,
        ["payments", "intents", id] if get => Route::GetIntent(payment(id)?),
        ["payments", "intents", id, "void"] if post => Route::VoidIntent(payment(id)?),
        ["payments", "webhooks", "stripe"] if post => Route::StripeWebhook,
        ["payments", "journals"] if post => Route::RecordLedger,
        ["payments", "refunds"] if post => Route::CreateRefund,
        ["payments", "accounts"] if post => Route::CreateAccount,
        ["payments", "sweep"] if post => Route::Sweep,
        ["payments", "intents", _]
        | ["payments", "intents", _, "void"]
        | ["payments", "intents" | "journals" | "refunds" | "accounts" | "sweep"]
        | ["payments", "webhooks", "stripe"] => {
            return Err(ApiError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed here")));
        }
        _ => return Err(ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}"))),
    };
    Ok(route)
}
