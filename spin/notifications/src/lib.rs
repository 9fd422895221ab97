//! Spin component `notifications`: the outbox between events and email (DESIGN §2, §5).
//! Entry point → router → handlers; rendering and retry rules live in `shared::events`.

mod delivery;
mod events;
mod failures;
mod mailer;
mod outbox;
mod router;
mod sweep;

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

/// Seen `Upstash-Signature` token ids for this component (migration: 0003_notifications).
const REPLAY_TABLE: spin_platform::ReplayTable = spin_platform::ReplayTable::new("notifications.received_signatures");

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    router::route(request).await
}
