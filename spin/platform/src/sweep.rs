//! What every component's `POST /{component}/sweep` (the edge cron, every minute) shares: reading
//! its `{"limit": n}`, opening the database, and delivering the component's outbox backlog. `Err`
//! is the answer to send.

use shared::events::edge::{DeliveryReport, MAX_EVENTS_PER_DELIVERY};
use shared::events::outbox::SweepRequest;
use shared::neon::NeonClient;

use crate::outbox::{DeliveryError, Outbox};
use crate::respond::{Received, Response, database_failure, error_response, misconfigured};
use crate::{SpinTransport, config};

/// Outbox batches one sweep delivers at most: a backlog drains over a few minutes instead of one
/// request outliving its caller's timeout.
const MAX_BATCHES: usize = 10;

/// The limit the body asks for (`default` when none, `1..=max`) and the component's database.
pub async fn open(request: &Received, default: u32, max: u32) -> Result<(u32, NeonClient<SpinTransport>), Response> {
    let limit = SweepRequest::limit(&request.body, default, max)
        .map_err(|error| error_response(&error, &request.request_id))?;
    let neon = config::neon_client().await.map_err(|error| misconfigured(&error, &request.request_id))?;
    Ok((limit, neon))
}

/// Delivers up to `MAX_BATCHES` batches of `outbox`'s due events.
pub async fn deliver_outbox(
    outbox: Outbox,
    neon: &NeonClient<SpinTransport>,
    request: &Received,
) -> Result<DeliveryReport, Response> {
    match outbox.deliver_backlog(neon, MAX_BATCHES * MAX_EVENTS_PER_DELIVERY).await {
        Ok(report) => Ok(report),
        Err(DeliveryError::Config(error)) => Err(misconfigured(&error, &request.request_id)),
        Err(DeliveryError::Neon(error)) => Err(database_failure(&error, &request.request_id)),
    }
}
