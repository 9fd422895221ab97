//! `POST /inventory/sweep` (signed, from the edge cron every minute): expires reservations nobody
//! paid for in time, then delivers the outbox to the edge. Body: empty or `{"limit": n}`.

use shared::events::edge::MAX_EVENTS_PER_DELIVERY;
use shared::events::outbox::SweepRequest;
use shared::inventory::SweepReport;
use spin_platform::{
    DeliveryError, Received, Response, config, database_failure, error_response, json_response, misconfigured,
};

use crate::router::{failure, signed};
use crate::{OUTBOX, store};

/// References expired per sweep when the caller does not say (`release_expired` allows 1 to 1000).
const DEFAULT_LIMIT: u32 = 200;
const MAX_LIMIT: u32 = 1_000;
/// Batches delivered per sweep at most: a backlog drains over a few minutes instead of one request
/// outliving its caller's timeout.
const MAX_BATCHES: usize = 10;

pub async fn handle(request: &Received) -> Response {
    if let Err(response) = signed(request).await {
        return response;
    }
    let limit = match SweepRequest::limit(&request.body, DEFAULT_LIMIT, MAX_LIMIT) {
        Ok(limit) => limit,
        Err(error) => return error_response(&error, &request.request_id),
    };
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return misconfigured(&error, &request.request_id),
    };
    let expired = match store::release_expired(&neon, limit).await {
        Ok(lines) => lines,
        Err(error) => return failure(&error, &request.request_id),
    };
    let mut references: Vec<_> = expired.into_iter().map(|line| line.reference).collect();
    references.dedup();
    let events = match OUTBOX.deliver_backlog(&neon, MAX_BATCHES * MAX_EVENTS_PER_DELIVERY).await {
        Ok(report) => report,
        Err(DeliveryError::Config(error)) => return misconfigured(&error, &request.request_id),
        Err(DeliveryError::Neon(error)) => return database_failure(&error, &request.request_id),
    };
    json_response(200, &SweepReport { expired: references, events }, &request.request_id)
}
