//! Spin component `identity`: the CPU-heavy half of signing in. Argon2id costs tens of
//! milliseconds, far over a free Worker's 10 ms CPU budget, so the identity Worker asks this
//! component, with a signed call, to hash and verify passwords (docs/adr/0003).

mod passwords;
mod router;

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

/// Seen `Upstash-Signature` token ids for this component (migration 0004).
const REPLAY_TABLE: spin_platform::ReplayTable = spin_platform::ReplayTable::new("identity.received_signatures");

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    router::route(request).await
}
