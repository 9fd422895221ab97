//! Spin component `orders`: order lifecycle and the checkout saga (DESIGN §9).
//! Entry point → router → handlers that call into `shared` through `spin-platform`.

mod api;
mod buyer;
mod cancel;
mod health;
mod router;
mod store;
mod vendor;

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

/// The component's route prefix in spin.toml, and its name in forwarded paths.
const COMPONENT: &str = "orders";
/// Seen `Upstash-Signature` token ids for this component (migration: orders.received_signatures).
const REPLAY_TABLE: spin_platform::ReplayTable = spin_platform::ReplayTable::new("orders.received_signatures");

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    router::route(request).await
}
