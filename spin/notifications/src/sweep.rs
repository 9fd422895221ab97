//! `POST /notifications/sweep` (signed, from the edge cron every minute): claims due pending rows
//! and tries each once more. Body: empty or `{"limit": n}`.

use serde::Serialize;
use shared::events::outbox::Status;
use spin_platform::{Received, Response, error_response, json_response, require_signature, sweep};

use crate::failures::unavailable;
use crate::{REPLAY_TABLE, delivery, mailer, outbox};

/// Rows per sweep when the caller does not say; sends run one after another, so this bounds the
/// request's duration (well inside the claim lease) as much as the provider's rate limit.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

#[derive(Serialize, Default)]
struct SweepReport {
    claimed: usize,
    delivered: usize,
    pending: usize,
    failed: usize,
}

pub async fn handle(request: &Received) -> Response {
    if let Err(rejection) = require_signature(request, REPLAY_TABLE).await {
        return error_response(&rejection.to_api_error(), &request.request_id);
    }
    let (limit, neon) = match sweep::open(request, DEFAULT_LIMIT, MAX_LIMIT).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let rows = match outbox::claim_due(&neon, limit).await {
        Ok(rows) => rows,
        Err(error) => return unavailable(request, &error),
    };
    let mailer = mailer::from_variables().await;
    let mut report = SweepReport { claimed: rows.len(), ..SweepReport::default() };
    for row in &rows {
        match delivery::attempt(&neon, mailer.as_ref(), row).await {
            Ok(Status::Delivered) => report.delivered += 1,
            Ok(Status::Pending) => report.pending += 1,
            Ok(Status::Failed) => report.failed += 1,
            // Claimed rows not yet recorded come back when their lease lapses.
            Err(error) => return unavailable(request, &error),
        }
    }
    json_response(200, &report, &request.request_id)
}
