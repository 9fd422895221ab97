//! Stock belongs to the inventory component (migration 0014, docs/adr/0006): a vendor's stock edit
//! and the first stock of a new variant are signed calls to it, never catalog writes. What it
//! answers is applied to the catalog's read model (`stock::apply`) before the write answers, so
//! the vendor sees the new number at once; its event, arriving later, then changes nothing.

use std::time::Duration;

use serde::de::DeserializeOwned;
use shared::api::{ApiError, ErrorEnvelope};
use shared::catalog::{Quantity, VariantId, VendorId};
use shared::inventory::{InitialStock, InitialStockRequest, SetStockRequest, StockRow, StockRows};
use worker_platform::respond;
use worker_platform::spin::SpinCall;

use crate::config::Config;
use crate::respond::Failure;

const ISSUER: &str = "marketplace-catalog";
/// A stock count is one SQL function call; this only bounds a hung core.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The count on the vendor's default location.
pub async fn set(
    config: &Config,
    vendor: &VendorId,
    variant: &VariantId,
    on_hand: Quantity,
) -> Result<StockRow, Failure> {
    let request =
        SetStockRequest { vendor_id: vendor.clone(), variant_id: variant.clone(), on_hand, location_id: None };
    call(config, "/inventory/stock/set", &request).await
}

/// The first counts of new variants; variants inventory already holds keep their count.
pub async fn initial(config: &Config, vendor: &VendorId, items: Vec<InitialStock>) -> Result<Vec<StockRow>, Failure> {
    let request = InitialStockRequest { vendor_id: vendor.clone(), items };
    let rows: StockRows = call(config, "/inventory/stock/initial", &request).await?;
    Ok(rows.items)
}

/// 2xx is the answer; inventory's own refusals (409 below reserved, 404 not this vendor's) pass
/// through to the vendor; anything else means the core is unavailable.
async fn call<T: DeserializeOwned>(config: &Config, path: &str, request: &impl serde::Serialize) -> Result<T, Failure> {
    let body = serde_json::to_vec(request).map_err(Failure::internal)?;
    let answer = config
        .spin
        .client(ISSUER)
        .send(SpinCall::post_json(path, body).timeout(TIMEOUT))
        .await
        .map_err(|error| Failure::from(respond::unavailable("inventory", error)))?;
    if (200..300).contains(&answer.status) {
        return serde_json::from_slice(&answer.body).map_err(|error| Failure::internal(format!("{path}: {error}")));
    }
    match serde_json::from_slice::<ErrorEnvelope>(&answer.body) {
        Ok(envelope) if (400..500).contains(&answer.status) && answer.status != 401 => {
            let mut error = ApiError::new(envelope.error.code, envelope.error.message);
            error.details = envelope.error.details;
            Err(Failure::from(error))
        }
        _ => Err(Failure::from(respond::unavailable(
            "inventory",
            format!("{path} answered {}: {}", answer.status, String::from_utf8_lossy(&answer.body)),
        ))),
    }
}
