//! `POST /payments/sweep` (signed, from the edge cron): delivers the outbox, then pays out
//! vendors. Body: empty or `{"limit": n}` (rows and vendors per sweep).

use shared::api::ErrorCode;
use shared::payments::api::{Sweep, SweepReport};
use spin_platform::{Received, Response, config as platform};

use crate::config;
use crate::failures::{Handled, Problem, answer};
use crate::{outbox, payouts};

/// Rows and vendors per sweep when the caller does not say: each is one or two provider calls,
/// one after another, so this bounds the request's duration well inside the claim lease.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

pub async fn handle(request: &Received) -> Response {
    answer(request, 200, run(request).await)
}

async fn run(request: &Received) -> Handled<SweepReport> {
    let limit = limit(&request.body)?;
    let neon = platform::neon_client().await?;
    let outbox = outbox::deliver(&neon, limit).await?;
    let provider = config::stripe().await?;
    let payouts = payouts::run(&neon, &provider, limit).await?;
    Ok(SweepReport { outbox, payouts })
}

fn limit(body: &[u8]) -> Handled<u32> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DEFAULT_LIMIT);
    }
    let sweep: Sweep = serde_json::from_slice(body).map_err(|error| {
        Problem::api(ErrorCode::InvalidRequest, format!("sweep body must be {{\"limit\": n}}: {error}"))
    })?;
    match sweep.limit {
        None => Ok(DEFAULT_LIMIT),
        Some(limit @ 1..=MAX_LIMIT) => Ok(limit),
        Some(_) => Err(Problem::api(ErrorCode::ValidationFailed, format!("limit must be between 1 and {MAX_LIMIT}"))),
    }
}
