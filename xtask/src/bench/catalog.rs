//! `cargo xtask bench catalog`: the public catalog read path through the gateway in workerd (run by
//! miniflare's API, not `wrangler dev`), on a 10,000-product seed. Each endpoint runs cold (every
//! URL new, so every cache misses) and warm (a few URLs, primed once, then repeated), and reports
//! throughput, latency, SQL statements and Redis commands per request (counted server-side), workerd
//! CPU per request and the `x-cache` mix. Traffic goes only to the bench's own stack on 127.0.0.1,
//! bounded by request count and time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shared::neon::NeonClient;
use shared::transport::ReqwestTransport;
use shared::upstash::{Command, UpstashClient};

use super::cpu::{self, Roles};
use super::load::{self, Outcome};
use crate::catalog_seed::{self, SeedCatalog, SeedConfig};
use crate::stack::{Stack, WorkerMode};

/// The catalog size.
const PRODUCTS: usize = 10_000;
/// Cold runs need this many distinct URLs each; they stop earlier at `COLD_TIME`.
const COLD_REQUESTS: usize = 2_000;
const COLD_TIME: Duration = Duration::from_secs(6);
/// Warm runs cycle over `WARM_URLS` URLs.
const WARM_REQUESTS: usize = 6_000;
const WARM_TIME: Duration = Duration::from_secs(5);
const WARM_URLS: usize = 8;

/// One endpoint's cold and warm URL sets.
struct Scenario {
    name: &'static str,
    cold: Vec<String>,
    warm: Vec<String>,
}

/// One load run's numbers.
struct Row {
    scenario: &'static str,
    cache: &'static str,
    outcome: Outcome,
    neon_per_request: f64,
    upstash_per_request: f64,
    cpu_per_request: BTreeMap<&'static str, f64>,
}

pub async fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    let (mut stack, _) = super::fresh_stack("catalog", WorkerMode::Miniflare).await?;
    let stack_ready = started.elapsed();
    let health = reqwest::get(format!("{}/api/v1/health", stack.urls().worker)).await?;
    if !health.status().is_success() {
        bail!("the gateway's health check answered {}: {}", health.status(), health.text().await?);
    }

    let urls = stack.urls();
    let config = SeedConfig { products: PRODUCTS, ..SeedConfig::default() };
    let report = catalog_seed::run(&urls.neon_sql, &stack.connection_string(), &config).await?;
    println!("seeded {report}");
    let catalog = catalog_seed::generate(&config)?;
    let probes = Probes::new(&stack);
    // Fresh planner statistics for the seeded tables, as a long-lived database would have.
    probes.neon.query("ANALYZE", &[]).await?;
    // pg_stat_statements counts each statement as it finishes (pg_stat_database lags by up to
    // seconds); it loads only at server start. Utility statements (BEGIN, the gateway's session
    // reset) stay out of the count.
    probes.neon.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'", &[]).await?;
    stack.restart_postgres()?;
    probes.neon.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", &[]).await?;
    // Its settings exist once it is loaded.
    probes.neon.query("ALTER SYSTEM SET pg_stat_statements.track_utility = off", &[]).await?;
    probes.neon.query("SELECT pg_reload_conf()", &[]).await?;
    let seeded = started.elapsed();

    let roles = Roles::of(&stack)?;
    let client = load::client()?;
    let mut rows = Vec::new();
    let costs = Costs { probes: &probes, roles: &roles };
    let mut counters = probes.read().await?;
    for scenario in scenarios(&catalog, &urls.worker)? {
        let (row, _) = measure(&client, &costs, counters, &scenario, "cold").await?;
        rows.push(row);
        // Priming stores every warm URL in the caches; its costs fall between two reads, uncounted.
        let primed = load::run(&client, Arc::new(scenario.warm.clone()), scenario.warm.len(), WARM_TIME).await;
        check(scenario.name, "priming", &primed)?;
        counters = costs.probes.read().await?;
        let (row, after) = measure(&client, &costs, counters, &scenario, "warm").await?;
        rows.push(row);
        counters = after;
    }

    print_table(&rows);
    println!(
        "neon/req: SQL statements the Workers ran per request (pg_stat_statements; a batch counts each \
         statement); redis/req: Redis commands per request; cpu: workerd CPU ms per request"
    );
    cpu::print_per_request(rows.iter().map(|row| (format!("{} ({})", row.scenario, row.cache), &row.cpu_per_request)));
    println!();
    println!(
        "Worker size (wasm, gzip -9): catalog {} bytes, gateway {} bytes",
        super::gzip_size("catalog")?,
        super::gzip_size("gateway")?
    );
    println!(
        "bench time: stack {:.0}s, seed {:.0}s, load and probes {:.0}s",
        stack_ready.as_secs_f64(),
        (seeded - stack_ready).as_secs_f64(),
        (started.elapsed() - seeded).as_secs_f64()
    );
    Ok(())
}

/// How the costs of a load run are read.
struct Costs<'a> {
    probes: &'a Probes,
    roles: &'a Roles,
}

/// One load run between two counter reads.
async fn measure(
    client: &reqwest::Client,
    costs: &Costs<'_>,
    before: Counters,
    scenario: &Scenario,
    cache: &'static str,
) -> anyhow::Result<(Row, Counters)> {
    let (urls, requests, time) = match cache {
        "cold" => (&scenario.cold, scenario.cold.len().min(COLD_REQUESTS), COLD_TIME),
        _ => (&scenario.warm, WARM_REQUESTS, WARM_TIME),
    };
    let cpu_before = costs.roles.sample();
    let outcome = load::run(client, Arc::new(urls.clone()), requests, time).await;
    let cpu_spent = cpu::delta(&cpu_before, &costs.roles.sample());
    check(scenario.name, cache, &outcome)?;
    let after = costs.probes.read().await?;
    let requests = outcome.requests().max(1) as f64;
    let row = Row {
        scenario: scenario.name,
        cache,
        neon_per_request: after.neon.saturating_sub(before.neon) as f64 / requests,
        upstash_per_request: after.upstash.saturating_sub(before.upstash + Probes::UPSTASH_PER_READ) as f64 / requests,
        cpu_per_request: cpu::per_request(cpu_spent, outcome.requests()),
        outcome,
    };
    Ok((row, after))
}

fn check(scenario: &str, phase: &str, outcome: &Outcome) -> anyhow::Result<()> {
    super::ensure_all_ok("catalog", &format!("{scenario} ({phase})"), outcome)
}

/// Server-side totals: statements PostgreSQL ran, commands Redis processed.
#[derive(Debug, Clone, Copy)]
struct Counters {
    neon: u64,
    upstash: u64,
}

/// Reads the counters through the same Neon and Upstash gateways the Workers use.
struct Probes {
    neon: NeonClient<ReqwestTransport>,
    upstash: UpstashClient<ReqwestTransport>,
}

impl Probes {
    /// `INFO stats` counts itself.
    const UPSTASH_PER_READ: u64 = 1;

    fn new(stack: &Stack) -> Self {
        let urls = stack.urls();
        Self {
            neon: NeonClient::new(ReqwestTransport::default(), &urls.neon_sql, stack.connection_string()),
            upstash: UpstashClient::new(ReqwestTransport::default(), &urls.upstash, &stack.secrets.upstash_token),
        }
    }

    /// Statements run in the database (`neon`) and Redis commands (`upstash`) so far; the
    /// probes' own statements are left out, `INFO` counts itself (subtracted by the caller).
    async fn read(&self) -> anyhow::Result<Counters> {
        let result = self
            .neon
            .query(
                "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements \
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND query NOT LIKE '%pg_stat_statements%' AND query <> 'SELECT pg_advisory_unlock_all()'",
                &[],
            )
            .await?;
        let neon: i64 = result.first().context("no pg_stat_statements row")?.get(0)?;
        let info = self.upstash.command(&Command::new("INFO").arg("stats")).await?;
        let info = info.into_string().context("INFO answered no text")?;
        let upstash = info
            .lines()
            .find_map(|line| line.strip_prefix("total_commands_processed:"))
            .and_then(|value| value.trim().parse().ok())
            .context("INFO stats has no total_commands_processed")?;
        Ok(Counters { neon: u64::try_from(neon)?, upstash })
    }
}

/// The URLs of every scenario. Cold URLs differ in a filter value (a price bound no product
/// reaches, a search, a product id), so each is a new cache key as well as a new URL.
fn scenarios(catalog: &SeedCatalog, base: &str) -> anyhow::Result<Vec<Scenario>> {
    let url = |path: &str, params: &[(&str, String)]| -> anyhow::Result<String> {
        Ok(reqwest::Url::parse_with_params(&format!("{base}{path}"), params)?.to_string())
    };
    let public: Vec<_> = catalog.products.iter().filter(|product| product.is_public()).collect();
    let categories: Vec<String> = catalog.categories.iter().map(|category| category.slug.as_str().to_owned()).collect();
    // Far above every seeded price, so it filters nothing while making the URL new.
    let unreachable = |index: usize| (100_000_000 + index).to_string();
    let mut scenarios = Vec::new();

    let newest = |index: usize, price_max: Option<String>| {
        let mut params = vec![("category", categories[index % categories.len()].clone())];
        params.extend(price_max.map(|max| ("price_max", max)));
        url("/api/v1/products", &params)
    };
    scenarios.push(Scenario {
        name: "list: category, newest",
        cold: (0..COLD_REQUESTS).map(|i| newest(i, Some(unreachable(i)))).collect::<anyhow::Result<_>>()?,
        warm: (0..WARM_URLS).map(|i| newest(i, None)).collect::<anyhow::Result<_>>()?,
    });

    let price_range = |min: usize| {
        url(
            "/api/v1/products",
            &[
                ("sort", "price_asc".to_owned()),
                ("price_min", min.to_string()),
                ("price_max", (min + 4_000).to_string()),
            ],
        )
    };
    scenarios.push(Scenario {
        name: "list: price range, price_asc",
        cold: (0..COLD_REQUESTS).map(|i| price_range(1_000 + i)).collect::<anyhow::Result<_>>()?,
        warm: (0..WARM_URLS).map(|i| price_range(1_000 * (i + 1))).collect::<anyhow::Result<_>>()?,
    });

    let in_stock = |price_max: String| {
        url(
            "/api/v1/products",
            &[
                ("in_stock", "true".to_owned()),
                ("min_rating", "4".to_owned()),
                ("sort", "price_desc".to_owned()),
                ("price_max", price_max),
            ],
        )
    };
    scenarios.push(Scenario {
        name: "list: in stock, rating >= 4, price_desc",
        cold: (0..COLD_REQUESTS).map(|i| in_stock(unreachable(i))).collect::<anyhow::Result<_>>()?,
        warm: (0..WARM_URLS).map(|i| in_stock(((i + 1) * 5_000).to_string())).collect::<anyhow::Result<_>>()?,
    });

    // Two words of a product's title, every pair a different search (no filter changes the plan).
    let mut pairs = std::collections::BTreeSet::new();
    for product in &public {
        let words: Vec<String> = product.title.as_str().split_whitespace().map(str::to_lowercase).collect();
        for (index, first) in words.iter().enumerate() {
            for second in &words[index + 1..] {
                pairs.insert(format!("{first} {second}"));
            }
        }
    }
    // Spread over the catalog rather than alphabetical, which would cluster on a few first words.
    let pairs: Vec<String> = pairs.into_iter().collect();
    let spread = |index: usize| pairs[index.wrapping_mul(7_919) % pairs.len()].clone();
    let mut searches = std::collections::BTreeSet::new();
    let cold: Vec<String> = (0..pairs.len())
        .map(spread)
        .filter(|q| searches.insert(q.clone()))
        .take(COLD_REQUESTS)
        .map(|q| url("/api/v1/search", &[("q", q)]))
        .collect::<anyhow::Result<_>>()?;
    scenarios.push(Scenario {
        name: "search: two title words",
        cold,
        warm: (0..WARM_URLS)
            .map(|i| url("/api/v1/search", &[("q", spread(i * 1_000 + 1))]))
            .collect::<anyhow::Result<_>>()?,
    });

    let detail = |index: usize| format!("{base}/api/v1/products/{}", public[index % public.len()].id);
    scenarios.push(Scenario {
        name: "product detail",
        cold: (0..COLD_REQUESTS.min(public.len())).map(detail).collect(),
        warm: (0..WARM_URLS).map(detail).collect(),
    });

    // What a shopper types: a title's first word and the start of its second, at several limits.
    let mut typed = std::collections::BTreeSet::new();
    for product in &public {
        let mut words = product.title.as_str().split_whitespace();
        let (Some(first), Some(second)) = (words.next(), words.next()) else { continue };
        for length in 1..=second.chars().count().min(3) {
            typed.insert(format!("{first} {}", second.chars().take(length).collect::<String>()));
        }
    }
    let typed: Vec<String> = typed.into_iter().collect();
    let suggest = |index: usize| {
        let q = typed[index % typed.len()].clone();
        let limit = 1 + index / typed.len();
        url("/api/v1/search/suggest", &[("q", q), ("limit", limit.to_string())])
    };
    let distinct = (typed.len() * 20).min(COLD_REQUESTS);
    scenarios.push(Scenario {
        name: "suggest: typed prefix",
        cold: (0..distinct).map(suggest).collect::<anyhow::Result<_>>()?,
        warm: (0..WARM_URLS).map(|i| suggest(i * 37)).collect::<anyhow::Result<_>>()?,
    });
    if scenarios.iter().any(|scenario| scenario.cold.is_empty() || scenario.warm.is_empty()) {
        bail!("the seed gave a scenario no URLs");
    }
    Ok(scenarios)
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<40} {:<5} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8} {:>9} {:>9}  x-cache",
        "catalog, 16 connections",
        "cache",
        "reqs",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "neon/req",
        "redis/req",
        "cpu ms/req"
    );
    for row in rows {
        let outcome = &row.outcome;
        let cache: Vec<String> = outcome.cache.iter().map(|(value, count)| format!("{value} {count}")).collect();
        println!(
            "{:<40} {:<5} {:>6} {:>7.0} {:>7.1} {:>7.1} {:>7.1} {:>8.2} {:>9.2} {:>9.2}  {}",
            row.scenario,
            row.cache,
            outcome.requests(),
            outcome.per_second(),
            outcome.percentile_ms(0.5),
            outcome.percentile_ms(0.95),
            outcome.percentile_ms(0.99),
            row.neon_per_request,
            row.upstash_per_request,
            row.cpu_per_request.get("workerd").copied().unwrap_or(0.0),
            cache.join(", ")
        );
    }
}
