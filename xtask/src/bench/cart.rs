//! `cargo xtask bench cart`: add and read throughput of signed-in carts through the gateway in
//! workerd at 16 connections (DESIGN §10: cart add ≥ 1,000 req/s), with latency percentiles and the
//! Upstash commands and Neon queries each operation costs, counted from the local gateways' request
//! log. The Workers run in workerd through miniflare's API (no `wrangler dev` request logging), as
//! the catalog bench does. Traffic goes only to the bench's own stack.

use crate::children::Logs;
use crate::stack::{Ports, Stack, StackConfig, WorkerMode};
use crate::{bench, cart_seed, catalog_seed, paths};
use anyhow::Context;
use serde_json::json;
use shared::identity::access_token::{AccessTokenIssuer, DEFAULT_AUDIENCE, DEFAULT_ISSUER, Identity, RoleGrant};
use std::path::Path;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 16;
const REQUESTS: usize = 800;
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
    let http = reqwest::Client::new();
    let add_url = format!("{}/api/v1/cart/lines", urls.worker);
    let cart_url = format!("{}/api/v1/cart", urls.worker);

    // Warm every isolate and connection first.
    for token in &tokens {
        http.get(&cart_url).bearer_auth(token).send().await?.error_for_status()?;
    }
    let adds = phase("POST /api/v1/cart/lines (add 1)", &log, &http, &tokens, move |http, token, i, connection| {
        let variant = &variants[connection * LINES + i % LINES];
        http.post(&add_url).bearer_auth(token).json(&json!({ "variant_id": variant, "quantity": 1 }))
    })
    .await?;
    let read_url = cart_url.clone();
    let reads =
        phase(&format!("GET /api/v1/cart ({LINES} lines, priced)"), &log, &http, &tokens, move |http, token, _, _| {
            http.get(&read_url).bearer_auth(token)
        })
        .await?;
    println!();
    println!("cart add  {adds:.0} req/s; cart read {reads:.0} req/s (DESIGN §10 asks ≥ 1,000 adds/s)");
    println!("cart Worker gzip {} bytes", bench::gzip_size("cart")?);
    Ok(())
}

/// One access token per connection, each its own customer (so each its own cart).
fn tokens(stack: &Stack) -> anyhow::Result<Vec<String>> {
    use base64::Engine;
    let seed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&stack.secrets.jwt_signing_seed)?;
    let seed: [u8; 32] = seed.try_into().map_err(|_| anyhow::anyhow!("the signing seed is not 32 bytes"))?;
    let issuer =
        AccessTokenIssuer::from_seed(seed, "identity-1").with_issuer(DEFAULT_ISSUER).with_audience(DEFAULT_AUDIENCE);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    (0..CONNECTIONS)
        .map(|n| {
            let identity = Identity::new(format!("usr_01JC000000000000000000B{n:03}"), vec![RoleGrant::customer()])?;
            Ok(issuer.issue(&identity, now, &format!("bench-{n}"))?)
        })
        .collect()
}

/// `REQUESTS` requests over `CONNECTIONS` concurrent loops; prints throughput, latency
/// percentiles, statuses and the gateways' calls per request. Returns requests per second.
async fn phase<F>(label: &str, log: &Path, http: &reqwest::Client, tokens: &[String], request: F) -> anyhow::Result<f64>
where
    F: Fn(&reqwest::Client, &str, usize, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let before = gateway_calls(log).await?;
    let started = Instant::now();
    let per_connection = REQUESTS / CONNECTIONS;
    let request = std::sync::Arc::new(request);
    let mut loops = tokio::task::JoinSet::new();
    for (connection, token) in tokens.iter().cloned().enumerate() {
        let (request, http) = (request.clone(), http.clone());
        loops.spawn(async move {
            let mut samples = Vec::with_capacity(per_connection);
            for i in 0..per_connection {
                let sent = Instant::now();
                let response = request(&http, &token, i, connection).send().await?;
                let status = response.status().as_u16();
                response.bytes().await?;
                samples.push((status, sent.elapsed()));
            }
            anyhow::Ok(samples)
        });
    }
    let mut samples: Vec<(u16, Duration)> = Vec::with_capacity(REQUESTS);
    for result in loops.join_all().await {
        samples.extend(result?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = gateway_calls(log).await?;
    let mut statuses = std::collections::BTreeMap::new();
    for (status, _) in &samples {
        *statuses.entry(*status).or_insert(0) += 1;
    }
    let mut latencies: Vec<Duration> = samples.iter().map(|(_, latency)| *latency).collect();
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let count = samples.len() as f64;
    let rate = count / elapsed;
    println!(
        "{label}: {} requests at {CONNECTIONS} connections, statuses {statuses:?}, {rate:.0} req/s, \
         p50 {:.1} ms, p99 {:.1} ms, Upstash commands/op {:.2}, Neon queries/op {:.2}",
        samples.len(),
        percentile(0.50).as_secs_f64() * 1000.0,
        percentile(0.99).as_secs_f64() * 1000.0,
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
