//! The sweeps workers/events' cron drives (DESIGN §5): reservations nobody pays for are released
//! and the storefront gets the units back through the stock event; events the edge did not take
//! stay in the outbox until a sweep delivers them; payments' outbox is swept by the same cron. The Workers run through
//! miniflare's API here (`TestStack::start_with_crons`), where a test can fire a cron; wrangler dev
//! never fires them and its proxy cannot address a Worker other than the gateway.

mod inventory_support;

use std::time::Duration;

use e2e::TestStack;
use inventory_support::{World, reserve_body};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn expired_reservations_are_released_by_the_cron_driven_sweep() {
    let stack = TestStack::start_with_crons("inventory-cron").await.expect("stack starts");
    let world = World::new(&stack).await;
    let (red, blue) = (world.variant.as_str(), world.other_variant.as_str());

    let (status, body) = world.core("/inventory/reservations", &reserve_body("grp_abandoned", &[(red, 4)], 2)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = world.core("/inventory/reservations", &reserve_body("grp_paying", &[(blue, 1)], 900)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(world.public_available(red).await, json!(6));
    tokio::time::sleep(Duration::from_secs(3)).await;

    stack.run_cron("marketplace-events").await.expect("the cron runs");
    assert_eq!(world.reservation_status("grp_abandoned").await, "expired");
    assert_eq!(world.reservation_status("grp_paying").await, "active", "an unexpired reservation is kept");
    assert_eq!(world.stock(red).await, (10, 0));
    assert_eq!(world.public_available(red).await, json!(10), "the storefront has the units back");

    // A second run finds nothing more to do.
    stack.run_cron("marketplace-events").await.expect("the cron runs");
    assert_eq!((world.stock(red).await, world.stock(blue).await), ((10, 0), (3, 1)));
}

/// With the edge unreachable, a committed count is not lost: its event stays due with the error,
/// the storefront keeps the old number, and once the edge is back a cron sweep delivers it.
#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn undelivered_events_wait_in_the_outbox_until_a_sweep_delivers_them() {
    let mut stack = TestStack::start_with_crons("inventory-outbox").await.expect("stack starts");
    let ids = World::new(&stack).await.ids;
    let dead_edge = format!("http://127.0.0.1:{}", local_cloud::ports::free_port().expect("a free port"));
    stack.stack.restart_spin(&[("SPIN_VARIABLE_EDGE_URL", &dead_edge)]).await.expect("spin restarts");
    let world = World { stack: &stack, ids: ids.clone() };

    let path = format!("/api/v1/vendor/stock/{}", world.variant);
    let (status, row) = world.api(Method::PUT, &path, Some(&world.vendor_a), Some(json!({"on_hand": 42}))).await;
    assert_eq!(status, 200, "the count commits whether or not the edge hears of it: {row}");
    assert_eq!(world.stock(&world.variant).await, (42, 0));
    assert_eq!(world.public_available(&world.variant).await, json!(10), "the catalog has not heard yet");
    let pending = pending_events(&world).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["attempts"], 1);
    assert!(pending[0]["last_error"].as_str().is_some_and(|error| !error.is_empty()), "{pending:?}");

    // The cron sweeps too early: the event waits for its backoff.
    stack.run_cron("marketplace-events").await.expect("the cron runs");
    assert_eq!(pending_events(&world).await.len(), 1);

    drop(world);
    stack.stack.restart_spin(&[]).await.expect("spin restarts with the edge back");
    let world = World { stack: &stack, ids };
    // Stand-in for the 30 s backoff passing.
    world
        .stack
        .neon()
        .query("UPDATE inventory.outbox SET next_attempt_at = now() WHERE delivered_at IS NULL", &[])
        .await
        .expect("due");
    stack.run_cron("marketplace-events").await.expect("the cron runs");
    assert_eq!(pending_events(&world).await, Vec::<Value>::new(), "delivered");
    assert_eq!(world.public_available(&world.variant).await, json!(42), "the storefront shows the count");

    // Payments' events wait in their outbox for the same cron. Their receiver is the orders saga's;
    // here the events Worker stands in (it acknowledges types it does not handle).
    drop(world);
    let edge = stack.stack.urls().worker;
    let receiver = format!("{edge}{}", shared::events::edge::DELIVERY_PATH);
    let overrides =
        [("SPIN_VARIABLE_PAYMENTS_EVENTS_URL", receiver.as_str()), ("SPIN_VARIABLE_PAYMENTS_EVENTS_ORIGIN", &edge)];
    stack.stack.restart_spin(&overrides).await.expect("spin restarts with a payments receiver");
    let event = e2e::fresh(shared::events::EventId::generate);
    let neon = stack.neon();
    neon.query(
        "INSERT INTO payments.outbox (id, topic, payload) VALUES ($1, 'payments.payment_succeeded', '{}'::jsonb)",
        &[&event],
    )
    .await
    .expect("a due payments event");
    stack.run_cron("marketplace-events").await.expect("the cron runs");
    let delivered = neon
        .query("SELECT delivered_at IS NOT NULL AND attempts = 1 FROM payments.outbox WHERE id = $1", &[&event])
        .await
        .expect("outbox");
    assert!(delivered.one().expect("the event").get::<bool>(0).expect("a boolean"), "the cron swept payments' outbox");
}

async fn pending_events(world: &World<'_>) -> Vec<Value> {
    let result = world
        .stack
        .neon()
        .query(
            "SELECT coalesce(json_agg(json_build_object('attempts', attempts, 'last_error', last_error) ORDER BY id), '[]') \
             FROM inventory.outbox WHERE delivered_at IS NULL",
            &[],
        )
        .await
        .expect("outbox");
    let events: Value = result.one().expect("a row").get(0).expect("json");
    events.as_array().cloned().unwrap_or_default()
}
