//! The checkout saga through the real runtimes (issue 6): gateway → cart Worker (workerd) → the
//! `orders` component → `inventory` and `payments` (local Spin host) → the Stripe sandbox, with
//! PostgreSQL and Redis behind their gateways. Every scenario ends with the ledger at zero.

use std::collections::BTreeSet;

use e2e::{TestStack, error_code, fresh_id, now_unix};
use serde_json::{Value, json};
use shared::identity::access_token::{AccessTokenIssuer, Identity, RoleGrant};
use shared::neon::{NeonClient, ToSql};
use shared::transport::ReqwestTransport;
use xtask::catalog_seed::{self, BRIGHT_TEXTILES, NORTH_CERAMICS, SeedCatalog, SeedConfig};

const CARD_OK: &str = "4242424242424242";
const CARD_DECLINED: &str = "4000000000000002";
/// The sandbox keeps its payment `processing` for a moment, then succeeds and sends the webhook.
const CARD_DELAYED: &str = "4000000000008880";
/// Time travel for the crash tests: the dead runner's lease (or a retry's backoff) is over now, in
/// the row and in the saga's own state.
const DUE_NOW: &str = "UPDATE orders.sagas SET locked_until = NULL, next_attempt_at = now(), \
    state = jsonb_set(state, '{next_attempt_at_ms}', to_jsonb((extract(epoch FROM now()) * 1000)::bigint)) \
    WHERE id = $1 AND next_attempt_at IS NOT NULL";

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn checkout_saga_through_the_runtimes() {
    let mut stack = TestStack::start_with_crons("checkout").await.expect("stack starts");
    let config = SeedConfig { products: 40, vendors: 3, ..SeedConfig::default() };
    let urls = stack.stack.urls();
    catalog_seed::run(&urls.neon_sql, &stack.stack.connection_string(), &config).await.expect("the seed runs");
    xtask::cart_seed::run(&urls.neon_sql, &stack.stack.connection_string()).await.expect("cart seed");
    let catalog = catalog_seed::generate(&config).expect("the catalog generates");
    let issuer = stack.stack.access_token_issuer().expect("the stack's token issuer");
    {
        let world = World { stack: &stack, neon: stack.neon(), catalog: &catalog, issuer: &issuer };
        a_paid_checkout_confirms_one_order_per_vendor(&world).await;
        a_declined_payment_releases_the_stock_and_keeps_the_cart(&world).await;
        a_delayed_payment_confirms_the_orders_when_its_webhook_comes(&world).await;
        twenty_requests_with_one_key_make_one_order_group(&world).await;
        a_hundred_buyers_for_ten_units_make_ten_orders(&world).await;
        forged_payment_events_change_nothing(&world).await;
    }
    a_crash_after_any_step_is_finished_or_undone_by_the_sweep(&mut stack, &catalog, &issuer).await;
}

struct World<'a> {
    stack: &'a TestStack,
    neon: NeonClient<ReqwestTransport>,
    catalog: &'a SeedCatalog,
    issuer: &'a AccessTokenIssuer,
}

impl World<'_> {
    /// Public variants of `vendor`, in seed order, each with its vendor.
    fn variants(&self, vendor: &str) -> Vec<String> {
        self.catalog
            .products
            .iter()
            .filter(|product| product.is_public() && product.vendor_id.as_str() == vendor)
            .flat_map(|product| product.variants.iter().map(|variant| variant.id.to_string()))
            .collect()
    }

    fn buyer(&self) -> Buyer<'_> {
        let user_id = fresh_id("usr");
        let identity = Identity::new(&user_id, vec![RoleGrant::customer()]).expect("identity");
        let token = self.issuer.issue(&identity, now_unix(), &fresh_id("jti")).expect("token");
        Buyer { world: self, user_id, token }
    }

    /// `units` on hand for `variant`, in inventory and in the catalog's view of it.
    async fn stock(&self, vendor: &str, variant: &str, units: i64) {
        self.sql("SELECT inventory.set_on_hand($1, $2, NULL, $3::integer, 'e2e')", &[&vendor, &variant, &units]).await;
        self.sql("UPDATE catalog.variant_stock SET available = $2::integer WHERE variant_id = $1", &[&variant, &units])
            .await;
    }

    async fn sql(&self, sql: &str, params: &[&dyn ToSql]) -> shared::neon::QueryResult {
        self.neon.query(sql, params).await.unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    async fn number(&self, sql: &str, params: &[&dyn ToSql]) -> i64 {
        let result = self.sql(&format!("SELECT ({sql})::bigint"), params).await;
        result.one().expect("one row").get::<Option<i64>>(0).expect("a number").unwrap_or(0)
    }

    async fn text(&self, sql: &str, params: &[&dyn ToSql]) -> Option<String> {
        self.sql(sql, params).await.first().and_then(|row| row.get::<Option<String>>(0).ok().flatten())
    }

    /// The double-entry ledger sums to zero in every currency.
    async fn assert_ledger_balances(&self, after: &str) {
        let unbalanced = self
            .number(
                "SELECT count(*) FROM (SELECT currency FROM payments.ledger_entries GROUP BY currency \
                 HAVING sum(amount_minor) <> 0) u",
                &[],
            )
            .await;
        assert_eq!(unbalanced, 0, "the ledger balances after {after}");
    }

    async fn on_hand_and_reserved(&self, variant: &str) -> (i64, i64) {
        let on_hand = self.number("SELECT sum(on_hand) FROM inventory.stock WHERE variant_id = $1", &[&variant]).await;
        let reserved =
            self.number("SELECT sum(reserved) FROM inventory.stock WHERE variant_id = $1", &[&variant]).await;
        (on_hand, reserved)
    }
}

struct Buyer<'a> {
    world: &'a World<'a>,
    user_id: String,
    token: String,
}

impl Buyer<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let stack = self.world.stack;
        let mut request = stack.http.request(method, stack.worker_url(path)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Adds the lines, ships to Portugal and picks each shop's first priced option: ready to pay.
    async fn fill(&self, lines: &[(&str, i64)]) -> Value {
        for (variant, quantity) in lines {
            let body = json!({ "variant_id": variant, "quantity": quantity });
            let (status, body) = self.send(reqwest::Method::POST, "/api/v1/cart/lines", Some(body)).await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, mut cart) =
            self.send(reqwest::Method::PUT, "/api/v1/cart/destination", Some(json!({ "country": "PT" }))).await;
        assert_eq!(status, 200, "{cart}");
        let vendors: Vec<Value> = cart["vendors"].as_array().expect("vendors").clone();
        for vendor in vendors {
            let option = vendor["shipping_options"]
                .as_array()
                .expect("options")
                .iter()
                .find(|option| !option["price"].is_null())
                .expect("a priced option")["id"]
                .clone();
            let path = format!("/api/v1/cart/shipping/{}", vendor["vendor_id"].as_str().expect("vendor id"));
            let (status, body) = self.send(reqwest::Method::PUT, &path, Some(json!({ "option_id": option }))).await;
            assert_eq!(status, 200, "{body}");
            cart = body;
        }
        cart
    }

    async fn cart(&self) -> Value {
        let (status, cart) = self.send(reqwest::Method::GET, "/api/v1/cart", None).await;
        assert_eq!(status, 200, "{cart}");
        cart
    }

    /// Status, body and whether the answer was a replay.
    async fn checkout(&self, key: &str, body: &Value) -> (u16, Value, bool) {
        let stack = self.world.stack;
        let url = stack.worker_url("/api/v1/checkout");
        checkout_call(stack.http.clone(), url, self.token.clone(), key.to_owned(), body.clone()).await
    }
}

/// One checkout request as a browser sends it: status, body and whether it was a replay. Takes
/// owned parts so concurrent buyers can run it on their own tasks.
async fn checkout_call(
    http: reqwest::Client,
    url: String,
    token: String,
    key: String,
    body: Value,
) -> (u16, Value, bool) {
    let response = http
        .post(url)
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|value| value == "true");
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, replayed)
}

fn pay(cart: &Value, card: &str) -> Value {
    json!({
        "expected_total": cart["totals"]["total"],
        "payment_method": {"test_card": {"number": card, "exp_month": 12, "exp_year": 2034}},
    })
}

async fn a_paid_checkout_confirms_one_order_per_vendor(world: &World<'_>) {
    let ceramics = world.variants(NORTH_CERAMICS)[0].clone();
    let textiles = world.variants(BRIGHT_TEXTILES)[0].clone();
    world.stock(NORTH_CERAMICS, &ceramics, 50).await;
    world.stock(BRIGHT_TEXTILES, &textiles, 50).await;
    let buyer = world.buyer();
    buyer.fill(&[(&ceramics, 2), (&textiles, 1)]).await;
    let (status, cart) =
        buyer.send(reqwest::Method::POST, "/api/v1/cart/coupons", Some(json!({"code": "WELCOME10"}))).await;
    assert_eq!(status, 200, "{cart}");
    let total = cart["totals"]["total"]["amount_minor"].as_i64().expect("total");
    let body = pay(&cart, CARD_OK);
    let key = fresh_id("key");

    let (status, answer, replayed) = buyer.checkout(&key, &body).await;
    assert_eq!((status, replayed), (201, false), "{answer}");
    assert_eq!(answer["status"], "confirmed");
    assert_eq!(answer["total"]["amount_minor"], total);
    assert_eq!(answer["payment"]["status"], "succeeded");
    let group = answer["group_id"].as_str().expect("group id").to_owned();
    let vendors: BTreeSet<&str> =
        answer["orders"].as_array().expect("orders").iter().map(|o| o["vendor_id"].as_str().unwrap()).collect();
    assert_eq!(vendors, BTreeSet::from([NORTH_CERAMICS, BRIGHT_TEXTILES]));

    // Written as answered: the group and its orders confirmed with their lines, commission frozen,
    // the coupon redeemed once, the stock taken off the shelf, the payment booked, OrderPlaced out.
    assert_eq!(
        world.text("SELECT status FROM orders.order_groups WHERE id = $1", &[&group]).await.as_deref(),
        Some("confirmed")
    );
    assert_eq!(world.number("SELECT total_minor FROM orders.order_groups WHERE id = $1", &[&group]).await, total);
    assert_eq!(
        world
            .number("SELECT count(*) FROM orders.orders WHERE group_id = $1 AND status = 'confirmed'", &[&group])
            .await,
        2
    );
    let frozen = "SELECT count(*) FROM orders.order_lines l JOIN orders.orders o ON o.id = l.order_id \
                  WHERE o.group_id = $1 AND l.commission_frozen_at IS NOT NULL AND l.commission_minor > 0";
    assert_eq!(world.number(frozen, &[&group]).await, 2);
    assert_eq!(world.number("SELECT count(*) FROM cart.coupon_redemptions WHERE order_id = $1", &[&group]).await, 1);
    assert_eq!(world.on_hand_and_reserved(&ceramics).await, (48, 0));
    assert_eq!(world.number("SELECT count(*) FROM payments.journals WHERE kind = 'payment' AND reference IN (SELECT id FROM payments.payments WHERE group_id = $1)", &[&group]).await, 1);
    assert_eq!(
        world
            .number(
                "SELECT count(*) FROM orders.outbox WHERE topic = 'orders.order_placed' AND payload->>'group_id' = $1",
                &[&group]
            )
            .await,
        1
    );
    world.assert_ledger_balances("a paid checkout").await;
    // OrderPlaced reached the edge before the answer (the confirmation delivers its outbox): what
    // was bought, and the coupon, left the cart.
    let after = buyer.cart().await;
    assert_eq!(after["vendors"], json!([]), "{after}");
    assert_eq!(after["coupons"], json!([]), "{after}");

    // The same key and body: the same answer, replayed; the same key with another body: 422.
    let (status, again, replayed) = buyer.checkout(&key, &body).await;
    assert_eq!((status, replayed, &again), (201, true, &answer));
    let mut other = body.clone();
    other["expected_total"]["amount_minor"] = json!(total + 1);
    let (status, refused, _) = buyer.checkout(&key, &other).await;
    assert_eq!((status, error_code(&refused)), (422, "VAL_3002"), "{refused}");
    assert_eq!(
        world.number("SELECT count(*) FROM orders.order_groups WHERE buyer_id = $1", &[&buyer.user_id]).await,
        1
    );

    let (status, empty, _) = buyer.checkout(&fresh_id("key"), &body).await;
    assert_eq!((status, &empty["error"]["details"]["reason"]), (422, &json!("empty_cart")), "{empty}");

    // A total the shopper did not see is refused before anything is written.
    let stale = buyer.fill(&[(&ceramics, 1)]).await;
    let mut wrong = pay(&stale, CARD_OK);
    wrong["expected_total"]["amount_minor"] = json!(1);
    let (status, refused, _) = buyer.checkout(&fresh_id("key"), &wrong).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["details"]["reason"], "total_changed", "{refused}");
}

async fn a_declined_payment_releases_the_stock_and_keeps_the_cart(world: &World<'_>) {
    let variant = world.variants(NORTH_CERAMICS)[1].clone();
    world.stock(NORTH_CERAMICS, &variant, 5).await;
    let buyer = world.buyer();
    let cart = buyer.fill(&[(&variant, 3)]).await;
    let (status, refused, _) = buyer.checkout(&fresh_id("key"), &pay(&cart, CARD_DECLINED)).await;
    assert_eq!((status, error_code(&refused)), (402, "BIZ_5004"), "{refused}");
    assert_eq!(world.on_hand_and_reserved(&variant).await, (5, 0), "the stock is back");
    let groups = "SELECT count(*) FROM orders.order_groups WHERE buyer_id = $1 AND status = 'cancelled'";
    assert_eq!(world.number(groups, &[&buyer.user_id]).await, 1);
    let pending = "SELECT count(*) FROM orders.orders WHERE buyer_id = $1 AND status <> 'cancelled'";
    assert_eq!(world.number(pending, &[&buyer.user_id]).await, 0);
    let lines = buyer.cart().await["vendors"][0]["lines"].clone();
    assert_eq!(lines[0]["variant_id"], variant.as_str());
    assert_eq!(lines[0]["quantity"], 3, "the cart is intact");
    world.assert_ledger_balances("a declined payment").await;
}

async fn a_delayed_payment_confirms_the_orders_when_its_webhook_comes(world: &World<'_>) {
    let variant = world.variants(BRIGHT_TEXTILES)[0].clone();
    world.stock(BRIGHT_TEXTILES, &variant, 30).await;
    let buyer = world.buyer();
    let cart = buyer.fill(&[(&variant, 1)]).await;
    let body = pay(&cart, CARD_DELAYED);
    let key = fresh_id("key");
    let (status, waiting, _) = buyer.checkout(&key, &body).await;
    assert_eq!((status, &waiting["status"]), (202, &json!("awaiting_payment")), "{waiting}");
    let group = waiting["group_id"].as_str().expect("group id").to_owned();
    assert_eq!(world.on_hand_and_reserved(&variant).await, (30, 1), "held while the payment settles");
    // The sandbox's webhook → payments → its outbox → the saga's payment events → confirmed.
    let completed = "SELECT count(*) FROM orders.sagas WHERE group_id = $1 AND status = 'completed'";
    for _ in 0..100 {
        if world.number(completed, &[&group]).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(world.number(completed, &[&group]).await, 1, "the webhook finished the saga");
    let confirmed = "SELECT count(*) FROM orders.order_groups WHERE id = $1 AND status = 'confirmed'";
    assert_eq!(world.number(confirmed, &[&group]).await, 1);
    assert_eq!(world.on_hand_and_reserved(&variant).await, (29, 0));
    let (status, settled, replayed) = buyer.checkout(&key, &body).await;
    assert_eq!((status, replayed, &settled["status"]), (201, true, &json!("confirmed")), "{settled}");
    assert_eq!(buyer.cart().await["vendors"], json!([]), "what was bought left the cart");
    world.assert_ledger_balances("a delayed payment").await;
}

async fn twenty_requests_with_one_key_make_one_order_group(world: &World<'_>) {
    let variant = world.variants(BRIGHT_TEXTILES)[1].clone();
    world.stock(BRIGHT_TEXTILES, &variant, 100).await;
    let buyer = world.buyer();
    let cart = buyer.fill(&[(&variant, 2)]).await;
    let body = pay(&cart, CARD_OK);
    let key = fresh_id("key");
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let call = checkout_call(
            world.stack.http.clone(),
            world.stack.worker_url("/api/v1/checkout"),
            buyer.token.clone(),
            key.clone(),
            body.clone(),
        );
        running.spawn(call);
    }
    let answers = running.join_all().await;
    // Whichever request took the key did the work; the others answered where that checkout stood:
    // the same group, still going (202) or paid (201, replayed).
    let group = answers[0].1["group_id"].clone();
    assert!(group.is_string(), "{answers:?}");
    for (status, body, _) in &answers {
        assert!(*status == 201 || *status == 202, "{status} {body}");
        assert_eq!(body["group_id"], group, "{body}");
    }
    assert_eq!(answers.iter().filter(|(_, _, replayed)| !replayed).count(), 1, "one request did the work");
    let (status, settled, replayed) = buyer.checkout(&key, &body).await;
    assert_eq!((status, replayed, &settled["group_id"]), (201, true, &group), "once settled, the 201 replays");
    let first = answers.iter().find(|(_, _, replayed)| !replayed).map(|(_, body, _)| body);
    assert_eq!(first, Some(&settled), "the same bytes as the request that did the work");
    assert_eq!(
        world.number("SELECT count(*) FROM orders.order_groups WHERE buyer_id = $1", &[&buyer.user_id]).await,
        1
    );
    assert_eq!(world.number("SELECT count(*) FROM payments.payments WHERE buyer_id = $1", &[&buyer.user_id]).await, 1);
    assert_eq!(world.on_hand_and_reserved(&variant).await, (98, 0));
    world.assert_ledger_balances("twenty requests with one key").await;
}

async fn a_hundred_buyers_for_ten_units_make_ten_orders(world: &World<'_>) {
    let variant = world.variants(NORTH_CERAMICS)[2].clone();
    world.stock(NORTH_CERAMICS, &variant, 100).await;
    let buyers: Vec<Buyer<'_>> = (0..100).map(|_| world.buyer()).collect();
    let mut bodies = Vec::new();
    for buyer in &buyers {
        bodies.push(pay(&buyer.fill(&[(&variant, 1)]).await, CARD_OK));
    }
    // Every cart was filled while stock was plenty; now only ten units are left.
    world.stock(NORTH_CERAMICS, &variant, 10).await;
    let mut running = tokio::task::JoinSet::new();
    for (buyer, body) in buyers.iter().zip(bodies) {
        let (http, url) = (world.stack.http.clone(), world.stack.worker_url("/api/v1/checkout"));
        running.spawn(checkout_call(http, url, buyer.token.clone(), fresh_id("key"), body));
    }
    let answers = running.join_all().await;
    // Each winner's own request finished its saga: the payment events that came meanwhile found the
    // saga held and waited (before migration 0018 one could take it over, and its buyer got 202).
    let paid: Vec<&Value> = answers.iter().filter(|(status, ..)| *status == 201).map(|(_, body, _)| body).collect();
    let refused = answers.iter().filter(|(status, body, _)| *status == 409 && error_code(body) == "BIZ_5003").count();
    let others: Vec<_> = answers.iter().filter(|(status, ..)| ![201, 409].contains(status)).collect();
    assert_eq!((paid.len(), refused), (10, 90), "{others:?}");
    let confirmed_groups = "SELECT count(*) FROM orders.order_groups WHERE id = ANY ($1) AND status = 'confirmed'";
    let groups: Vec<&str> = paid.iter().filter_map(|body| body["group_id"].as_str()).collect();
    assert_eq!(world.number(confirmed_groups, &[&groups]).await, 10, "every winner paid and confirmed");
    assert_eq!(world.on_hand_and_reserved(&variant).await, (0, 0), "ten sold, nothing held, never negative");
    let with_status = "SELECT count(*) FROM inventory.reservations WHERE variant_id = $1 AND status = $2";
    assert_eq!(world.number(with_status, &[&variant, &"active"]).await, 0, "every losing reservation released");
    assert_eq!(world.number(with_status, &[&variant, &"consumed"]).await, 10, "the winners' units left the shelf");
    let confirmed = "SELECT count(*) FROM orders.order_lines l JOIN orders.orders o ON o.id = l.order_id \
                     WHERE l.variant_id = $1 AND o.status = 'confirmed'";
    assert_eq!(world.number(confirmed, &[&variant]).await, 10);
    world.assert_ledger_balances("a hundred buyers").await;
}

async fn forged_payment_events_change_nothing(world: &World<'_>) {
    let group = world
        .text("SELECT id FROM orders.order_groups WHERE status = 'cancelled' LIMIT 1", &[])
        .await
        .expect("a group");
    let batch = json!({"events": [{
        "id": fresh_id("evt"), "type": "payments.payment_succeeded", "occurred_at": "2026-11-21T12:00:00Z",
        "data": {"payment_id": fresh_id("pay"), "group_id": group, "buyer_id": fresh_id("usr"), "status": "succeeded",
                 "amount": {"amount_minor": 1, "currency": "EUR"}, "psp_reference": "pi_forged"}
    }]})
    .to_string();
    let (status, body) =
        world.stack.signed_with_key("not-the-key", "POST", "/orders/payment-events", batch.clone()).await;
    assert_eq!(status, 401, "{body}");
    // Genuinely signed, but the saga is long over: acknowledged, nothing moves.
    let (status, body) = world.stack.signed("POST", "/orders/payment-events", batch).await;
    assert_eq!((status, &body["applied"]), (200, &json!(0)), "{body}");
    assert_eq!(
        world.text("SELECT status FROM orders.order_groups WHERE id = $1", &[&group]).await.as_deref(),
        Some("cancelled")
    );
}

async fn a_crash_after_any_step_is_finished_or_undone_by_the_sweep(
    stack: &mut TestStack,
    catalog: &SeedCatalog,
    issuer: &AccessTokenIssuer,
) {
    for step in 1..=8 {
        let step_text = step.to_string();
        stack.stack.restart_spin(&[("SPIN_VARIABLE_TEST_CRASH_AFTER_STEP", &step_text)]).await.expect("spin restarts");
        let (variant, user_id) = {
            let world = World { stack, neon: stack.neon(), catalog, issuer };
            let variant = world.variants(BRIGHT_TEXTILES)[2 + step].clone();
            world.stock(BRIGHT_TEXTILES, &variant, 20).await;
            let buyer = world.buyer();
            let cart = buyer.fill(&[(&variant, 2)]).await;
            let (status, body, _) = buyer.checkout(&fresh_id("key"), &pay(&cart, CARD_OK)).await;
            assert!(status >= 500, "step {step}: the component died: {status} {body}");
            (variant, buyer.user_id.clone())
        };
        stack.stack.restart_spin(&[]).await.expect("spin restarts");
        let world = World { stack, neon: stack.neon(), catalog, issuer };
        let saga = "SELECT id FROM orders.sagas WHERE buyer_id = $1";
        let saga = world.text(saga, &[&user_id]).await.unwrap_or_else(|| panic!("step {step}: the saga was saved"));
        // The lease of the dead runner ends; then the cron's sweep takes the saga up.
        world.sql(DUE_NOW, &[&saga]).await;
        for _ in 0..10 {
            stack.run_cron("marketplace-events").await.expect("the cron runs");
            let status = world.text("SELECT status FROM orders.sagas WHERE id = $1", &[&saga]).await;
            if matches!(status.as_deref(), Some("completed" | "failed")) {
                break;
            }
            world.sql(DUE_NOW, &[&saga]).await;
        }
        let status = world.text("SELECT status FROM orders.sagas WHERE id = $1", &[&saga]).await;
        let group_status = world.text("SELECT status FROM orders.order_groups WHERE buyer_id = $1", &[&user_id]).await;
        let (on_hand, reserved) = world.on_hand_and_reserved(&variant).await;
        let payment = world.text("SELECT status FROM payments.payments WHERE buyer_id = $1", &[&user_id]).await;
        let refunded = world
            .number(
                "SELECT coalesce((SELECT sum(r.amount_minor) FROM payments.refunds r JOIN payments.payments p \
                 ON p.id = r.payment_id WHERE p.buyer_id = $1), 0) + coalesce((SELECT sum(v.refunded_minor) \
                 FROM payments.voids v JOIN payments.payments p ON p.id = v.payment_id WHERE p.buyer_id = $1), 0)",
                &[&user_id],
            )
            .await;
        match status.as_deref() {
            Some("completed") => {
                assert_eq!(group_status.as_deref(), Some("confirmed"), "step {step}");
                assert_eq!((on_hand, reserved), (18, 0), "step {step}");
                assert_eq!(payment.as_deref(), Some("succeeded"), "step {step}");
            }
            Some("failed") => {
                assert!(matches!(group_status.as_deref(), None | Some("cancelled")), "step {step}: {group_status:?}");
                assert_eq!((on_hand, reserved), (20, 0), "step {step}: the stock is back");
                assert!(
                    payment.as_deref() != Some("succeeded") || refunded > 0,
                    "step {step}: {payment:?} refunded {refunded}"
                );
            }
            other => panic!("step {step}: the saga is still {other:?}"),
        }
        println!(
            "crash after step {step}: the sweep left the saga {status:?}, group {group_status:?}, payment {payment:?}"
        );
        world.assert_ledger_balances(&format!("a crash after step {step}")).await;
    }
}
