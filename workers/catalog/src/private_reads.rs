//! Reads of the vendor and admin API. Private data: never cached (`Reply` sends `no-store`).

use shared::catalog::{AdminVendorQuery, Page, ProductId, VendorListQuery};
use worker::Request;

use crate::caller;
use crate::config::Config;
use crate::respond::{Failure, Outcome, Reply};
use crate::write_store::WriteStore;

/// `GET /api/v1/vendor/products`: the caller's own products in every status, newest first.
pub async fn vendor_products(request: &Request, config: &Config, query: &str) -> Outcome {
    let vendor = caller::acting_vendor(request)?;
    let query = VendorListQuery::parse(query)?;
    let after = query.decode_cursor(&config.cursor_key, &vendor)?;
    let (items, last) = WriteStore::new(config).vendor_products(&vendor, &query, after.as_ref()).await?;
    let next_cursor = last.map(|last| query.next_cursor(&config.cursor_key, &vendor, &last));
    Reply::json(&Page { items, next_cursor })
}

/// `GET /api/v1/vendor/products/{id}`: unknown and another vendor's are the same 404.
pub async fn vendor_product(request: &Request, config: &Config, id: &str) -> Outcome {
    let vendor = caller::acting_vendor(request)?;
    let id = ProductId::parse(id).map_err(|_| Failure::not_found("product"))?;
    let body = WriteStore::new(config).vendor_product(&id, &vendor).await?;
    body.map(Reply::encoded).ok_or_else(|| Failure::not_found("product"))
}

/// `GET /api/v1/admin/vendors`.
pub async fn vendors(request: &Request, config: &Config, query: &str) -> Outcome {
    caller::platform_admin(request)?;
    let query = AdminVendorQuery::parse(query)?;
    let (items, next) = WriteStore::new(config).vendors(&query).await?;
    Reply::json(&Page { items, next_cursor: next.map(String::from) })
}
