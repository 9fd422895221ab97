//! Carts through the gateway in workerd, on a small seeded catalog: atomic adds under concurrency,
//! limits, the guest-into-account merge, coupon rules each way, revalidation flags, shipping by
//! distance, and isolation between shoppers.

use std::collections::BTreeMap;

use e2e::{TestStack, error_code, fresh_id, now_unix};
use serde_json::{Value, json};
use shared::cart::{CartOwner, CouponCode};
use shared::catalog::{Currency, Money, Quantity, VariantId, VendorId};
use shared::events::edge::{ORDER_PLACED, OrderPlaced, PlacedLine, PlacedOrder};
use shared::identity::access_token::{AccessTokenIssuer, Identity, Role, RoleGrant};
use shared::neon::NeonClient;
use shared::orders::{BuyerId, OrderGroupId, OrderId};
use shared::transport::ReqwestTransport;
use shared::upstash::{UpstashClient, cmd};
use xtask::catalog_seed::{self, BRIGHT_TEXTILES, NORTH_CERAMICS, SeedCatalog, SeedConfig};

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn carts_through_the_gateway() {
    let stack = TestStack::start("cart", true).await.expect("stack starts");
    let config = SeedConfig { products: 150, vendors: 3, ..SeedConfig::default() };
    let urls = stack.stack.urls();
    catalog_seed::run(&urls.neon_sql, &stack.stack.connection_string(), &config).await.expect("the seed runs");
    let catalog = catalog_seed::generate(&config).expect("the catalog generates");
    let neon = stack.neon();
    // Plenty of everything, so only the tests that change stock see a stock flag.
    neon.query("UPDATE catalog.variant_stock SET available = 1000", &[]).await.expect("stock");
    xtask::cart_seed::run(&stack.stack.urls().neon_sql, &stack.stack.connection_string()).await.expect("cart seed");
    let world = World { stack: &stack, neon, catalog, issuer: issuer(&stack) };

    fifty_parallel_adds_on_one_line_end_at_exactly_fifty(&world).await;
    a_retried_add_with_the_same_idempotency_key_adds_once(&world).await;
    line_and_quantity_limits_are_refused_with_stable_codes(&world).await;
    the_guest_cart_merges_into_the_account_on_login(&world).await;
    coupons_are_checked_each_way(&world).await;
    changed_prices_and_missing_stock_are_flagged_not_dropped(&world).await;
    local_delivery_is_priced_by_distance_from_the_shop(&world).await;
    concurrent_replacements_of_a_vendors_shipping_options_keep_one_whole_set(&world).await;
    nobody_reaches_another_shoppers_cart(&world).await;
    a_placed_order_takes_what_was_bought_out_of_the_cart_once(&world).await;
}

struct World<'a> {
    stack: &'a TestStack,
    neon: NeonClient<ReqwestTransport>,
    catalog: SeedCatalog,
    issuer: AccessTokenIssuer,
}

impl World<'_> {
    /// Public variants, optionally of one vendor, in seed order.
    fn variants(&self, vendor: Option<&str>) -> Vec<String> {
        self.catalog
            .products
            .iter()
            .filter(|product| product.is_public())
            .filter(|product| vendor.is_none_or(|vendor| product.vendor_id.as_str() == vendor))
            .flat_map(|product| product.variants.iter().map(|variant| variant.id.to_string()))
            .collect()
    }

    fn price_of(&self, variant_id: &str) -> i64 {
        self.catalog
            .products
            .iter()
            .flat_map(|product| &product.variants)
            .find(|variant| variant.id.as_str() == variant_id)
            .map(|variant| variant.pricing.price.amount_minor)
            .expect("a seeded variant")
    }

    fn shopper(&self) -> Shopper<'_> {
        Shopper { world: self, cookie: None, token: None }
    }

    fn customer(&self, user_id: &str) -> Shopper<'_> {
        let identity = Identity::new(user_id, vec![RoleGrant::customer()]).expect("identity");
        let token = self.issuer.issue(&identity, now_unix(), &format!("jti-{user_id}")).expect("token");
        Shopper { world: self, cookie: None, token: Some(token) }
    }

    fn vendor(&self, user_id: &str, vendor_id: &str) -> Shopper<'_> {
        let grant = RoleGrant::new(Role::VendorAdmin, Some(vendor_id.to_owned())).expect("grant");
        let identity = Identity::new(user_id, vec![grant]).expect("identity");
        let token = self.issuer.issue(&identity, now_unix(), &format!("jti-{user_id}")).expect("token");
        Shopper { world: self, cookie: None, token: Some(token) }
    }

    fn vendor_of(&self, variant_id: &str) -> VendorId {
        self.catalog
            .products
            .iter()
            .find(|product| product.variants.iter().any(|variant| variant.id.as_str() == variant_id))
            .map(|product| product.vendor_id.clone())
            .expect("a seeded variant")
    }

    /// `orders.order_placed` for `bought` (variant, units) and the redeemed `coupons`, as the orders
    /// component's outbox sends it: one event in a batch, under a fresh event id.
    fn order_placed(&self, group: &str, buyer: &str, bought: &[(&str, u32)], coupons: &[&str]) -> Vec<u8> {
        let eur = |minor| Money::new(minor, Currency::EUR);
        let lines: Vec<PlacedLine> = bought
            .iter()
            .map(|(variant, units)| PlacedLine {
                variant_id: VariantId::parse(variant).expect("variant id"),
                quantity: Quantity::new(i64::from(*units)).expect("quantity"),
            })
            .collect();
        let group_id = OrderGroupId::parse(group).expect("group id");
        let mut orders: Vec<PlacedOrder> = Vec::new();
        for (variant, units) in bought {
            let vendor_id = self.vendor_of(variant);
            let total = self.price_of(variant) * i64::from(*units);
            match orders.iter_mut().find(|order| order.vendor_id == vendor_id) {
                Some(order) => order.total = eur(order.total.amount_minor + total),
                None => orders.push(PlacedOrder {
                    order_id: OrderId::for_vendor(&group_id, &vendor_id),
                    vendor_id,
                    total: eur(total),
                }),
            }
        }
        let placed = OrderPlaced {
            group_id,
            buyer_id: BuyerId::parse(buyer).expect("buyer id"),
            total: eur(orders.iter().map(|order| order.total.amount_minor).sum()),
            orders,
            lines,
            coupons: coupons.iter().map(|code| CouponCode::parse(code).expect("code")).collect(),
        };
        let event = json!({"id": fresh_id("evt"), "type": ORDER_PLACED, "occurred_at": "2026-05-01T12:00:00Z",
            "data": placed});
        json!({ "events": [event] }).to_string().into_bytes()
    }

    /// Delivers a batch signed as the core signs it (a fresh `jti` each time): the edge's report.
    async fn deliver(&self, batch: &[u8]) -> Value {
        let signature = self.stack.sign_core_delivery(batch, &self.stack.stack.secrets.webhook_key_current);
        let (status, report) = self.stack.post_core_delivery(batch.to_vec(), Some(&signature)).await;
        assert_eq!(status, 200, "{report}");
        report
    }

    async fn sql(&self, sql: &str) {
        self.neon.query(sql, &[]).await.unwrap_or_else(|error| panic!("{sql}: {error}"));
    }
}

/// A browser: keeps the cart cookie the Worker sets, and may send an access token.
struct Shopper<'a> {
    world: &'a World<'a>,
    cookie: Option<String>,
    token: Option<String>,
}

impl Shopper<'_> {
    async fn send(&mut self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, body, set_cookie) = self.raw(method, path, body.map(|body| body.to_string())).await;
        if let Some(set_cookie) = set_cookie {
            let value = set_cookie.split(';').next().and_then(|pair| pair.strip_prefix("cart=")).unwrap_or_default();
            self.cookie = (!value.is_empty()).then(|| value.to_owned());
        }
        (status, body)
    }

    /// Status, JSON body and `Set-Cookie`, without touching the stored cookie.
    async fn raw(&self, method: reqwest::Method, path: &str, body: Option<String>) -> (u16, Value, Option<String>) {
        let stack = self.world.stack;
        let mut request = stack.http.request(method, stack.worker_url(path));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", format!("cart={cookie}"));
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let set_cookie = response.headers().get("set-cookie").and_then(|value| value.to_str().ok()).map(str::to_owned);
        let body = response.json().await.unwrap_or(Value::Null);
        if status >= 500 {
            stack.print_logs();
        }
        (status, body, set_cookie)
    }

    async fn cart(&mut self) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, "/api/v1/cart", None).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn add(&mut self, variant_id: &str, quantity: i64) -> (u16, Value) {
        let body = json!({ "variant_id": variant_id, "quantity": quantity });
        self.send(reqwest::Method::POST, "/api/v1/cart/lines", Some(body)).await
    }

    async fn add_ok(&mut self, variant_id: &str, quantity: i64) -> Value {
        let (status, body) = self.add(variant_id, quantity).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// Runs the requests concurrently; answers in the order they finish.
async fn all_at_once<T: Send + 'static>(
    requests: impl Iterator<Item = impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let mut running = tokio::task::JoinSet::new();
    for request in requests {
        running.spawn(request);
    }
    running.join_all().await
}

fn issuer(stack: &TestStack) -> AccessTokenIssuer {
    stack.stack.access_token_issuer().expect("the stack's token issuer")
}

/// Every line of a cart response: variant id → line.
fn lines(cart: &Value) -> BTreeMap<String, Value> {
    cart["vendors"]
        .as_array()
        .expect("vendors")
        .iter()
        .flat_map(|vendor| vendor["lines"].as_array().expect("lines").iter().cloned())
        .map(|line| (line["variant_id"].as_str().expect("variant_id").to_owned(), line))
        .collect()
}

fn quantity(cart: &Value, variant_id: &str) -> Option<i64> {
    lines(cart).get(variant_id).map(|line| line["quantity"].as_i64().expect("quantity"))
}

async fn fifty_parallel_adds_on_one_line_end_at_exactly_fifty(world: &World<'_>) {
    let variant = world.variants(None)[0].clone();
    let mut shopper = world.customer("usr_01JC00000000000000000PAR1");
    let token = shopper.token.clone().expect("token");
    // Warm the isolate and the gateways' connections: this test is about lost updates, not cold starts.
    assert_eq!(lines(&shopper.cart().await).len(), 0);
    let url = world.stack.worker_url("/api/v1/cart/lines");
    let mut adds = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let request =
            world.stack.http.post(&url).bearer_auth(&token).json(&json!({ "variant_id": variant, "quantity": 1 }));
        adds.spawn(async move { request.send().await.map(|response| response.status().as_u16()) });
    }
    let started = std::time::Instant::now();
    let statuses: Vec<u16> =
        adds.join_all().await.into_iter().map(|status| status.expect("the gateway answers")).collect();
    println!("50 parallel adds to one line took {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    let cart = shopper.cart().await;
    assert_eq!(quantity(&cart, &variant), Some(50), "{cart}");
    assert_eq!(lines(&cart).len(), 1, "one line, never two for one variant");
}

/// A client whose answer was lost sends the add again with the same key: the line grows once.
async fn a_retried_add_with_the_same_idempotency_key_adds_once(world: &World<'_>) {
    let variant = world.variants(None)[1].clone();
    let shopper = world.customer("usr_01JC00000000000000000IDM1");
    let token = shopper.token.clone().expect("token");
    let send = |key: &str, path: &str, body: Value| {
        let request = world.stack.http.post(world.stack.worker_url(path)).bearer_auth(&token);
        let request = request.header("idempotency-key", key).json(&body);
        async move {
            let response = request.send().await.expect("the gateway answers");
            let replayed = response.headers().get("idempotent-replayed").is_some();
            (response.status().as_u16(), replayed, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let add = json!({ "variant_id": variant, "quantity": 2 });
    let (status, replayed, first) = send("add-2-once", "/api/v1/cart/lines", add.clone()).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    assert_eq!(quantity(&first, &variant), Some(2));
    // Ten retries at once, racing each other: every one answers the cart, none adds again.
    let retries = (0..10).map(|_| send("add-2-once", "/api/v1/cart/lines", add.clone()));
    for (status, replayed, cart) in all_at_once(retries).await {
        assert_eq!((status, replayed), (200, true), "{cart}");
        assert_eq!(quantity(&cart, &variant), Some(2), "{cart}");
    }
    // Another key is another add.
    let (status, _, cart) = send("add-2-again", "/api/v1/cart/lines", add.clone()).await;
    assert_eq!((status, quantity(&cart, &variant)), (200, Some(4)), "{cart}");
    // The same key with another body, or on another endpoint, is a client mistake.
    let other = json!({ "variant_id": variant, "quantity": 3 });
    for (path, body) in [("/api/v1/cart/lines", other), ("/api/v1/cart/coupons", json!({ "code": "ANY" }))] {
        let (status, _, body) = send("add-2-once", path, body).await;
        assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{path}: {body}");
        assert_eq!(body["error"]["details"]["fields"]["idempotency-key"], "reused_with_another_body", "{body}");
    }
    let (status, _, body) =
        send("has space", "/api/v1/cart/lines", json!({ "variant_id": variant, "quantity": 1 })).await;
    assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");
    assert_eq!(quantity(&world.customer("usr_01JC00000000000000000IDM1").cart().await, &variant), Some(4));
}

async fn line_and_quantity_limits_are_refused_with_stable_codes(world: &World<'_>) {
    let variants = world.variants(None);
    let mut shopper = world.shopper();
    for bad in [0, 100, -1] {
        let (status, body) = shopper.add(&variants[0], bad).await;
        assert_eq!((status, error_code(&body)), (422, "BIZ_5002"), "quantity {bad}: {body}");
        assert_eq!(body["error"]["details"]["reason"], "quantity_out_of_range");
    }
    shopper.add_ok(&variants[0], 60).await;
    let cart = shopper.add_ok(&variants[0], 60).await;
    assert_eq!(quantity(&cart, &variants[0]), Some(99), "summed and capped at the line limit");
    let (status, body) = shopper.add("var_01JC000000000000000000ZZZZ", 1).await;
    assert_eq!((status, error_code(&body)), (404, "RES_4004"), "{body}");
    let (status, body) = shopper.add("not-an-id", 1).await;
    assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");

    assert!(variants.len() > 51, "the seed has enough variants");
    for variant in &variants[1..50] {
        shopper.add_ok(variant, 1).await;
    }
    let (status, body) = shopper.add(&variants[50], 1).await;
    assert_eq!((status, error_code(&body)), (422, "BIZ_5002"), "{body}");
    assert_eq!(body["error"]["details"]["reason"], "too_many_lines");
    assert_eq!(lines(&shopper.cart().await).len(), 50);

    let huge = format!(r#"{{"variant_id":"{}","quantity":1,"pad":"{}"}}"#, variants[0], "x".repeat(40_000));
    let (status, body, _) = shopper.raw(reqwest::Method::POST, "/api/v1/cart/lines", Some(huge)).await;
    assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");
    assert_eq!(body["error"]["details"]["fields"]["body"], "too_large", "{body}");
}

async fn the_guest_cart_merges_into_the_account_on_login(world: &World<'_>) {
    let variants = world.variants(None);
    let (both, guest_only, scarce) = (&variants[60], &variants[61], &variants[62]);
    world.sql(&format!("UPDATE catalog.variant_stock SET available = 5 WHERE variant_id = '{scarce}'")).await;

    let mut account = world.customer("usr_01JC00000000000000000MRG1");
    account.add_ok(both, 60).await;
    account.add_ok(scarce, 4).await;

    let mut guest = world.shopper();
    guest.add_ok(both, 60).await;
    guest.add_ok(guest_only, 3).await;
    let guest_cookie = guest.cookie.clone().expect("a guest gets a cookie");
    // Each write renews the cookie with the cart: it stays 30 days after the last change.
    let body = json!({"variant_id": scarce, "quantity": 4}).to_string();
    let (status, _, renewed) = guest.raw(reqwest::Method::POST, "/api/v1/cart/lines", Some(body)).await;
    assert_eq!(status, 200);
    let renewed = renewed.expect("a guest write sends the cookie again");
    assert!(renewed.starts_with(&format!("cart={guest_cookie};")) && renewed.contains("Max-Age=2592000"), "{renewed}");

    // Signing in: the same browser now sends its token with the cookie.
    account.cookie = Some(guest_cookie.clone());
    let (status, cart, set_cookie) = account.raw(reqwest::Method::GET, "/api/v1/cart", None).await;
    assert_eq!(status, 200, "{cart}");
    assert!(set_cookie.as_deref().is_some_and(|cookie| cookie.contains("Max-Age=0")), "{set_cookie:?}");
    assert_eq!(quantity(&cart, both), Some(99), "60 + 60, capped at the line limit");
    assert_eq!(quantity(&cart, guest_only), Some(3));
    assert_eq!(quantity(&cart, scarce), Some(5), "4 + 4, capped at the 5 in stock");
    // The answer to the merging request says what could not be kept whole.
    let capped: BTreeMap<&str, (&Value, &Value, &Value)> = cart["merge"]["capped"]
        .as_array()
        .expect("the merge report")
        .iter()
        .map(|cap| (cap["variant_id"].as_str().expect("variant"), (&cap["requested"], &cap["kept"], &cap["reason"])))
        .collect();
    assert_eq!(capped.len(), 2, "{cart}");
    assert_eq!(capped[both.as_str()], (&json!(120), &json!(99), &json!("line_quantity")));
    assert_eq!(capped[scarce.as_str()], (&json!(8), &json!(5), &json!("stock")));

    // The guest cart is gone: its cookie alone now reaches nothing.
    let mut old_guest = world.shopper();
    old_guest.cookie = Some(guest_cookie);
    assert_eq!(lines(&old_guest.cart().await).len(), 0);
    // And merging again adds nothing.
    let (_, again, _) = account.raw(reqwest::Method::GET, "/api/v1/cart", None).await;
    assert_eq!(quantity(&again, guest_only), Some(3));
    assert!(again.get("merge").is_none(), "the report comes once: {again}");
}

async fn coupons_are_checked_each_way(world: &World<'_>) {
    let variant = &world.variants(Some(BRIGHT_TEXTILES))[0];
    let price = world.price_of(variant);
    world
        .sql(&format!(
            "INSERT INTO cart.coupons (code, vendor_id, percent_bp, fixed_minor, currency, min_purchase_minor, \
                 max_discount_minor, valid_from, valid_until, per_customer_limit, total_limit) VALUES \
             ('OLD-DEAL', NULL, 1000, NULL, NULL, NULL, NULL, now() - interval '10 days', now() - interval '1 day', NULL, NULL), \
             ('BIG-SPENDER', NULL, NULL, 500, 'EUR', {}, NULL, NULL, NULL, NULL, NULL), \
             ('CERAMICS-ONLY', '{NORTH_CERAMICS}', 1000, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
             ('ONCE-ONLY', NULL, 1000, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1), \
             ('HALF-CAPPED', NULL, 5000, NULL, 'EUR', NULL, 100, NULL, NULL, NULL, NULL), \
             ('ONE-EACH', NULL, 1000, NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL)",
            price * 10 + 1
        ))
        .await;
    // Redemptions are taken the way checkout takes them (migration 0012), so the cart's count and
    // checkout's agree.
    world
        .sql(
            "SELECT cart.redeem_coupons('usr_01JC0000000000000000000OTH', 'grp_01JC000000000000000000000X', \
              ARRAY['ONCE-ONLY'], now())",
        )
        .await;
    let mut shopper = world.shopper();
    shopper.add_ok(variant, 2).await;
    for (code, reason) in [
        ("OLD-DEAL", "expired"),
        ("BIG-SPENDER", "below_minimum"),
        ("CERAMICS-ONLY", "wrong_vendor"),
        ("ONCE-ONLY", "usage_limit_reached"),
        ("NO-SUCH-CODE", "unknown"),
    ] {
        let (status, body) =
            shopper.send(reqwest::Method::POST, "/api/v1/cart/coupons", Some(json!({ "code": code }))).await;
        assert_eq!((status, error_code(&body)), (422, "BIZ_5001"), "{code}: {body}");
        assert_eq!(body["error"]["details"]["reason"], reason, "{code}");
    }
    assert!(shopper.cart().await["coupons"].as_array().expect("coupons").is_empty(), "refused codes are not kept");

    // ONE-EACH: the customer who redeemed it once at checkout is refused; another customer is not;
    // once that checkout is compensated (its redemption released), the first customer may use it again.
    let (first, second) = ("usr_01JC00000000000000000ONE1", "usr_01JC00000000000000000ONE2");
    let group = "grp_01JC000000000000000000000Y";
    let apply = async |user: &str| {
        let mut customer = world.customer(user);
        customer.add_ok(variant, 1).await;
        customer.send(reqwest::Method::POST, "/api/v1/cart/coupons", Some(json!({ "code": "ONE-EACH" }))).await
    };
    world.sql(&format!("SELECT cart.redeem_coupons('{first}', '{group}', ARRAY['ONE-EACH'], now())")).await;
    let (status, body) = apply(first).await;
    assert_eq!((status, &body["error"]["details"]["reason"]), (422, &json!("customer_limit_reached")), "{body}");
    let (status, body) = apply(second).await;
    assert_eq!((status, &body["coupons"][0]["status"]), (200, &json!("applied")), "{body}");
    world.sql(&format!("SELECT cart.release_coupons('{group}')")).await;
    let (status, body) = apply(first).await;
    assert_eq!((status, &body["coupons"][0]["status"]), (200, &json!("applied")), "released: {body}");

    let (status, cart) =
        shopper.send(reqwest::Method::POST, "/api/v1/cart/coupons", Some(json!({ "code": "half-capped" }))).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(cart["coupons"][0]["status"], "applied");
    assert_eq!(cart["coupons"][0]["discount"]["amount_minor"], 100, "50 % capped at the €1 maximum");
    assert_eq!(cart["totals"]["discount"]["amount_minor"], 100);
    assert_eq!(cart["totals"]["subtotal"]["amount_minor"], price * 2);

    let (status, _) = shopper.send(reqwest::Method::DELETE, "/api/v1/cart/coupons/HALF-CAPPED", None).await;
    assert_eq!(status, 200);
    let (status, body) = shopper.send(reqwest::Method::DELETE, "/api/v1/cart/coupons/HALF-CAPPED", None).await;
    assert_eq!((status, error_code(&body)), (404, "RES_4004"));
}

async fn changed_prices_and_missing_stock_are_flagged_not_dropped(world: &World<'_>) {
    let variants = world.variants(None);
    let (repriced, sold_out) = (&variants[70], &variants[71]);
    let old_price = world.price_of(repriced);
    let mut shopper = world.shopper();
    shopper.add_ok(repriced, 1).await;
    shopper.add_ok(sold_out, 2).await;
    world.sql(&format!("UPDATE catalog.variants SET price_minor = price_minor + 250 WHERE id = '{repriced}'")).await;
    world.sql(&format!("UPDATE catalog.variant_stock SET available = 0 WHERE variant_id = '{sold_out}'")).await;

    let cart = shopper.cart().await;
    let all = lines(&cart);
    let flag = &all[repriced.as_str()]["flags"][0];
    assert_eq!(flag["code"], "price_changed", "{cart}");
    assert_eq!(flag["old_price"]["amount_minor"], old_price);
    assert_eq!(flag["new_price"]["amount_minor"], old_price + 250);
    assert_eq!(all[repriced.as_str()]["line_total"]["amount_minor"], old_price + 250, "charged at today's price");
    let gone = &all[sold_out.as_str()];
    assert_eq!(gone["flags"][0]["code"], "out_of_stock", "{cart}");
    assert_eq!(gone["line_total"], Value::Null, "kept, flagged, counting for nothing");
    assert_eq!(gone["quantity"], 2);
    let (status, body) = shopper.add(sold_out, 1).await;
    assert_eq!((status, error_code(&body)), (409, "BIZ_5003"), "{body}");
    assert_eq!(body["error"]["details"], json!({ "reason": "out_of_stock", "available": 0 }), "{body}");

    // An add never takes a line past the stock: the shopper learns how many there are, and the line
    // stays as it was.
    let scarce = &variants[72];
    world.sql(&format!("UPDATE catalog.variant_stock SET available = 3 WHERE variant_id = '{scarce}'")).await;
    shopper.add_ok(scarce, 2).await;
    let (status, body) = shopper.add(scarce, 2).await;
    assert_eq!((status, error_code(&body)), (409, "BIZ_5003"), "{body}");
    assert_eq!(body["error"]["details"], json!({ "reason": "insufficient_stock", "available": 3 }), "{body}");
    assert_eq!(quantity(&shopper.cart().await, scarce), Some(2));
    let cart = shopper.add_ok(scarce, 1).await;
    assert_eq!(quantity(&cart, scarce), Some(3), "up to the stock is fine");
    // A quantity change likewise: raising past the stock is refused, lowering always allowed.
    let scarce_line = format!("/api/v1/cart/lines/{}", lines(&cart)[scarce.as_str()]["line_id"].as_str().expect("id"));
    let (status, body) = shopper.send(reqwest::Method::PATCH, &scarce_line, Some(json!({ "quantity": 4 }))).await;
    assert_eq!((status, &body["error"]["details"]["available"]), (409, &json!(3)), "{body}");
    let gone_line = format!("/api/v1/cart/lines/{}", all[sold_out.as_str()]["line_id"].as_str().expect("id"));
    let (status, body) = shopper.send(reqwest::Method::PATCH, &gone_line, Some(json!({ "quantity": 1 }))).await;
    assert_eq!((status, quantity(&body, sold_out)), (200, Some(1)), "{body}");
    assert_eq!(quantity(&body, scarce), Some(3));
}

async fn local_delivery_is_priced_by_distance_from_the_shop(world: &World<'_>) {
    let shop = world.catalog.vendors.iter().find(|vendor| vendor.id.as_str() == NORTH_CERAMICS).expect("demo shop");
    let mut vendor = world.vendor("usr_01JC00000000000000000VEN1", NORTH_CERAMICS);
    let rate = json!({ "kind": "local_delivery", "base": { "amount_minor": 200, "currency": "EUR" },
        "per_km": { "amount_minor": 50, "currency": "EUR" }, "max_radius_km": 30.0 });
    let (status, body) = vendor
        .send(reqwest::Method::PUT, "/api/v1/vendor/shipping-options", Some(json!({ "options": [{ "rate": rate }] })))
        .await;
    assert_eq!(status, 200, "{body}");
    let option_id = body["options"][0]["id"].as_str().expect("an option id").to_owned();
    let bad =
        json!({ "options": [{ "rate": { "kind": "flat", "price": { "amount_minor": -1, "currency": "EUR" } } }] });
    let (status, body) = vendor.send(reqwest::Method::PUT, "/api/v1/vendor/shipping-options", Some(bad)).await;
    assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");
    // Another vendor cannot claim the option, and a shopper cannot configure any.
    let mut other = world.vendor("usr_01JC00000000000000000VEN2", BRIGHT_TEXTILES);
    let steal = json!({ "options": [{ "id": option_id, "rate": { "kind": "flat", "price": { "amount_minor": 1, "currency": "EUR" } } }] });
    let (status, body) = other.send(reqwest::Method::PUT, "/api/v1/vendor/shipping-options", Some(steal)).await;
    assert_eq!((status, error_code(&body)), (404, "RES_4004"), "{body}");
    let (status, _) = world
        .customer("usr_01JC00000000000000000CUS9")
        .send(reqwest::Method::GET, "/api/v1/vendor/shipping-options", None)
        .await;
    assert_eq!(status, 403);

    let mut shopper = world.shopper();
    shopper.add_ok(&world.variants(Some(NORTH_CERAMICS))[0], 1).await;
    // About 11 km north of the shop.
    let near = shared::catalog::geo::GeoPoint::new(shop.location.lat() + 0.1, shop.location.lng()).expect("point");
    let destination = json!({ "country": "PT", "postcode": "1000-001", "lat": near.lat(), "lng": near.lng() });
    let (status, body) = shopper.send(reqwest::Method::PUT, "/api/v1/cart/destination", Some(destination)).await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/api/v1/cart/shipping/{NORTH_CERAMICS}");
    let (status, cart) = shopper.send(reqwest::Method::PUT, &path, Some(json!({ "option_id": option_id }))).await;
    assert_eq!(status, 200, "{cart}");
    let expected = 200 + 50 * shop.location.distance_km(near).ceil() as i64;
    let group = &cart["vendors"][0];
    assert_eq!(group["selected_shipping"], option_id.as_str(), "{cart}");
    assert_eq!(group["shipping"]["amount_minor"], expected, "{cart}");
    assert_eq!(cart["totals"]["shipping"]["amount_minor"], expected);
    assert_eq!(group["tax_rate"], 2300, "Portugal's VAT from the table");

    // 100 km away the option cannot serve the cart, and shipping counts nothing.
    let far = json!({ "country": "PT", "lat": shop.location.lat() + 0.9, "lng": shop.location.lng() });
    let (_, cart) = shopper.send(reqwest::Method::PUT, "/api/v1/cart/destination", Some(far)).await;
    let quote = &cart["vendors"][0]["shipping_options"][0];
    assert_eq!((quote["price"].clone(), quote["unavailable"].clone()), (Value::Null, json!("out_of_range")), "{cart}");
    assert_eq!(cart["vendors"][0]["shipping"]["amount_minor"], 0);
    let (status, body) = shopper
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/cart/shipping/{BRIGHT_TEXTILES}"),
            Some(json!({ "option_id": option_id })),
        )
        .await;
    assert_eq!((status, error_code(&body)), (404, "RES_4004"), "another vendor's option: {body}");
}

/// Five replacements at once, ten new options each: afterwards the vendor has exactly one of the
/// five sets, never a mix past the limit.
async fn concurrent_replacements_of_a_vendors_shipping_options_keep_one_whole_set(world: &World<'_>) {
    let vendor_id = world
        .catalog
        .vendors
        .iter()
        .map(|vendor| vendor.id.as_str())
        .find(|id| ![NORTH_CERAMICS, BRIGHT_TEXTILES].contains(id))
        .expect("a third vendor")
        .to_owned();
    let vendor = world.vendor("usr_01JC00000000000000000VEN3", &vendor_id);
    let token = vendor.token.clone().expect("token");
    let url = world.stack.worker_url("/api/v1/vendor/shipping-options");
    let replacements = (0..5).map(|set| {
        let options: Vec<Value> = (0..10)
            .map(|n| json!({ "rate": { "kind": "flat", "price": { "amount_minor": set * 100 + n, "currency": "EUR" } } }))
            .collect();
        let request = world.stack.http.put(&url).bearer_auth(&token).json(&json!({ "options": options }));
        async move {
            let response = request.send().await.expect("the gateway answers");
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    });
    let answers = all_at_once(replacements).await;
    let mut sets = Vec::new();
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
        sets.push(e2e::unique_ids(body["options"].as_array().expect("options")));
    }
    let (status, now) = world
        .vendor("usr_01JC00000000000000000VEN3", &vendor_id)
        .send(reqwest::Method::GET, "/api/v1/vendor/shipping-options", None)
        .await;
    assert_eq!(status, 200, "{now}");
    let kept = e2e::unique_ids(now["options"].as_array().expect("options"));
    assert_eq!(kept.len(), 10, "{now}");
    assert!(sets.contains(&kept), "one whole set survives: {now}");
}

async fn nobody_reaches_another_shoppers_cart(world: &World<'_>) {
    let variants = world.variants(None);
    let mut alice = world.shopper();
    let cart = alice.add_ok(&variants[80], 2).await;
    let (_, _, set_cookie) = alice.raw(reqwest::Method::GET, "/api/v1/cart", None).await;
    assert!(set_cookie.is_none(), "a cookie is set once, on the first write");
    let alice_line = lines(&cart)[variants[80].as_str()]["line_id"].as_str().expect("line id").to_owned();

    let mut bob = world.shopper();
    bob.add_ok(&variants[81], 1).await;
    let path = format!("/api/v1/cart/lines/{alice_line}");
    let (status, body) = bob.send(reqwest::Method::PATCH, &path, Some(json!({ "quantity": 9 }))).await;
    assert_eq!((status, error_code(&body)), (404, "RES_4004"), "{body}");
    let (status, _) = bob.send(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 404);
    assert_eq!(quantity(&alice.cart().await, &variants[80]), Some(2), "Alice's line is untouched");

    // A forged cookie: Alice's id with Bob's signature, or a made-up signature.
    let alice_cookie = alice.cookie.clone().expect("cookie");
    let bob_cookie = bob.cookie.clone().expect("cookie");
    let (alice_id, _) = alice_cookie.split_once('.').expect("id.signature");
    let (_, bob_signature) = bob_cookie.split_once('.').expect("id.signature");
    for forged in [format!("{alice_id}.{bob_signature}"), format!("{alice_id}.AAAA"), alice_id.to_owned()] {
        let mut mallory = world.shopper();
        mallory.cookie = Some(forged.clone());
        assert_eq!(lines(&mallory.cart().await).len(), 0, "{forged}");
        let (status, body) = mallory.send(reqwest::Method::PATCH, &path, Some(json!({ "quantity": 9 }))).await;
        assert_eq!(status, 404, "{forged}: {body}");
    }

    // Signed-in users: one user's token never reaches another's cart.
    let mut carol = world.customer("usr_01JC00000000000000000CAR1");
    let carol_cart = carol.add_ok(&variants[82], 1).await;
    let carol_line = lines(&carol_cart)[variants[82].as_str()]["line_id"].as_str().expect("line id").to_owned();
    let mut dave = world.customer("usr_01JC00000000000000000DAV1");
    assert_eq!(lines(&dave.cart().await).len(), 0);
    let (status, _) = dave.send(reqwest::Method::DELETE, &format!("/api/v1/cart/lines/{carol_line}"), None).await;
    assert_eq!(status, 404);
    assert_eq!(quantity(&carol.cart().await, &variants[82]), Some(1));

    // A bad token is refused rather than treated as a guest.
    let mut expired = world.shopper();
    expired.token = Some("not.a.token".into());
    let (status, _) = expired.send(reqwest::Method::GET, "/api/v1/cart", None).await;
    assert_eq!(status, 401);

    let (_, _, cookie) = world
        .shopper()
        .raw(
            reqwest::Method::POST,
            "/api/v1/cart/lines",
            Some(json!({ "variant_id": variants[83], "quantity": 1 }).to_string()),
        )
        .await;
    let cookie = cookie.expect("a new guest gets a cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
}

/// Checkout leaves the cart alone; once the orders are confirmed, the core's `orders.order_placed`
/// reaches the edge (signed, through the gateway) and takes out what was bought, and only that: the
/// same group delivered again, or twice at once, subtracts nothing more, and a forged batch nothing.
async fn a_placed_order_takes_what_was_bought_out_of_the_cart_once(world: &World<'_>) {
    let variants = world.variants(None);
    let (a, b) = (variants[90].as_str(), variants[91].as_str());
    world
        .sql(
            "INSERT INTO cart.coupons (code, vendor_id, percent_bp, fixed_minor, currency, min_purchase_minor, \
             max_discount_minor, valid_from, valid_until, per_customer_limit, total_limit) VALUES \
             ('PLACED-10', NULL, 1000, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        )
        .await;
    let buyer = "usr_01JC000000000000000000PXC1";
    let mut shopper = world.customer(buyer);
    shopper.add_ok(a, 3).await;
    shopper.add_ok(b, 1).await;
    let (status, body) =
        shopper.send(reqwest::Method::POST, "/api/v1/cart/coupons", Some(json!({ "code": "PLACED-10" }))).await;
    assert_eq!((status, &body["coupons"][0]["status"]), (200, &json!("applied")), "{body}");
    let coupons = |cart: &Value| -> Vec<String> {
        cart["coupons"]
            .as_array()
            .expect("coupons")
            .iter()
            .map(|c| c["code"].as_str().expect("code").to_owned())
            .collect()
    };

    let group = fresh_id("grp");
    let placed = world.order_placed(&group, buyer, &[(a, 2)], &["PLACED-10"]);
    let started = std::time::Instant::now();
    let report = world.deliver(&placed).await;
    println!("an order_placed delivery (gateway -> events -> cart): {} ms", started.elapsed().as_millis());
    assert_eq!(report["processed"], 1, "{report}");
    let cart = shopper.cart().await;
    assert_eq!((quantity(&cart, a), quantity(&cart, b)), (Some(1), Some(1)), "{cart}");
    assert!(coupons(&cart).is_empty(), "the redeemed coupon is gone: {cart}");

    // The same batch again (a new signature): the edge knows the event id.
    let report = world.deliver(&placed).await;
    assert_eq!(report["duplicates"], 1, "{report}");
    // The same group under a new event id (an outbox row written twice): the cart knows the group.
    let report = world.deliver(&world.order_placed(&group, buyer, &[(a, 2)], &["PLACED-10"])).await;
    assert_eq!(report["processed"], 1, "{report}");
    let again = shopper.cart().await;
    assert_eq!((quantity(&again, a), quantity(&again, b)), (Some(1), Some(1)), "{again}");

    // Two deliveries of one new group at once, under different event ids (the edge's id check
    // cannot stop them): the cart's compare-and-set applies the group once.
    shopper.add_ok(a, 4).await;
    let second = fresh_id("grp");
    let batches =
        [world.order_placed(&second, buyer, &[(a, 2)], &[]), world.order_placed(&second, buyer, &[(a, 2)], &[])];
    let signed: Vec<(Vec<u8>, String)> = batches
        .into_iter()
        .map(|batch| {
            let signature = world.stack.sign_core_delivery(&batch, &world.stack.stack.secrets.webhook_key_current);
            (batch, signature)
        })
        .collect();
    let answers = deliver_at_once(world, signed).await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    let cart = shopper.cart().await;
    assert_eq!((quantity(&cart, a), quantity(&cart, b)), (Some(3), Some(1)), "5 less one group of 2: {cart}");

    // A buyer without a cart: acknowledged, and no cart is created for them.
    let nobody = "usr_01JC000000000000000000PXC2";
    let report = world.deliver(&world.order_placed(&fresh_id("grp"), nobody, &[(a, 1)], &[])).await;
    assert_eq!(report["processed"], 1, "{report}");
    let urls = world.stack.stack.urls();
    let upstash =
        UpstashClient::new(ReqwestTransport::default(), urls.upstash, &world.stack.stack.secrets.upstash_token)
            .with_base64(false);
    let key = CartOwner::Account(nobody.to_owned()).key();
    let exists = upstash.command(&cmd("EXISTS").arg(&key)).await.expect("upstash answers");
    assert_eq!(exists.as_i64(), Some(0), "{key} was not created");

    // Forged (another key) or unsigned: 401, and the cart is as it was.
    let forged = world.order_placed(&fresh_id("grp"), buyer, &[(a, 3), (b, 1)], &[]);
    let signature = world.stack.sign_core_delivery(&forged, "not-the-webhook-key");
    let (status, body) = world.stack.post_core_delivery(forged.clone(), Some(&signature)).await;
    assert_eq!((status, error_code(&body)), (401, "AUTH_1002"), "{body}");
    let (status, _) = world.stack.post_core_delivery(forged, None).await;
    assert_eq!(status, 401);
    let after = shopper.cart().await;
    assert_eq!((quantity(&after, a), quantity(&after, b)), (Some(3), Some(1)), "{after}");
}

/// POSTs signed deliveries all at once: each one's status and body.
async fn deliver_at_once(world: &World<'_>, signed: Vec<(Vec<u8>, String)>) -> Vec<(u16, Value)> {
    let url = world.stack.worker_url(shared::events::edge::DELIVERY_PATH);
    let requests = signed.into_iter().map(|(batch, signature)| {
        let request = world
            .stack
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header(shared::webhook::SIGNATURE_HEADER, signature)
            .body(batch);
        async move {
            let response = request.send().await.expect("the gateway answers");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    });
    all_at_once(requests).await
}
