//! The vendor stock API, forwarded by the gateway (docs/adr/0006): the vendor is the one the
//! verified token names, carried in the signed body; a vendor id anywhere else is never read.
//!
//! - `GET /api/v1/vendor/stock?cursor=&limit=`: the vendor's stock rows, keyset-paginated.
//! - `PUT /api/v1/vendor/stock/{variant_id}` `{on_hand, location_id?}`: a stock count; another
//!   vendor's variant (or location) is the same 404 as an unknown one.

use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::catalog::{VariantId, VendorId};
use shared::forwarding::{ApiMethod, Forwarded};
use shared::inventory::{StockCursor, StockListQuery, StockRow, VendorStockUpdate};
use spin_platform::{Received, Response, config, error_response, json_response, misconfigured, receive_forwarded};

use crate::router::failure;
use crate::{COMPONENT, OUTBOX, REPLAY_TABLE, store};

const STOCK: &str = "/api/v1/vendor/stock";

#[derive(Serialize)]
struct Page {
    items: Vec<StockRow>,
    next_cursor: Option<String>,
}

pub async fn handle(request: &Received) -> Response {
    let call = match receive_forwarded(request, COMPONENT, REPLAY_TABLE).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    // `/{variant}` after the collection path.
    let item = call
        .path
        .strip_prefix(STOCK)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|segment| !segment.is_empty() && !segment.contains('/'));
    let result = match (call.method, call.path.as_str(), item) {
        (ApiMethod::Get, STOCK, _) => list(request, &call).await,
        (_, STOCK, _) => Err(ApiError::new(ErrorCode::MethodNotAllowed, "use GET")),
        (ApiMethod::Put, _, Some(variant)) => set(request, &call, variant).await,
        (_, _, Some(_)) => Err(ApiError::new(ErrorCode::MethodNotAllowed, "use PUT")),
        (_, path, None) => Err(ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}"))),
    };
    result.unwrap_or_else(|error| error_response(&error, &request.request_id))
}

fn acting_vendor(call: &Forwarded) -> Result<VendorId, ApiError> {
    let vendor = call.principal()?.acting_vendor()?;
    VendorId::parse(vendor).map_err(|_| ApiError::new(ErrorCode::Forbidden, "the token names no valid vendor"))
}

async fn list(request: &Received, call: &Forwarded) -> Result<Response, ApiError> {
    let vendor = acting_vendor(call)?;
    let query = StockListQuery::parse(&call.query)?;
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return Ok(misconfigured(&error, &request.request_id)),
    };
    let (items, more) = match store::vendor_stock(&neon, &vendor, query.after.as_ref(), query.limit).await {
        Ok(page) => page,
        Err(error) => return Ok(failure(&error, &request.request_id)),
    };
    let next_cursor = more.then(|| items.last()).flatten().map(|last| {
        StockCursor { variant_id: last.variant_id.clone(), location_id: last.location_id.clone() }.encode()
    });
    Ok(json_response(200, &Page { items, next_cursor }, &request.request_id))
}

async fn set(request: &Received, call: &Forwarded, variant: &str) -> Result<Response, ApiError> {
    let vendor = acting_vendor(call)?;
    // A malformed id names nothing: the same 404 as an unknown one.
    let variant = VariantId::parse(variant).map_err(|_| ApiError::new(ErrorCode::NotFound, "variant not found"))?;
    let update: VendorStockUpdate = call.json()?;
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return Ok(misconfigured(&error, &request.request_id)),
    };
    // The movement names the client's Idempotency-Key, so a count can be traced to its request.
    let reference = call.idempotency_key.as_ref().map(|key| key.as_str());
    let location = update.location_id.as_ref();
    match store::set_on_hand(&neon, &vendor, &variant, location, update.on_hand.get(), reference).await {
        Ok(row) => {
            OUTBOX.after_commit(&neon, &request.request_id).await;
            Ok(json_response(200, &row, &request.request_id))
        }
        Err(error) => Ok(failure(&error, &request.request_id)),
    }
}
