//! Helpers shared by the Stripe sandbox tests: a sandbox of one's own, raw HTTP calls, and a
//! webhook receiver that records (and optionally refuses) deliveries.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use local_cloud::{Background, Config, http_server, spawn_in_thread};
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub const KEY: &str = Config::EPHEMERAL_STRIPE_SECRET_KEY;
pub const OTHER_KEY: &str = "sk_test_second_key";

/// A sandbox of its own (no PostgreSQL or Redis is touched), accepting [`KEY`] and [`OTHER_KEY`].
pub fn sandbox() -> Background {
    sandbox_with(|_| {})
}

pub fn sandbox_with(configure: impl FnOnce(&mut Config)) -> Background {
    let mut config = Config::ephemeral("redis://127.0.0.1:1", "unused");
    config.stripe.secret_keys.push(OTHER_KEY.into());
    configure(&mut config);
    spawn_in_thread(config).expect("sandbox starts")
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts Stripe's error envelope with this status, type and code; returns the error object.
    pub fn error(&self, status: u16, kind: &str, code: Option<&str>) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        let error = &self.body["error"];
        assert_eq!(error["type"], kind, "{}", self.body);
        assert_eq!(error["code"].as_str(), code, "{}", self.body);
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", self.body);
        error
    }

    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.body);
        &self.body
    }
}

pub struct Api {
    pub base: String,
    pub key: String,
    client: reqwest::Client,
}

impl Api {
    pub fn new(sandbox: &Background) -> Self {
        Self::with_key(sandbox, KEY)
    }

    pub fn with_key(sandbox: &Background, key: &str) -> Self {
        Self { base: sandbox.stripe_url(), key: key.to_owned(), client: reqwest::Client::new() }
    }

    /// Form-encoded like Stripe's libraries (brackets percent-encoded by reqwest).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.post_keyed(path, form, None).await
    }

    pub async fn post_keyed(&self, path: &str, form: &[(&str, &str)], idempotency_key: Option<&str>) -> Reply {
        let mut request = self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.key).form(form);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        reply(request.send().await.expect("sandbox answers")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        reply(self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.key).send().await.expect("answers"))
            .await
    }

    pub async fn raw(&self, request: reqwest::RequestBuilder) -> Reply {
        reply(request.send().await.expect("sandbox answers")).await
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A confirmed PaymentIntent paid with `payment_method`.
    pub async fn pay(&self, amount: &str, currency: &str, payment_method: &str, extra: &[(&str, &str)]) -> Reply {
        let mut form =
            vec![("amount", amount), ("currency", currency), ("payment_method", payment_method), ("confirm", "true")];
        form.extend_from_slice(extra);
        self.post("/v1/payment_intents", &form).await
    }

    pub async fn events(&self, query: &str) -> Vec<Value> {
        self.get(&format!("/v1/events{query}")).await.ok()["data"].as_array().expect("data").clone()
    }

    pub async fn event_types(&self) -> Vec<String> {
        self.events("?limit=100").await.iter().map(|e| e["type"].as_str().unwrap_or_default().to_owned()).collect()
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("JSON body, got {}", String::from_utf8_lossy(&bytes)));
    Reply { status, headers, body }
}

/// One webhook request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Delivery {
    pub fn event(&self) -> Value {
        serde_json::from_slice(&self.body).expect("event JSON")
    }
}

/// A local HTTP endpoint that records every webhook and answers 500 to the first `refuse` ones.
pub struct Receiver {
    pub url: String,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    _stop: watch::Sender<bool>,
}

impl Receiver {
    pub async fn start(refuse: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let url = format!("http://{}/webhooks/stripe", listener.local_addr().expect("addr"));
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let refusals_left = Arc::new(AtomicUsize::new(refuse));
        let (stop, stop_rx) = watch::channel(false);
        let recorded = deliveries.clone();
        tokio::spawn(http_server::serve(listener, "receiver", false, stop_rx, move |request| {
            let recorded = recorded.clone();
            let refusals_left = refusals_left.clone();
            async move {
                let header =
                    |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
                let (signature, content_type) = (header("stripe-signature"), header("content-type"));
                let body =
                    http_server::read_body(request.into_body(), 1 << 20).await.map(|b| b.to_vec()).unwrap_or_default();
                let refuse =
                    refusals_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                let status = if refuse { 500 } else { 200 };
                recorded.lock().unwrap().push(Delivery { signature, content_type, body, status });
                http_server::json(http::StatusCode::from_u16(status).unwrap(), "{}")
            }
        }));
        Self { url, deliveries, _stop: stop }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap().clone()
    }

    /// Accepted (2xx) deliveries of events of this type.
    pub fn accepted(&self, kind: &str) -> Vec<Delivery> {
        self.deliveries().into_iter().filter(|d| d.status == 200 && d.event()["type"] == kind).collect()
    }

    /// Waits until `done` holds for the deliveries so far (at most 10 s).
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let deliveries = self.deliveries();
            if done(&deliveries) {
                return deliveries;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}; got {deliveries:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Polls `check` until it returns `Some` (at most 10 s).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
