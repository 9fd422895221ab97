//! "Attempted right after commit" (DESIGN §5): after a change commits, its events go to the edge at
//! once, so the storefront shows new availability without waiting for the cron. A failure changes
//! nothing for the caller: the rows stay due and the next sweep (or the next change) sends them.

use shared::events::edge::DeliveryReport;

use crate::OUTBOX;
use crate::store::Neon;

/// One batch: the events of the change just committed, and whatever else was due.
const AFTER_COMMIT_LIMIT: usize = 50;

pub async fn after_commit(neon: &Neon, request_id: &str) -> DeliveryReport {
    match OUTBOX.deliver_due(neon, AFTER_COMMIT_LIMIT).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("[{request_id}] inventory outbox not delivered after commit: {error}");
            DeliveryReport::default()
        }
    }
}
