//! The catalog's stock read model (migration 0014) through the Neon HTTP protocol, against a real
//! PostgreSQL migrated from scratch: inventory's events, applied in any order and any number of
//! times, leave the catalog showing exactly what inventory holds, summed over locations; unknown
//! variants and other vendors' levels change nothing; in-stock flips are reported for the cache.
//!
//! Needs only the system's PostgreSQL (no Wasm builds), like checkout_sql.rs.

use e2e::sql_fixtures::{Adoption, Neon, Shop, sql};
use e2e::{MigratedDatabase, fresh_id as id};
use serde_json::{Value, json};

async fn neon() -> Neon {
    MigratedDatabase::shared("catalog-stock-sql").await.neon()
}

/// A vendor's active product with one variant the catalog shows `stock` of, adopted by inventory.
async fn shop(neon: &Neon, stock: i64) -> Shop {
    e2e::sql_fixtures::shop(neon, &[stock], Adoption::Adopted).await
}

fn level(shop: &Shop, location: &str, available: i64, version: i64) -> Value {
    json!({"variant_id": shop.variants[0], "vendor_id": shop.vendor, "location_id": location,
           "available": available, "version": version})
}

/// Applies levels; answers (product, in stock before, in stock after) per product touched.
async fn apply(neon: &Neon, levels: &[Value]) -> Vec<(String, bool, bool)> {
    let result = sql(
        neon,
        "SELECT product_id, in_stock_before, in_stock_after FROM catalog.apply_stock_levels($1::jsonb)",
        &[&Value::Array(levels.to_vec())],
    )
    .await;
    result
        .iter()
        .map(|row| (row.get(0).expect("product"), row.get(1).expect("before"), row.get(2).expect("after")))
        .collect()
}

/// What the storefront shows for the variant.
async fn shown(neon: &Neon, shop: &Shop) -> i64 {
    let result =
        sql(neon, "SELECT available FROM catalog.variant_stock WHERE variant_id = $1", &[&shop.variants[0]]).await;
    result.one().expect("a stock row").get(0).expect("available")
}

#[tokio::test]
async fn the_newest_level_per_location_wins_and_locations_add_up() {
    let neon = neon().await;
    let shop = shop(&neon, 5).await;
    let (home, warehouse) = (shop.default_location(), id("loc"));
    apply(&neon, &[level(&shop, &home, 4, 3), level(&shop, &warehouse, 6, 2)]).await;
    assert_eq!(shown(&neon, &shop).await, 10);
    // Late and repeated events change nothing.
    apply(&neon, &[level(&shop, &home, 99, 2), level(&shop, &home, 4, 3)]).await;
    assert_eq!(shown(&neon, &shop).await, 10);
    // Two levels of one location in one batch: the newer one.
    apply(&neon, &[level(&shop, &warehouse, 1, 5), level(&shop, &warehouse, 0, 4)]).await;
    assert_eq!(shown(&neon, &shop).await, 5);
}

#[tokio::test]
async fn what_the_catalog_showed_before_inventorys_first_event_stays_at_the_default_location() {
    let neon = neon().await;
    let shop = shop(&neon, 5).await;
    // Stock counted at a second location first: the adopted 5 at the default location still count.
    apply(&neon, &[level(&shop, &id("loc"), 3, 2)]).await;
    assert_eq!(shown(&neon, &shop).await, 8);
    // The default location's own event then replaces the adopted number (any version beats it).
    apply(&neon, &[level(&shop, &shop.default_location(), 1, 1)]).await;
    assert_eq!(shown(&neon, &shop).await, 4);
}

#[tokio::test]
async fn levels_of_unknown_variants_or_of_another_vendor_change_nothing() {
    let neon = neon().await;
    let shop = shop(&neon, 5).await;
    let mut wrong_vendor = level(&shop, &shop.default_location(), 0, 9);
    wrong_vendor["vendor_id"] = json!(id("ven"));
    let mut unknown = level(&shop, &shop.default_location(), 0, 9);
    unknown["variant_id"] = json!(id("var"));
    assert_eq!(apply(&neon, &[wrong_vendor, unknown]).await, Vec::new());
    assert_eq!(shown(&neon, &shop).await, 5);
}

#[tokio::test]
async fn coming_into_and_going_out_of_stock_is_reported_for_the_lists() {
    let neon = neon().await;
    let shop = shop(&neon, 0).await;
    let home = shop.default_location();
    assert_eq!(apply(&neon, &[level(&shop, &home, 2, 2)]).await, [(shop.product.clone(), false, true)]);
    assert_eq!(apply(&neon, &[level(&shop, &home, 1, 3)]).await, [(shop.product.clone(), true, true)]);
    assert_eq!(apply(&neon, &[level(&shop, &home, 0, 4)]).await, [(shop.product.clone(), true, false)]);
}

/// The real producer: inventory's own `inventory.stock_changed` events, delivered backwards and
/// twice over, leave the catalog showing what inventory holds.
#[tokio::test]
async fn inventorys_events_in_any_order_and_repeated_match_inventory() {
    let neon = neon().await;
    let shop = shop(&neon, 5).await;
    let warehouse = shop.add_location(&neon).await;
    let set = "SELECT 1 FROM inventory.set_on_hand($1, $2, $3, $4::integer, NULL)";
    for (location, on_hand) in [(None, 9), (Some(&warehouse), 4), (None, 2), (Some(&warehouse), 7)] {
        sql(&neon, set, &[&shop.vendor, &shop.variants[0], &location, &on_hand]).await;
    }
    let reference = id("grp");
    sql(
        &neon,
        "SELECT 1 FROM inventory.reserve($1, $2::jsonb, now() + interval '15 minutes')",
        &[&reference, &json!([{"variant_id": shop.variants[0], "quantity": 3}])],
    )
    .await;
    let events = sql(
        &neon,
        "SELECT coalesce(json_agg(payload ORDER BY id DESC), '[]') FROM inventory.outbox \
         WHERE topic = 'inventory.stock_changed' AND payload ->> 'variant_id' = $1",
        &[&shop.variants[0]],
    )
    .await;
    let events: Value = events.one().expect("a row").get(0).expect("json");
    let events = events.as_array().expect("events").clone();
    assert_eq!(events.len(), 6, "four counts, and a reservation taking from both locations: {events:?}");
    apply(&neon, &events).await;
    apply(&neon, &events).await;
    let held =
        sql(&neon, "SELECT sum(available)::bigint FROM inventory.stock WHERE variant_id = $1", &[&shop.variants[0]])
            .await;
    let held: i64 = held.one().expect("a row").get(0).expect("sum");
    assert_eq!((held, shown(&neon, &shop).await), (6, 6), "2 + 7 on hand, 3 of them reserved");
}
