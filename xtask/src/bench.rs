//! `cargo xtask bench identity` (here), `bench catalog` (bench/catalog.rs), `bench cart`
//! (bench/cart.rs), `bench checkout` (bench/checkout.rs) and `bench storefront` (bench/storefront.rs).
//! identity: CPU cost of identity's hot paths inside workerd. Cloudflare bills
//! Worker CPU time, not wall time, so this reads the CPU the workerd processes consumed
//! (/proc utime+stime) over a bounded number of sequential requests, and subtracts the cost of a
//! request that is refused before any work (what workerd itself spends per request).
//! Traffic goes only to the bench's own stack on 127.0.0.1 and stops by itself.

mod cart;
mod catalog;
mod checkout;
mod cpu;
mod load;
mod storefront;

use crate::children::Logs;
use crate::stack::{GatewayBuild, Ports, Stack, StackConfig, WorkerMode};
use crate::{build, paths, progress, tools};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

const REQUESTS: usize = 500;
const LOGINS: usize = 100;
const PASSWORD: &str = "bench passphrase 2026";

pub fn run(what: &str) -> anyhow::Result<()> {
    if !["identity", "catalog", "cart", "checkout", "storefront"].contains(&what) {
        bail!("unknown benchmark `{what}` (known: identity, catalog, cart, checkout, storefront)");
    }
    tools::ensure_all()?;
    build::all()?;
    progress::step("build local-cloud optimised (benchmarks count its CPU)", build::bench_gateways)?;
    let runtime = tokio::runtime::Runtime::new()?;
    match what {
        "catalog" => runtime.block_on(catalog::run()),
        "cart" => runtime.block_on(cart::run()),
        "checkout" => runtime.block_on(checkout::run()),
        "storefront" => runtime.block_on(storefront::run()),
        _ => runtime.block_on(identity()),
    }
}

async fn identity() -> anyhow::Result<()> {
    let (stack, _) = fresh_stack("identity", WorkerMode::Prebuilt).await?;
    let group = stack.worker_process_group().context("no workerd")?;
    let base = stack.urls().worker;
    let http = reqwest::Client::new();

    let email = "bench@example.test";
    let register = json!({"email": email, "password": PASSWORD, "display_name": "Bench"});
    http.post(format!("{base}/api/v1/auth/register")).json(&register).send().await?.error_for_status()?;
    let login_body = json!({"email": email, "password": PASSWORD});
    let tokens: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&login_body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let access = tokens["access_token"].as_str().context("no access token")?.to_owned();
    let mut forged = access.clone();
    let last = if forged.ends_with('A') { 'B' } else { 'A' };
    forged.pop();
    forged.push(last);

    let me = format!("{base}/api/v1/auth/me");
    let refused =
        measure(group, "GET /me without a token (refused before any work)", REQUESTS, || http.get(&me).send()).await?;
    let verify_only = measure(group, "GET /me with a forged token (full Ed25519 verify, refused)", REQUESTS, || {
        http.get(&me).bearer_auth(&forged).send()
    })
    .await?;
    let me_ok = measure(group, "GET /me with a valid token (verify + identity Worker + Neon)", REQUESTS, || {
        http.get(&me).bearer_auth(&access).send()
    })
    .await?;
    // Successful logins give their rate-limit count back, so a long run stays under the limits.
    let login = measure(group, "POST /login (rate limits, Neon, Spin verify, token issue)", LOGINS, || {
        http.post(format!("{base}/api/v1/auth/login")).json(&login_body).send()
    })
    .await?;

    println!();
    println!("workerd CPU per request, minus the {refused:.2} ms workerd spends on a request refused at once:");
    println!("  access-token verification  {:>6.2} ms", verify_only - refused);
    println!("  GET /me (valid token)      {:>6.2} ms", me_ok - refused);
    println!("  login                      {:>6.2} ms (password check runs in Spin, not here)", login - refused);
    println!(
        "  gateway Worker gzip {} bytes, identity Worker gzip {} bytes",
        gzip_size("gateway")?,
        gzip_size("identity")?
    );
    Ok(())
}

/// Mean workerd CPU milliseconds per request over `count` sequential requests.
async fn measure<F, Fut>(group: u32, label: &str, count: usize, mut send: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    let cpu_before = group_cpu_ms(group)?;
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..count {
        let response = send().await?;
        *statuses.entry(response.status().as_u16()).or_insert(0) += 1;
        response.bytes().await?;
    }
    let cpu = (group_cpu_ms(group)? - cpu_before) / count as f64;
    let wall = started.elapsed().as_secs_f64() * 1000.0 / count as f64;
    println!("{label}: {count} requests, statuses {statuses:?}, wall {wall:.2} ms/req, workerd CPU {cpu:.2} ms/req");
    Ok(cpu)
}

/// utime + stime of the workerd processes in the group, in ms. wrangler's own Node process
/// (request logging, its dev proxy) is left out: it does not exist in production.
fn group_cpu_ms(group: u32) -> anyhow::Result<f64> {
    Ok(cpu::processes()
        .iter()
        .filter(|process| process.pgrp == group && process.comm == "workerd")
        .map(|process| process.cpu_ms)
        .sum())
}

/// A fresh stack for benchmark `name`, its state and log files under target/bench/<name> (returned),
/// local-cloud optimised because the benchmarks count its CPU.
pub(crate) async fn fresh_stack(name: &str, worker: WorkerMode) -> anyhow::Result<(Stack, PathBuf)> {
    let state_dir = paths::target_dir().join("bench").join(name);
    let _ = std::fs::remove_dir_all(&state_dir);
    let stack = Stack::start(StackConfig {
        state_dir: state_dir.clone(),
        ports: Ports::free()?,
        worker: Some(worker),
        gateways: GatewayBuild::Optimised,
        logs: Logs::Files(state_dir.join("logs")),
    })
    .await?;
    Ok((stack, state_dir))
}

/// Numbers from failed requests would describe the error path, not what benchmark `name` measures.
pub(crate) fn ensure_all_ok(name: &str, label: &str, outcome: &load::Outcome) -> anyhow::Result<()> {
    if outcome.requests() == 0 || !outcome.all_ok() {
        bail!(
            "{label}: statuses {:?}, {} without a response; see target/bench/{name}/logs",
            outcome.statuses,
            outcome.failures
        );
    }
    Ok(())
}

pub(crate) fn gzip_size(worker: &str) -> anyhow::Result<usize> {
    let wasm = paths::worker_dir(worker).join("build").join("index_bg.wasm");
    let bytes = std::fs::read(&wasm).with_context(|| format!("{} is missing", wasm.display()))?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, &bytes)?;
    Ok(encoder.finish()?.len())
}
