//! The checkout saga's calls (signed, from the `orders` component): reserve all items or none,
//! release (the compensation), consume (the order was paid). Each is idempotent by reference.

use chrono::DateTime;
use shared::inventory::{
    ReferenceRequest, Reservation, ReservationLine, ReservationReference, ReserveRequest, VendorReleaseRequest,
};
use shared::neon::NeonError;
use spin_platform::respond::unix_now;
use spin_platform::{Received, Response, config, error_response, json_response, misconfigured};

use crate::OUTBOX;
use crate::router::{failure, verified};
use crate::store::{self, Neon};

/// `POST /inventory/reservations`: 200 with the reservation; short stock is 409 `BIZ_5003` naming
/// every short variant in `details.short`, and nothing is held.
pub async fn reserve(request: &Received) -> Response {
    let body: ReserveRequest = match verified(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let now = DateTime::from_timestamp(unix_now(), 0).unwrap_or_default();
    if let Err(errors) = body.check(now) {
        return error_response(&errors.to_api_error(), &request.request_id);
    }
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return misconfigured(&error, &request.request_id),
    };
    let result = store::reserve(&neon, &body.reference, &body.items, body.expires_at).await;
    answer(request, &neon, body.reference, result).await
}

/// `POST /inventory/reservations/release`: held stock goes back on sale; consumed stock is restocked.
pub async fn release(request: &Received) -> Response {
    settle(request, store::release).await
}

/// `POST /inventory/reservations/release-vendor`: `release` for one vendor's rows of the reference
/// (its paid order was cancelled before shipping); answers those rows.
pub async fn release_vendor(request: &Received) -> Response {
    let body: VendorReleaseRequest = match verified(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return misconfigured(&error, &request.request_id),
    };
    let result = store::release_vendor(&neon, &body.reference, &body.vendor_id).await;
    answer(request, &neon, body.reference, result).await
}

/// `POST /inventory/reservations/consume`: the held units leave the shelf; 409 when nothing is held.
pub async fn consume(request: &Received) -> Response {
    settle(request, store::consume).await
}

/// Release and consume: one reference, one 0009 function of it.
async fn settle(
    request: &Received,
    function: impl AsyncFnOnce(&Neon, &ReservationReference) -> Result<Vec<ReservationLine>, NeonError>,
) -> Response {
    let body: ReferenceRequest = match verified(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return misconfigured(&error, &request.request_id),
    };
    let result = function(&neon, &body.reference).await;
    answer(request, &neon, body.reference, result).await
}

/// After a commit, its events go to the edge before the answer (`Outbox::after_commit`).
async fn answer(
    request: &Received,
    neon: &Neon,
    reference: ReservationReference,
    result: Result<Vec<ReservationLine>, NeonError>,
) -> Response {
    match result {
        Ok(lines) => {
            OUTBOX.after_commit(neon, &request.request_id).await;
            json_response(200, &Reservation::new(reference, lines), &request.request_id)
        }
        Err(error) => failure(&error, &request.request_id),
    }
}
