//! Inventory through the real runtimes (issue 6): the gateway forwards the vendor stock API to the
//! inventory Spin component in a signed envelope; inventory's outbox reaches workers/events, which
//! has the catalog apply the change and purge its cached views; the checkout saga's reservations are
//! all or nothing and never oversell; and no unsigned, forged, replayed or re-addressed request
//! changes anything. The cron-driven expiry is in `inventory_cron.rs`.

mod inventory_support;

use std::time::Instant;

use e2e::{TestStack, error_code, fresh_id};
use inventory_support::{World, reserve_body};
use reqwest::Method;
use serde_json::{Value, json};
use shared::webhook;

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn inventory_through_the_gateway_spin_and_the_events_worker() {
    let stack = TestStack::start("inventory", true).await.expect("stack starts");
    let world = World::new(&stack).await;

    new_variants_get_their_stock_from_inventory(&world).await;
    a_vendor_count_reaches_the_public_product_through_the_event(&world).await;
    the_vendor_pages_through_its_own_stock_only(&world).await;
    another_vendor_cannot_touch_it(&world).await;
    a_reservation_is_all_or_nothing_and_idempotent(&world).await;
    concurrent_single_unit_reserves_never_oversell(&world).await;
    unsigned_forged_and_replayed_requests_change_nothing(&world).await;
    a_swapped_principal_or_path_is_refused(&world).await;
    the_edge_refuses_unsigned_deliveries_and_ignores_redelivered_events(&world).await;
}

/// The catalog Worker no longer writes stock: the create's counts are inventory rows (with their
/// movements), and what the product shows came back from inventory.
async fn new_variants_get_their_stock_from_inventory(world: &World<'_>) {
    assert_eq!(world.stock(&world.variant).await, (10, 0));
    assert_eq!(world.stock(&world.other_variant).await, (3, 0));
    let moved = world
        .stack
        .neon()
        .query("SELECT count(*) FROM inventory.movements WHERE variant_id = $1 AND kind = 'set'", &[&world.variant])
        .await
        .expect("movements");
    assert_eq!(moved.one().expect("row").get::<i64>(0).expect("count"), 1, "one count, recorded as a movement");
    assert_eq!(world.public_available(&world.variant).await, json!(10));

    // A stock edit through the catalog's own API is a count in inventory too.
    let path = format!("/api/v1/vendor/products/{}/variants/{}", world.product, world.other_variant);
    let (status, body) = world.api(Method::PATCH, &path, Some(&world.vendor_a), Some(json!({"stock": 4}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(world.stock(&world.other_variant).await, (4, 0));
    assert_eq!(world.public_available(&world.other_variant).await, json!(4));
}

/// The vendor API goes to inventory only; the catalog learns of the count from the event, which is
/// delivered right after the commit, so the next public read (its cached copy purged) shows it.
async fn a_vendor_count_reaches_the_public_product_through_the_event(world: &World<'_>) {
    world.public_product().await;
    let (layer, _) = world.public_product().await;
    assert_eq!(layer, "hit-edge", "the detail is cached before the count");

    let path = format!("/api/v1/vendor/stock/{}", world.variant);
    let started = Instant::now();
    let (status, row) = world.api(Method::PUT, &path, Some(&world.vendor_a), Some(json!({"on_hand": 25}))).await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{row}");
    assert_eq!(
        (row["on_hand"].clone(), row["reserved"].clone(), row["available"].clone()),
        (json!(25), json!(0), json!(25))
    );
    assert_eq!(row["vendor_id"], json!(world.vendor_a_id), "the vendor comes from the token");
    println!("vendor stock count through gateway → Spin → outbox → events → catalog: {} ms", took.as_millis());

    let (layer, product) = world.public_product().await;
    assert_eq!(layer, "miss", "the cached detail was purged: {product}");
    let red =
        product["variants"].as_array().expect("variants").iter().find(|v| v["id"] == json!(world.variant)).cloned();
    assert_eq!(red.expect("the variant")["available"], 25);

    let undelivered = world
        .stack
        .neon()
        .query(
            "SELECT count(*) FROM inventory.outbox WHERE delivered_at IS NULL AND topic = 'inventory.stock_changed'",
            &[],
        )
        .await
        .expect("outbox");
    assert_eq!(undelivered.one().expect("row").get::<i64>(0).expect("count"), 0, "every stock event was delivered");

    // Counting the same number again changes nothing and sends nothing.
    let events_before = outbox_count(world).await;
    let (status, again) = world.api(Method::PUT, &path, Some(&world.vendor_a), Some(json!({"on_hand": 25}))).await;
    assert_eq!((status, again["version"].clone()), (200, row["version"].clone()), "{again}");
    assert_eq!(outbox_count(world).await, events_before);
}

async fn outbox_count(world: &World<'_>) -> i64 {
    let result = world.stack.neon().query("SELECT count(*) FROM inventory.outbox", &[]).await.expect("outbox");
    result.one().expect("row").get(0).expect("count")
}

async fn the_vendor_pages_through_its_own_stock_only(world: &World<'_>) {
    let (status, first) = world.api(Method::GET, "/api/v1/vendor/stock?limit=1", Some(&world.vendor_a), None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1), "{first}");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (status, second) = world
        .api(Method::GET, &format!("/api/v1/vendor/stock?limit=1&cursor={cursor}"), Some(&world.vendor_a), None)
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["next_cursor"], Value::Null, "{second}");
    let mut seen: Vec<String> = [&first, &second]
        .iter()
        .map(|page| page["items"][0]["variant_id"].as_str().expect("variant").to_owned())
        .collect();
    seen.sort();
    let mut expected = vec![world.variant.clone(), world.other_variant.clone()];
    expected.sort();
    assert_eq!(seen, expected);

    let (status, body) = world.api(Method::GET, "/api/v1/vendor/stock?limit=0", Some(&world.vendor_a), None).await;
    assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");
}

async fn another_vendor_cannot_touch_it(world: &World<'_>) {
    let before = world.fingerprint().await;
    let path = format!("/api/v1/vendor/stock/{}", world.variant);
    let (status, body) = world.api(Method::PUT, &path, Some(&world.vendor_b), Some(json!({"on_hand": 0}))).await;
    assert_eq!((status, error_code(&body)), (404, "RES_4004"), "another vendor's variant is unknown: {body}");
    let (status, body) = world.api(Method::GET, "/api/v1/vendor/stock", Some(&world.vendor_b), None).await;
    assert_eq!((status, body["items"].clone()), (200, json!([])), "{body}");

    let (status, body) = world.api(Method::PUT, &path, Some(&world.shopper), Some(json!({"on_hand": 0}))).await;
    assert_eq!((status, error_code(&body)), (403, "AUTHZ_2001"), "{body}");
    let (status, body) = world.api(Method::PUT, &path, None, Some(json!({"on_hand": 0}))).await;
    assert_eq!((status, error_code(&body)), (401, "AUTH_1004"), "{body}");
    // Naming a vendor in the body does not make it so.
    let (status, body) = world
        .api(Method::PUT, &path, Some(&world.vendor_b), Some(json!({"on_hand": 0, "vendor_id": world.vendor_a_id})))
        .await;
    assert_eq!((status, error_code(&body)), (400, "VAL_3001"), "{body}");
    // Nor does a forwarded-caller header: the gateway builds the envelope from the token alone.
    let request = world
        .stack
        .http
        .put(world.stack.worker_url(&path))
        .header("x-auth-vendor-id", &world.vendor_a_id)
        .json(&json!({"on_hand": 0}));
    let (status, body) = world.stack.send(request, Some(&world.vendor_b)).await;
    assert_eq!((status, error_code(&body)), (404, "RES_4004"), "{body}");
    assert_eq!(world.fingerprint().await, before, "nothing changed");
    assert_eq!(world.public_available(&world.variant).await, json!(25));
}

async fn a_reservation_is_all_or_nothing_and_idempotent(world: &World<'_>) {
    let (red, blue) = (world.variant.as_str(), world.other_variant.as_str());
    let before = world.fingerprint().await;
    let (status, body) =
        world.core("/inventory/reservations", &reserve_body("grp_all_or_nothing", &[(red, 2), (blue, 100)], 900)).await;
    assert_eq!((status, error_code(&body)), (409, "BIZ_5003"), "{body}");
    assert_eq!(
        body["error"]["details"]["short"],
        json!([{"variant_id": blue, "requested": 100, "available": 4}]),
        "{body}"
    );
    assert_eq!(world.fingerprint().await, before, "a refused reservation holds nothing");

    let request = reserve_body("grp_checkout_1", &[(red, 2), (blue, 1)], 900);
    let (status, held) = world.core("/inventory/reservations", &request).await;
    assert_eq!((status, held["status"].clone()), (200, json!("active")), "{held}");
    assert_eq!(world.stock(red).await, (25, 2));
    assert_eq!(world.stock(blue).await, (4, 1));
    assert_eq!(world.public_available(red).await, json!(23), "the storefront shows what can still be sold");

    let (status, again) = world.core("/inventory/reservations", &request).await;
    assert_eq!((status, &again["lines"]), (200, &held["lines"]), "a retry answers the same reservation");
    assert_eq!(world.stock(red).await, (25, 2), "and holds nothing more");
    let (status, body) = world.core("/inventory/reservations", &reserve_body("grp_checkout_1", &[(red, 3)], 900)).await;
    assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");

    let (status, consumed) =
        world.core("/inventory/reservations/consume", &json!({"reference": "grp_checkout_1"})).await;
    assert_eq!((status, consumed["status"].clone()), (200, json!("consumed")), "{consumed}");
    assert_eq!(world.stock(red).await, (23, 0), "paid units left the shelf");
    let (status, _) = world.core("/inventory/reservations/consume", &json!({"reference": "grp_checkout_1"})).await;
    assert_eq!(status, 200, "consuming twice is harmless");
    assert_eq!(world.stock(red).await, (23, 0));

    let (status, restocked) =
        world.core("/inventory/reservations/release", &json!({"reference": "grp_checkout_1"})).await;
    assert_eq!((status, restocked["status"].clone()), (200, json!("restocked")), "{restocked}");
    assert_eq!(world.stock(red).await, (25, 0), "an undone checkout puts its units back");
    assert_eq!(world.public_available(red).await, json!(25));

    let (status, body) = world.core("/inventory/reservations/consume", &json!({"reference": "grp_never_made"})).await;
    assert_eq!((status, error_code(&body)), (409, "RES_4003"), "{body}");
}

/// 100 checkouts race for the last 10 units of a variant, through the Spin host: exactly 10 get one.
async fn concurrent_single_unit_reserves_never_oversell(world: &World<'_>) {
    let path = format!("/api/v1/vendor/stock/{}", world.variant);
    let (status, body) = world.api(Method::PUT, &path, Some(&world.vendor_a), Some(json!({"on_hand": 10}))).await;
    assert_eq!(status, 200, "{body}");

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..100 {
        let request =
            reserve_body(&format!("grp_race_{n}"), &[(world.variant.as_str(), 1)], 900).to_string().into_bytes();
        let signature = world.sign(
            "/inventory/reservations",
            &request,
            &world.stack.stack.secrets.webhook_key_current,
            &fresh_id("sig"),
        );
        let call = world
            .stack
            .http
            .post(world.stack.spin_url("/inventory/reservations"))
            .header("content-type", "application/json")
            .header(webhook::SIGNATURE_HEADER, signature)
            .body(request);
        tasks.spawn(async move {
            let response = call.send().await.expect("spin answers");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    let (mut held, mut short, mut other) = (0, 0, Vec::new());
    while let Some(result) = tasks.join_next().await {
        match result.expect("the task ran") {
            (200, _) => held += 1,
            (409, body) if error_code(&body) == "BIZ_5003" => short += 1,
            unexpected => other.push(unexpected),
        }
    }
    let took = started.elapsed();
    if !other.is_empty() {
        world.stack.print_logs();
    }
    assert!(other.is_empty(), "only 200 or 409 BIZ_5003: {other:?}");
    assert_eq!((held, short), (10, 90));
    assert_eq!(world.stock(&world.variant).await, (10, 10), "exactly the stock was reserved");
    println!("100 concurrent single-unit reserves for 10 units: {} ms", took.as_millis());
    assert_eq!(world.public_available(&world.variant).await, json!(0), "the storefront shows it sold out");

    // Let them go again for the next scenarios.
    for n in 0..100 {
        let (status, _) =
            world.core("/inventory/reservations/release", &json!({"reference": format!("grp_race_{n}")})).await;
        assert_eq!(status, 200);
    }
    assert_eq!(world.stock(&world.variant).await, (10, 0));
}

async fn unsigned_forged_and_replayed_requests_change_nothing(world: &World<'_>) {
    let red = world.variant.as_str();
    let forwarded = world.put_envelope(world.vendor_principal(&world.vendor_a_user, &world.vendor_a_id), red, 1);
    let routes: Vec<(String, Vec<u8>)> = vec![
        ("/inventory/reservations".into(), reserve_body("grp_forged", &[(red, 1)], 900).to_string().into_bytes()),
        ("/inventory/reservations/release".into(), json!({"reference": "grp_abandoned"}).to_string().into_bytes()),
        ("/inventory/reservations/consume".into(), json!({"reference": "grp_abandoned"}).to_string().into_bytes()),
        (
            "/inventory/stock/set".into(),
            json!({"vendor_id": world.vendor_a_id, "variant_id": red, "on_hand": 1}).to_string().into_bytes(),
        ),
        (
            "/inventory/stock/initial".into(),
            json!({"vendor_id": world.vendor_a_id, "items": [{"variant_id": red, "on_hand": 1}]})
                .to_string()
                .into_bytes(),
        ),
        ("/inventory/sweep".into(), Vec::new()),
        (format!("/inventory/api/v1/vendor/stock/{red}"), forwarded.to_json()),
    ];
    let before = world.fingerprint().await;
    for (path, body) in &routes {
        let (status, answer) = world.post_spin(path, body.clone(), None).await;
        assert_eq!((status, error_code(&answer)), (401, "AUTH_1001"), "unsigned {path}: {answer}");
        let forged = world.sign(path, body, "not-the-key", &fresh_id("sig"));
        let (status, answer) = world.post_spin(path, body.clone(), Some(forged)).await;
        assert_eq!((status, error_code(&answer)), (401, "AUTH_1002"), "forged {path}: {answer}");
        let signature = world.sign(path, b"{}", &world.stack.stack.secrets.webhook_key_current, &fresh_id("sig"));
        let (status, answer) = world.post_spin(path, body.clone(), Some(signature)).await;
        assert_eq!((status, error_code(&answer)), (401, "AUTH_1002"), "signed for another body {path}: {answer}");
        let elsewhere =
            world.sign("/inventory/elsewhere", body, &world.stack.stack.secrets.webhook_key_current, &fresh_id("sig"));
        let (status, answer) = world.post_spin(path, body.clone(), Some(elsewhere)).await;
        assert_eq!((status, error_code(&answer)), (401, "AUTH_1002"), "signed for another URL {path}: {answer}");
    }
    assert_eq!(world.fingerprint().await, before, "no refused request changed anything");

    // A captured count, replayed after the vendor counted again, cannot undo the newer count.
    let body = json!({"vendor_id": world.vendor_a_id, "variant_id": red, "on_hand": 7}).to_string().into_bytes();
    let signature =
        world.sign("/inventory/stock/set", &body, &world.stack.stack.secrets.webhook_key_current, &fresh_id("sig"));
    let (status, answer) = world.post_spin("/inventory/stock/set", body.clone(), Some(signature.clone())).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = world
        .core("/inventory/stock/set", &json!({"vendor_id": world.vendor_a_id, "variant_id": red, "on_hand": 9}))
        .await;
    assert_eq!(status, 200);
    let before = world.fingerprint().await;
    let (status, answer) = world.post_spin("/inventory/stock/set", body, Some(signature)).await;
    assert_eq!((status, error_code(&answer)), (401, "AUTH_1003"), "{answer}");
    assert_eq!(world.fingerprint().await, before);
    assert_eq!(world.stock(red).await, (9, 0));
}

/// The signature covers the envelope, so whoever captures a forwarded call can neither swap the
/// caller inside it nor send it to another path.
async fn a_swapped_principal_or_path_is_refused(world: &World<'_>) {
    let red = world.variant.as_str();
    let key = world.stack.stack.secrets.webhook_key_current.clone();
    // Vendor B's genuine call for A's variant is signed and delivered: inventory answers 404.
    let genuine = world.put_envelope(world.vendor_principal(&world.vendor_b_user, &world.vendor_b_id), red, 0);
    let path = format!("/inventory/api/v1/vendor/stock/{red}");
    let body = genuine.to_json();
    let signature = world.sign(&path, &body, &key, &fresh_id("sig"));
    let (status, answer) = world.post_spin(&path, body.clone(), Some(signature)).await;
    assert_eq!((status, error_code(&answer)), (404, "RES_4004"), "{answer}");

    // The same signature over a body naming vendor A instead: refused, nothing changes.
    let before = world.fingerprint().await;
    let swapped = world.put_envelope(world.vendor_principal(&world.vendor_b_user, &world.vendor_a_id), red, 0);
    let signature = world.sign(&path, &body, &key, &fresh_id("sig"));
    let (status, answer) = world.post_spin(&path, swapped.to_json(), Some(signature)).await;
    assert_eq!((status, error_code(&answer)), (401, "AUTH_1002"), "{answer}");
    // A caller header beside a genuine envelope is not read either.
    let signature = world.sign(&path, &body, &key, &fresh_id("sig"));
    let response = world
        .stack
        .http
        .post(world.stack.spin_url(&path))
        .header(webhook::SIGNATURE_HEADER, signature)
        .header("x-auth-vendor-id", &world.vendor_a_id)
        .header("x-auth-user-id", &world.vendor_a_user)
        .body(body)
        .send()
        .await
        .expect("spin answers");
    assert_eq!(response.status().as_u16(), 404);
    // A well-signed envelope whose path is not the URL's is refused too (a signer's bug or a forgery).
    let other =
        world.put_envelope(world.vendor_principal(&world.vendor_a_user, &world.vendor_a_id), &world.other_variant, 0);
    let other = other.to_json();
    let signature = world.sign(&path, &other, &key, &fresh_id("sig"));
    let (status, answer) = world.post_spin(&path, other, Some(signature)).await;
    assert_eq!((status, error_code(&answer)), (401, "AUTH_1002"), "{answer}");
    assert_eq!(world.fingerprint().await, before);
}

async fn the_edge_refuses_unsigned_deliveries_and_ignores_redelivered_events(world: &World<'_>) {
    let (id, data) = {
        let result = world
            .stack
            .neon()
            .query(
                "SELECT id, payload FROM inventory.outbox WHERE topic = 'inventory.stock_changed' AND delivered_at IS NOT NULL \
                 ORDER BY id LIMIT 1",
                &[],
            )
            .await
            .expect("a delivered event");
        let row = result.one().expect("one");
        (row.get::<String>(0).expect("id"), row.get::<Value>(1).expect("payload"))
    };
    // The oldest stock event says 10 units at version 2; the catalog holds a newer number.
    let batch = json!({"events": [{"id": id, "type": "inventory.stock_changed", "occurred_at": "2026-01-01T00:00:00Z", "data": data}]});
    let body = batch.to_string().into_bytes();

    let (status, _) = world.stack.post_core_delivery(body.clone(), None).await;
    assert_eq!(status, 401);

    let shown = world.public_available(&world.variant).await;
    let signature = world.stack.sign_core_delivery(&body, &world.stack.stack.secrets.webhook_key_current);
    let (status, report) = world.stack.post_core_delivery(body.clone(), Some(&signature)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["duplicates"], 1, "the edge remembers processed event ids: {report}");
    assert_eq!(world.public_available(&world.variant).await, shown, "an old event changes nothing");
    let (status, _) = world.stack.post_core_delivery(body, Some(&signature)).await;
    assert_eq!(status, 401, "a replayed delivery is refused");
}
