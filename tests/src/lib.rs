//! Harness for black-box tests: each test binary starts its own stack on free ports with its own
//! data directory, so it never collides with a running `cargo xtask dev` or another test binary.
//! These tests need the Wasm builds, so they are `#[ignore]`d for a bare `cargo test` and run by
//! `cargo xtask test` (which builds first and passes `--include-ignored`).

use std::path::PathBuf;
use xtask::children::Logs;
use xtask::stack::{Ports, Stack, StackConfig, WorkerMode};

pub use xtask::stack;

pub struct TestStack {
    pub stack: Stack,
    pub http: reqwest::Client,
}

impl TestStack {
    /// `with_worker`: also run the gateway Worker in workerd (slower to start).
    pub async fn start(name: &str, with_worker: bool) -> anyhow::Result<Self> {
        let state_dir = state_dir(name);
        // A fresh database per run: leftovers from an earlier run must not decide a test.
        let _ = std::fs::remove_dir_all(&state_dir);
        let config = StackConfig {
            state_dir: state_dir.clone(),
            ports: Ports::free()?,
            worker: with_worker.then_some(WorkerMode::Prebuilt),
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

    /// `GET` through the gateway: status and JSON body (`null` when the body is not JSON). A 5xx
    /// prints the services' logs first.
    pub async fn get_json(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        let response = self.http.get(self.worker_url(path_and_query)).send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        if status >= 500 {
            self.print_logs();
        }
        (status, body)
    }

    /// Every page of a list or search (`{"items","next_cursor"}`), following `next_cursor`.
    pub async fn all_pages(&self, path: &str, query: &str) -> Vec<serde_json::Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1_000 {
            let separator = if query.is_empty() { "" } else { "&" };
            let url = match &cursor {
                Some(cursor) => format!("{path}?{query}{separator}cursor={cursor}"),
                None => format!("{path}?{query}"),
            };
            let (status, body) = self.get_json(&url).await;
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
