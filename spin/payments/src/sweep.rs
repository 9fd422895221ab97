//! `POST /payments/sweep` (signed, from the edge cron): delivers the outbox, then pays out
//! vendors. Body: empty or `{"limit": n}` (rows and vendors per sweep).

use shared::events::outbox::SweepRequest;
use shared::payments::api::SweepReport;
use spin_platform::{Received, Response, config as platform};

use crate::config;
use crate::failures::{Handled, answer};
use crate::{outbox, payouts};

/// Rows and vendors per sweep when the caller does not say: each is one or two provider calls,
/// one after another, so this bounds the request's duration well inside the claim lease.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

pub async fn handle(request: &Received) -> Response {
    answer(request, 200, run(request).await)
}

async fn run(request: &Received) -> Handled<SweepReport> {
    let limit = SweepRequest::limit(&request.body, DEFAULT_LIMIT, MAX_LIMIT)?;
    let neon = platform::neon_client().await?;
    let outbox = outbox::deliver(&neon, limit).await?;
    let provider = config::stripe().await?;
    let payouts = payouts::run(&neon, &provider, limit).await?;
    Ok(SweepReport { outbox, payouts })
}
