//! Rows and statements for tests that read or write PostgreSQL directly: a minimal catalog shop
//! for the tests of the SQL alone (`*_sql.rs`, on [`crate::MigratedDatabase`]), and statements
//! that panic with their text, so a failure names itself (any test's Neon client, e.g. `stack.neon()`).

use serde_json::json;
use shared::neon::{BatchOptions, NeonClient, Query, QueryResult, ToSql};
use shared::transport::ReqwestTransport;

use crate::fresh_id;

pub type Neon = NeonClient<ReqwestTransport>;

/// Runs one statement; panics with the statement and Postgres' error when it fails.
pub async fn sql(neon: &Neon, query: &str, params: &[&dyn ToSql]) -> QueryResult {
    match neon.query(query, params).await {
        Ok(result) => result,
        Err(error) => panic!("{query}: {error}"),
    }
}

/// The first column of the only row, as an integer (`count(*)`, a function's answer).
pub async fn one_i64(neon: &Neon, query: &str, params: &[&dyn ToSql]) -> i64 {
    match sql(neon, query, params).await.one().and_then(|row| row.get(0)) {
        Ok(number) => number,
        Err(error) => panic!("{query}: {error}"),
    }
}

/// A vendor's shop as [`shop`] makes it.
pub struct Shop {
    pub vendor: String,
    pub product: String,
    pub variants: Vec<String>,
}

impl Shop {
    /// The vendor's default location, as inventory names it (`ven_X` → `loc_X`).
    pub fn default_location(&self) -> String {
        format!("loc_{}", self.vendor.trim_start_matches("ven_"))
    }

    /// A second location of the vendor (a warehouse, not the default): its id.
    pub async fn add_location(&self, neon: &Neon) -> String {
        let location = fresh_id("loc");
        sql(
            neon,
            "INSERT INTO inventory.locations (id, vendor_id, name) VALUES ($1, $2, 'Warehouse')",
            &[&location, &self.vendor],
        )
        .await;
        location
    }
}

/// Who keeps a [`shop`]'s stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    /// Inventory adopted the catalog's numbers, as 0009's migration and the seed leave them.
    Adopted,
    /// Only the catalog holds them (works before the inventory migration too).
    CatalogOnly,
}

/// A vendor with one active product in a category of its own, with one variant per entry of
/// `stocks` showing that stock in the catalog.
pub async fn shop(neon: &Neon, stocks: &[i64], adoption: Adoption) -> Shop {
    let (vendor, category, product) = (fresh_id("ven"), fresh_id("cat"), fresh_id("prod"));
    let variants: Vec<String> = stocks.iter().map(|_| fresh_id("var")).collect();
    let mut queries = vec![
        Query::new(
            "INSERT INTO catalog.vendors (id, name, slug) VALUES ($1, 'Test shop', lower(replace($1, '_', '-')))",
            &[&vendor],
        ),
        Query::new(
            "INSERT INTO catalog.categories (id, slug, name) VALUES ($1, lower(replace($1, '_', '-')), 'Test category')",
            &[&category],
        ),
        Query::new(
            "INSERT INTO catalog.products (id, vendor_id, category_id, title, slug, currency, status) \
             VALUES ($1, $2, $3, 'Test product', lower(replace($1, '_', '-')), 'EUR', 'active')",
            &[&product, &vendor, &category],
        ),
    ];
    for (position, (variant, stock)) in variants.iter().zip(stocks).enumerate() {
        let sku = format!("SKU-{position}");
        let options = json!({ "Size": position.to_string() });
        queries.push(Query::new(
            "INSERT INTO catalog.variants (id, product_id, vendor_id, sku, options, price_minor, currency) \
             VALUES ($1, $2, $3, $4, $5::jsonb, 1000, 'EUR')",
            &[variant, &product, &vendor, &sku, &options],
        ));
        queries.push(Query::new(
            "INSERT INTO catalog.variant_stock (variant_id, vendor_id, available) VALUES ($1, $2, $3::integer)",
            &[variant, &vendor, stock],
        ));
    }
    if adoption == Adoption::Adopted {
        queries.push(Query::new("SELECT inventory.adopt_catalog_stock(NULL)", &[]));
    }
    if let Err(error) = neon.batch(&queries, BatchOptions::default()).await {
        panic!("the shop fixture: {error}");
    }
    Shop { vendor, product, variants }
}
