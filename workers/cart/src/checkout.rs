//! `POST /api/v1/checkout` (docs/adr/0009): the signed-in buyer's cart, priced now, goes with the
//! buyer's request and Idempotency-Key to the `orders` saga in one signed call; its answer is the
//! client's. The cart itself is untouched here: what was bought leaves it when the saga's
//! `orders.order_placed` comes back (workers/events).

use std::time::Duration;

use shared::api::{ApiError, ErrorCode};
use shared::catalog::validation::FieldErrors;
use shared::idempotency::IdempotencyKey;
use shared::orders::checkout::{CheckoutCall, CheckoutRequest};
use shared::orders::{BuyerId, CheckoutRefusal};
use worker::{Request, Response};
use worker_platform::spin::{SpinCall, SpinError, relay};
use worker_platform::{request as body, respond};

use crate::handlers::{self, Context};

const PATH: &str = "/orders/checkout";
const SIGNATURE_ISSUER: &str = "marketplace-cart";
/// The saga runs to the payment's answer inside the call: a few signed hops and the provider, which
/// queue behind each other in a burst (100 buyers at once on two cores took over 25 s). Below the
/// Spin host's 60 s request limit.
const TIMEOUT: Duration = Duration::from_secs(55);

pub async fn checkout(ctx: &Context, request: &Request, body: &[u8]) -> Result<Response, ApiError> {
    let key = body::idempotency_key(request)?
        .ok_or_else(|| FieldErrors::single(IdempotencyKey::HEADER, "required").to_api_error())?;
    let checkout: CheckoutRequest = serde_json::from_slice(body)
        .map_err(|error| ApiError::new(ErrorCode::InvalidRequest, format!("invalid JSON body: {error}")))?;
    let user =
        ctx.session.user_id.as_deref().ok_or_else(|| ApiError::new(ErrorCode::TokenMissing, "sign in to check out"))?;
    let buyer =
        BuyerId::parse(user).map_err(|_| ApiError::new(ErrorCode::Forbidden, "this account cannot check out"))?;
    let owner = ctx.session.owner.as_ref().ok_or_else(|| CheckoutRefusal::EmptyCart.to_api_error())?;
    // Even an empty cart goes to the saga: a retry of a checkout that emptied the cart must find
    // its key there and replay (a new key with an empty cart is refused there, and kept so).
    let cart = ctx.store.load(owner).await?.cart;
    let (view, data) = handlers::price_now(ctx, &cart).await?;
    let call =
        CheckoutCall { buyer_id: buyer, idempotency_key: key, request: checkout, cart: view, coupons: data.coupons };
    let body = serde_json::to_vec(&call).map_err(respond::internal)?;
    let request_id = respond::request_id(request);
    let spin = SpinCall::post_json(PATH, body).header("x-request-id", &request_id).timeout(TIMEOUT);
    match ctx.config.spin.client(SIGNATURE_ISSUER).send(spin).await {
        Ok(answer) => relay(answer),
        Err(SpinError::Sign(error)) => Err(respond::internal(error)),
        Err(error) => Err(respond::unavailable("the orders service", error)),
    }
}
