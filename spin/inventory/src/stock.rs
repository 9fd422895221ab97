//! Stock counts from the catalog Worker (signed): the vendor's edit of a variant's stock, and the
//! first count of variants it just created. The catalog took the vendor from the verified token.

use shared::inventory::{InitialStockRequest, SetStockRequest, StockRows};
use spin_platform::{Received, Response, config, error_response, json_response, misconfigured};

use crate::OUTBOX;
use crate::router::{failure, verified};
use crate::store;

/// `POST /inventory/stock/set`: the count at a location (default: the vendor's default location).
pub async fn set(request: &Received) -> Response {
    let body: SetStockRequest = match verified(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return misconfigured(&error, &request.request_id),
    };
    let location = body.location_id.as_ref();
    match store::set_on_hand(&neon, &body.vendor_id, &body.variant_id, location, body.on_hand.get(), None).await {
        Ok(row) => {
            OUTBOX.after_commit(&neon, &request.request_id).await;
            json_response(200, &row, &request.request_id)
        }
        Err(error) => failure(&error, &request.request_id),
    }
}

/// `POST /inventory/stock/initial`: counts only variants inventory has never seen, so a retried
/// create never overwrites a later count; answers every row of the variants named.
pub async fn initial(request: &Received) -> Response {
    let body: InitialStockRequest = match verified(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    if let Err(errors) = body.check() {
        return error_response(&errors.to_api_error(), &request.request_id);
    }
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return misconfigured(&error, &request.request_id),
    };
    match store::initial(&neon, &body.vendor_id, &body.items).await {
        Ok(items) => {
            OUTBOX.after_commit(&neon, &request.request_id).await;
            json_response(200, &StockRows { items }, &request.request_id)
        }
        Err(error) => failure(&error, &request.request_id),
    }
}
