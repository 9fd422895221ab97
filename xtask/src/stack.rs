//! The local stack: PostgreSQL and Redis behind the Neon and Upstash gateways, the email sink, the
//! Stripe sandbox, the migrations, the Spin components in the local wasi:http host, and the Workers
//! in workerd (`wrangler dev`, or miniflare's API for benchmarks).
//! `cargo xtask dev` runs it on fixed ports; black-box tests run their own on free ports.

use crate::children::{Logs, ManagedChild};
use crate::{build, migrate, paths, progress};
use anyhow::{Context, bail};
use local_cloud::{postgres::Cluster, redis::Server};
use serde::{Deserialize, Serialize};
use shared::identity::access_token::{AccessTokenIssuer, DEFAULT_AUDIENCE, DEFAULT_ISSUER};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const DATABASE: &str = "marketplace";
/// Sender of the stack's notification emails (Spin's `email_from`).
pub const EMAIL_FROM: &str = "Marketplace <no-reply@marketplace.localhost>";
/// The payments component's route for the provider's webhooks.
pub const STRIPE_WEBHOOK_PATH: &str = "/payments/webhooks/stripe";

#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub postgres: u16,
    pub redis: u16,
    pub neon: u16,
    pub upstash: u16,
    /// The email sink: Resend's `POST /emails` and the `/inbox`.
    pub email: u16,
    /// The Stripe sandbox: Stripe's `/v1` API subset.
    pub stripe: u16,
    pub spin: u16,
    pub worker: u16,
    pub worker_inspector: u16,
}

impl Ports {
    /// The documented dev ports (README).
    pub fn dev() -> Self {
        Self {
            postgres: 55432,
            redis: 56379,
            neon: 4444,
            upstash: 8079,
            email: 8025,
            stripe: 12111,
            spin: 3000,
            worker: 8787,
            worker_inspector: 9229,
        }
    }

    /// Free ports, so tests never collide with a running dev stack or with each other.
    pub fn free() -> anyhow::Result<Self> {
        let next = local_cloud::ports::free_port;
        Ok(Self {
            postgres: next()?,
            redis: next()?,
            neon: next()?,
            upstash: next()?,
            email: next()?,
            stripe: next()?,
            spin: next()?,
            worker: next()?,
            worker_inspector: next()?,
        })
    }
}

/// Local secrets, made once per state dir and kept, so a second run reuses data and sessions.
/// A secret added by a newer version of this file is generated and saved on the next start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Secrets {
    pub upstash_token: String,
    pub webhook_key_current: String,
    /// What the email sink requires and Spin sends as `Authorization: Bearer …`.
    pub email_api_key: String,
    /// Ed25519 seed (base64url, 32 bytes) the identity Worker signs access tokens with.
    pub jwt_signing_seed: String,
    /// HMAC key (base64url, 32 bytes) the catalog Worker signs pagination cursors with.
    pub catalog_cursor_key: String,
    /// HMAC key (base64url, 32 bytes) the cart Worker signs guest cart cookies with.
    pub cart_cookie_key: String,
    /// The test-mode key (`sk_test_…`) the Stripe sandbox accepts.
    pub stripe_secret_key: String,
    /// The signing secret (`whsec_…`) of the sandbox's webhook endpoint for the payments component.
    pub stripe_webhook_secret: String,
}

impl Secrets {
    pub fn load_or_create(state_dir: &Path) -> anyhow::Result<Self> {
        let path = state_dir.join("secrets.json");
        let mut stored: serde_json::Map<String, serde_json::Value> = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?,
            Err(_) => serde_json::Map::new(),
        };
        let mut changed = false;
        for name in [
            "upstash_token",
            "webhook_key_current",
            "jwt_signing_seed",
            "email_api_key",
            "catalog_cursor_key",
            "cart_cookie_key",
        ] {
            if !stored.get(name).is_some_and(serde_json::Value::is_string) {
                stored.insert(name.to_owned(), random_token()?.into());
                changed = true;
            }
        }
        for (name, prefix) in [("stripe_secret_key", "sk_test_"), ("stripe_webhook_secret", "whsec_")] {
            if !stored.get(name).is_some_and(serde_json::Value::is_string) {
                stored.insert(name.to_owned(), format!("{prefix}{}", random_token()?).into());
                changed = true;
            }
        }
        if changed {
            std::fs::create_dir_all(state_dir)?;
            std::fs::write(&path, serde_json::to_string_pretty(&stored)?)?;
        }
        Ok(serde_json::from_value(serde_json::Value::Object(stored))?)
    }
}

fn random_token() -> anyhow::Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerMode {
    /// The top-level wrangler.toml as is: rebuilds on source changes (dev).
    Watch,
    /// The already-built Worker, no rebuilds (tests).
    Prebuilt,
    /// The already-built Workers in workerd through miniflare's API (xtask/miniflare/run.mjs):
    /// the same configs, without wrangler's per-request logging through Node (benchmarks).
    Miniflare,
}

/// Which build of the local gateways (local-cloud) a stack runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayBuild {
    /// `cargo build`'s, as dev and tests run it.
    Dev,
    /// Optimised (`build::bench_gateways`), for benchmarks, which count its CPU.
    Optimised,
}

#[derive(Debug, Clone)]
pub struct StackConfig {
    pub state_dir: PathBuf,
    pub ports: Ports,
    /// None: no Worker (tests of the core alone start faster).
    pub worker: Option<WorkerMode>,
    pub gateways: GatewayBuild,
    pub logs: Logs,
}

pub struct Stack {
    pub ports: Ports,
    pub secrets: Secrets,
    state_dir: PathBuf,
    logs: Logs,
    // Field order is stop order: edge first, data last.
    worker: Option<ManagedChild>,
    spin: ManagedChild,
    cloud: ManagedChild,
    redis: Option<Server>,
    postgres: Cluster,
}

impl Stack {
    pub async fn start(config: StackConfig) -> anyhow::Result<Self> {
        let StackConfig { state_dir, ports, worker, gateways, logs } = config;
        std::fs::create_dir_all(&state_dir)?;
        let secrets = Secrets::load_or_create(&state_dir)?;

        let postgres = progress::step(&format!("PostgreSQL on 127.0.0.1:{}", ports.postgres), || {
            let cluster = Cluster::start(state_dir.join("postgres"), ports.postgres)?;
            cluster.ensure_database(DATABASE)?;
            Ok(cluster)
        })?;
        let redis = progress::step(&format!("Redis on 127.0.0.1:{}", ports.redis), || {
            Server::start(state_dir.join("redis"), ports.redis)
        })?;

        let mut cloud_command = Command::new(match gateways {
            GatewayBuild::Dev => paths::native_bin("local-cloud"),
            GatewayBuild::Optimised => paths::profile_bin(build::BENCH_GATEWAYS_PROFILE, "local-cloud"),
        });
        cloud_command.args([
            "--neon-listen",
            &format!("127.0.0.1:{}", ports.neon),
            "--upstash-listen",
            &format!("127.0.0.1:{}", ports.upstash),
            "--upstash-token",
            &secrets.upstash_token,
            "--redis-url",
            &format!("redis://127.0.0.1:{}", ports.redis),
            "--email-listen",
            &format!("127.0.0.1:{}", ports.email),
            "--email-api-key",
            &secrets.email_api_key,
            "--stripe-listen",
            &format!("127.0.0.1:{}", ports.stripe),
            "--stripe-secret-key",
            &secrets.stripe_secret_key,
            // Every event goes to the payments component, signed with the secret it checks.
            "--stripe-webhook-url",
            &format!("{}{STRIPE_WEBHOOK_PATH}", Urls::new(ports).spin),
            "--stripe-webhook-secret",
            &secrets.stripe_webhook_secret,
        ]);
        let mut cloud = ManagedChild::spawn("local-cloud", &mut cloud_command, &logs)?;
        wait_for_port(&mut cloud, ports.neon).await?;
        wait_for_port(&mut cloud, ports.upstash).await?;
        wait_for_port(&mut cloud, ports.email).await?;
        wait_for_port(&mut cloud, ports.stripe).await?;

        let urls = Urls::new(ports);
        let connection_string = postgres.connection_string(DATABASE);
        let applied = migrate::run(&urls.neon_sql, &connection_string, &paths::repo_root().join("migrations")).await?;
        progress::note(&format!("migrations: {applied} applied"));

        let mut spin_command = spin_command(ports, &connection_string, &secrets, &[]);
        let mut spin = ManagedChild::spawn("spin", &mut spin_command, &logs)?;
        wait_for_port(&mut spin, ports.spin).await?;

        let configs = match worker {
            Some(mode) => worker_configs(&state_dir, mode)?,
            None => Vec::new(),
        };
        write_dev_vars(&configs, &urls, &connection_string, &secrets)?;
        let worker = match worker {
            Some(WorkerMode::Miniflare) => {
                let mut command = Command::new(paths::on_path("node")?);
                command
                    .current_dir(paths::repo_root())
                    .arg(paths::repo_root().join("xtask").join("miniflare").join("run.mjs"))
                    .args(["127.0.0.1", &ports.worker.to_string()])
                    .arg(state_dir.join("miniflare"))
                    .args(&configs);
                let mut child = ManagedChild::spawn("miniflare", &mut command, &logs)?;
                wait_for_http(&mut child, &format!("{}/api/v1/health", urls.worker)).await?;
                Some(child)
            }
            Some(WorkerMode::Watch | WorkerMode::Prebuilt) => {
                let mut command = Command::new(paths::node_bin("wrangler"));
                command.current_dir(paths::repo_root()).arg("dev");
                // The first config is the public gateway; the others are reached through its service bindings.
                for config in &configs {
                    command.arg("--config").arg(config);
                }
                command
                    .args(["--ip", "127.0.0.1", "--port", &ports.worker.to_string()])
                    .args(["--inspector-port", &ports.worker_inspector.to_string()])
                    .arg("--persist-to")
                    .arg(state_dir.join("wrangler"))
                    .args(["--show-interactive-dev-session=false", "--log-level", "info"])
                    .env("WRANGLER_SEND_METRICS", "false")
                    .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
                    .env("WRANGLER_HIDE_BANNER", "true")
                    .env("WRANGLER_LOG_PATH", state_dir.join("wrangler-logs"));
                let mut child = ManagedChild::spawn("wrangler", &mut command, &logs)?;
                wait_for_http(&mut child, &format!("{}/__ready", urls.worker)).await?;
                Some(child)
            }
            None => None,
        };

        Ok(Self { ports, secrets, state_dir, logs, worker, spin, cloud, redis: Some(redis), postgres })
    }

    /// Signs access tokens exactly as this stack's identity Worker does (its seed, and the key id
    /// its wrangler config names), for tests and benches that need many signed-in users.
    pub fn access_token_issuer(&self) -> anyhow::Result<AccessTokenIssuer> {
        use base64::Engine as _;
        let seed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&self.secrets.jwt_signing_seed)?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| anyhow::anyhow!("the signing seed is not 32 bytes"))?;
        let path = paths::repo_root().join("workers").join("identity").join("wrangler.toml");
        let config: toml::Table = toml::from_str(&std::fs::read_to_string(&path)?)?;
        let kid = config
            .get("vars")
            .and_then(|vars| vars.get("JWT_KEY_ID"))
            .and_then(|kid| kid.as_str())
            .with_context(|| format!("{} names no JWT_KEY_ID", path.display()))?;
        Ok(AccessTokenIssuer::from_seed(seed, kid).with_issuer(DEFAULT_ISSUER).with_audience(DEFAULT_AUDIENCE))
    }

    pub fn urls(&self) -> Urls {
        Urls::new(self.ports)
    }

    pub fn connection_string(&self) -> String {
        self.postgres.connection_string(DATABASE)
    }

    /// Restarts the Spin host with some `SPIN_VARIABLE_*` replaced (`&[]`: this stack's own
    /// values again), e.g. to test what a misconfigured component does and how it recovers.
    pub async fn restart_spin(&mut self, overrides: &[(&str, &str)]) -> anyhow::Result<()> {
        static RESTARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        self.spin.stop();
        let mut command = spin_command(self.ports, &self.connection_string(), &self.secrets, overrides);
        // A log of its own per run, so the earlier run's log survives for a failing test to print.
        let name = format!("spin-{}", RESTARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
        self.spin = ManagedChild::spawn(&name, &mut command, &self.logs)?;
        wait_for_port(&mut self.spin, self.ports.spin).await
    }

    /// Restarts PostgreSQL on the same data and port, e.g. to load a library that
    /// `ALTER SYSTEM SET shared_preload_libraries` named; the Neon gateway reconnects by itself.
    pub fn restart_postgres(&mut self) -> anyhow::Result<()> {
        self.postgres.stop()?;
        self.postgres = Cluster::start(self.postgres.data_dir(), self.ports.postgres)?;
        Ok(())
    }

    /// For outage tests: Redis goes away, everything else stays.
    pub fn stop_redis(&mut self) {
        if let Some(redis) = self.redis.take() {
            redis.stop();
        }
    }

    /// Process group of `wrangler dev` or miniflare (workerd runs inside it), for CPU accounting.
    pub fn worker_process_group(&self) -> Option<u32> {
        self.worker.as_ref().map(ManagedChild::pid)
    }

    /// (role, process group) of each child: `worker` (wrangler or miniflare, with workerd),
    /// `local-cloud` (the Neon, Upstash and email gateways, the Stripe sandbox) and `local-spin`, for CPU accounting.
    pub fn process_groups(&self) -> Vec<(&'static str, u32)> {
        let mut groups = vec![("local-cloud", self.cloud.pid()), ("local-spin", self.spin.pid())];
        groups.extend(self.worker.as_ref().map(|worker| ("worker", worker.pid())));
        groups
    }

    /// The PostgreSQL data directory (its `postmaster.pid` names the server process).
    pub fn postgres_data_dir(&self) -> &Path {
        self.postgres.data_dir()
    }

    /// Where each child's log is, when logging to files.
    pub fn log_dir(&self) -> Option<&Path> {
        match &self.logs {
            Logs::Files(dir) => Some(dir),
            Logs::Console => None,
        }
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Returns the first child that has exited, if any (dev watches for this).
    pub fn exited_child(&mut self) -> Option<String> {
        let worker = self.worker.as_mut();
        [Some(&mut self.spin), Some(&mut self.cloud), worker]
            .into_iter()
            .flatten()
            .find_map(|child| child.exit_status().map(|status| format!("{} exited ({status})", child.name())))
    }
}

#[derive(Debug, Clone)]
pub struct Urls {
    pub neon_sql: String,
    pub neon_origin: String,
    pub upstash: String,
    /// The email sink's origin: Resend's API base for Spin (`POST /emails`).
    pub email: String,
    /// `GET` lists what was sent (newest first, `?to=` filters), `DELETE` empties it.
    pub email_inbox: String,
    /// The Stripe sandbox's origin: the API base a Stripe client takes (`/v1/…`).
    pub stripe: String,
    pub spin: String,
    pub worker: String,
}

impl Urls {
    fn new(ports: Ports) -> Self {
        let origin = |port: u16| format!("http://127.0.0.1:{port}");
        Self {
            neon_sql: format!("{}/sql", origin(ports.neon)),
            neon_origin: origin(ports.neon),
            upstash: origin(ports.upstash),
            email: origin(ports.email),
            email_inbox: format!("{}/inbox", origin(ports.email)),
            stripe: origin(ports.stripe),
            spin: origin(ports.spin),
            worker: origin(ports.worker),
        }
    }
}

/// The local wasi:http host running spin.toml with this stack's variables; `overrides` are
/// `(SPIN_VARIABLE_…, value)` pairs that replace them.
fn spin_command(ports: Ports, connection_string: &str, secrets: &Secrets, overrides: &[(&str, &str)]) -> Command {
    let urls = Urls::new(ports);
    let mut command = Command::new(paths::native_bin("local-spin"));
    command
        .current_dir(paths::repo_root())
        .args(["--manifest", "spin.toml", "--listen", &format!("127.0.0.1:{}", ports.spin)])
        .arg("--compile-cache")
        .arg(paths::target_dir().join("local-spin-cache"))
        .env("SPIN_VARIABLE_NEON_URL", &urls.neon_sql)
        .env("SPIN_VARIABLE_NEON_ORIGIN", &urls.neon_origin)
        .env("SPIN_VARIABLE_NEON_CONNECTION_STRING", connection_string)
        .env("SPIN_VARIABLE_PUBLIC_BASE_URL", &urls.spin)
        .env("SPIN_VARIABLE_WEBHOOK_KEY_CURRENT", &secrets.webhook_key_current)
        .env("SPIN_VARIABLE_EMAIL_API_URL", &urls.email)
        .env("SPIN_VARIABLE_EMAIL_API_KEY", &secrets.email_api_key)
        .env("SPIN_VARIABLE_EMAIL_FROM", EMAIL_FROM)
        .env("SPIN_VARIABLE_STRIPE_API_URL", &urls.stripe)
        .env("SPIN_VARIABLE_STRIPE_SECRET_KEY", &secrets.stripe_secret_key)
        .env("SPIN_VARIABLE_STRIPE_WEBHOOK_SECRET_CURRENT", &secrets.stripe_webhook_secret)
        // Outbox events go to the gateway's public route for workers/events.
        .env("SPIN_VARIABLE_EDGE_URL", &urls.worker)
        // How payments ended goes to the orders saga, on this same host.
        .env("SPIN_VARIABLE_PAYMENTS_EVENTS_URL", format!("{}/orders/payment-events", urls.spin))
        .env("SPIN_VARIABLE_PAYMENTS_EVENTS_ORIGIN", &urls.spin);
    for (name, value) in overrides {
        command.env(name, value);
    }
    command
}

/// The Workers' vars and secrets for this stack, as `.dev.vars` beside each wrangler config: with
/// several configs, wrangler gives `--env-file` to the first Worker only, but every Worker reads the
/// `.dev.vars` next to its own config (git-ignored).
fn write_dev_vars(configs: &[PathBuf], urls: &Urls, connection_string: &str, secrets: &Secrets) -> anyhow::Result<()> {
    let lines = [
        ("NEON_URL", urls.neon_sql.as_str()),
        ("NEON_CONNECTION_STRING", connection_string),
        ("UPSTASH_URL", urls.upstash.as_str()),
        ("UPSTASH_TOKEN", secrets.upstash_token.as_str()),
        ("SPIN_URL", urls.spin.as_str()),
        ("WEBHOOK_KEY_CURRENT", secrets.webhook_key_current.as_str()),
        ("JWT_SIGNING_SEED", secrets.jwt_signing_seed.as_str()),
        ("CATALOG_CURSOR_KEY", secrets.catalog_cursor_key.as_str()),
        ("CART_COOKIE_KEY", secrets.cart_cookie_key.as_str()),
        ("PUBLIC_URL", urls.worker.as_str()),
    ];
    let text: String = lines.iter().map(|(name, value)| format!("{name}=\"{value}\"\n")).collect();
    for config in configs {
        let dir = config.parent().context("a wrangler config has no directory")?;
        std::fs::write(dir.join(".dev.vars"), &text)?;
    }
    Ok(())
}

/// Watch mode uses the configs themselves; prebuilt and miniflare modes copy them without the build
/// step, pointing at the built shims, so tests start fast and never rebuild underneath themselves.
fn worker_configs(state_dir: &Path, mode: WorkerMode) -> anyhow::Result<Vec<PathBuf>> {
    let root = paths::repo_root();
    let originals = build::WORKERS.iter().map(|(dir, _)| {
        if *dir == "gateway" {
            root.join("wrangler.toml")
        } else {
            root.join("workers").join(dir).join("wrangler.toml")
        }
    });
    if mode == WorkerMode::Watch {
        return Ok(originals.collect());
    }
    let mut configs = Vec::new();
    for original in originals {
        let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(&original)?)?;
        config.remove("build");
        let name = config.get("name").and_then(|name| name.as_str()).context("a wrangler config has no `name`")?;
        let main = config.get("main").and_then(|main| main.as_str()).context("a wrangler config has no `main`")?;
        // `main` is relative to its config file.
        let main = original.parent().unwrap_or(&root).join(main);
        if !main.exists() {
            bail!("{} is missing: build the Workers first (cargo xtask test builds them)", main.display());
        }
        let path = state_dir.join(format!("{name}.wrangler.toml"));
        config.insert("main".into(), toml::Value::String(main.to_string_lossy().into_owned()));
        std::fs::write(&path, toml::to_string(&config)?)?;
        configs.push(path);
    }
    Ok(configs)
}

/// Generous: `wrangler dev` runs the gateway's custom build (wasm-opt) before it listens, which on a
/// busy 2-core box can take minutes; a child that dies is noticed at once anyway.
const START_TIMEOUT: Duration = Duration::from_secs(240);

async fn wait_for_port(child: &mut ManagedChild, port: u16) -> anyhow::Result<()> {
    wait_until(child, || async move { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() }).await
}

async fn wait_for_http(child: &mut ManagedChild, url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    wait_until(child, || {
        let request = client.get(url).timeout(Duration::from_secs(5)).send();
        async move { request.await.is_ok() }
    })
    .await
}

async fn wait_until<F, Fut>(child: &mut ManagedChild, mut ready: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if ready().await {
            return Ok(());
        }
        if let Some(status) = child.exit_status() {
            bail!("{} exited while starting ({status}); see its output above or its log", child.name());
        }
        if started.elapsed() > START_TIMEOUT {
            bail!("{} did not become ready within {}s", child.name(), START_TIMEOUT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
