//! `cargo xtask bench cart`: add and read throughput of signed-in carts through the gateway in
//! workerd at 16 connections (DESIGN §10: cart add ≥ 1,000 req/s), with latency percentiles, the
//! Upstash and Neon requests each operation costs (a script or a batch is one, counted from the
//! local gateways' request log) and the CPU each process of the stack spends per request, which
//! other load on the machine does not distort the way it does throughput. Then PostgreSQL's own
//! account of one add and one read: every statement's parse, bind (planning) and execute time, and
//! the plan with actual rows and times (auto_explain). The Workers run in workerd through
//! miniflare's API (no `wrangler dev` request logging), as the catalog bench does. Traffic goes
//! only to the bench's own stack.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use shared::identity::access_token::{Identity, RoleGrant};
use shared::neon::NeonClient;
use shared::transport::ReqwestTransport;

use crate::bench::cpu::{self, Roles};
use crate::bench::load::{self, CONNECTIONS, Outcome, Slot};
use crate::stack::{Stack, WorkerMode};
use crate::{bench, cart_seed, catalog_seed};

const REQUESTS: usize = 800;
/// Bounds each phase in time as well as in count.
const MAX_TIME: Duration = Duration::from_secs(60);
/// Lines per cart: each connection's shopper cycles through this many variants.
const LINES: usize = 8;

/// One load run's numbers.
struct Phase {
    label: String,
    outcome: Outcome,
    upstash_per_request: f64,
    neon_per_request: f64,
    cpu_per_request: BTreeMap<&'static str, f64>,
}

pub async fn run() -> anyhow::Result<()> {
    let (mut stack, state_dir) = bench::fresh_stack("cart", WorkerMode::Miniflare).await?;
    let urls = stack.urls();
    let config = catalog_seed::SeedConfig { products: 200, vendors: 5, ..catalog_seed::SeedConfig::default() };
    catalog_seed::run(&urls.neon_sql, &stack.connection_string(), &config).await?;
    cart_seed::run(&urls.neon_sql, &stack.connection_string()).await?;
    let neon = NeonClient::new(ReqwestTransport::default(), &urls.neon_sql, stack.connection_string());
    // An add never takes a line past the stock, and each line gets a few dozen adds at most.
    neon.query("UPDATE catalog.variant_stock SET available = 1000 WHERE available > 0", &[]).await?;
    // Planner statistics for the seeded tables, as a long-lived database has them.
    neon.query("ANALYZE", &[]).await?;
    // auto_explain loads only at server start; it logs nothing until `explain` turns it on.
    neon.query("ALTER SYSTEM SET shared_preload_libraries = 'auto_explain'", &[]).await?;
    stack.restart_postgres()?;
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
    let roles = Roles::of(&stack)?;
    let log = state_dir.join("logs").join("local-cloud.log");
    let http = load::client()?;
    let add_url = format!("{}/api/v1/cart/lines", urls.worker);
    let cart_url = format!("{}/api/v1/cart", urls.worker);

    let tokens = Arc::new(tokens);
    let (add_tokens, add_variants) = (tokens.clone(), Arc::new(variants));
    let add = move |http: &reqwest::Client, slot: Slot| {
        let variant = &add_variants[slot.connection * LINES + slot.sequence % LINES];
        let body = json!({ "variant_id": variant, "quantity": 1 });
        http.post(&add_url).bearer_auth(&add_tokens[slot.connection]).json(&body)
    };
    let (read_tokens, read_url) = (tokens.clone(), cart_url.clone());
    let read = move |http: &reqwest::Client, slot: Slot| http.get(&read_url).bearer_auth(&read_tokens[slot.connection]);
    // Warm up at full concurrency: every connection the gateways pool and every PostgreSQL backend
    // (each opened with a SCRAM exchange and a cold catalog cache) exists before the clock starts,
    // and every cart has its lines.
    let warm_up = load::run_requests(&http, CONNECTIONS * LINES, MAX_TIME, add.clone()).await;
    check("warm-up add", &warm_up)?;
    let warm_up = load::run_requests(&http, CONNECTIONS * LINES, MAX_TIME, read.clone()).await;
    check("warm-up read", &warm_up)?;
    let meter = Meter { log: &log, roles: &roles };
    let adds = meter.phase("POST /api/v1/cart/lines (add 1)", &http, add.clone()).await?;
    let reads = meter.phase(&format!("GET /api/v1/cart ({LINES} lines, priced)"), &http, read.clone()).await?;

    println!();
    println!(
        "{:<40} {:>6} {:>7} {:>7} {:>7} {:>11} {:>9}",
        "cart, 16 connections", "reqs", "req/s", "p50 ms", "p99 ms", "upstash/req", "neon/req"
    );
    for phase in [&adds, &reads] {
        let outcome = &phase.outcome;
        println!(
            "{:<40} {:>6} {:>7.0} {:>7.1} {:>7.1} {:>11.2} {:>9.2}",
            phase.label,
            outcome.requests(),
            outcome.per_second(),
            outcome.percentile_ms(0.50),
            outcome.percentile_ms(0.99),
            phase.upstash_per_request,
            phase.neon_per_request,
        );
    }
    println!("upstash/req, neon/req: requests to the gateways per cart request (a script or a batch is one)");
    cpu::print_per_request([&adds, &reads].map(|phase| (phase.label.clone(), &phase.cpu_per_request)));

    let probe = load::Slot { index: 0, connection: 0, sequence: 0 };
    explain(&stack, &neon, async || {
        for request in [add(&http, probe), read(&http, probe)] {
            request.send().await?.error_for_status()?.bytes().await?;
        }
        Ok(())
    })
    .await?;
    println!();
    println!(
        "cart add {:.0} req/s; cart read {:.0} req/s (DESIGN §10 asks ≥ 1,000 adds/s)",
        adds.outcome.per_second(),
        reads.outcome.per_second()
    );
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

/// Where a load run's costs are read.
struct Meter<'a> {
    log: &'a Path,
    roles: &'a Roles,
}

impl Meter<'_> {
    /// `REQUESTS` requests over the load's concurrent loops (one shopper each); prints throughput
    /// and latency at once. Any answer but 200 fails the bench (its numbers would describe the error path).
    async fn phase<F>(&self, label: &str, http: &reqwest::Client, request: F) -> anyhow::Result<Phase>
    where
        F: Fn(&reqwest::Client, Slot) -> reqwest::RequestBuilder + Send + Sync + 'static,
    {
        let calls_before = gateway_calls(self.log).await?;
        let cpu_before = self.roles.sample();
        let outcome = load::run_requests(http, REQUESTS, MAX_TIME, request).await;
        let cpu_spent = cpu::delta(&cpu_before, &self.roles.sample());
        let calls_after = gateway_calls(self.log).await?;
        check(label, &outcome)?;
        let count = outcome.requests() as f64;
        println!(
            "{label}: {} requests, {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms",
            outcome.requests(),
            outcome.per_second(),
            outcome.percentile_ms(0.50),
            outcome.percentile_ms(0.99),
        );
        Ok(Phase {
            label: label.to_owned(),
            upstash_per_request: (calls_after.0 - calls_before.0) as f64 / count,
            neon_per_request: (calls_after.1 - calls_before.1) as f64 / count,
            cpu_per_request: cpu::per_request(cpu_spent, outcome.requests()),
            outcome,
        })
    }
}

fn check(label: &str, outcome: &Outcome) -> anyhow::Result<()> {
    bench::ensure_all_ok("cart", label, outcome)
}

/// (Upstash requests, Neon requests) the local gateways have logged so far.
async fn gateway_calls(log: &Path) -> anyhow::Result<(usize, usize)> {
    // The log is written by a reader thread; give it a moment to catch up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let count = |service: &str| text.lines().filter(|line| line.starts_with(service)).count();
    Ok((count("upstash POST"), count("neon POST")))
}

/// Settings that make PostgreSQL log every statement's parse, bind and execute time, and the plan
/// of every query with actual rows, times and buffers.
const STATEMENT_LOG: &[(&str, &str)] = &[
    ("log_min_duration_statement", "0"),
    ("auto_explain.log_min_duration", "0"),
    ("auto_explain.log_analyze", "on"),
    ("auto_explain.log_buffers", "on"),
    // The queries inside functions too (cart.pricing_data).
    ("auto_explain.log_nested_statements", "on"),
];

/// Runs `requests` with the statement log on and prints what PostgreSQL logged meanwhile.
async fn explain(
    stack: &Stack,
    neon: &NeonClient<ReqwestTransport>,
    requests: impl AsyncFnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let log = stack.postgres_data_dir().join("server.log");
    let settle = || tokio::time::sleep(Duration::from_millis(300));
    for (name, value) in STATEMENT_LOG {
        neon.query(&format!("ALTER SYSTEM SET {name} = '{value}'"), &[]).await?;
    }
    neon.query("SELECT pg_reload_conf()", &[]).await?;
    // Backends read the new settings between statements; the gateway resets sessions in the background.
    settle().await;
    let start = std::fs::metadata(&log)?.len();
    let ran = requests().await;
    settle().await;
    let text = std::fs::read(&log)?;
    for (name, _) in STATEMENT_LOG {
        neon.query(&format!("ALTER SYSTEM RESET {name}"), &[]).await?;
    }
    neon.query("SELECT pg_reload_conf()", &[]).await?;
    ran?;
    let text = String::from_utf8_lossy(text.get(usize::try_from(start)?..).unwrap_or_default());
    println!();
    println!("PostgreSQL, one add then one read (server log; bind is where an unnamed statement is planned):");
    let mut planned = std::collections::BTreeSet::new();
    for entry in log_entries(&text) {
        print_entry(&entry, &mut planned);
    }
    Ok(())
}

/// The server log's entries: a line with the `%m [%p] ` prefix and its continuation lines.
fn log_entries(text: &str) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    for line in text.lines() {
        let starts_entry = line.get(..4).is_some_and(|year| year.bytes().all(|byte| byte.is_ascii_digit()));
        match entries.last_mut() {
            Some(entry) if !starts_entry => {
                entry.push('\n');
                entry.push_str(line);
            }
            _ => entries.push(line.to_owned()),
        }
    }
    entries
}

/// A statement's timing on one line (its text cut short); a plan in full without its query text,
/// the first time its query is seen (`planned`).
fn print_entry(entry: &str, planned: &mut std::collections::BTreeSet<String>) {
    let Some((_, message)) = entry.split_once("LOG:  ") else { return };
    if message.contains("plan:") {
        let (query, plan): (Vec<&str>, Vec<&str>) =
            entry.lines().skip(1).partition(|line| line.trim_start().starts_with("Query Text:"));
        let duration = message.lines().next().unwrap_or_default();
        if !planned.insert(query.concat()) {
            println!("  {duration} (the plan above)");
            return;
        }
        println!("  {duration}");
        for line in plan {
            println!("    {}", line.trim_start_matches('\t'));
        }
        return;
    }
    let first = message.lines().next().unwrap_or_default();
    let cut: String = first.chars().take(150).collect();
    let more = if first.chars().count() > 150 { " …" } else { "" };
    println!("  {cut}{more}");
}
