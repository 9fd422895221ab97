//! The catalog's side of stock events: only the catalog writes its schema (DESIGN §3), so the stock
//! levels go to its internal route through the `CATALOG` service binding (no public route reaches
//! it), which applies them to its read model and purges the affected products' cached views.

use shared::api::ApiError;
use shared::inventory::{StockLevel, StockLevels};
use worker::{Env, Headers, Method, Request, RequestInit};
use worker_platform::respond;

/// The catalog Worker's internal route (`workers/catalog/src/stock.rs`).
pub const STOCK_LEVELS_URL: &str = "https://catalog.internal/internal/stock-levels";

pub async fn apply_stock_levels(env: &Env, levels: Vec<StockLevel>) -> Result<(), ApiError> {
    let catalog = env.service("CATALOG").map_err(|error| respond::unavailable("the catalog binding", error))?;
    let body = serde_json::to_string(&StockLevels { levels }).map_err(respond::internal)?;
    let headers = Headers::new();
    headers.set("content-type", "application/json").map_err(respond::internal)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
    let request = Request::new_with_init(STOCK_LEVELS_URL, &init).map_err(respond::internal)?;
    let mut response =
        catalog.fetch_request(request).await.map_err(|error| respond::unavailable("the catalog", error))?;
    if (200..300).contains(&response.status_code()) {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    Err(respond::unavailable("the catalog", format!("stock levels answered {}: {text}", response.status_code())))
}
