//! `POST /orders/sweep` (signed, the edge cron every minute): takes up the sagas that are due — a
//! retry's backoff over, a payment to poll, a runner that died holding one, a deadline passed — and
//! drives each as far as it goes; then delivers the orders outbox (OrderPlaced) to the edge.
//! Body: empty or `{"limit": n}`.

use serde::Serialize;
use shared::events::edge::DeliveryReport;
use shared::saga::SagaStatus;
use spin_platform::{Received, Response, database_failure, json_response, sweep};

use crate::OUTBOX;
use crate::runner::{DriveError, Runner};
use crate::saga_store as store;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
/// A claimed saga is this sweeper's for as long as its calls can take.
const CLAIM_LEASE_SECS: i64 = 60;

#[derive(Serialize, Default)]
struct SweepReport {
    claimed: usize,
    completed: usize,
    failed: usize,
    /// Still going: waiting for a retry or the payment.
    waiting: usize,
    /// Another runner moved it first, or a call failed; it is due again.
    skipped: usize,
    events: DeliveryReport,
}

pub async fn handle(request: &Received) -> Response {
    let (limit, neon) = match sweep::open(request, DEFAULT_LIMIT, MAX_LIMIT).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let claimed = match store::claim_due(&neon, limit, CLAIM_LEASE_SECS).await {
        Ok(claimed) => claimed,
        Err(error) => return database_failure(&error, &request.request_id),
    };
    let mut report = SweepReport { claimed: claimed.len(), ..SweepReport::default() };
    for stored in claimed {
        let mut state = stored.state;
        let mut runner = Runner::new(&neon, stored.buyer, None, &request.request_id);
        match runner.resume(&mut state).await {
            Ok(()) => match state.status() {
                SagaStatus::Completed => report.completed += 1,
                SagaStatus::Failed => report.failed += 1,
                _ => report.waiting += 1,
            },
            Err(DriveError::Lost) => report.skipped += 1,
            Err(error) => {
                eprintln!("[{}] sweep {}: {error:?}", request.request_id, state.saga_id());
                report.skipped += 1;
            }
        }
    }
    report.events = match sweep::deliver_outbox(OUTBOX, &neon, request).await {
        Ok(events) => events,
        Err(response) => return response,
    };
    json_response(200, &report, &request.request_id)
}
