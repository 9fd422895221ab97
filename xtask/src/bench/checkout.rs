//! `cargo xtask bench checkout`: the latency of `POST /api/v1/checkout` from the gateway to a
//! confirmed order (201: stock reserved and consumed, paid at the Stripe sandbox, the ledger
//! booked, OrderPlaced delivered to the edge) and orders per second, one buyer at a time and at
//! 16 connections. Every buyer has their own cart of one line from one shop, filled through the
//! gateway before the clock starts. Traffic goes only to the bench's own stack, bounded in count
//! and time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use shared::identity::access_token::{Identity, RoleGrant};
use shared::neon::NeonClient;
use shared::transport::ReqwestTransport;

use crate::bench::cpu::{self, Roles};
use crate::bench::load::{self, CONNECTIONS, Outcome, Slot};
use crate::catalog_seed::{self, NORTH_CERAMICS};
use crate::stack::WorkerMode;
use crate::{bench, cart_seed};

/// Checkouts one at a time, for the latency without queueing.
const ALONE: usize = 10;
/// Checkouts at `CONNECTIONS` at once.
const LOADED: usize = 160;
const MAX_TIME: Duration = Duration::from_secs(120);

pub async fn run() -> anyhow::Result<()> {
    let (stack, _) = bench::fresh_stack("checkout", WorkerMode::Miniflare).await?;
    let urls = stack.urls();
    let config = catalog_seed::SeedConfig { products: 60, vendors: 3, ..catalog_seed::SeedConfig::default() };
    catalog_seed::run(&urls.neon_sql, &stack.connection_string(), &config).await?;
    cart_seed::run(&urls.neon_sql, &stack.connection_string()).await?;
    let neon = NeonClient::new(ReqwestTransport::default(), &urls.neon_sql, stack.connection_string());
    // Plenty of every variant of the shop, in inventory and in the catalog's view of it.
    neon.query(
        "SELECT count(inventory.set_on_hand(vendor_id, variant_id, NULL, 100000, 'bench')) \
         FROM catalog.checkout_variants WHERE vendor_id = $1",
        &[&NORTH_CERAMICS],
    )
    .await?;
    neon.query("UPDATE catalog.variant_stock SET available = 100000 WHERE vendor_id = $1", &[&NORTH_CERAMICS]).await?;
    neon.query("ANALYZE", &[]).await?;
    let catalog = catalog_seed::generate(&config)?;
    let variants: Vec<String> = catalog
        .products
        .iter()
        .filter(|product| product.is_public() && product.vendor_id.as_str() == NORTH_CERAMICS)
        .flat_map(|product| product.variants.iter().map(|variant| variant.id.to_string()))
        .collect();
    anyhow::ensure!(!variants.is_empty(), "the seed gave the shop no variants");

    let http = load::client()?;
    let issuer = stack.access_token_issuer()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    let mut buyers = Vec::new();
    for n in 0..ALONE + LOADED {
        let identity = Identity::new(format!("usr_01JC00000000000000000C{n:04}"), vec![RoleGrant::customer()])?;
        buyers.push(issuer.issue(&identity, now, &format!("bench-checkout-{n}"))?);
    }
    let mut bodies = Vec::new();
    for chunk in buyers.chunks(CONNECTIONS) {
        let mut filling = tokio::task::JoinSet::new();
        for (offset, token) in chunk.iter().enumerate() {
            let variant = variants[(bodies.len() + offset) % variants.len()].clone();
            filling.spawn(fill(http.clone(), urls.worker.clone(), token.clone(), variant));
        }
        // In buyer order, so each body goes with its own token.
        let mut filled = filling.join_all().await.into_iter().collect::<anyhow::Result<Vec<(String, Value)>>>()?;
        for token in chunk {
            let at = filled.iter().position(|(owner, _)| owner == token).context("a filled cart")?;
            bodies.push(filled.swap_remove(at).1);
        }
    }
    let checkout_url = format!("{}/api/v1/checkout", urls.worker);
    let checkout = {
        let (buyers, bodies, url) = (Arc::new(buyers), Arc::new(bodies), checkout_url.clone());
        move |offset: usize| {
            let (buyers, bodies, url) = (buyers.clone(), bodies.clone(), url.clone());
            move |http: &reqwest::Client, slot: Slot| {
                let n = offset + slot.index;
                http.post(&url).bearer_auth(&buyers[n]).header("idempotency-key", format!("bench-{n}")).json(&bodies[n])
            }
        }
    };

    let alone = one_at_a_time(&http, ALONE, checkout(0)).await?;
    let roles = Roles::of(&stack)?;
    let before = roles.sample();
    let loaded = load::run_requests(&http, LOADED, MAX_TIME, checkout(ALONE)).await;
    let spent = cpu::per_request(cpu::delta(&before, &roles.sample()), loaded.requests());
    if loaded.requests() == 0 || loaded.failures > 0 || loaded.statuses.keys().any(|status| *status != 201) {
        bail!(
            "checkout: statuses {:?}, {} without a response; see target/bench/checkout/logs",
            loaded.statuses,
            loaded.failures
        );
    }
    let confirmed: i64 = neon
        .query("SELECT count(*)::bigint FROM orders.order_groups WHERE status = 'confirmed'", &[])
        .await?
        .one()?
        .get(0)?;

    println!();
    println!("{:<52} {:>6} {:>8} {:>7} {:>7} {:>7}", "checkout", "orders", "orders/s", "p50 ms", "p95 ms", "max ms");
    for (label, outcome) in [("one buyer at a time", &alone), ("16 connections", &loaded)] {
        println!(
            "{:<52} {:>6} {:>8.1} {:>7.0} {:>7.0} {:>7.0}",
            format!("POST /api/v1/checkout → 201, {label}"),
            outcome.requests(),
            outcome.per_second(),
            outcome.percentile_ms(0.50),
            outcome.percentile_ms(0.95),
            outcome.percentile_ms(1.0),
        );
    }
    cpu::print_per_request([("checkout, 16 connections".to_owned(), &spent)]);
    println!("confirmed order groups in the database: {confirmed} (of {} checkouts)", ALONE + loaded.requests());
    Ok(())
}

/// Adds one unit of `variant`, ships to Portugal with the shop's first priced option, and answers
/// the buyer's token with the checkout body for that cart (its total as shown, a test card).
async fn fill(
    http: reqwest::Client,
    origin: String,
    token: String,
    variant: String,
) -> anyhow::Result<(String, Value)> {
    let send = async |request: reqwest::RequestBuilder| -> anyhow::Result<Value> {
        let response = request.bearer_auth(&token).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "filling a cart: {status} {body}");
        Ok(body)
    };
    send(http.post(format!("{origin}/api/v1/cart/lines")).json(&json!({"variant_id": variant, "quantity": 1}))).await?;
    let cart = send(http.put(format!("{origin}/api/v1/cart/destination")).json(&json!({"country": "PT"}))).await?;
    let option = cart["vendors"][0]["shipping_options"]
        .as_array()
        .and_then(|options| options.iter().find(|option| !option["price"].is_null()))
        .map(|option| option["id"].clone())
        .context("the shop ships to Portugal")?;
    let path = format!("{origin}/api/v1/cart/shipping/{NORTH_CERAMICS}");
    let cart = send(http.put(path).json(&json!({"option_id": option}))).await?;
    let body = json!({
        "expected_total": cart["totals"]["total"],
        "payment_method": {"test_card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034}},
    });
    Ok((token, body))
}

/// `count` checkouts, each sent after the one before was answered.
async fn one_at_a_time<F>(http: &reqwest::Client, count: usize, request: F) -> anyhow::Result<Outcome>
where
    F: Fn(&reqwest::Client, Slot) -> reqwest::RequestBuilder,
{
    let mut outcome = Outcome::default();
    let started = Instant::now();
    for index in 0..count {
        let sent = Instant::now();
        let response = request(http, Slot { index, connection: 0, sequence: index }).send().await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        if status != 201 {
            bail!("checkout {index} answered {status}: {body}");
        }
        outcome.latencies.push(sent.elapsed());
        *outcome.statuses.entry(status).or_default() += 1;
    }
    outcome.elapsed = started.elapsed();
    outcome.latencies.sort_unstable();
    Ok(outcome)
}
