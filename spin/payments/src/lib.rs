//! Spin component `payments` (DESIGN §2, §9): the payment provider adapter (Stripe, or the local
//! sandbox that speaks its API), the provider's signed webhooks, refunds, the double-entry ledger
//! and vendor payouts. Entry point → router → handlers; the rules (status moves, splits, journals,
//! reversals, what can be paid out) live in `shared::payments`, the wire types in
//! `shared::payments::api`.

mod accounts;
mod config;
mod failures;
mod intents;
mod journals;
mod payouts;
mod refunds;
mod router;
mod store;
mod sweep;
mod void;
mod webhook;

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

/// Seen `Upstash-Signature` token ids for this component (migration 0011).
const REPLAY_TABLE: spin_platform::ReplayTable = spin_platform::ReplayTable::new("payments.received_signatures");
/// `payments.outbox`: how payments ended, for the orders saga, whose receiver's URL is the
/// `payments_events_url` variable (empty: the events wait in the outbox).
const OUTBOX: spin_platform::Outbox =
    spin_platform::Outbox::new("payments", spin_platform::Destination::Variable("payments_events_url"));

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    router::route(request).await
}
