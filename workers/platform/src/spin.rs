//! Calls from a Worker to Spin, signed as Spin requires (DESIGN §5): `Upstash-Signature` over the
//! exact URL and body, with a fresh `jti`, sent through the runtime's `fetch` (`crate::fetch`).

use std::fmt;
use std::time::Duration;

use shared::transport::{HttpResponse, HttpTransport, Method, TransportError};
use shared::webhook::{self, SignError, SignRequest, SigningKey};
use thiserror::Error;

use crate::clock::{self, Elapsed};
use crate::fetch::FetchTransport;
use crate::random;

/// Where Spin is and the key its signatures use; read with `RequiredVars::spin`.
pub struct SpinSettings {
    /// Spin's origin without a trailing slash, as Spin sees it (the signature's `sub`).
    pub url: String,
    pub webhook_key_current: String,
}

/// Hand-written so the key never reaches a log.
impl fmt::Debug for SpinSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpinSettings").field("url", &self.url).finish_non_exhaustive()
    }
}

impl SpinSettings {
    /// `issuer` is the signature's `iss`, naming the calling Worker.
    pub fn client(&self, issuer: &'static str) -> SpinClient<'_> {
        SpinClient { settings: self, issuer }
    }
}

/// One call: a path under `SPIN_URL`, extra headers, a body and an optional time limit.
pub struct SpinCall<'a> {
    method: Method,
    path: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
}

impl<'a> SpinCall<'a> {
    pub fn get(path: &'a str) -> Self {
        Self { method: Method::Get, path, headers: Vec::new(), body: Vec::new(), timeout: None }
    }

    /// `body` is already-encoded JSON; the signature covers exactly these bytes.
    pub fn post_json(path: &'a str, body: Vec<u8>) -> Self {
        Self { method: Method::Post, path, headers: vec![("content-type", "application/json")], body, timeout: None }
    }

    #[must_use]
    pub fn header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }

    #[must_use]
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }
}

#[derive(Debug, Error)]
pub enum SpinError {
    /// Our side failed before sending: a bug or a broken clock, not an outage.
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Timeout(#[from] Elapsed),
}

pub struct SpinClient<'a> {
    settings: &'a SpinSettings,
    issuer: &'static str,
}

impl SpinClient<'_> {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.url)
    }

    /// Any HTTP answer is `Ok`, whatever its status: what a status means is the caller's business.
    pub async fn send(&self, call: SpinCall<'_>) -> Result<HttpResponse, SpinError> {
        let url = self.url(call.path);
        let mut request = webhook::signed_request(
            &SigningKey::new(self.settings.webhook_key_current.as_bytes()),
            call.method,
            SignRequest {
                issuer: self.issuer,
                url: &url,
                body: &call.body,
                now: clock::now_unix_seconds(),
                jti: &random::new_id("sig"),
            },
        )?;
        for (name, value) in call.headers {
            request = request.header(name, value);
        }
        let transport = FetchTransport;
        let response = match call.timeout {
            Some(limit) => clock::within(limit, transport.send(request)).await?,
            None => transport.send(request).await,
        };
        Ok(response?)
    }
}

/// Headers of Spin's answer the client should see besides the body.
const RELAYED_HEADERS: [&str; 2] = ["content-type", "idempotent-replayed"];

/// Spin's answer handed on to the client as it is (status, JSON body, `Idempotent-Replayed`),
/// never cached.
pub fn relay(answer: HttpResponse) -> Result<worker::Response, shared::api::ApiError> {
    use crate::respond::internal;
    let mut response = worker::Response::from_bytes(answer.body).map_err(internal)?.with_status(answer.status);
    let headers = response.headers_mut();
    headers.set("content-type", "application/json").map_err(internal)?;
    for (name, value) in &answer.headers {
        if let Some(relayed) = RELAYED_HEADERS.iter().find(|relayed| name.eq_ignore_ascii_case(relayed)) {
            headers.set(relayed, value).map_err(internal)?;
        }
    }
    headers.set("cache-control", "no-store").map_err(internal)?;
    Ok(response)
}
