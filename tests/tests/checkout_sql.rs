//! The checkout's SQL (migrations 0009–0012) through the Neon HTTP protocol, against a real
//! PostgreSQL migrated from scratch: reservations all-or-nothing and exact under concurrency,
//! idempotent release / consume / expiry, stock never negative and every change in the movements
//! ledger, a balanced double-entry ledger, outbox and saga claims, idempotency keys, order totals
//! and lifecycle, refunds, payouts and coupon limits.
//!
//! Needs only the system's PostgreSQL (no Wasm builds), like the gateways' conformance tests.
//! Tests that sweep a whole table (expiry, outbox and saga claims, the seed) get a database of
//! their own in the same cluster, so they never take another test's rows.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use e2e::sql_fixtures::{self, Adoption, Neon, Shop, one_i64, sql};
use e2e::{MigratedDatabase, fresh_id as id};
use serde_json::{Value, json};
use shared::catalog::{Currency, Money, VendorId};
use shared::neon::{BatchOptions, NeonError, PostgresError, Query, QueryResult, ToSql};
use shared::orders::{Actor, BuyerId, Carrier, OrderAction, OrderState, OrderStatus, Shipment, TrackingNumber};
use shared::payments::PaymentStatus;
use tokio::task::JoinSet;

const NAME: &str = "checkout-sql";

/// The shared database (every migration applied).
async fn neon() -> Arc<Neon> {
    Arc::new(MigratedDatabase::shared(NAME).await.neon())
}

/// A database of this test's own, migrated from scratch.
async fn own_database(name: &str) -> Arc<Neon> {
    let database = MigratedDatabase::shared(NAME).await;
    database.create(name).await.expect("a database of its own");
    Arc::new(database.neon_for(name))
}

/// One statement with its parameters bound now, so the future may run on another task.
fn exec<'a>(
    neon: &'a Neon,
    query: &str,
    params: &[&dyn ToSql],
) -> impl Future<Output = Result<QueryResult, NeonError>> + Send + use<'a> {
    let query = Query::new(query, params);
    async move { neon.execute(&query).await }
}

/// The Postgres error of a call that must fail with `code`.
fn refused<T>(result: Result<T, NeonError>, code: &str) -> PostgresError {
    match result {
        Ok(_) => panic!("expected SQLSTATE {code}, but it succeeded"),
        Err(error) => error_with(error, code),
    }
}

fn error_with(error: NeonError, code: &str) -> PostgresError {
    assert_eq!(error.sqlstate(), Some(code), "{error}");
    error.postgres().cloned().expect("a Postgres error")
}

async fn one_bool(neon: &Neon, query: &str, params: &[&dyn ToSql]) -> bool {
    sql(neon, query, params).await.one().expect("one row").get(0).expect("a boolean")
}

fn column<T: shared::neon::FromValue>(result: &QueryResult, name: &str) -> Vec<T> {
    result.iter().map(|row| row.get(name).expect(name)).collect()
}

// ---------------------------------------------------------------------------------------------
// Catalog fixtures

/// A vendor with one product whose variants have `stocks` in the catalog, adopted by inventory.
async fn shop(neon: &Neon, stocks: &[i64]) -> Shop {
    sql_fixtures::shop(neon, stocks, Adoption::Adopted).await
}

/// The same, in the catalog only.
async fn catalog_shop(neon: &Neon, stocks: &[i64]) -> Shop {
    sql_fixtures::shop(neon, stocks, Adoption::CatalogOnly).await
}

// ---------------------------------------------------------------------------------------------
// Inventory helpers

fn items(wanted: &[(&str, i64)]) -> Value {
    Value::Array(
        wanted.iter().map(|(variant, quantity)| json!({ "variant_id": variant, "quantity": quantity })).collect(),
    )
}

const RESERVE: &str =
    "SELECT id, variant_id, quantity, status FROM inventory.reserve($1, $2::jsonb, now() + interval '15 minutes')";

fn reserve<'a>(
    neon: &'a Neon,
    reference: &str,
    items: &Value,
) -> impl Future<Output = Result<QueryResult, NeonError>> + Send + use<'a> {
    exec(neon, RESERVE, &[&reference, items])
}

/// (on hand, reserved) summed over the variant's locations.
async fn stock(neon: &Neon, variant: &str) -> (i64, i64) {
    let result = sql(
        neon,
        "SELECT sum(on_hand)::bigint, sum(reserved)::bigint FROM inventory.stock WHERE variant_id = $1",
        &[&variant],
    )
    .await;
    let row = result.one().expect("one row");
    (row.get(0).expect("on hand"), row.get(1).expect("reserved"))
}

/// Each of the variant's stock rows equals the sum of its movements, holds what its active
/// reservations hold, and is not negative.
async fn assert_books_agree(neon: &Neon, variant: &str) {
    let disagreeing = one_i64(
        neon,
        "SELECT count(*) FROM inventory.stock s \
         WHERE s.variant_id = $1 AND ( \
             s.on_hand <> (SELECT coalesce(sum(m.on_hand_delta), 0) FROM inventory.movements m \
                           WHERE m.variant_id = s.variant_id AND m.location_id = s.location_id) \
          OR s.reserved <> (SELECT coalesce(sum(m.reserved_delta), 0) FROM inventory.movements m \
                           WHERE m.variant_id = s.variant_id AND m.location_id = s.location_id) \
          OR s.reserved <> (SELECT coalesce(sum(r.quantity), 0) FROM inventory.reservations r \
                           WHERE r.variant_id = s.variant_id AND r.location_id = s.location_id AND r.status = 'active') \
          OR s.available < 0)",
        &[&variant],
    )
    .await;
    assert_eq!(disagreeing, 0, "stock of {variant} disagrees with its movements or reservations");
}

async fn statuses(neon: &Neon, reference: &str) -> Vec<String> {
    let result =
        sql(neon, "SELECT status FROM inventory.reservations WHERE reference = $1 ORDER BY variant_id", &[&reference])
            .await;
    column(&result, "status")
}

// ---------------------------------------------------------------------------------------------
// Ids and the seed

#[tokio::test]
async fn sql_minted_ids_have_the_format_and_clock_of_shared_ids() {
    let neon = neon().await;
    let result = sql(
        &neon,
        "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS before, \
                public.new_ulid_id('evt') AS id, \
                floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS after",
        &[],
    )
    .await;
    let row = result.one().expect("one row");
    let (before, minted, after): (i64, String, i64) =
        (row.get("before").expect("before"), row.get("id").expect("id"), row.get("after").expect("after"));
    // The same 14 leading characters (prefix and time) as shared::ids for a millisecond in range.
    let lowest = shared::ids::new_id("evt", before as u64, [0; 10]);
    let highest = shared::ids::new_id("evt", after as u64, [0xff; 10]);
    assert!(lowest <= minted && minted <= highest, "{lowest} <= {minted} <= {highest}");
    assert_eq!(minted.len(), 30);
    assert!(minted[4..].bytes().all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b)), "{minted}");

    let result = sql(&neon, "SELECT public.new_ulid_id('x') FROM generate_series(1, 1000)", &[]).await;
    let ids: BTreeSet<String> = column(&result, "new_ulid_id").into_iter().collect();
    assert_eq!(ids.len(), 1000, "SQL-minted ids repeat");
}

#[tokio::test]
async fn catalog_stock_present_before_the_inventory_migration_is_seeded_at_default_locations() {
    let database = MigratedDatabase::shared(NAME).await;
    let before_inventory = std::env::temp_dir().join(format!("checkout-sql-0008-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&before_inventory);
    std::fs::create_dir_all(&before_inventory).expect("a migrations directory");
    let all = xtask::paths::repo_root().join("migrations");
    for entry in std::fs::read_dir(&all).expect("migrations") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_owned();
        if name.as_str() < "0009" {
            std::fs::copy(&path, before_inventory.join(&name)).expect("copy a migration");
        }
    }
    database.create_with("seeded", &before_inventory).await.expect("migrations up to 0008");
    let neon = database.neon_for("seeded");
    let first = catalog_shop(&neon, &[7, 0]).await;
    let second = catalog_shop(&neon, &[3]).await;

    database.migrate("seeded", &all).await.expect("the inventory migration and the rest");
    let _ = std::fs::remove_dir_all(&before_inventory);

    assert_eq!(stock(&neon, &first.variants[0]).await, (7, 0));
    assert_eq!(stock(&neon, &first.variants[1]).await, (0, 0));
    assert_eq!(stock(&neon, &second.variants[0]).await, (3, 0));
    for shop in [&first, &second] {
        let default = shop.default_location();
        let result = sql(
            &neon,
            "SELECT DISTINCT s.location_id FROM inventory.stock s JOIN inventory.locations l ON l.id = s.location_id \
             WHERE s.vendor_id = $1 AND l.is_default",
            &[&shop.vendor],
        )
        .await;
        assert_eq!(column::<String>(&result, "location_id"), [default]);
    }
    // Adopting is a copy of what the catalog already shows: a movement for each stock that is not
    // zero, no event for the catalog.
    assert_eq!(one_i64(&neon, "SELECT count(*) FROM inventory.movements WHERE kind = 'adopt'", &[]).await, 2);
    assert_eq!(one_i64(&neon, "SELECT count(*) FROM inventory.outbox", &[]).await, 0);
    // A second adoption changes nothing, even after the catalog's number moved.
    sql(&neon, "UPDATE catalog.variant_stock SET available = 99 WHERE variant_id = $1", &[&first.variants[0]]).await;
    assert_eq!(one_i64(&neon, "SELECT inventory.adopt_catalog_stock(NULL)", &[]).await, 0);
    assert_eq!(stock(&neon, &first.variants[0]).await, (7, 0));
    // A variant the catalog gained later is adopted by the next call.
    let later = catalog_shop(&neon, &[4]).await;
    assert_eq!(one_i64(&neon, "SELECT inventory.adopt_catalog_stock(NULL)", &[]).await, 1);
    assert_eq!(stock(&neon, &later.variants[0]).await, (4, 0));
}

#[tokio::test]
async fn the_dev_seed_leaves_inventory_holding_the_catalogs_stock() {
    let database = MigratedDatabase::shared(NAME).await;
    database.create("dev_seed").await.expect("a database of its own");
    let neon = database.neon_for("dev_seed");
    let config = xtask::catalog_seed::SeedConfig { products: 60, vendors: 4, categories: 10 };
    for _ in 0..2 {
        xtask::catalog_seed::run(&database.neon_url(), &database.connection_string("dev_seed"), &config)
            .await
            .expect("the seed runs");
        let differing = one_i64(
            &neon,
            "SELECT count(*) FROM catalog.variant_stock c FULL JOIN inventory.stock s ON s.variant_id = c.variant_id \
             WHERE s.variant_id IS NULL OR c.variant_id IS NULL OR s.on_hand <> c.available OR s.reserved <> 0",
            &[],
        )
        .await;
        assert_eq!(differing, 0, "inventory and the catalog disagree after seeding");
    }
    let variants = one_i64(&neon, "SELECT count(*) FROM catalog.variants", &[]).await;
    assert!(variants >= 60, "{variants} variants");
    let locations =
        one_i64(&neon, "SELECT count(DISTINCT vendor_id) FROM inventory.locations WHERE is_default", &[]).await;
    assert_eq!(locations, one_i64(&neon, "SELECT count(DISTINCT vendor_id) FROM catalog.variant_stock", &[]).await);
}

// ---------------------------------------------------------------------------------------------
// Reservations

#[tokio::test]
async fn a_reservation_takes_every_item_or_none_and_names_the_short_variants() {
    let neon = neon().await;
    let shop = shop(&neon, &[5, 2, 1]).await;
    let [plenty, scarce, single] = [&shop.variants[0], &shop.variants[1], &shop.variants[2]];
    let reference = id("grp");

    let error = refused(reserve(&neon, &reference, &items(&[(plenty, 3), (scarce, 3), (single, 2)])).await, "IV001");
    assert!(error.message.contains(scarce.as_str()) && error.message.contains(single.as_str()), "{}", error.message);
    assert!(!error.message.contains(plenty.as_str()), "{}", error.message);
    let detail: Value = serde_json::from_str(error.detail.as_deref().expect("a detail")).expect("JSON detail");
    let mut expected = vec![
        json!({ "variant_id": scarce, "requested": 3, "available": 2 }),
        json!({ "variant_id": single, "requested": 2, "available": 1 }),
    ];
    expected.sort_by_key(|short| short["variant_id"].as_str().unwrap_or_default().to_owned());
    assert_eq!(detail, Value::Array(expected));
    for variant in &shop.variants {
        assert_eq!(stock(&neon, variant).await.1, 0, "{variant} kept a reservation");
        assert_books_agree(&neon, variant).await;
    }
    assert!(statuses(&neon, &reference).await.is_empty());

    // The same items repeated in one request count together.
    refused(reserve(&neon, &reference, &items(&[(scarce, 1), (scarce, 2)])).await, "IV001");
    let held = reserve(&neon, &reference, &items(&[(plenty, 3), (scarce, 2), (single, 1)])).await.expect("reserves");
    assert_eq!(column::<String>(&held, "status"), ["active", "active", "active"]);
    assert_eq!(stock(&neon, plenty).await, (5, 3));
    assert_eq!(stock(&neon, scarce).await, (2, 2));
    // A variant inventory does not know is short, with nothing available.
    let unknown = id("var");
    let error = refused(reserve(&neon, &id("grp"), &items(&[(&unknown, 1)])).await, "IV001");
    assert!(error.message.contains(&format!("{unknown} (requested 1, available 0)")), "{}", error.message);
}

#[tokio::test]
async fn malformed_reservation_requests_are_refused_before_anything_is_held() {
    let neon = neon().await;
    let shop = shop(&neon, &[5]).await;
    let variant = shop.variants[0].as_str();
    for bad in [
        json!([]),
        json!({ "variant_id": variant, "quantity": 1 }),
        json!([{ "variant_id": variant, "quantity": 0 }]),
        json!([{ "variant_id": variant, "quantity": -1 }]),
        json!([{ "variant_id": variant, "quantity": 1.5 }]),
        json!([{ "variant_id": variant, "quantity": "1" }]),
        json!([{ "variant_id": "prod_x", "quantity": 1 }]),
    ] {
        refused(reserve(&neon, &id("grp"), &bad).await, "22023");
    }
    let in_the_past = exec(
        &neon,
        "SELECT * FROM inventory.reserve($1, $2::jsonb, now() - interval '1 second')",
        &[&id("grp"), &items(&[(variant, 1)])],
    )
    .await;
    refused(in_the_past, "22023");
    assert_eq!(stock(&neon, variant).await, (5, 0));
}

#[tokio::test]
async fn a_hundred_concurrent_single_unit_reserves_of_ten_units_succeed_exactly_ten_times() {
    let neon = neon().await;
    let shop = shop(&neon, &[10]).await;
    let variant = shop.variants[0].clone();
    let mut tasks = JoinSet::new();
    for _ in 0..100 {
        let (neon, variant) = (neon.clone(), variant.clone());
        tasks.spawn(async move { reserve(&neon, &id("grp"), &items(&[(&variant, 1)])).await });
    }
    let (mut held, mut short) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("the task finishes") {
            Ok(_) => held += 1,
            Err(error) if error.sqlstate() == Some("IV001") => short += 1,
            Err(error) => panic!("neither held nor short: {error}"),
        }
    }
    assert_eq!((held, short), (10, 90));
    assert_eq!(stock(&neon, &variant).await, (10, 10));
    assert_books_agree(&neon, &variant).await;
    let active = "SELECT count(*) FROM inventory.reservations WHERE variant_id = $1 AND status = 'active'";
    assert_eq!(one_i64(&neon, active, &[&variant]).await, 10);

    // The constraints hold even against a hand-written update.
    let oversold = exec(&neon, "UPDATE inventory.stock SET reserved = reserved + 1 WHERE variant_id = $1", &[&variant]);
    let error = refused(oversold.await, "23514");
    assert_eq!(error.constraint.as_deref(), Some("stock_reserved_within_on_hand"));
    let negative =
        exec(&neon, "UPDATE inventory.stock SET reserved = 0, on_hand = -1 WHERE variant_id = $1", &[&variant]);
    refused(negative.await, "23514");
}

#[tokio::test]
async fn overlapping_concurrent_reserves_in_any_item_order_never_deadlock() {
    let neon = neon().await;
    let shop = shop(&neon, &[100, 100, 100]).await;
    let mut tasks = JoinSet::new();
    for n in 0..40 {
        let neon = neon.clone();
        let mut variants = shop.variants.clone();
        variants.rotate_left(n % 3);
        tasks.spawn(async move {
            let wanted: Vec<(&str, i64)> = variants.iter().map(|variant| (variant.as_str(), 1)).collect();
            let reference = id("grp");
            reserve(&neon, &reference, &items(&wanted)).await?;
            let settle =
                if n % 2 == 0 { "SELECT * FROM inventory.release($1)" } else { "SELECT * FROM inventory.consume($1)" };
            let call = exec(&neon, settle, &[&reference]);
            call.await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("the task finishes").expect("every reserve, release and consume succeeds");
    }
    for variant in &shop.variants {
        assert_eq!(stock(&neon, variant).await, (80, 0));
        assert_books_agree(&neon, variant).await;
    }
}

#[tokio::test]
async fn reserving_again_under_the_same_reference_answers_the_first_reservation() {
    let neon = neon().await;
    let shop = shop(&neon, &[10, 10]).await;
    let [first, second] = [&shop.variants[0], &shop.variants[1]];
    let reference = id("grp");
    let wanted = items(&[(first, 2), (second, 1)]);

    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let (neon, reference, wanted) = (neon.clone(), reference.clone(), wanted.clone());
        tasks.spawn(async move { reserve(&neon, &reference, &wanted).await.map(|held| column::<String>(&held, "id")) });
    }
    let mut answers = BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        answers.insert(joined.expect("the task finishes").expect("every retry succeeds"));
    }
    assert_eq!(answers.len(), 1, "retries answered different reservations: {answers:?}");
    assert_eq!(stock(&neon, first).await, (10, 2));
    assert_eq!(stock(&neon, second).await, (10, 1));

    let error = refused(reserve(&neon, &reference, &items(&[(first, 3), (second, 1)])).await, "IV002");
    assert!(error.message.contains(&reference), "{}", error.message);
    refused(reserve(&neon, &reference, &items(&[(first, 2)])).await, "IV002");

    // After a release the reference stays released: a new attempt needs a new reference.
    sql(&neon, "SELECT * FROM inventory.release($1)", &[&reference]).await;
    let again = reserve(&neon, &reference, &wanted).await.expect("answers the released reservation");
    assert_eq!(column::<String>(&again, "status"), ["released", "released"]);
    assert_eq!(stock(&neon, first).await, (10, 0));
}

#[tokio::test]
async fn a_reservation_fills_from_the_default_location_first_then_the_others() {
    let neon = neon().await;
    let shop = shop(&neon, &[2]).await;
    let variant = &shop.variants[0];
    let warehouse = shop.add_location(&neon).await;
    let set = "SELECT on_hand FROM inventory.set_on_hand($1, $2, $3, $4::integer, 'count-1')";
    sql(&neon, set, &[&shop.vendor, variant, &warehouse, &5]).await;

    let reference = id("grp");
    let held = sql(
        &neon,
        "SELECT location_id, quantity FROM inventory.reserve($1, $2::jsonb, now() + interval '15 minutes') \
         ORDER BY quantity",
        &[&reference, &items(&[(variant, 4)])],
    )
    .await;
    let default = shop.default_location();
    assert_eq!(column::<String>(&held, "location_id"), [default, warehouse.clone()]);
    assert_eq!(column::<i64>(&held, "quantity"), [2, 2]);
    assert_eq!(stock(&neon, variant).await, (7, 4));
    sql(&neon, "SELECT * FROM inventory.consume($1)", &[&reference]).await;
    assert_eq!(stock(&neon, variant).await, (3, 0));
    assert_books_agree(&neon, variant).await;
}

#[tokio::test]
async fn release_consume_and_restock_are_idempotent() {
    let neon = neon().await;
    let shop = shop(&neon, &[10, 4]).await;
    let [first, second] = [&shop.variants[0], &shop.variants[1]];
    let wanted = items(&[(first, 3), (second, 4)]);

    let released = id("grp");
    reserve(&neon, &released, &wanted).await.expect("reserves");
    for _ in 0..2 {
        let rows = sql(&neon, "SELECT status FROM inventory.release($1)", &[&released]).await;
        assert_eq!(column::<String>(&rows, "status"), ["released", "released"]);
        assert_eq!((stock(&neon, first).await, stock(&neon, second).await), ((10, 0), (4, 0)));
    }
    let error = refused(exec(&neon, "SELECT * FROM inventory.consume($1)", &[&released]).await, "IV003");
    assert!(error.message.contains("released"), "{}", error.message);

    let consumed = id("grp");
    reserve(&neon, &consumed, &wanted).await.expect("reserves again");
    for _ in 0..2 {
        let rows = sql(&neon, "SELECT status FROM inventory.consume($1)", &[&consumed]).await;
        assert_eq!(column::<String>(&rows, "status"), ["consumed", "consumed"]);
        assert_eq!((stock(&neon, first).await, stock(&neon, second).await), ((7, 0), (0, 0)));
    }
    // Undoing a paid checkout puts its units back on the shelf, once; it cannot be consumed again.
    for _ in 0..2 {
        let rows = sql(&neon, "SELECT status FROM inventory.release($1)", &[&consumed]).await;
        assert_eq!(column::<String>(&rows, "status"), ["restocked", "restocked"]);
        assert_eq!((stock(&neon, first).await, stock(&neon, second).await), ((10, 0), (4, 0)));
    }
    refused(exec(&neon, "SELECT * FROM inventory.consume($1)", &[&consumed]).await, "IV003");
    refused(exec(&neon, "SELECT * FROM inventory.consume($1)", &[&id("grp")]).await, "IV003");
    // A compensation that runs before anything was reserved has nothing to do.
    assert!(sql(&neon, "SELECT * FROM inventory.release($1)", &[&id("grp")]).await.is_empty());

    let kinds = sql(
        &neon,
        "SELECT kind, count(*) AS n FROM inventory.movements WHERE reference = ANY ($1) GROUP BY kind ORDER BY kind",
        &[&vec![released.clone(), consumed.clone()]],
    )
    .await;
    // One movement per stock row per change, none for the repeated calls.
    assert_eq!(column::<String>(&kinds, "kind"), ["consume", "release", "reserve", "restock"]);
    assert_eq!(column::<i64>(&kinds, "n"), [2, 2, 4, 2]);
    for variant in [first, second] {
        assert_books_agree(&neon, variant).await;
    }
}

/// One vendor's paid order of a two-vendor checkout is cancelled before shipping: only its units
/// come back, once, each as a movement and an event for the catalog; the other vendor's stay sold.
#[tokio::test]
async fn releasing_one_vendors_part_restocks_only_its_rows_once() {
    let neon = neon().await;
    let (cancelled, kept) = (shop(&neon, &[5]).await, shop(&neon, &[6]).await);
    let (mine, theirs) = (&cancelled.variants[0], &kept.variants[0]);
    let group = id("grp");
    reserve(&neon, &group, &items(&[(mine, 2), (theirs, 3)])).await.expect("reserves");
    sql(&neon, "SELECT * FROM inventory.consume($1)", &[&group]).await;
    assert_eq!((stock(&neon, mine).await, stock(&neon, theirs).await), ((3, 0), (3, 0)));
    let events_before =
        one_i64(&neon, "SELECT count(*) FROM inventory.outbox WHERE payload ->> 'variant_id' = $1", &[mine]).await;

    for _ in 0..2 {
        let rows =
            sql(&neon, "SELECT variant_id, status FROM inventory.release_vendor($1, $2)", &[&group, &cancelled.vendor])
                .await;
        assert_eq!(
            (column::<String>(&rows, "variant_id"), column::<String>(&rows, "status")),
            (vec![mine.clone()], vec!["restocked".to_owned()])
        );
        assert_eq!((stock(&neon, mine).await, stock(&neon, theirs).await), ((5, 0), (3, 0)));
    }
    let mut both = statuses(&neon, &group).await;
    both.sort();
    assert_eq!(both, ["consumed", "restocked"], "the other vendor's units stay sold");
    let restocked =
        one_i64(&neon, "SELECT count(*) FROM inventory.movements WHERE reference = $1 AND kind = 'restock'", &[&group])
            .await;
    assert_eq!(restocked, 1, "one movement, none for the repeat");
    let events =
        one_i64(&neon, "SELECT count(*) FROM inventory.outbox WHERE payload ->> 'variant_id' = $1", &[mine]).await;
    assert_eq!(events, events_before + 1, "the catalog hears of it once");
    // A vendor with nothing in the reservation, or an unknown reference, changes nothing.
    assert!(sql(&neon, "SELECT * FROM inventory.release_vendor($1, $2)", &[&group, &id("ven")]).await.is_empty());
    assert!(
        sql(&neon, "SELECT * FROM inventory.release_vendor($1, $2)", &[&id("grp"), &cancelled.vendor]).await.is_empty()
    );
    // Undoing the whole checkout later restocks what is left, and only that.
    sql(&neon, "SELECT * FROM inventory.release($1)", &[&group]).await;
    assert_eq!((stock(&neon, mine).await, stock(&neon, theirs).await), ((5, 0), (6, 0)));
    for variant in [mine, theirs] {
        assert_books_agree(&neon, variant).await;
    }
}

#[tokio::test]
async fn expiry_gives_stock_back_once_and_then_refuses_to_consume() {
    let neon = own_database("expiry").await;
    let shop = shop(&neon, &[5]).await;
    let variant = &shop.variants[0];
    let soon = "SELECT * FROM inventory.reserve($1, $2::jsonb, now() + interval '2 seconds')";
    let (expiring, lasting) = (id("grp"), id("grp"));
    sql(&neon, soon, &[&expiring, &items(&[(variant, 2)])]).await;
    reserve(&neon, &lasting, &items(&[(variant, 1)])).await.expect("reserves");

    let sweep = "SELECT reference, status FROM inventory.release_expired(now() + interval '1 minute', 100)";
    let swept = sql(&neon, sweep, &[]).await;
    assert_eq!(column::<String>(&swept, "reference"), [expiring.as_str()]);
    assert_eq!(column::<String>(&swept, "status"), ["expired"]);
    assert_eq!(stock(&neon, variant).await, (5, 1));
    assert!(sql(&neon, sweep, &[]).await.is_empty(), "a second sweep expired something again");
    assert_eq!(stock(&neon, variant).await, (5, 1));

    let error = refused(exec(&neon, "SELECT * FROM inventory.consume($1)", &[&expiring]).await, "IV003");
    assert!(error.message.contains("expired"), "{}", error.message);
    // Releasing an expired reference is a no-op, as for a released one.
    let rows = sql(&neon, "SELECT status FROM inventory.release($1)", &[&expiring]).await;
    assert_eq!(column::<String>(&rows, "status"), ["expired"]);
    assert_eq!(stock(&neon, variant).await, (5, 1));
    refused(exec(&neon, "SELECT * FROM inventory.release_expired(now(), 0)", &[]).await, "22023");
    assert_books_agree(&neon, variant).await;
}

#[tokio::test]
async fn a_payment_racing_the_expiry_sweep_either_consumes_or_finds_it_expired() {
    let neon = own_database("expiry_race").await;
    let shop = shop(&neon, &[20]).await;
    let variant = shop.variants[0].clone();
    let soon = "SELECT * FROM inventory.reserve($1, $2::jsonb, now() + interval '2 seconds')";
    let references: Vec<String> = (0..20).map(|_| id("grp")).collect();
    for reference in &references {
        sql(&neon, soon, &[reference, &items(&[(&variant, 1)])]).await;
    }
    let mut consumes = JoinSet::new();
    for reference in references.clone() {
        let neon = neon.clone();
        consumes.spawn(async move {
            let call = exec(&neon, "SELECT * FROM inventory.consume($1)", &[&reference]);
            let outcome = call.await;
            (reference, outcome)
        });
    }
    let mut sweeps = JoinSet::new();
    for _ in 0..3 {
        let neon = neon.clone();
        sweeps.spawn(async move {
            exec(&neon, "SELECT reference FROM inventory.release_expired(now() + interval '1 minute', 5)", &[]).await
        });
    }
    let mut consumed = BTreeSet::new();
    while let Some(joined) = consumes.join_next().await {
        let (reference, outcome) = joined.expect("the task finishes");
        match outcome {
            Ok(_) => {
                consumed.insert(reference);
            }
            Err(error) => assert_eq!(error.sqlstate(), Some("IV003"), "{error}"),
        }
    }
    while let Some(joined) = sweeps.join_next().await {
        joined.expect("the task finishes").expect("every sweep succeeds");
    }
    for reference in &references {
        let expected = if consumed.contains(reference) { "consumed" } else { "expired" };
        let status = statuses(&neon, reference).await;
        // Not yet swept counts as expired after one more sweep.
        if status == ["active"] {
            sql(&neon, "SELECT * FROM inventory.release_expired(now() + interval '1 minute', 100)", &[]).await;
        }
        assert_eq!(statuses(&neon, reference).await, [expected], "{reference}");
    }
    assert_eq!(stock(&neon, &variant).await, (20 - consumed.len() as i64, 0));
    assert_books_agree(&neon, &variant).await;
}

#[tokio::test]
async fn setting_on_hand_checks_the_vendor_and_never_drops_below_reserved() {
    let neon = neon().await;
    let shop = shop(&neon, &[5]).await;
    let other = shop_vendor_only(&neon).await;
    let variant = &shop.variants[0];
    let set = "SELECT on_hand, version FROM inventory.set_on_hand($1, $2, NULL, $3::integer, 'count-7')";
    reserve(&neon, &id("grp"), &items(&[(variant, 3)])).await.expect("reserves");

    refused(exec(&neon, set, &[&other, variant, &9]).await, "IV004");
    let error = refused(exec(&neon, set, &[&shop.vendor, variant, &2]).await, "IV005");
    assert!(error.message.contains("3 reserved"), "{}", error.message);
    let row = sql(&neon, set, &[&shop.vendor, variant, &12]).await;
    let version: i64 = row.one().expect("one row").get("version").expect("version");
    assert_eq!(stock(&neon, variant).await, (12, 3));
    // The same count again is no change: no movement, no new version.
    let again = sql(&neon, set, &[&shop.vendor, variant, &12]).await;
    assert_eq!(again.one().expect("one row").get::<i64>("version").expect("version"), version);
    let sets =
        "SELECT count(*) FROM inventory.movements WHERE variant_id = $1 AND kind = 'set' AND reference = 'count-7'";
    assert_eq!(one_i64(&neon, sets, &[variant]).await, 1);
    assert_books_agree(&neon, variant).await;
}

async fn shop_vendor_only(neon: &Neon) -> String {
    catalog_shop(neon, &[]).await.vendor
}

#[tokio::test]
async fn crossing_the_low_stock_threshold_writes_one_event_each_time() {
    let neon = neon().await;
    let shop = shop(&neon, &[5]).await;
    let variant = &shop.variants[0];
    sql(&neon, "UPDATE inventory.stock SET low_stock_threshold = 3 WHERE variant_id = $1", &[variant]).await;
    let alerts =
        "SELECT count(*) FROM inventory.outbox WHERE topic = 'inventory.low_stock' AND payload ->> 'variant_id' = $1";

    let (first, second) = (id("grp"), id("grp"));
    reserve(&neon, &first, &items(&[(variant, 1)])).await.expect("reserves");
    assert_eq!(one_i64(&neon, alerts, &[variant]).await, 0, "4 available is above the threshold");
    reserve(&neon, &second, &items(&[(variant, 1)])).await.expect("reserves");
    assert_eq!(one_i64(&neon, alerts, &[variant]).await, 1, "3 available is at the threshold");
    reserve(&neon, &id("grp"), &items(&[(variant, 1)])).await.expect("reserves");
    assert_eq!(one_i64(&neon, alerts, &[variant]).await, 1, "still low is not a new crossing");
    sql(&neon, "SELECT * FROM inventory.release($1)", &[&first]).await;
    sql(&neon, "SELECT * FROM inventory.release($1)", &[&second]).await;
    reserve(&neon, &id("grp"), &items(&[(variant, 1)])).await.expect("reserves");
    assert_eq!(one_i64(&neon, alerts, &[variant]).await, 2, "back above, then down again");

    let event = sql(
        &neon,
        "SELECT payload FROM inventory.outbox WHERE topic = 'inventory.low_stock' AND payload ->> 'variant_id' = $1 \
         ORDER BY id LIMIT 1",
        &[variant],
    )
    .await;
    let payload: Value = event.one().expect("one row").get("payload").expect("payload");
    assert_eq!((payload["available"].clone(), payload["threshold"].clone()), (json!(3), json!(3)));
    assert_eq!(payload["vendor_id"], json!(shop.vendor));
}

#[tokio::test]
async fn every_availability_change_is_an_ordered_stock_changed_event_for_the_catalog() {
    let neon = neon().await;
    let shop = shop(&neon, &[6]).await;
    let variant = &shop.variants[0];
    let (kept, dropped) = (id("grp"), id("grp"));
    reserve(&neon, &kept, &items(&[(variant, 2)])).await.expect("reserves");
    reserve(&neon, &dropped, &items(&[(variant, 1)])).await.expect("reserves");
    sql(&neon, "SELECT * FROM inventory.release($1)", &[&dropped]).await;
    sql(&neon, "SELECT * FROM inventory.consume($1)", &[&kept]).await;

    let events = sql(
        &neon,
        "SELECT (payload ->> 'available')::integer AS available, (payload ->> 'version')::bigint AS version \
         FROM inventory.outbox WHERE topic = 'inventory.stock_changed' AND payload ->> 'variant_id' = $1 ORDER BY id",
        &[variant],
    )
    .await;
    // Consuming moves on hand and reserved together: what can be sold does not change.
    assert_eq!(column::<i64>(&events, "available"), [4, 3, 4]);
    let versions: Vec<i64> = column(&events, "version");
    assert!(versions.windows(2).all(|pair| pair[0] < pair[1]), "{versions:?}");
}

// ---------------------------------------------------------------------------------------------
// Outbox and saga claims

#[tokio::test]
async fn concurrent_outbox_claimers_never_get_the_same_event() {
    let neon = own_database("outbox").await;
    for schema in ["inventory", "orders", "payments"] {
        let written = sql(
            &neon,
            &format!(
                "INSERT INTO {schema}.outbox (id, topic, payload) \
                 SELECT public.new_ulid_id('evt'), 'test.claimed', jsonb_build_object('n', n) \
                 FROM generate_series(1, 300) n RETURNING id"
            ),
            &[],
        )
        .await;
        let written: BTreeSet<String> = column::<String>(&written, "id").into_iter().collect();

        let mut claimers = JoinSet::new();
        for _ in 0..6 {
            let neon = neon.clone();
            let claim = format!("SELECT id FROM {schema}.claim_outbox(7, interval '10 minutes')");
            claimers.spawn(async move {
                let mut claimed = Vec::new();
                loop {
                    let batch = exec(&neon, &claim, &[]).await.expect("a claim");
                    if batch.is_empty() {
                        return claimed;
                    }
                    claimed.extend(column::<String>(&batch, "id"));
                }
            });
        }
        let mut claimed = Vec::new();
        while let Some(joined) = claimers.join_next().await {
            claimed.extend(joined.expect("the claimer finishes"));
        }
        let distinct: BTreeSet<String> = claimed.iter().cloned().collect();
        assert_eq!(claimed.len(), distinct.len(), "{schema}: an event was handed out twice");
        assert_eq!(distinct, written, "{schema}: every event is claimed once");

        // Leased: nothing is due until the lease ends; delivered or parked rows never come back.
        let mine: Vec<String> = written.iter().cloned().collect();
        let again = format!("SELECT id FROM {schema}.claim_outbox(1000, interval '10 minutes')");
        assert!(sql(&neon, &again, &[]).await.is_empty());
        let delivered = format!("SELECT {schema}.outbox_delivered($1)");
        assert_eq!(one_i64(&neon, &delivered, &[&mine[..299].to_vec()]).await, 299);
        assert_eq!(one_i64(&neon, &delivered, &[&mine[..299].to_vec()]).await, 0);
        let retry_now = format!("SELECT {schema}.outbox_failed($1, 'HTTP 503', now())");
        sql(&neon, &retry_now, &[&mine[299]]).await;
        let retried = sql(&neon, &again, &[]).await;
        assert_eq!(column::<String>(&retried, "id"), [mine[299].clone()]);
        let attempts = format!("SELECT attempts, last_error FROM {schema}.outbox WHERE id = $1");
        let row = sql(&neon, &attempts, &[&mine[299]]).await;
        let row = row.one().expect("one row");
        assert_eq!(row.get::<i64>("attempts").expect("attempts"), 2);
        assert_eq!(row.get::<String>("last_error").expect("last error"), "HTTP 503");
        let park = format!("SELECT {schema}.outbox_failed($1, 'gone', NULL)");
        sql(&neon, &park, &[&mine[299]]).await;
        sql(&neon, &format!("UPDATE {schema}.outbox SET next_attempt_at = next_attempt_at - interval '1 hour'"), &[])
            .await;
        assert!(sql(&neon, &again, &[]).await.is_empty(), "{schema}: a delivered or parked event came back");
    }
}

#[tokio::test]
async fn the_saga_sweep_claims_due_and_overdue_sagas_once_each() {
    let neon = own_database("sagas").await;
    let buyer = id("usr");
    let mut sagas = Vec::new();
    // (status, next attempt, deadline, claimable)
    let cases = [
        ("running", "now() - interval '1 second'", "now() + interval '1 hour'", true),
        ("awaiting", "now() + interval '1 hour'", "now() - interval '1 second'", true),
        ("compensating", "now() - interval '1 second'", "now() - interval '1 hour'", true),
        ("compensating", "now() + interval '1 hour'", "now() - interval '1 hour'", false),
        ("running", "now() + interval '1 hour'", "now() + interval '1 hour'", false),
        ("completed", "NULL", "now() - interval '1 hour'", false),
    ];
    for (status, next, deadline, claimable) in cases {
        let saga = id("sga");
        sql(
            &neon,
            &format!(
                "INSERT INTO orders.sagas (id, group_id, buyer_id, status, step, state, revision, next_attempt_at, \
                 deadline) VALUES ($1, $2, $3, $4, 'reserve_stock', '{{}}', 4, {next}, {deadline})"
            ),
            &[&saga, &id("grp"), &buyer, &status],
        )
        .await;
        sagas.push((saga, claimable));
    }
    let mut claimers = JoinSet::new();
    for _ in 0..4 {
        let neon = neon.clone();
        claimers.spawn(async move {
            let call = exec(&neon, "SELECT id, revision, claims FROM orders.claim_sagas(10, interval '1 minute')", &[]);
            call.await
        });
    }
    let mut claimed = Vec::new();
    while let Some(joined) = claimers.join_next().await {
        let result = joined.expect("the claimer finishes").expect("a claim");
        for row in result.iter() {
            claimed.push(row.get::<String>("id").expect("id"));
            assert_eq!(row.get::<i64>("revision").expect("revision"), 4, "a claim is not a change of state");
            assert_eq!(row.get::<i64>("claims").expect("claims"), 1);
        }
    }
    let expected: BTreeSet<String> =
        sagas.iter().filter(|(_, claimable)| *claimable).map(|(id, _)| id.clone()).collect();
    assert_eq!(claimed.len(), expected.len(), "a saga was claimed twice: {claimed:?}");
    assert_eq!(claimed.into_iter().collect::<BTreeSet<_>>(), expected);
    let claim = "SELECT id FROM orders.claim_sagas(10, interval '1 minute')";
    assert!(sql(&neon, claim, &[]).await.is_empty(), "a held saga was claimed again");
    // Once a holder's lease lapses, the saga is due again.
    sql(&neon, "UPDATE orders.sagas SET locked_until = now() - interval '1 second' WHERE id = $1", &[&sagas[1].0])
        .await;
    assert_eq!(column::<String>(&sql(&neon, claim, &[]).await, "id"), [sagas[1].0.clone()]);

    // A save with a stale revision changes nothing; with the current one it moves the saga.
    let (saga, _) = &sagas[0];
    let save = "UPDATE orders.sagas SET step = 'create_payment', state = $3::jsonb, revision = $2 + 1, \
                locked_until = NULL WHERE id = $1 AND revision = $2 RETURNING revision";
    let state = json!({ "revision": 5 });
    assert!(sql(&neon, save, &[saga, &3, &state]).await.is_empty());
    let saved = sql(&neon, save, &[saga, &4, &state]).await;
    assert_eq!(saved.one().expect("one row").get::<i64>("revision").expect("revision"), 5);
    assert!(sql(&neon, save, &[saga, &4, &state]).await.is_empty(), "a second runner with the old revision");
}

// ---------------------------------------------------------------------------------------------
// Orders

struct Created {
    group: String,
    orders: Vec<String>,
}

/// Creates an order group for `buyer` under `key`: one order per (quantity, unit price), each from
/// a vendor of its own with one line, totals as the lines make them.
async fn create_group(neon: &Neon, buyer: &str, key: &str, lines: &[(i64, i64)]) -> Result<Created, NeonError> {
    create_group_with_total(neon, buyer, key, lines, 0).await
}

/// The same, with the group's subtotal and total off by `error`.
async fn create_group_with_total(
    neon: &Neon,
    buyer: &str,
    key: &str,
    lines: &[(i64, i64)],
    error: i64,
) -> Result<Created, NeonError> {
    let group = id("grp");
    let subtotal: i64 = lines.iter().map(|(quantity, price)| quantity * price).sum::<i64>() + error;
    // The group goes first, before the orders that make its totals: they are checked at commit.
    let mut queries = vec![Query::new(
        "INSERT INTO orders.order_groups (id, buyer_id, currency, subtotal_minor, total_minor, idempotency_key, \
         destination) VALUES ($1, $2, 'EUR', $3::bigint, $3::bigint, $4, '{\"country\":\"DE\"}')",
        &[&group, &buyer, &subtotal, &key],
    )];
    let mut orders = Vec::new();
    for (quantity, price) in lines {
        let (order, vendor) = (id("ord"), id("ven"));
        let line_total = quantity * price;
        queries.push(Query::new(
            "INSERT INTO orders.orders (id, group_id, buyer_id, vendor_id, currency, subtotal_minor, total_minor) \
             VALUES ($1, $2, $3, $4, 'EUR', $5::bigint, $5::bigint)",
            &[&order, &group, &buyer, &vendor, &line_total],
        ));
        queries.push(Query::new(
            "INSERT INTO orders.order_lines (order_id, vendor_id, currency, variant_id, product_id, category_id, \
             title, sku, quantity, unit_price_minor, subtotal_minor) \
             VALUES ($1, $2, 'EUR', $3, $4, $5, 'Test product', 'SKU-1', $6::integer, $7::bigint, $8::bigint)",
            &[&order, &vendor, &id("var"), &id("prod"), &id("cat"), quantity, price, &line_total],
        ));
        orders.push(order);
    }
    neon.batch(&queries, BatchOptions::default()).await?;
    Ok(Created { group, orders })
}

#[tokio::test]
async fn an_order_group_whose_totals_do_not_add_up_is_refused_whole() {
    let neon = neon().await;
    let buyer = id("usr");
    let created = create_group(&neon, &buyer, &id("key"), &[(2, 1500), (1, 999)]).await.expect("a group");
    let totals = "SELECT total_minor FROM orders.order_groups WHERE id = $1";
    assert_eq!(one_i64(&neon, totals, &[&created.group]).await, 3999);

    let error = refused(create_group_with_total(&neon, &buyer, &id("key"), &[(2, 1500)], 1).await, "OR002");
    assert!(error.message.contains("not the sums of its orders"), "{}", error.message);
    let buyers_groups = "SELECT count(*) FROM orders.order_groups WHERE buyer_id = $1";
    assert_eq!(one_i64(&neon, buyers_groups, &[&buyer]).await, 1, "the refused group left rows behind");

    // An order whose lines do not make its subtotal is refused too, at commit.
    let order = &created.orders[0];
    let stray_line = exec(
        &neon,
        "INSERT INTO orders.order_lines (order_id, vendor_id, currency, variant_id, product_id, category_id, \
         title, sku, quantity, unit_price_minor, subtotal_minor) \
         SELECT o.id, o.vendor_id, o.currency, $1, $2, $3, 'Extra', 'SKU-2', 1, 100, 100 \
         FROM orders.orders o WHERE o.id = $4",
        &[&id("var"), &id("prod"), &id("cat"), order],
    );
    let error = refused(stray_line.await, "OR002");
    assert!(error.message.contains("lines add up to 3100"), "{}", error.message);
}

#[tokio::test]
async fn orders_follow_the_lifecycle_and_every_status_change_is_in_the_timeline() {
    let neon = neon().await;
    let created = create_group(&neon, &id("usr"), &id("key"), &[(1, 500)]).await.expect("a group");
    let order = &created.orders[0];
    let staff = id("usr");
    let move_to = |status: &'static str| {
        let (neon, order, staff) = (neon.clone(), order.clone(), staff.clone());
        async move {
            neon.batch(
                &[
                    Query::new("SELECT set_config('orders.actor', $1, true)", &[&staff]),
                    Query::new("UPDATE orders.orders SET status = $2 WHERE id = $1", &[&order, &status]),
                ],
                BatchOptions::default(),
            )
            .await
        }
    };
    let error = refused(move_to("shipped").await, "OR001");
    assert!(error.message.contains("from pending to shipped"), "{}", error.message);
    for status in ["confirmed", "processing", "shipped", "delivered"] {
        move_to(status).await.expect(status);
    }
    refused(move_to("cancelled").await, "OR001");
    refused(move_to("pending").await, "OR001");

    let timeline = sql(
        &neon,
        "SELECT kind, coalesce(from_status, '') AS from_status, to_status, actor FROM orders.order_events \
         WHERE order_id = $1 ORDER BY id",
        &[order],
    )
    .await;
    assert_eq!(
        column::<String>(&timeline, "kind"),
        ["created", "status_changed", "status_changed", "status_changed", "status_changed"]
    );
    assert_eq!(column::<String>(&timeline, "from_status"), ["", "pending", "confirmed", "processing", "shipped"]);
    assert_eq!(
        column::<String>(&timeline, "to_status"),
        ["pending", "confirmed", "processing", "shipped", "delivered"]
    );
    assert_eq!(column::<String>(&timeline, "actor")[1..], [staff.clone(), staff.clone(), staff.clone(), staff]);

    // Shipping goes through processing; a shipped order is not cancelled any more, but refunded.
    let other = create_group(&neon, &id("usr"), &id("key"), &[(1, 500)]).await.expect("a group");
    let ship = "UPDATE orders.orders SET status = $2, carrier = 'DHL', tracking_number = '00340434' WHERE id = $1";
    sql(&neon, "UPDATE orders.orders SET status = 'confirmed' WHERE id = $1", &[&other.orders[0]]).await;
    refused(exec(&neon, ship, &[&other.orders[0], &"shipped"]).await, "OR001");
    sql(&neon, "UPDATE orders.orders SET status = 'processing' WHERE id = $1", &[&other.orders[0]]).await;
    sql(&neon, ship, &[&other.orders[0], &"shipped"]).await;
    refused(
        exec(&neon, "UPDATE orders.orders SET status = 'cancelled' WHERE id = $1", &[&other.orders[0]]).await,
        "OR001",
    );
    sql(&neon, "UPDATE orders.orders SET status = 'refunded', refunded_minor = 500 WHERE id = $1", &[&other.orders[0]])
        .await;
}

/// `orders.order_status_guard` and `shared::orders::OrderState::apply` are two copies of one
/// lifecycle: every move some action makes in the domain passes the guard, and the guard refuses
/// every other (OR001). Editing one copy alone fails here.
#[tokio::test]
async fn the_order_status_guard_allows_exactly_the_moves_the_domain_makes() {
    let neon = neon().await;
    let created = create_group(&neon, &id("usr"), &id("key"), &[(1, 500)]).await.expect("a group");
    let order = &created.orders[0];
    for from in OrderStatus::ALL {
        let domain = domain_order_moves(from);
        for to in OrderStatus::ALL.into_iter().filter(|to| *to != from) {
            // Put the order in `from` with the triggers off (this transaction only), then move it.
            let reset = [
                Query::new("SET LOCAL session_replication_role = replica", &[]),
                Query::new("UPDATE orders.orders SET status = $2 WHERE id = $1", &[order, &from.as_str()]),
            ];
            neon.batch(&reset, BatchOptions::default()).await.expect("the order is reset");
            let moved = exec(&neon, "UPDATE orders.orders SET status = $2 WHERE id = $1", &[order, &to.as_str()]).await;
            match moved {
                Ok(_) => {
                    assert!(domain.contains(&to), "the guard lets {from} → {to} through; the domain never makes it")
                }
                Err(error) => {
                    assert_eq!(error.sqlstate(), Some("OR001"), "{error}");
                    assert!(!domain.contains(&to), "the domain makes {from} → {to}; the guard refuses it");
                }
            }
        }
    }
}

/// Where any action of any actor takes an order in `from` (paid once past pending).
fn domain_order_moves(from: OrderStatus) -> std::collections::HashSet<OrderStatus> {
    let buyer = BuyerId::parse(&id("usr")).expect("a buyer id");
    let vendor = VendorId::parse(&id("ven")).expect("a vendor id");
    let total = Money::new(500, Currency::EUR);
    let state = OrderState {
        status: from,
        paid: from != OrderStatus::Pending,
        ..OrderState::pending(buyer.clone(), vendor.clone(), total)
    };
    let shipment = Shipment {
        carrier: Carrier::parse("DHL").expect("a carrier"),
        tracking: TrackingNumber::parse("00340434").expect("a tracking number"),
    };
    let actions = [
        OrderAction::Confirm,
        OrderAction::StartProcessing,
        OrderAction::Ship(shipment),
        OrderAction::Deliver,
        OrderAction::Complete,
        OrderAction::Cancel,
        OrderAction::Refund { amount: total },
    ];
    let actors = [Actor::Buyer(buyer), Actor::Vendor(vendor), Actor::PlatformAdmin, Actor::System];
    actions
        .iter()
        .flat_map(|action| actors.iter().filter_map(|actor| state.apply(actor, action.clone()).ok()))
        .map(|after| after.status)
        .filter(|to| *to != from)
        .collect()
}

/// `payments.payment_status_guard` and `shared::payments::PaymentStatus::can_move_to` are two
/// copies of one lifecycle: the guard lets through exactly the moves the domain allows (PY002
/// for the others).
#[tokio::test]
async fn the_payment_status_guard_allows_exactly_the_moves_the_domain_allows() {
    let neon = neon().await;
    let set = "status = $2, succeeded_at = CASE WHEN $2 = 'succeeded' THEN now() END";
    for from in PaymentStatus::ALL {
        for to in PaymentStatus::ALL.into_iter().filter(|to| *to != from) {
            let payment = id("pay");
            // Inserts are not guarded: the row starts in `from`.
            sql(
                &neon,
                "INSERT INTO payments.payments (id, group_id, buyer_id, amount_minor, currency, status, succeeded_at) \
                 VALUES ($1, $2, $3, 1000, 'EUR', $4, CASE WHEN $4 = 'succeeded' THEN now() END)",
                &[&payment, &id("grp"), &id("usr"), &from.as_str()],
            )
            .await;
            let moved =
                exec(&neon, &format!("UPDATE payments.payments SET {set} WHERE id = $1"), &[&payment, &to.as_str()])
                    .await;
            match moved {
                Ok(_) => assert!(from.can_move_to(to), "the guard lets {from} → {to} through; the domain refuses it"),
                Err(error) => {
                    assert_eq!(error.sqlstate(), Some("PY002"), "{error}");
                    assert!(!from.can_move_to(to), "the domain allows {from} → {to}; the guard refuses it");
                }
            }
        }
    }
}

#[tokio::test]
async fn order_lines_are_frozen_once_their_commission_is() {
    let neon = neon().await;
    let created = create_group(&neon, &id("usr"), &id("key"), &[(3, 1000)]).await.expect("a group");
    let order = &created.orders[0];
    refused(exec(&neon, "UPDATE orders.order_lines SET quantity = 2 WHERE order_id = $1", &[order]).await, "OR003");
    // Part of a commission is not a freeze.
    refused(
        exec(&neon, "UPDATE orders.order_lines SET commission_minor = 300 WHERE order_id = $1", &[order]).await,
        "23514",
    );
    let freeze = "UPDATE orders.order_lines SET commission_rate_bp = $2::integer, commission_source = 'category', \
                  commission_base_minor = 3000, commission_minor = $2::integer * 3000 / 10000, \
                  commission_frozen_at = now() WHERE order_id = $1";
    sql(&neon, freeze, &[order, &1000]).await;
    let error = refused(exec(&neon, freeze, &[order, &500]).await, "OR003");
    assert!(error.message.contains("cannot change"), "{}", error.message);
    let frozen =
        sql(&neon, "SELECT commission_minor, vendor_share_minor FROM orders.order_lines WHERE order_id = $1", &[order])
            .await;
    let row = frozen.one().expect("one line");
    assert_eq!((row.get::<i64>(0).expect("commission"), row.get::<i64>(1).expect("vendor share")), (300, 2700));
    // More commission than the goods it is taken from is refused outright.
    let created = create_group(&neon, &id("usr"), &id("key"), &[(1, 100)]).await.expect("a group");
    let greedy = "UPDATE orders.order_lines SET commission_rate_bp = 10000, commission_source = 'vendor', \
                  commission_base_minor = 100, commission_minor = 101, commission_frozen_at = now() WHERE order_id = $1";
    refused(exec(&neon, greedy, &[&created.orders[0]]).await, "23514");
}

#[tokio::test]
async fn idempotency_keys_are_unique_per_buyer_and_replay_the_first_answer() {
    let neon = neon().await;
    let (alice, bob) = (id("usr"), id("usr"));
    let key = "checkout-7f3a";
    let (hash, other_hash) = ("a".repeat(64), "b".repeat(64));
    let begin = "SELECT outcome, response_status, response_body, resource_id \
                 FROM orders.begin_idempotent_request($1, $2, $3)";
    let outcome = |result: QueryResult| -> String { result.one().expect("one row").get("outcome").expect("outcome") };

    let mut racers = JoinSet::new();
    for _ in 0..20 {
        let (neon, alice, hash) = (neon.clone(), alice.clone(), hash.clone());
        racers.spawn(async move {
            let call = exec(&neon, begin, &[&alice, &key, &hash]);
            call.await
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = racers.join_next().await {
        outcomes.push(outcome(joined.expect("the task finishes").expect("begins")));
    }
    outcomes.sort();
    assert_eq!(outcomes.iter().filter(|o| *o == "new").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| *o == "in_progress").count(), 19, "{outcomes:?}");

    assert_eq!(outcome(sql(&neon, begin, &[&alice, &key, &other_hash]).await), "mismatch");
    assert_eq!(outcome(sql(&neon, begin, &[&bob, &key, &other_hash]).await), "new", "keys are per buyer");

    let complete = "SELECT orders.complete_idempotent_request($1, $2, $3::smallint, $4, $5)";
    let body = r#"{"order_group":{"id":"grp_1"}}"#;
    let group = id("grp");
    assert!(one_bool(&neon, complete, &[&alice, &key, &201, &body, &group]).await);
    assert!(!one_bool(&neon, complete, &[&alice, &key, &500, &"{}", &group]).await, "the first answer stands");
    let replay = sql(&neon, begin, &[&alice, &key, &hash]).await;
    let row = replay.one().expect("one row");
    assert_eq!(row.get::<String>("outcome").expect("outcome"), "replay");
    assert_eq!(row.get::<i64>("response_status").expect("status"), 201);
    assert_eq!(row.get::<String>("response_body").expect("body"), body);
    assert_eq!(row.get::<String>("resource_id").expect("resource"), group);
    // A mismatch never reveals the stored answer.
    let mismatch = sql(&neon, begin, &[&alice, &key, &other_hash]).await;
    assert!(mismatch.one().expect("one row").get::<Option<String>>("response_body").expect("body").is_none());

    // A request that failed with a 5xx gives its key back; a completed one keeps it.
    let abandon = "SELECT orders.abandon_idempotent_request($1, $2)";
    assert!(!one_bool(&neon, abandon, &[&alice, &key]).await);
    assert!(one_bool(&neon, abandon, &[&bob, &key]).await);
    assert_eq!(outcome(sql(&neon, begin, &[&bob, &key, &hash]).await), "new");

    // One order group per buyer and key, whatever the retries.
    create_group(&neon, &alice, key, &[(1, 100)]).await.expect("the first group");
    let error = refused(create_group(&neon, &alice, key, &[(1, 100)]).await, "23505");
    assert_eq!(error.constraint.as_deref(), Some("order_groups_buyer_id_idempotency_key_key"));
    create_group(&neon, &bob, key, &[(1, 100)]).await.expect("another buyer's group under the same key");
}

// ---------------------------------------------------------------------------------------------
// Coupons

#[tokio::test]
async fn a_coupons_last_use_goes_to_exactly_one_of_concurrent_checkouts() {
    let neon = neon().await;
    let code = format!("T{}", &id("x")[2..22]);
    sql(
        &neon,
        "INSERT INTO cart.coupons (code, percent_bp, total_limit, per_customer_limit) VALUES ($1, 1000, 3, 1)",
        &[&code],
    )
    .await;
    let redeem = "SELECT order_id FROM cart.redeem_coupons($1, $2, $3, now())";
    let mut checkouts = JoinSet::new();
    for _ in 0..10 {
        let (neon, code) = (neon.clone(), code.clone());
        checkouts.spawn(async move {
            let call = exec(&neon, redeem, &[&id("usr"), &id("grp"), &vec![code]]);
            call.await
        });
    }
    let (mut redeemed, mut refusals) = (0, Vec::new());
    while let Some(joined) = checkouts.join_next().await {
        match joined.expect("the task finishes") {
            Ok(_) => redeemed += 1,
            Err(error) => refusals.push(error_with(error, "CT001").detail.unwrap_or_default()),
        }
    }
    assert_eq!(redeemed, 3);
    let reason = json!({ "code": code, "reason": "usage_limit_reached" });
    for detail in &refusals {
        assert_eq!(serde_json::from_str::<Value>(detail).expect("JSON detail"), reason);
    }
    assert_eq!(refusals.len(), 7);

    // Idempotent for a group; a compensated group gives its use back.
    let group =
        sql(&neon, "SELECT order_id FROM cart.coupon_redemptions WHERE coupon_code = $1 LIMIT 1", &[&code]).await;
    let group: String = group.one().expect("one row").get("order_id").expect("group");
    let user = sql(&neon, "SELECT user_id FROM cart.coupon_redemptions WHERE order_id = $1", &[&group]).await;
    let user: String = user.one().expect("one row").get("user_id").expect("user");
    sql(&neon, redeem, &[&user, &group, &vec![code.clone()]]).await;
    assert_eq!(one_i64(&neon, "SELECT cart.release_coupons($1)", &[&group]).await, 1);
    assert_eq!(one_i64(&neon, "SELECT cart.release_coupons($1)", &[&group]).await, 0);
    let buyer = id("usr");
    sql(&neon, redeem, &[&buyer, &id("grp"), &vec![code.clone()]]).await;
    let again = exec(&neon, redeem, &[&buyer, &id("grp"), &vec![code.clone()]]).await;
    assert!(refused(again, "CT001").message.contains("usage_limit_reached"));
}

// ---------------------------------------------------------------------------------------------
// Payments

fn entry(account: &str, vendor: Option<&str>, amount: i64) -> Value {
    json!({ "account": account, "vendor_id": vendor, "amount_minor": amount, "currency": "EUR" })
}

const POST: &str = "SELECT payments.post_journal($1, $2, $3::jsonb, NULL)";

/// Posts a payment of `amount` to `vendor` with a 10% commission.
async fn pay_vendor(neon: &Neon, vendor: &str, amount: i64) -> String {
    let reference = id("pay");
    let entries = json!([
        entry("psp_clearing", None, amount),
        entry("vendor_payable", Some(vendor), -(amount - amount / 10)),
        entry("platform_commission", None, -(amount / 10)),
    ]);
    let result = sql(neon, POST, &[&"payment", &reference, &entries]).await;
    result.one().expect("one row").get(0).expect("the journal id")
}

#[tokio::test]
async fn a_journal_that_does_not_balance_is_refused_and_leaves_nothing() {
    let neon = neon().await;
    let vendor = id("ven");
    let reference = id("pay");
    let unbalanced = json!([entry("psp_clearing", None, 10000), entry("vendor_payable", Some(&vendor), -9000)]);
    let error = refused(exec(&neon, POST, &[&"payment", &reference, &unbalanced]).await, "PY001");
    assert!(error.message.contains("EUR 1000"), "{}", error.message);
    let single = json!([entry("psp_clearing", None, 10000)]);
    refused(exec(&neon, POST, &[&"payment", &reference, &single]).await, "PY001");
    // Written by hand, entry by entry, the check still runs at commit.
    let journal = id("jrn");
    let by_hand = neon
        .batch(
            &[
                Query::new(
                    "INSERT INTO payments.journals (id, kind, reference) VALUES ($1, 'adjustment', $2)",
                    &[&journal, &reference],
                ),
                Query::new(
                    "INSERT INTO payments.ledger_entries (id, journal_id, account, amount_minor, currency) \
                     VALUES ($1, $2, 'psp_clearing', 500, 'EUR')",
                    &[&id("led"), &journal],
                ),
                Query::new(
                    "INSERT INTO payments.ledger_entries (id, journal_id, account, amount_minor, currency) \
                     VALUES ($1, $2, 'platform_commission', -400, 'EUR')",
                    &[&id("led"), &journal],
                ),
            ],
            BatchOptions::default(),
        )
        .await;
    refused(by_hand, "PY001");
    let empty_journal = exec(
        &neon,
        "INSERT INTO payments.journals (id, kind, reference) VALUES ($1, 'adjustment', $2)",
        &[&id("jrn"), &reference],
    )
    .await;
    refused(empty_journal, "PY001");
    let left = "SELECT count(*) FROM payments.journals WHERE reference = $1";
    assert_eq!(one_i64(&neon, left, &[&reference]).await, 0);
    // Balanced in each currency, not across them.
    let mixed = json!([
        entry("psp_clearing", None, 100),
        { "account": "platform_commission", "amount_minor": -100, "currency": "USD" },
    ]);
    refused(exec(&neon, POST, &[&"adjustment", &reference, &mixed]).await, "PY001");

    let balanced = json!([
        entry("psp_clearing", None, 10000),
        entry("vendor_payable", Some(&vendor), -9000),
        entry("platform_commission", None, -1000),
    ]);
    let first: String =
        sql(&neon, POST, &[&"payment", &reference, &balanced]).await.one().expect("row").get(0).expect("id");
    let again: String =
        sql(&neon, POST, &[&"payment", &reference, &balanced]).await.one().expect("row").get(0).expect("id");
    assert_eq!(first, again, "a replayed payment posted a second journal");
    let changed = json!([
        entry("psp_clearing", None, 10000),
        entry("vendor_payable", Some(&vendor), -9500),
        entry("platform_commission", None, -500),
    ]);
    refused(exec(&neon, POST, &[&"payment", &reference, &changed]).await, "PY003");
    let balance = "SELECT balance_minor::bigint FROM payments.vendor_balances WHERE vendor_id = $1";
    assert_eq!(one_i64(&neon, balance, &[&vendor]).await, 9000);
    refused(
        exec(&neon, "UPDATE payments.ledger_entries SET amount_minor = 1 WHERE journal_id = $1", &[&first]).await,
        "PY006",
    );
    refused(exec(&neon, "DELETE FROM payments.journals WHERE id = $1", &[&first]).await, "PY006");
}

#[tokio::test]
async fn payouts_never_exceed_the_vendor_balance_even_when_requested_together() {
    let neon = neon().await;
    let vendor = id("ven");
    pay_vendor(&neon, &vendor, 10000).await;
    let request = "SELECT status FROM payments.request_payout($1, $2, 'EUR', $3::bigint)";
    let mut requests = JoinSet::new();
    for _ in 0..5 {
        let (neon, vendor) = (neon.clone(), vendor.clone());
        requests.spawn(async move {
            let call = exec(&neon, request, &[&id("pyo"), &vendor, &4000]);
            call.await
        });
    }
    let (mut paid, mut refusals) = (0, 0);
    while let Some(joined) = requests.join_next().await {
        match joined.expect("the task finishes") {
            Ok(_) => paid += 1,
            Err(error) => {
                error_with(error, "PY005");
                refusals += 1;
            }
        }
    }
    assert_eq!((paid, refusals), (2, 3));
    let balance = "SELECT balance_minor::bigint FROM payments.vendor_balances WHERE vendor_id = $1";
    assert_eq!(one_i64(&neon, balance, &[&vendor]).await, 1000);

    // A repeated request answers the same payout; a failed payout gives the money back, once.
    let payout = id("pyo");
    sql(&neon, request, &[&payout, &vendor, &1000]).await;
    sql(&neon, request, &[&payout, &vendor, &1000]).await;
    assert_eq!(one_i64(&neon, balance, &[&vendor]).await, 0);
    let settle = "SELECT status FROM payments.settle_payout($1, 'failed', NULL, 'account closed')";
    for _ in 0..2 {
        let settled = sql(&neon, settle, &[&payout]).await;
        assert_eq!(column::<String>(&settled, "status"), ["failed"]);
        assert_eq!(one_i64(&neon, balance, &[&vendor]).await, 1000);
    }
}

#[tokio::test]
async fn refunds_never_exceed_the_payment_and_a_final_payment_status_stays_final() {
    let neon = neon().await;
    let payment = id("pay");
    sql(
        &neon,
        "INSERT INTO payments.payments (id, group_id, buyer_id, amount_minor, currency) VALUES ($1, $2, $3, 1000, 'EUR')",
        &[&payment, &id("grp"), &id("usr")],
    )
    .await;
    let refund = "INSERT INTO payments.refunds (id, payment_id, order_id, vendor_id, amount_minor, currency, reason) \
                  VALUES ($1, $2, $3, $4, $5::bigint, 'EUR', 'damaged')";
    let (order, vendor) = (id("ord"), id("ven"));
    refused(exec(&neon, refund, &[&id("rfd"), &payment, &order, &vendor, &100]).await, "PY004");

    let status = "UPDATE payments.payments SET status = $2, succeeded_at = CASE WHEN $2 = 'succeeded' THEN now() END \
                  WHERE id = $1";
    refused(exec(&neon, status, &[&payment, &"succeeded"]).await, "PY002");
    sql(&neon, status, &[&payment, &"requires_payment"]).await;
    sql(&neon, status, &[&payment, &"succeeded"]).await;
    refused(exec(&neon, status, &[&payment, &"failed"]).await, "PY002");

    let mut refunds = JoinSet::new();
    for _ in 0..10 {
        let (neon, payment, order, vendor) = (neon.clone(), payment.clone(), order.clone(), vendor.clone());
        refunds.spawn(async move {
            let call = exec(&neon, refund, &[&id("rfd"), &payment, &order, &vendor, &300]);
            call.await
        });
    }
    let mut granted = 0;
    while let Some(joined) = refunds.join_next().await {
        match joined.expect("the task finishes") {
            Ok(_) => granted += 1,
            Err(error) => {
                error_with(error, "PY004");
            }
        }
    }
    assert_eq!(granted, 3);
    // A failed refund frees its amount again.
    sql(&neon, "UPDATE payments.refunds SET status = 'failed' WHERE id = (SELECT min(id) FROM payments.refunds WHERE payment_id = $1)", &[&payment]).await;
    sql(&neon, refund, &[&id("rfd"), &payment, &order, &vendor, &400]).await;
    refused(exec(&neon, refund, &[&id("rfd"), &payment, &order, &vendor, &1]).await, "PY004");
}

#[tokio::test]
async fn commission_comes_from_the_vendor_rule_then_the_nearest_category_then_the_default() {
    let neon = neon().await;
    let (root, child, grandchild) = (id("cat"), id("cat"), id("cat"));
    for (category, parent) in [(&root, None), (&child, Some(&root)), (&grandchild, Some(&child))] {
        let insert = "INSERT INTO catalog.categories (id, parent_id, slug, name) \
                      VALUES ($1, $2, lower(replace($1, '_', '-')), 'C')";
        sql(&neon, insert, &[category, &parent]).await;
    }
    let vendor = id("ven");
    let resolve = "SELECT scope, rate_bp FROM payments.resolve_commission($1, $2, now())";
    let resolved = |result: QueryResult| -> (String, i64) {
        let row = result.one().expect("one rule");
        (row.get("scope").expect("scope"), row.get("rate_bp").expect("rate"))
    };
    let rule = "INSERT INTO payments.commission_rules (id, scope, category_id, vendor_id, rate_bp, valid_from, valid_until) \
                VALUES ($1, $2, $3, $4, $5::integer, now() + $6::interval, now() + $7::interval)";
    let none = None::<&str>;
    assert_eq!(resolved(sql(&neon, resolve, &[&vendor, &grandchild]).await), ("default".into(), 1000));
    // A subcategory without a rate of its own takes the nearest ancestor's.
    sql(&neon, rule, &[&id("cmr"), &"category", &Some(&root), &none, &800, &"-1 day", &none]).await;
    assert_eq!(resolved(sql(&neon, resolve, &[&vendor, &grandchild]).await), ("category".into(), 800));
    sql(&neon, rule, &[&id("cmr"), &"category", &Some(&child), &none, &600, &"-1 day", &none]).await;
    assert_eq!(resolved(sql(&neon, resolve, &[&vendor, &grandchild]).await), ("category".into(), 600));
    assert_eq!(resolved(sql(&neon, resolve, &[&vendor, &root]).await), ("category".into(), 800));
    // A newer rule for the same category wins; one not yet in force or already expired does not count.
    sql(&neon, rule, &[&id("cmr"), &"category", &Some(&child), &none, &550, &"-1 hour", &none]).await;
    sql(&neon, rule, &[&id("cmr"), &"category", &Some(&child), &none, &100, &"1 day", &none]).await;
    assert_eq!(resolved(sql(&neon, resolve, &[&vendor, &grandchild]).await), ("category".into(), 550));
    sql(&neon, rule, &[&id("cmr"), &"vendor", &none, &Some(&vendor), &300, &"-2 day", &Some("-1 day")]).await;
    assert_eq!(resolved(sql(&neon, resolve, &[&vendor, &grandchild]).await), ("category".into(), 550));
    sql(&neon, rule, &[&id("cmr"), &"vendor", &none, &Some(&vendor), &250, &"-1 minute", &none]).await;
    assert_eq!(resolved(sql(&neon, resolve, &[&vendor, &grandchild]).await), ("vendor".into(), 250));
    assert_eq!(resolved(sql(&neon, resolve, &[&id("ven"), &id("cat")]).await), ("default".into(), 1000));
    // What the component loads into CommissionRules: one rate per key, the latest in force.
    let in_force = "SELECT rate_bp FROM payments.commission_rules_at(now()) \
                    WHERE category_id IN ($1, $2) OR vendor_id = $3 ORDER BY rate_bp";
    assert_eq!(column::<i64>(&sql(&neon, in_force, &[&root, &child, &vendor]).await, "rate_bp"), [250, 550, 800]);
}
