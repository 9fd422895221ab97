//! The one seam between protocol clients and the network: reqwest implements it natively (and
//! in the events Worker), `spin_sdk::http::send` in Spin components, and
//! `worker_platform::fetch::FetchTransport` in the other Workers (the runtime's `fetch` called
//! directly: cheaper per subrequest, docs/adr/0007 and 0008).

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self { method, url: url.into(), headers: Vec::new(), body: Vec::new() }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Header lookup, case-insensitive as HTTP requires.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// Response headers as plain pairs, for every transport (reqwest and spin-sdk both use `http`).
/// Values that are not visible ASCII are dropped: none of the protocols we speak sends them.
pub fn headers_from(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter().filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))).collect()
}

/// The request never produced an HTTP response (DNS, connect, TLS, refused by the runtime).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("transport error: {0}")]
pub struct TransportError(pub String);

/// Futures are not `Send`: Worker and Spin runtimes are single-threaded and their fetch futures are `!Send`.
#[allow(async_fn_in_trait)]
pub trait HttpTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

#[cfg(feature = "reqwest")]
pub use reqwest_transport::ReqwestTransport;

#[cfg(feature = "reqwest")]
mod reqwest_transport {
    use super::{HttpRequest, HttpResponse, HttpTransport, Method, TransportError};

    /// reqwest over hyper natively, over `fetch` on wasm32 (works in workerd).
    #[derive(Debug, Clone, Default)]
    pub struct ReqwestTransport {
        client: reqwest::Client,
    }

    impl ReqwestTransport {
        pub fn new(client: reqwest::Client) -> Self {
            Self { client }
        }
    }

    impl HttpTransport for ReqwestTransport {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
            let method = match request.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
                Method::Put => reqwest::Method::PUT,
                Method::Delete => reqwest::Method::DELETE,
            };
            let mut builder = self.client.request(method, &request.url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            let response =
                builder.body(request.body).send().await.map_err(|error| TransportError(error.to_string()))?;
            let status = response.status().as_u16();
            let headers = super::headers_from(response.headers());
            let body = response.bytes().await.map_err(|error| TransportError(error.to_string()))?.to_vec();
            Ok(HttpResponse { status, headers, body })
        }
    }
}
