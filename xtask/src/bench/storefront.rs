//! `cargo xtask bench storefront`: the shopper's pages through the gateway in workerd (miniflare's
//! API), on the demo-sized catalog. For each page: the HTML's weight (bytes, gzip), the time to
//! first byte of the first request (every cache empty) and of repeated ones (median, p95), and for
//! the public pages the throughput at 16 connections. Then Lighthouse with its mobile settings
//! (emulated phone, simulated slow 4G and CPU) on home, listing and product: the performance and
//! accessibility scores. Lighthouse is npm's `lighthouse` 12.8.2 (the last that runs on Node 20),
//! installed on first use under target/tools, driving Debian's chromium. Traffic goes only to the
//! bench's own stack on 127.0.0.1, bounded by count and time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use super::load;
use crate::catalog_seed::{self, NORTH_CERAMICS, SeedConfig};
use crate::stack::WorkerMode;
use crate::{cmd, paths, progress, tools};
use shared::storefront::browse::product_path;

const LIGHTHOUSE_VERSION: &str = "12.8.2";
/// Sequential requests per page for the warm time to first byte.
const REPEATS: usize = 40;
const LOAD_REQUESTS: usize = 4_000;
const LOAD_TIME: Duration = Duration::from_secs(5);

struct Target {
    name: &'static str,
    path: String,
    lighthouse: bool,
}

pub async fn run() -> anyhow::Result<()> {
    let lighthouse = progress::step("lighthouse (npm, under target/tools, when absent)", ensure_lighthouse)?;
    let (stack, state_dir) = super::fresh_stack("storefront", WorkerMode::Miniflare).await?;
    let urls = stack.urls();
    let config = SeedConfig::default();
    catalog_seed::run(&urls.neon_sql, &stack.connection_string(), &config).await?;
    crate::cart_seed::run(&urls.neon_sql, &stack.connection_string()).await?;
    let catalog = catalog_seed::generate(&config)?;
    let product = catalog.products.iter().find(|product| product.is_public()).context("no public product")?;
    let category = catalog
        .categories
        .iter()
        .find(|category| category.id == product.category_id)
        .context("the product's category")?;
    let vendor = catalog
        .vendors
        .iter()
        .find(|vendor| vendor.id.as_str() == NORTH_CERAMICS)
        .context("the demo vendor is seeded")?;
    // Product slugs are unique per shop: the page's address names both.
    let product_vendor = catalog
        .vendors
        .iter()
        .find(|vendor| vendor.id == product.vendor_id)
        .context("the product's vendor is seeded")?;
    let word = product.title.as_str().split(' ').max_by_key(|word| word.len()).unwrap_or("mug").to_lowercase();
    let targets = [
        Target { name: "home", path: "/".into(), lighthouse: true },
        Target { name: "listing", path: format!("/c/{}", category.slug.as_str()), lighthouse: true },
        Target { name: "product", path: product_path(&product.slug, &product_vendor.slug), lighthouse: true },
        Target { name: "search", path: format!("/search?q={word}"), lighthouse: false },
        Target { name: "vendor", path: format!("/v/{}", vendor.slug.as_str()), lighthouse: false },
        Target { name: "cart (guest, empty)", path: "/cart".into(), lighthouse: false },
        Target { name: "sign in", path: "/account/login".into(), lighthouse: false },
    ];

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    println!("\nstorefront pages through workerd ({} products, {} vendors)", config.products, config.vendors);
    println!(
        "| page | status | HTML bytes | gzip bytes | TTFB first (ms) | TTFB p50 (ms) | TTFB p95 (ms) | x-cache (repeat) | req/s @16 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for target in &targets {
        let url = format!("{}{}", urls.worker, target.path);
        let (status, first, html, _) = timed_get(&http, &url).await?;
        let mut ttfb = Vec::with_capacity(REPEATS);
        let mut cache = String::new();
        for _ in 0..REPEATS {
            let (_, elapsed, _, seen) = timed_get(&http, &url).await?;
            ttfb.push(elapsed);
            cache = seen;
        }
        ttfb.sort();
        let throughput = if cache == "hit-edge" {
            let outcome = load::run(&http, Arc::new(vec![url.clone()]), LOAD_REQUESTS, LOAD_TIME).await;
            super::ensure_all_ok("storefront", target.name, &outcome)?;
            format!("{:.0}", outcome.per_second())
        } else {
            "–".to_owned()
        };
        println!(
            "| {} `{}` | {status} | {} | {} | {:.1} | {:.1} | {:.1} | {cache} | {throughput} |",
            target.name,
            target.path,
            html.len(),
            gzip_len(&html)?,
            ms(first),
            ms(ttfb[ttfb.len() / 2]),
            ms(ttfb[(ttfb.len() * 95).div_ceil(100) - 1]),
        );
    }

    let reports = state_dir.join("lighthouse");
    std::fs::create_dir_all(&reports)?;
    println!("\nLighthouse {LIGHTHOUSE_VERSION}, mobile settings (reports in {})", reports.display());
    println!("| page | performance | accessibility | FCP | LCP | TBT | CLS |");
    println!("|---|---|---|---|---|---|---|");
    for target in targets.iter().filter(|target| target.lighthouse) {
        let url = format!("{}{}", urls.worker, target.path);
        let report = reports.join(format!("{}.json", target.name));
        audit(&lighthouse, &url, &report)?;
        let json: Value = serde_json::from_slice(&std::fs::read(&report)?)?;
        let score = |category: &str| {
            json["categories"][category]["score"]
                .as_f64()
                .map_or("?".to_owned(), |score| format!("{:.0}", score * 100.0))
        };
        let shown = |audit: &str| json["audits"][audit]["displayValue"].as_str().unwrap_or("?").replace('\u{a0}', " ");
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            target.name,
            score("performance"),
            score("accessibility"),
            shown("first-contentful-paint"),
            shown("largest-contentful-paint"),
            shown("total-blocking-time"),
            shown("cumulative-layout-shift"),
        );
        let failing: Vec<&str> = json["categories"]["accessibility"]["auditRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|audit| audit["id"].as_str())
            .filter(|id| json["audits"][*id]["score"].as_f64().is_some_and(|score| score < 1.0))
            .collect();
        if !failing.is_empty() {
            println!("  accessibility audits not passed on {}: {}", target.name, failing.join(", "));
        }
    }
    drop(stack);
    Ok(())
}

/// (status, time to the response's headers, body, x-cache).
async fn timed_get(http: &reqwest::Client, url: &str) -> anyhow::Result<(u16, Duration, Vec<u8>, String)> {
    let sent = Instant::now();
    let response = http.get(url).send().await.with_context(|| format!("GET {url}"))?;
    let first_byte = sent.elapsed();
    let status = response.status().as_u16();
    let cache = response.headers().get("x-cache").and_then(|value| value.to_str().ok()).unwrap_or("-").to_owned();
    let body = response.bytes().await?.to_vec();
    if status != 200 {
        bail!("GET {url} answered {status}");
    }
    Ok((status, first_byte, body, cache))
}

fn gzip_len(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, bytes)?;
    Ok(encoder.finish()?.len())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The Lighthouse CLI's entry point, installed once under target/tools (a benchmark tool, kept out
/// of the project's package.json so tests and CI never install it).
fn ensure_lighthouse() -> anyhow::Result<PathBuf> {
    let prefix = paths::target_dir().join("tools").join("lighthouse");
    let cli = prefix.join("node_modules").join("lighthouse").join("cli").join("index.js");
    let installed = prefix.join("node_modules").join("lighthouse").join("package.json");
    let version = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|json| json["version"].as_str().map(str::to_owned));
    if version.as_deref() == Some(LIGHTHOUSE_VERSION) && cli.exists() {
        progress::note("already installed");
        return Ok(cli);
    }
    std::fs::create_dir_all(&prefix)?;
    cmd::run(Command::new("npm").args(["install", "--prefix"]).arg(&prefix).args([
        "--no-audit",
        "--no-fund",
        "--no-save",
        &format!("lighthouse@{LIGHTHOUSE_VERSION}"),
    ]))?;
    Ok(cli)
}

fn audit(cli: &Path, url: &str, report: &Path) -> anyhow::Result<()> {
    let chrome_flags = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update --disable-sync";
    cmd::run(
        Command::new("node")
            .arg(cli)
            .arg(url)
            .args(["--quiet", "--output=json", "--only-categories=performance,accessibility"])
            .arg(format!("--output-path={}", report.display()))
            .arg(format!("--chrome-flags={chrome_flags}"))
            .env("CHROME_PATH", tools::CHROMIUM),
    )
}
