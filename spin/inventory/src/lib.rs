//! Spin component `inventory` (issue 6, DESIGN §2, §9): stock per variant and location, all-or-nothing
//! reservations for the checkout saga, the vendor stock API behind the gateway, and the outbox that
//! tells the edge when availability changed. Entry point → router → handlers; the stock rules are
//! the SQL functions of migrations/0009_inventory.sql, the wire types `shared::inventory`.

mod reservations;
mod router;
mod stock;
mod store;
mod sweep;
mod vendor;

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

/// The component's route prefix in spin.toml, and its name in forwarded paths.
const COMPONENT: &str = "inventory";
/// Seen `Upstash-Signature` token ids (migration 0009).
const REPLAY_TABLE: spin_platform::ReplayTable = spin_platform::ReplayTable::new("inventory.received_signatures");
/// `inventory.outbox`, delivered to the edge right after each commit and by the sweep.
const OUTBOX: spin_platform::Outbox = spin_platform::Outbox::new("inventory", spin_platform::Destination::Edge);

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    router::route(request).await
}
