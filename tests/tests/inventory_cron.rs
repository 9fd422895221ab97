//! Reservations nobody pays for are released by the sweep workers/events' cron drives (DESIGN §5),
//! and the storefront gets the units back through the stock event. The Workers run through
//! miniflare's API here (`TestStack::start_with_crons`), where a test can fire a cron; wrangler dev
//! never fires them and its proxy cannot address a Worker other than the gateway.

mod inventory_support;

use std::time::Duration;

use e2e::TestStack;
use inventory_support::{World, reserve_body};
use serde_json::json;

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
