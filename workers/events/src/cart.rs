//! The cart's side of `orders.order_placed`: carts live in the cart Worker's Upstash keys, so the
//! event goes to its internal route through the `CART` service binding (no public route reaches it),
//! which takes what was bought out of the buyer's cart.

use shared::api::ApiError;
use shared::cart::ORDER_PLACED_PATH;
use shared::events::edge::OrderPlaced;
use worker::{Env, Headers, Method, Request, RequestInit};
use worker_platform::respond;

/// The host is a placeholder: a service binding ignores it.
const CART_ORIGIN: &str = "https://cart.internal";

pub async fn remove_bought(env: &Env, placed: &OrderPlaced) -> Result<(), ApiError> {
    let cart = env.service("CART").map_err(|error| respond::unavailable("the cart binding", error))?;
    let body = serde_json::to_string(placed).map_err(respond::internal)?;
    let headers = Headers::new();
    headers.set("content-type", "application/json").map_err(respond::internal)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
    let request =
        Request::new_with_init(&format!("{CART_ORIGIN}{ORDER_PLACED_PATH}"), &init).map_err(respond::internal)?;
    let mut response = cart.fetch_request(request).await.map_err(|error| respond::unavailable("the cart", error))?;
    if (200..300).contains(&response.status_code()) {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    Err(respond::unavailable("the cart", format!("order placed answered {}: {text}", response.status_code())))
}
