//! Harness for black-box tests: each test binary starts its own stack on free ports with its own
//! data directory, so it never collides with a running `cargo xtask dev` or another test binary.
//! These tests need the Wasm builds, so they are `#[ignore]`d for a bare `cargo test` and run by
//! `cargo xtask test` (which builds first and passes `--include-ignored`). Tests of the SQL alone
//! use [`MigratedDatabase`], which needs only the system's PostgreSQL, and are not ignored.

use std::path::PathBuf;

use anyhow::Context as _;
use local_cloud::postgres::Cluster;
use local_cloud::{Background, Config};
use serde_json::{Value, json};
use shared::neon::NeonClient;
use shared::transport::ReqwestTransport;
use shared::webhook::{self, SignRequest, SigningKey};
use tokio::sync::OnceCell;
use xtask::children::Logs;
use xtask::stack::{GatewayBuild, Ports, Stack, StackConfig, WorkerMode};

pub use xtask::stack;

pub mod sql_fixtures;

pub struct TestStack {
    pub stack: Stack,
    pub http: reqwest::Client,
}

impl TestStack {
    /// `with_worker`: also run the gateway Worker in workerd (slower to start).
    pub async fn start(name: &str, with_worker: bool) -> anyhow::Result<Self> {
        Self::start_in(name, with_worker.then_some(WorkerMode::Prebuilt)).await
    }

    /// The Workers in workerd through miniflare's API instead of `wrangler dev`: the same configs,
    /// and crons can be fired by test code ([`TestStack::run_cron`]).
    pub async fn start_with_crons(name: &str) -> anyhow::Result<Self> {
        Self::start_in(name, Some(WorkerMode::Miniflare)).await
    }

    async fn start_in(name: &str, worker: Option<WorkerMode>) -> anyhow::Result<Self> {
        let state_dir = state_dir(name);
        // A fresh database per run: leftovers from an earlier run must not decide a test.
        let _ = std::fs::remove_dir_all(&state_dir);
        let config = StackConfig {
            state_dir: state_dir.clone(),
            ports: Ports::free()?,
            worker,
            gateways: GatewayBuild::Dev,
            logs: Logs::Files(state_dir.join("logs")),
        };
        let stack = match Stack::start(config).await {
            Ok(stack) => stack,
            Err(error) => {
                print_logs(&state_dir.join("logs"));
                return Err(error);
            }
        };
        Ok(Self { stack, http: reqwest::Client::new() })
    }

    pub fn worker_url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.urls().worker)
    }

    pub fn spin_url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.urls().spin)
    }

    /// Runs one Worker's `scheduled` handler once, as Cloudflare's cron trigger would (a stack
    /// started with [`TestStack::start_with_crons`]); `worker` is its wrangler `name`.
    pub async fn run_cron(&self, worker: &str) -> anyhow::Result<()> {
        let response = self
            .http
            .get(self.worker_url("/cdn-cgi/handler/scheduled?cron=*+*+*+*+*"))
            .header("MF-Route-Override", worker)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        anyhow::ensure!(status.is_success(), "the {worker} cron answered {status}: {text}");
        Ok(())
    }

    /// A signature for a core-events delivery (`POST /webhooks/core-events`, DESIGN §5) as a Spin
    /// outbox makes one: for the gateway's URL and exactly `body`, with a fresh `jti`. `key` is the
    /// stack's `secrets.webhook_key_current`, or any other to forge one.
    pub fn sign_core_delivery(&self, body: &[u8], key: &str) -> String {
        sign(&self.worker_url(shared::events::edge::DELIVERY_PATH), body, key)
    }

    /// POSTs a core-events delivery through the gateway, with `Upstash-Signature` when given: status
    /// and JSON body (the edge's report, or the error envelope).
    pub async fn post_core_delivery(&self, body: Vec<u8>, signature: Option<&str>) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.worker_url(shared::events::edge::DELIVERY_PATH))
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header(webhook::SIGNATURE_HEADER, signature);
        }
        self.send(request, None).await
    }

    /// Sends `request` (with a bearer token when given): status and JSON body (`null` when the body
    /// is not JSON). A 5xx prints the services' logs first.
    pub async fn send(&self, request: reqwest::RequestBuilder, token: Option<&str>) -> (u16, Value) {
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        if status >= 500 {
            self.print_logs();
        }
        (status, body)
    }

    /// `GET` through the gateway, anonymously.
    pub async fn get_json(&self, path_and_query: &str) -> (u16, Value) {
        self.send(self.http.get(self.worker_url(path_and_query)), None).await
    }

    /// A signed call to a Spin path (DESIGN §5) with this stack's key, as the edge makes them;
    /// `GET` sends no body. Status and JSON body (`null` when not JSON).
    pub async fn signed(&self, method: &str, path: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
        self.signed_with_key(&self.stack.secrets.webhook_key_current, method, path, body).await
    }

    /// `signed` with another key: a forgery, when it is not the stack's.
    pub async fn signed_with_key(&self, key: &str, method: &str, path: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
        let (status, body) = signed_call(&self.http, &self.spin_url(path), key, method, body.into()).await;
        if status >= 500 {
            self.print_logs();
        }
        (status, body)
    }

    /// The stack's database, through its Neon gateway.
    pub fn neon(&self) -> NeonClient<ReqwestTransport> {
        NeonClient::new(ReqwestTransport::default(), self.stack.urls().neon_sql, self.stack.connection_string())
    }

    /// Registers an account through the API: the new user's id.
    pub async fn register(&self, email: &str, password: &str) -> String {
        let body = json!({"email": email, "password": password, "display_name": "Test Account"});
        let (status, body) =
            self.send(self.http.post(self.worker_url("/api/v1/auth/register")).json(&body), None).await;
        assert_eq!(status, 201, "register {email}: {body}");
        body["user"]["id"].as_str().expect("the new user's id").to_owned()
    }

    /// Signs in: the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let body = json!({"email": email, "password": password});
        let (status, body) = self.send(self.http.post(self.worker_url("/api/v1/auth/login")).json(&body), None).await;
        assert_eq!(status, 200, "login {email}: {body}");
        body["access_token"].as_str().expect("access token").to_owned()
    }

    /// The first platform admin, as the seed makes it: nobody can grant it through the API yet.
    pub async fn grant_platform_admin(&self, user_id: &str) {
        self.neon()
            .query("INSERT INTO identity.role_grants (user_id, role) VALUES ($1, 'platform_admin')", &[&user_id])
            .await
            .expect("grant the platform admin");
    }

    /// A platform admin grants `user_id` the vendor admin role of `vendor_id` through the API.
    pub async fn grant_vendor_admin(&self, admin_token: &str, user_id: &str, vendor_id: &str) {
        let grant = json!({"user_id": user_id, "role": "vendor_admin", "vendor_id": vendor_id});
        let request = self.http.post(self.worker_url("/api/v1/auth/admin/roles")).json(&grant);
        let (status, body) = self.send(request, Some(admin_token)).await;
        assert!((200..300).contains(&status), "grant {vendor_id}: {status} {body}");
    }

    /// Every page of a list or search (`{"items","next_cursor"}`), following `next_cursor`.
    pub async fn all_pages(&self, path: &str, query: &str) -> Vec<serde_json::Value> {
        self.all_pages_as(None, path, query).await
    }

    /// [`TestStack::all_pages`] with a bearer token when given.
    pub async fn all_pages_as(&self, token: Option<&str>, path: &str, query: &str) -> Vec<serde_json::Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1_000 {
            let separator = if query.is_empty() { "" } else { "&" };
            let url = match &cursor {
                Some(cursor) => format!("{path}?{query}{separator}cursor={cursor}"),
                None => format!("{path}?{query}"),
            };
            let (status, body) = self.send(self.http.get(self.worker_url(&url)), token).await;
            assert_eq!(status, 200, "{url}: {body}");
            items.extend(body["items"].as_array().expect("items").iter().cloned());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
        panic!("{path}?{query} never ended");
    }

    /// Printed by tests before asserting, so a failure shows what the services said.
    pub fn print_logs(&self) {
        if let Some(dir) = self.stack.log_dir() {
            print_logs(dir);
        }
    }
}

/// A fresh PostgreSQL with every migration applied, behind an in-process Neon gateway, shared by
/// the tests of one binary: for tests of the SQL itself, which need no Redis, Spin or Worker (only
/// the system's PostgreSQL, like the gateways' conformance tests). Stopped when the binary exits.
pub struct MigratedDatabase {
    root: PathBuf,
    cluster: Cluster,
    gateway: Background,
}

static MIGRATED: OnceCell<MigratedDatabase> = OnceCell::const_new();

impl MigratedDatabase {
    /// The binary's database, started and migrated by the first caller (`name` names its directory).
    pub async fn shared(name: &str) -> &'static MigratedDatabase {
        MIGRATED
            .get_or_init(|| async {
                match Self::start(name).await {
                    Ok(database) => database,
                    Err(error) => panic!("starting the migrated database: {error:#}"),
                }
            })
            .await
    }

    async fn start(name: &str) -> anyhow::Result<Self> {
        let root = xtask::paths::target_dir().join("e2e").join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let cluster = Cluster::start(root.join("postgres"), local_cloud::ports::free_port()?)?;
        // The Upstash gateway binds too but reaches Redis only when called, which these tests never do.
        let gateway = local_cloud::spawn_in_thread(Config::ephemeral("redis://127.0.0.1:1", "unused"))?;
        local_cloud::at_exit(stop_migrated);
        let database = Self { root, cluster, gateway };
        database.create(xtask::stack::DATABASE).await?;
        Ok(database)
    }

    /// Creates `database` in the same cluster and applies every migration to it.
    pub async fn create(&self, database: &str) -> anyhow::Result<()> {
        self.create_with(database, &xtask::paths::repo_root().join("migrations")).await
    }

    /// Creates `database` and applies the migrations found in `dir` (a test may stop at a version).
    pub async fn create_with(&self, database: &str, dir: &std::path::Path) -> anyhow::Result<()> {
        self.cluster.ensure_database(database)?;
        self.migrate(database, dir).await
    }

    /// Applies what `dir` holds that `database` has not applied yet.
    pub async fn migrate(&self, database: &str, dir: &std::path::Path) -> anyhow::Result<()> {
        xtask::migrate::run(&self.neon_url(), &self.connection_string(database), dir)
            .await
            .with_context(|| format!("migrating {database}"))?;
        Ok(())
    }

    /// The Neon gateway's `/sql` URL.
    pub fn neon_url(&self) -> String {
        self.gateway.neon_url()
    }

    /// The connection string of one of the cluster's databases, as the gateway takes it.
    pub fn connection_string(&self, database: &str) -> String {
        self.cluster.connection_string(database)
    }

    /// The shared database, through the Neon gateway.
    pub fn neon(&self) -> NeonClient<ReqwestTransport> {
        self.neon_for(xtask::stack::DATABASE)
    }

    /// Another database of the same cluster (see [`MigratedDatabase::create`]).
    pub fn neon_for(&self, database: &str) -> NeonClient<ReqwestTransport> {
        NeonClient::new(ReqwestTransport::default(), self.neon_url(), self.connection_string(database))
    }
}

extern "C" fn stop_migrated() {
    if let Some(database) = MIGRATED.get() {
        let _ = database.cluster.stop();
        let _ = std::fs::remove_dir_all(&database.root);
    }
}

fn state_dir(name: &str) -> PathBuf {
    xtask::paths::target_dir().join("e2e").join(name)
}

fn print_logs(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        eprintln!("----- {} (last {} lines) -----", entry.path().display(), tail.len());
        for line in tail.into_iter().rev() {
            eprintln!("{line}");
        }
    }
}

/// A call signed with `key` for `url` (DESIGN §5), usable from spawned tasks; `GET` sends no body.
pub async fn signed_call(http: &reqwest::Client, url: &str, key: &str, method: &str, body: Vec<u8>) -> (u16, Value) {
    let signature = sign(url, &body, key);
    let request = if method == "GET" { http.get(url) } else { http.post(url).body(body) };
    let response = request
        .header(webhook::SIGNATURE_HEADER, signature)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("spin host answers");
    let status = response.status().as_u16();
    (status, response.json::<Value>().await.unwrap_or(Value::Null))
}

/// `Upstash-Signature` (DESIGN §5) for `url` and exactly `body` with `key`, as our services sign,
/// with a fresh `jti`.
pub fn sign(url: &str, body: &[u8], key: &str) -> String {
    let request = SignRequest { issuer: "e2e-tests", url, body, now: now_unix(), jti: &fresh_id("sig") };
    webhook::sign(&SigningKey::new(key.as_bytes()), request).expect("signing works")
}

/// The `id`s of list or search items as a set; fails when a product is listed twice.
pub fn unique_ids(items: &[Value]) -> std::collections::BTreeSet<String> {
    let ids: Vec<&str> = items.iter().map(|item| item["id"].as_str().expect("id")).collect();
    let set: std::collections::BTreeSet<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    assert_eq!(set.len(), ids.len(), "a product was listed twice");
    set
}

/// The error envelope's stable code (`""` when the body is not an error).
pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// A fresh prefixed ULID in `shared::ids`' format, unique within the test binary and across
/// binaries running at once (the process id is part of the entropy): fixture rows never collide.
pub fn fresh_id(prefix: &str) -> String {
    fresh(|now, entropy| shared::ids::new_id(prefix, now, entropy))
}

/// A fresh typed id (`fresh(VendorId::generate)`), unique as [`fresh_id`]'s are.
pub fn fresh<T>(generate: impl FnOnce(u64, shared::ids::Entropy) -> T) -> T {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut entropy = [0u8; 10];
    entropy[..2].copy_from_slice(&(std::process::id() as u16).to_be_bytes());
    entropy[2..].copy_from_slice(&COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_be_bytes());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    generate(now, entropy)
}

/// Unix seconds now, for signing test requests.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

/// A long, purely alphabetic word of a title with one letter in its middle changed, lower-cased:
/// `(word, typo)`. Long because pg_trgm scores a one-letter slip in a short word too low to tell
/// from noise.
pub fn one_letter_typo(title: &str) -> Option<(String, String)> {
    let word = title.split(' ').find(|word| word.len() >= 8 && word.bytes().all(|b| b.is_ascii_alphabetic()))?;
    let middle = word.len() / 2;
    let replacement = if word.as_bytes()[middle].eq_ignore_ascii_case(&b'x') { "q" } else { "x" };
    let typo = format!("{}{replacement}{}", &word[..middle], &word[middle + 1..]).to_lowercase();
    Some((word.to_owned(), typo))
}

/// Percent-encodes everything but ASCII letters and digits, for query values in test URLs.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A valid PNG of `width` × `height` opaque grey pixels: IHDR, one stored (uncompressed) zlib
/// IDAT, IEND, each with its CRC, so any decoder accepts it.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    // Only the small images carry pixels; the header alone decides the checks.
    if u64::from(width) * u64::from(height) <= 4096 {
        for _ in 0..height {
            raw.push(0);
            raw.extend(std::iter::repeat_n(0x80, width as usize * 3));
        }
    }
    let mut zlib = vec![0x78, 0x01, 0x01];
    let len = u16::try_from(raw.len()).expect("a small image");
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        png.extend_from_slice(&u32::try_from(data.len()).expect("chunk").to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(&data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, byte| {
        (0..8).fold(crc ^ u32::from(*byte), |crc, _| if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 })
    })
}

fn adler32(bytes: &[u8]) -> u32 {
    let (a, b) = bytes.iter().fold((1u32, 0u32), |(a, b), byte| {
        let a = (a + u32::from(*byte)) % 65_521;
        (a, (b + a) % 65_521)
    });
    (b << 16) | a
}
