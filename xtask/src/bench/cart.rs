//! `cargo xtask bench cart`: add and read throughput of signed-in carts through the gateway in
//! workerd at 16 connections (DESIGN §10: cart add ≥ 1,000 req/s), with latency percentiles and the
//! Upstash and Neon requests each operation costs (a script or a batch is one), counted from the
//! local gateways' request log. The Workers run in workerd through miniflare's API (no `wrangler dev` request logging), as
//! the catalog bench does. Traffic goes only to the bench's own stack.

use crate::bench::load::{self, CONNECTIONS, Slot};
use crate::children::Logs;
use crate::stack::{Ports, Stack, StackConfig, WorkerMode};
use crate::{bench, cart_seed, catalog_seed, paths};
use anyhow::{Context, bail};
use serde_json::json;
use shared::identity::access_token::{Identity, RoleGrant};
use std::path::Path;
use std::time::Duration;

const REQUESTS: usize = 800;
/// Bounds each phase in time as well as in count.
const MAX_TIME: Duration = Duration::from_secs(60);
/// Lines per cart: each connection's shopper cycles through this many variants.
const LINES: usize = 8;

pub async fn run() -> anyhow::Result<()> {
    let state_dir = paths::target_dir().join("bench").join("cart");
    let _ = std::fs::remove_dir_all(&state_dir);
    let stack = Stack::start(StackConfig {
        state_dir: state_dir.clone(),
        ports: Ports::free()?,
        worker: Some(WorkerMode::Miniflare),
        logs: Logs::Files(state_dir.join("logs")),
    })
    .await?;
    let urls = stack.urls();
    let config = catalog_seed::SeedConfig { products: 200, vendors: 5, ..catalog_seed::SeedConfig::default() };
    catalog_seed::run(&urls.neon_sql, &stack.connection_string(), &config).await?;
    cart_seed::run(&urls.neon_sql, &stack.connection_string()).await?;
    let catalog = catalog_seed::generate(&config)?;
    let variants: Vec<String> = catalog
        .products
        .iter()
        .filter(|product| product.is_public())
        .flat_map(|product| product.variants.iter().filter(|v| !v.available.is_zero()).map(|v| v.id.to_string()))
        .take(CONNECTIONS * LINES)
        .collect();
    anyhow::ensure!(variants.len() == CONNECTIONS * LINES, "the seed has too few variants in stock");
    let tokens = tokens(&stack)?;
    let log = state_dir.join("logs").join("local-cloud.log");
    let http = load::client()?;
    let add_url = format!("{}/api/v1/cart/lines", urls.worker);
    let cart_url = format!("{}/api/v1/cart", urls.worker);

    // Warm every isolate and connection first.
    for token in &tokens {
        http.get(&cart_url).bearer_auth(token).send().await?.error_for_status()?;
    }
    let tokens = std::sync::Arc::new(tokens);
    let add_tokens = tokens.clone();
    let adds = phase("POST /api/v1/cart/lines (add 1)", &log, &http, move |http, slot| {
        let variant = &variants[slot.connection * LINES + slot.sequence % LINES];
        let body = json!({ "variant_id": variant, "quantity": 1 });
        http.post(&add_url).bearer_auth(&add_tokens[slot.connection]).json(&body)
    })
    .await?;
    let read_url = cart_url.clone();
    let reads = phase(&format!("GET /api/v1/cart ({LINES} lines, priced)"), &log, &http, move |http, slot| {
        http.get(&read_url).bearer_auth(&tokens[slot.connection])
    })
    .await?;
    println!();
    println!("cart add  {adds:.0} req/s; cart read {reads:.0} req/s (DESIGN §10 asks ≥ 1,000 adds/s)");
    println!("cart Worker gzip {} bytes", bench::gzip_size("cart")?);
    Ok(())
}

/// One access token per connection, each its own customer (so each its own cart).
fn tokens(stack: &Stack) -> anyhow::Result<Vec<String>> {
    let issuer = stack.access_token_issuer()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    (0..CONNECTIONS)
        .map(|n| {
            let identity = Identity::new(format!("usr_01JC000000000000000000B{n:03}"), vec![RoleGrant::customer()])?;
            Ok(issuer.issue(&identity, now, &format!("bench-{n}"))?)
        })
        .collect()
}

/// `REQUESTS` requests over the load's concurrent loops (one shopper each); prints throughput,
/// latency percentiles and the gateways' requests per operation. Returns requests per second;
/// any answer but 200 fails the bench (its numbers would describe the error path).
async fn phase<F>(label: &str, log: &Path, http: &reqwest::Client, request: F) -> anyhow::Result<f64>
where
    F: Fn(&reqwest::Client, Slot) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let before = gateway_calls(log).await?;
    let outcome = load::run_requests(http, REQUESTS, MAX_TIME, request).await;
    let after = gateway_calls(log).await?;
    if outcome.requests() == 0 || !outcome.all_ok() {
        bail!(
            "{label}: statuses {:?}, {} without a response; see target/bench/cart/logs",
            outcome.statuses,
            outcome.failures
        );
    }
    let count = outcome.requests() as f64;
    let rate = outcome.per_second();
    println!(
        "{label}: {} requests at {CONNECTIONS} connections, {rate:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, \
         Upstash requests/op {:.2}, Neon requests/op {:.2}",
        outcome.requests(),
        outcome.percentile_ms(0.50),
        outcome.percentile_ms(0.99),
        (after.0 - before.0) as f64 / count,
        (after.1 - before.1) as f64 / count,
    );
    Ok(rate)
}

/// (Upstash requests, Neon requests) the local gateways have logged so far.
async fn gateway_calls(log: &Path) -> anyhow::Result<(usize, usize)> {
    // The log is written by a reader thread; give it a moment to catch up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let count = |service: &str| text.lines().filter(|line| line.starts_with(service)).count();
    Ok((count("upstash POST"), count("neon POST")))
}
