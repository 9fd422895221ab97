//! A local Stripe sandbox: the subset of Stripe's API the payments component uses, in memory,
//! with Stripe's wire format (form-encoded requests, JSON objects and error envelopes, signed
//! webhooks). Objects live as long as the process.
//!
//! Endpoints: `POST /v1/payment_intents`, `GET /v1/payment_intents/:id`,
//! `POST /v1/payment_intents/:id/{confirm,capture,cancel}`, `GET /v1/charges/:id`,
//! `POST|GET /v1/payment_methods[/:id]`, `POST|GET /v1/refunds[/:id]`, `POST|GET /v1/accounts[/:id]`,
//! `POST|GET /v1/transfers[/:id]`, `GET /v1/balance`, `GET /v1/events[/:id]`,
//! `POST|GET /v1/webhook_endpoints`, `GET|DELETE /v1/webhook_endpoints/:id`. Anything else is
//! Stripe's 404 "Unrecognized request URL".
//!
//! As Stripe documents it (docs.stripe.com/api, /error-low-level, /idempotency, /webhooks):
//! - Auth: `Authorization: Bearer sk_…` or basic auth with the key as user; else 401.
//! - Bodies are form-encoded; a JSON body is refused. Unknown parameter → 400 `parameter_unknown`,
//!   missing → 400 `parameter_missing`, before anything changes.
//! - `Idempotency-Key` (POST): per secret key, 24 hours; the same key and parameters replay the
//!   stored status and body with `Idempotent-Replayed: true`; other parameters or another
//!   endpoint → 400 `idempotency_error`. Only answers from requests whose execution began are
//!   stored (not auth, routing or parameter errors).
//! - Webhooks: every event goes to each endpoint whose `enabled_events` match, signed
//!   `Stripe-Signature: t=…,v1=…` (plus a fake `v0`, as in test mode), retried with exponential
//!   backoff until 2xx, a bounded number of times, each attempt freshly signed.
//! - Test cards: see [`cards`]. The sandbox-only delayed card 4000000000008880
//!   (`pm_card_sandbox_delayed`) keeps a PaymentIntent `processing` for
//!   [`Options::processing_delay`], then completes it.
//!
//! Objects are rendered in API version 2024-06-20's shapes whatever `Stripe-Version` a request
//! names (the header is echoed back, as Stripe does).
//!
//! Its objects and enums are its own, not `shared::payments::stripe`'s: the payments adapter is
//! tested against this second, independent rendering of Stripe's documented shapes, so a field or
//! status the adapter names wrongly fails here instead of agreeing with itself.
//!
//! Deliberate differences: connected accounts get the capabilities they request as `active` at
//! once (there is no hosted onboarding); no fees are taken; charges settle to the pending balance
//! and never become available, except 4000000000000077 charges, which are available at once
//! (as in Stripe's test mode); messages Stripe does not document are marked "sandbox wording".

mod api;
mod cards;
mod error;
mod money;
mod objects;
mod params;

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::Value as Json;
use shared::idempotency::MAX_IDEMPOTENCY_KEY_CHARS as MAX_IDEMPOTENCY_KEY_LEN;
use shared::payments::stripe::{API_VERSION, SIGNATURE_HEADER, SecretKey, WebhookSecret, signature};

pub use cards::{DELAYED_CARD, DELAYED_TOKEN};

use self::api::{Ctx, Route};
use self::error::{ApiError, Phase};
use self::objects::{Endpoint, State};
use self::params::Params;
use crate::http_server::{self, Body, BodyError};

/// Stripe's own limit is not documented; real request bodies are a few kilobytes.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Stripe: keys "expire out of the system after 24 hours".
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// A webhook endpoint registered at start-up (`--stripe-webhook-url`), receiving every event.
#[derive(Debug, Clone)]
pub struct EndpointSeed {
    pub url: String,
    /// `whsec_…`
    pub secret: String,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Test-mode secret keys (`sk_test_…`) the API accepts; idempotency keys are kept per key.
    pub secret_keys: Vec<String>,
    pub webhook_endpoints: Vec<EndpointSeed>,
    /// How long the delayed test card keeps a PaymentIntent `processing`.
    pub processing_delay: Duration,
    /// Delivery attempts per event and endpoint, the first included (Stripe's test mode makes
    /// four: the first and "three times over the course of a few hours").
    pub webhook_attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub webhook_backoff: Duration,
    /// How long one delivery may take before it counts as failed.
    pub webhook_timeout: Duration,
}

impl Options {
    /// Dev defaults: deliveries retried after 5 s, 10 s and 20 s; the delayed card waits 3 s.
    pub fn new(secret_key: impl Into<String>) -> Self {
        Self {
            secret_keys: vec![secret_key.into()],
            webhook_endpoints: Vec::new(),
            processing_delay: Duration::from_secs(3),
            webhook_attempts: 4,
            webhook_backoff: Duration::from_secs(5),
            webhook_timeout: Duration::from_secs(10),
        }
    }

    /// Short delays for tests.
    pub fn fast(secret_key: impl Into<String>) -> Self {
        Self {
            processing_delay: Duration::from_millis(150),
            webhook_backoff: Duration::from_millis(50),
            webhook_timeout: Duration::from_secs(2),
            ..Self::new(secret_key)
        }
    }
}

struct Remembered {
    route: String,
    params: Vec<(String, String)>,
    status: StatusCode,
    body: Json,
    request_id: String,
    at: Instant,
}

pub struct Sandbox {
    options: Options,
    state: Mutex<State>,
    /// (secret key, idempotency key) → the stored answer.
    idempotency: Mutex<HashMap<(String, String), Remembered>>,
    ids: IdSource,
    http: reqwest::Client,
    log: bool,
    /// Key of the fake `v0` test-mode signature: random, so nobody can rely on it.
    fake_v0_secret: WebhookSecret,
}

impl Sandbox {
    pub fn new(options: Options, log: bool) -> anyhow::Result<Self> {
        if options.secret_keys.is_empty() {
            bail!("the Stripe sandbox needs at least one secret key");
        }
        for key in &options.secret_keys {
            let parsed = SecretKey::parse(key).map_err(|error| anyhow::anyhow!("{error}"))?;
            if !parsed.is_test_mode() || !key.starts_with("sk_") {
                bail!("the Stripe sandbox takes test-mode secret keys (sk_test_…) only");
            }
        }
        let ids = IdSource::new();
        let mut state = State::default();
        for seed in &options.webhook_endpoints {
            WebhookSecret::parse(&seed.secret).map_err(|error| anyhow::anyhow!("{error}"))?;
            url::Url::parse(&seed.url).with_context(|| format!("webhook URL {}", seed.url))?;
            state.endpoints.push(Endpoint {
                id: ids.object_id("we"),
                url: seed.url.clone(),
                secret: seed.secret.clone(),
                enabled_events: vec!["*".into()],
                description: Some("registered at start-up".into()),
                metadata: Default::default(),
                api_version: None,
                created: now(),
            });
        }
        let fake_v0_secret = WebhookSecret::parse(&format!("whsec_{}", ids.alphanumeric(32)))
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let http = reqwest::Client::builder().timeout(options.webhook_timeout).build()?;
        Ok(Self {
            options,
            state: Mutex::new(state),
            idempotency: Mutex::new(HashMap::new()),
            ids,
            http,
            log,
            fake_v0_secret,
        })
    }

    pub async fn handle(self: &Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let request_id = format!("req_{}", self.ids.alphanumeric(14));
        let version = header(&parts.headers, "stripe-version").unwrap_or(API_VERSION).to_owned();
        let (mut response, replayed) = match self.respond(&parts, body, &request_id).await {
            Ok(answer) => answer,
            Err(error) => (reply(error.status, &error.body()), None),
        };
        let unauthorized = response.status() == StatusCode::UNAUTHORIZED;
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        set("request-id", &request_id);
        set("stripe-version", &version);
        if let Some(key) = header(&parts.headers, "idempotency-key").filter(|_| parts.method == Method::POST) {
            set("idempotency-key", key);
        }
        if let Some(original) = replayed {
            set("idempotent-replayed", "true");
            set("original-request", &original);
        }
        if unauthorized {
            set("www-authenticate", "Basic realm=\"Stripe\"");
        }
        response
    }

    /// The answer, and for a replay the id of the request that produced it.
    async fn respond(
        self: &Arc<Self>,
        parts: &http::request::Parts,
        body: Incoming,
        request_id: &str,
    ) -> Result<(Response<Body>, Option<String>), ApiError> {
        let api_key = self.authenticate(&parts.headers)?;
        let path = parts.uri.path();
        let route = Route::parse(&parts.method, path).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!(
                    "Unrecognized request URL ({}: {path}). Please see https://stripe.com/docs or we can help at \
                     https://support.stripe.com/.",
                    parts.method
                ),
            )
        })?;
        let body = match http_server::read_body(body, MAX_REQUEST_BYTES).await {
            Ok(body) => body,
            Err(BodyError::TooLarge { .. }) => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request_error",
                    "Request too large.",
                ));
            }
            Err(BodyError::Read(error)) => {
                return Err(ApiError::invalid(format!("Could not read the request: {error}")));
            }
        };
        let params = if parts.method == Method::POST {
            let form_typed = header(&parts.headers, "content-type").is_none_or(|value| {
                value
                    .split(';')
                    .next()
                    .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
            });
            if !body.is_empty() && !form_typed {
                return Err(ApiError::invalid(
                    "Invalid request (check that your POST content type is application/x-www-form-urlencoded). If \
                     you have any questions, we can help at https://support.stripe.com/.",
                ));
            }
            Params::parse(&body)
        } else {
            Params::parse(parts.uri.query().unwrap_or("").as_bytes())
        };
        let key = match (parts.method == Method::POST, header(&parts.headers, "idempotency-key")) {
            (true, Some(key)) if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN => {
                return Err(ApiError::invalid(format!(
                    "Invalid Idempotency-Key: it must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters (sandbox wording)."
                )));
            }
            (true, Some(key)) => Some(key.to_owned()),
            _ => None,
        };
        let route_name = format!("{} {path}", parts.method);
        let canonical = params.canonical();

        // The idempotency map is held through the whole request, so two requests with one key
        // cannot both execute: the second waits and then replays.
        let mut remembered = self.idempotency.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        remembered.retain(|_, entry| entry.at.elapsed() < IDEMPOTENCY_WINDOW);
        if let Some(key) = &key
            && let Some(entry) = remembered.get(&(api_key.clone(), key.clone()))
        {
            if entry.route != route_name {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    format!(
                        "Keys for idempotent requests can only be used for the same endpoint they were first used \
                         for ('{}' vs '{route_name}'). Try using a key other than '{key}' if you meant to execute a \
                         different request.",
                        entry.route
                    ),
                ));
            }
            if entry.params != canonical {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    format!(
                        "Keys for idempotent requests can only be used with the same parameters they were first used \
                         with. Try using a key other than '{key}' if you meant to execute a different request."
                    ),
                ));
            }
            return Ok((reply(entry.status, &entry.body), Some(entry.request_id.clone())));
        }

        let (result, emitted, delayed) = {
            let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut ctx = Ctx {
                state: &mut state,
                ids: &self.ids,
                now: now(),
                request_id: Some(request_id.to_owned()),
                idempotency_key: key.clone(),
                emitted: Vec::new(),
                delayed: Vec::new(),
            };
            let result = api::dispatch(&mut ctx, &route, &params);
            (result, ctx.emitted, ctx.delayed)
        };
        let (status, body, phase) = match result {
            Ok(body) => (StatusCode::OK, body, Phase::Execution),
            Err(error) => (error.status, error.body(), error.phase),
        };
        if let (Some(key), Phase::Execution) = (key, phase) {
            remembered.insert(
                (api_key, key),
                Remembered {
                    route: route_name,
                    params: canonical,
                    status,
                    body: body.clone(),
                    request_id: request_id.to_owned(),
                    at: Instant::now(),
                },
            );
        }
        drop(remembered);
        self.start_deliveries(emitted);
        for intent in delayed {
            let sandbox = Arc::clone(self);
            tokio::spawn(async move {
                tokio::time::sleep(sandbox.options.processing_delay).await;
                sandbox.finish_processing(&intent);
            });
        }
        Ok((reply(status, &body), None))
    }

    /// The key from `Authorization: Bearer …` or basic auth (key as user, empty password).
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<String, ApiError> {
        let missing = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the Authorization header, using \
                 Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication \
                 for details, or we can help at https://support.stripe.com/.",
            )
            .validation()
        };
        let value = header(headers, "authorization").ok_or_else(missing)?;
        let (scheme, credentials) = value.split_once(' ').ok_or_else(missing)?;
        let key = if scheme.eq_ignore_ascii_case("bearer") {
            credentials.trim().to_owned()
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded =
                base64::engine::general_purpose::STANDARD.decode(credentials.trim()).map_err(|_| missing())?;
            let decoded = String::from_utf8(decoded).map_err(|_| missing())?;
            decoded.split_once(':').map_or(decoded.as_str(), |(user, _)| user).to_owned()
        } else {
            return Err(missing());
        };
        if key.is_empty() {
            return Err(missing());
        }
        if self.options.secret_keys.contains(&key) {
            Ok(key)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                format!("Invalid API Key provided: {}", redact(&key)),
            )
            .validation())
        }
    }

    fn finish_processing(self: &Arc<Self>, intent: &str) {
        let emitted = {
            let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut ctx = Ctx {
                state: &mut state,
                ids: &self.ids,
                now: now(),
                request_id: None,
                idempotency_key: None,
                emitted: Vec::new(),
                delayed: Vec::new(),
            };
            api::finish_processing(&mut ctx, intent);
            ctx.emitted
        };
        self.start_deliveries(emitted);
    }

    fn start_deliveries(self: &Arc<Self>, events: Vec<String>) {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for event_id in events {
            let Some(event) = state.events.iter().rev().find(|event| event.id == event_id) else { continue };
            for endpoint in &event.pending {
                let sandbox = Arc::clone(self);
                let (event, endpoint) = (event_id.clone(), endpoint.clone());
                tokio::spawn(async move { sandbox.deliver(&event, &endpoint).await });
            }
        }
    }

    /// POSTs one event to one endpoint until it answers 2xx or the attempts run out. The body is
    /// the event as stored; each attempt is signed anew ("we generate a new signature and
    /// timestamp for the new delivery attempt").
    async fn deliver(&self, event_id: &str, endpoint_id: &str) {
        let mut backoff = self.options.webhook_backoff;
        for attempt in 1..=self.options.webhook_attempts {
            let prepared = {
                let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let endpoint = state.endpoints.iter().find(|endpoint| endpoint.id == endpoint_id);
                let event = state.events.iter().rev().find(|event| event.id == event_id);
                match (endpoint, event) {
                    // Deleted endpoints get no retries (docs.stripe.com/webhooks, "Automatic retries").
                    (Some(endpoint), Some(event)) => {
                        Some((endpoint.url.clone(), endpoint.secret.clone(), event.json()))
                    }
                    _ => None,
                }
            };
            let Some((url, secret, event)) = prepared else { return };
            let body = event.to_string();
            let timestamp = now();
            let header = match WebhookSecret::parse(&secret) {
                Ok(secret) => format!(
                    "t={timestamp},v1={},v0={}",
                    signature(&secret, timestamp, body.as_bytes()),
                    signature(&self.fake_v0_secret, timestamp, body.as_bytes())
                ),
                Err(_) => return,
            };
            let result = self
                .http
                .post(&url)
                .header("Content-Type", "application/json; charset=utf-8")
                .header("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
                .header(SIGNATURE_HEADER, header)
                .body(body)
                .send()
                .await;
            let outcome = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(error) => format!("failed ({error})"),
            };
            if self.log {
                let kind = event["type"].as_str().unwrap_or("?");
                eprintln!("stripe: webhook {event_id} {kind} → {url}: {outcome} (attempt {attempt})");
            }
            if result.is_ok_and(|response| response.status().is_success()) {
                let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(event) = state.event_mut(event_id) {
                    event.pending.retain(|pending| pending != endpoint_id);
                }
                return;
            }
            if attempt < self.options.webhook_attempts {
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
        }
    }
}

fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn reply(status: StatusCode, body: &Json) -> Response<Body> {
    http_server::json(status, body.to_string())
}

/// `sk_test_****************************1234`: the prefix and the last four, as Stripe shows a wrong key.
fn redact(key: &str) -> String {
    let prefix_len = key.match_indices('_').nth(1).map_or(0, |(index, _)| index + 1);
    let visible_tail = 4.min(key.len().saturating_sub(prefix_len));
    let hidden = key.len() - prefix_len - visible_tail;
    format!("{}{}{}", &key[..prefix_len], "*".repeat(hidden), &key[key.len() - visible_tail..])
}

fn now() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// Stripe-looking ids (`pi_` + 24 letters and digits): a per-process random seed hashed with a
/// counter, unique within a run and unpredictable across runs.
pub struct IdSource {
    seed: std::collections::hash_map::RandomState,
    counter: AtomicU64,
}

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl IdSource {
    fn new() -> Self {
        Self { seed: std::collections::hash_map::RandomState::new(), counter: AtomicU64::new(0) }
    }

    pub fn alphanumeric(&self, len: usize) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        (0..len)
            .map(|position| {
                let mut hasher = self.seed.build_hasher();
                hasher.write_u64(n);
                hasher.write_usize(position);
                char::from(ALPHABET[(hasher.finish() % 62) as usize])
            })
            .collect()
    }

    pub fn object_id(&self, prefix: &str) -> String {
        format!("{prefix}_{}", self.alphanumeric(24))
    }

    /// Stable per card number within a run, like Stripe's `fingerprint`.
    pub fn fingerprint(&self, number: &str) -> String {
        (0..16)
            .map(|position| {
                let mut hasher = self.seed.build_hasher();
                hasher.write(number.as_bytes());
                hasher.write_usize(position);
                char::from(ALPHABET[(hasher.finish() % 62) as usize])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_keys_are_shown_redacted() {
        assert_eq!(redact("sk_test_abcdefgh1234"), "sk_test_********1234");
        assert_eq!(redact("sk_live_12"), "sk_live_12");
        assert_eq!(redact("nonsense"), "****ense");
    }

    #[test]
    fn ids_have_the_prefix_and_24_alphanumerics() {
        let ids = IdSource::new();
        let (a, b) = (ids.object_id("pi"), ids.object_id("pi"));
        assert_ne!(a, b);
        assert_eq!(a.len(), "pi_".len() + 24);
        assert!(a[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(ids.fingerprint("4242"), ids.fingerprint("4242"));
    }

    #[test]
    fn only_test_mode_secret_keys_are_accepted() {
        assert!(Sandbox::new(Options::new("sk_test_ok"), false).is_ok());
        assert!(Sandbox::new(Options::new("sk_live_no"), false).is_err());
        assert!(Sandbox::new(Options::new("rk_test_no"), false).is_err());
        let mut bad_endpoint = Options::new("sk_test_ok");
        bad_endpoint
            .webhook_endpoints
            .push(EndpointSeed { url: "http://127.0.0.1:1/hook".into(), secret: "nope".into() });
        assert!(Sandbox::new(bad_endpoint, false).is_err());
    }
}
