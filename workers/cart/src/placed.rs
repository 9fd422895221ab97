//! `POST /internal/order-placed` (`shared::cart::ORDER_PLACED_PATH`): a confirmed order group's
//! `orders.order_placed`, handed on by the events Worker through its `CART` service binding once
//! the batch's signature was checked there. The gateway routes nothing under `/internal/`, so no
//! client reaches this. Takes what the group bought out of the buyer's account cart in one
//! compare-and-set ([`shared::cart::Cart::remove_bought`]), so a concurrent or repeated delivery of
//! the same group subtracts nothing more.

use serde::Serialize;
use shared::api::ApiError;
use shared::cart::{CartOwner, Removal};
use shared::events::edge::OrderPlaced;
use worker::{Response, console_log};
use worker_platform::{request, respond};

use crate::store::Store;

#[derive(Serialize)]
struct Answer {
    removal: Removal,
}

pub async fn order_placed(store: &Store, body: &[u8]) -> Result<Response, ApiError> {
    let placed: OrderPlaced = request::json(body)?;
    let owner = CartOwner::Account(placed.buyer_id.as_str().to_owned());
    // A change that changes nothing (a replay, an empty cart) writes nothing: no cart is created.
    let (_, removal) = store.update(&owner, async |cart| Ok(cart.remove_bought(&placed))).await?;
    console_log!("cart: order group {} for {}: {removal:?}", placed.group_id, placed.buyer_id);
    respond::json_of(200, &Answer { removal })
}
