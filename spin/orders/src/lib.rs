//! Spin component `orders`: the checkout saga (DESIGN §9) and the order lifecycle.
//! Entry point → router → handlers; the saga's rules are `shared::saga`, its writes the SQL
//! functions of migrations 0010 and 0016, its calls to `inventory` and `payments` signed.

mod api;
mod buyer;
mod calls;
mod cancel;
mod checkout;
mod events;
mod health;
mod router;
mod runner;
mod saga_store;
mod store;
mod sweep;
mod vendor;

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

/// The component's route prefix in spin.toml, its name in forwarded paths and the issuer of its
/// signed calls.
const COMPONENT: &str = "orders";
/// Seen `Upstash-Signature` token ids for this component (migration: orders.received_signatures).
const REPLAY_TABLE: spin_platform::ReplayTable = spin_platform::ReplayTable::new("orders.received_signatures");
/// `orders.outbox` (OrderPlaced), delivered to the edge after each confirmation and by the sweep.
const OUTBOX: spin_platform::Outbox = spin_platform::Outbox::new("orders", spin_platform::Destination::Edge);

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    router::route(request).await
}
