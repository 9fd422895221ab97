//! The catalog's read model of stock (migration 0014): inventory's levels, newest version per
//! variant and location, summed into `catalog.variant_stock`. Fed by inventory's answers to the
//! catalog's own writes and by `inventory.stock_changed` events through `POST /internal/stock-levels`,
//! which only the events Worker reaches (its `CATALOG` binding; the gateway routes nothing there).

use shared::catalog::ProductId;
use shared::catalog::cache::Tag;
use shared::inventory::{StockLevel, StockLevels};
use shared::neon::{NeonClient, NeonError};
use worker::Request;
use worker_platform::fetch::FetchTransport;
use worker_platform::request::{json, read_body};

use crate::cache;
use crate::config::Config;
use crate::respond::{Failure, Outcome, Reply};

pub const INTERNAL_PATH: &str = "/internal/stock-levels";
/// A delivery of stock events is at most a few hundred levels.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What applying levels changed for one product.
struct Touched {
    product: ProductId,
    flipped: bool,
}

/// `POST /internal/stock-levels` `{"levels":[…]}`: applies them and purges the cached views they
/// change. A failed purge is a 503, so the sender retries (applying again is a no-op, purging is not).
pub async fn handle(request: &mut Request, config: &Config) -> Outcome {
    let body: StockLevels = json(&read_body(request, MAX_BODY_BYTES).await?)?;
    let touched = apply(config, &body.levels).await?;
    cache::invalidate(config, &tags(&touched))
        .await
        .map_err(|error| Failure::from(worker_platform::respond::unavailable("the catalog cache", error)))?;
    let products: Vec<&ProductId> = touched.iter().map(|touched| &touched.product).collect();
    Reply::json(&serde_json::json!({ "products": products }))
}

/// Applies levels to the read model; the caller's write names the products for the cache.
pub async fn apply_levels(config: &Config, levels: &[StockLevel]) -> Result<(), Failure> {
    apply(config, levels).await.map(drop)
}

async fn apply(config: &Config, levels: &[StockLevel]) -> Result<Vec<Touched>, Failure> {
    if levels.is_empty() {
        return Ok(Vec::new());
    }
    let neon = NeonClient::from_config(FetchTransport, config.neon.clone());
    let levels = serde_json::to_value(levels).map_err(Failure::internal)?;
    let result = neon
        .query(
            "SELECT product_id, in_stock_before, in_stock_after FROM catalog.apply_stock_levels($1::jsonb)",
            &[&levels],
        )
        .await?;
    result
        .iter()
        .map(|row| {
            let product: String = row.get(0).map_err(NeonError::from)?;
            let before: bool = row.get(1).map_err(NeonError::from)?;
            let after: bool = row.get(2).map_err(NeonError::from)?;
            let product = ProductId::parse(&product).map_err(Failure::internal)?;
            Ok(Touched { product, flipped: before != after })
        })
        .collect()
}

/// Every product's own views (detail, and the lists that showed it); every list only when a
/// product came into or went out of stock (the `in_stock` filter), since a count alone moves no
/// product into or out of any list.
fn tags(touched: &[Touched]) -> Vec<Tag> {
    let mut tags: Vec<Tag> = touched.iter().map(|touched| Tag::Product(touched.product.clone())).collect();
    if touched.iter().any(|touched| touched.flipped) {
        tags.push(Tag::Listings);
    }
    tags
}
