//! `POST /inventory/sweep` (signed, from the edge cron every minute): expires reservations nobody
//! paid for in time, then delivers the outbox to the edge. Body: empty or `{"limit": n}`.

use shared::inventory::SweepReport;
use spin_platform::{Received, Response, json_response, sweep};

use crate::router::{failure, signed};
use crate::{OUTBOX, store};

/// References expired per sweep when the caller does not say (`release_expired` allows 1 to 1000).
const DEFAULT_LIMIT: u32 = 200;
const MAX_LIMIT: u32 = 1_000;

pub async fn handle(request: &Received) -> Response {
    if let Err(response) = signed(request).await {
        return response;
    }
    let (limit, neon) = match sweep::open(request, DEFAULT_LIMIT, MAX_LIMIT).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let expired = match store::release_expired(&neon, limit).await {
        Ok(lines) => lines,
        Err(error) => return failure(&error, &request.request_id),
    };
    let mut references: Vec<_> = expired.into_iter().map(|line| line.reference).collect();
    references.dedup();
    let events = match sweep::deliver_outbox(OUTBOX, &neon, request).await {
        Ok(events) => events,
        Err(response) => return response,
    };
    json_response(200, &SweepReport { expired: references, events }, &request.request_id)
}
