//! `POST /payments/sweep` (signed, from the edge cron): delivers the outbox, then pays out
//! vendors. Body: empty or `{"limit": n}` (outbox rows and vendors per sweep).

use shared::events::outbox::SweepRequest;
use shared::payments::api::SweepReport;
use spin_platform::{Received, Response, config as platform};

use crate::failures::{Handled, answer};
use crate::{OUTBOX, config, payouts};

/// Outbox rows and vendors per sweep when the caller does not say: rows go in batches of up to
/// `MAX_EVENTS_PER_DELIVERY`, each vendor is one or two provider calls one after another, so this
/// bounds the request's duration.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

pub async fn handle(request: &Received) -> Response {
    answer(request, 200, run(request).await)
}

async fn run(request: &Received) -> Handled<SweepReport> {
    let limit = SweepRequest::limit(&request.body, DEFAULT_LIMIT, MAX_LIMIT)?;
    let neon = platform::neon_client().await?;
    let outbox = OUTBOX.deliver_backlog(&neon, usize::try_from(limit).unwrap_or(usize::MAX)).await?;
    let provider = config::stripe().await?;
    let payouts = payouts::run(&neon, &provider, limit).await?;
    Ok(SweepReport { outbox, payouts })
}
