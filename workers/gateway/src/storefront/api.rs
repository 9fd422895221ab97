//! The pages' way to the data: a call to this gateway's own `/api/v1` routes, made in-process
//! with the shopper's access token and cookies, so a page sees exactly what the API would answer
//! them (same access checks, same caches, same validation).

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{ApiError, ErrorCode, ErrorEnvelope};
use worker::{Headers, Method, Request, RequestInit};

use super::errors::PageError;
use super::visit::Visit;
use crate::router;

/// The host of the in-process calls; only the path and query are routed.
const ORIGIN: &str = "https://storefront.internal";

/// What an API call answered: a value, or the API's refusal (a 4xx the page shows the shopper).
pub type ApiResult<T> = Result<T, ApiError>;

impl Visit<'_> {
    /// `GET path_and_query` as this shopper; a refusal is a [`PageError::Api`].
    pub async fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, PageError> {
        self.call(Method::Get, path_and_query, None::<&()>, None).await?.map_err(PageError::Api)
    }

    /// A write as this shopper. `Ok(Err(…))` is the API refusing it (bad input, out of stock…),
    /// which forms show next to what was typed; `Err` is a failure the page cannot explain.
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<ApiResult<T>, PageError> {
        self.call(method, path, body, idempotency_key).await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<ApiResult<T>, PageError> {
        let headers = Headers::new();
        let set = |name: &str, value: &str| headers.set(name, value).map_err(PageError::internal);
        set("x-request-id", self.request_id)?;
        if !self.client_ip.is_empty() {
            set("cf-connecting-ip", &self.client_ip)?;
        }
        if !self.cookie_header.is_empty() {
            set("cookie", &self.cookie_header)?;
        }
        if let Some(token) = self.access_token.borrow().as_deref() {
            set("authorization", &format!("Bearer {token}"))?;
        }
        if let Some(key) = idempotency_key {
            set("idempotency-key", key)?;
        }
        let mut init = RequestInit::new();
        init.with_method(method);
        if let Some(body) = body {
            set("content-type", "application/json")?;
            let json = serde_json::to_string(body).map_err(PageError::internal)?;
            init.with_body(Some(json.into()));
        }
        init.with_headers(headers);
        let request = Request::new_with_init(&format!("{ORIGIN}{path_and_query}"), &init).map_err(PageError::internal)?;
        let mut response = match router::route(&request, self.env, self.request_id).await {
            Ok(response) => response,
            Err(error) => return answer_refused(error),
        };
        for (name, value) in response.headers().entries() {
            if name.eq_ignore_ascii_case("set-cookie") {
                self.set_cookie(value);
            }
        }
        let status = response.status_code();
        let text = response.text().await.map_err(PageError::internal)?;
        if (200..300).contains(&status) {
            // 204s have no body; callers expecting nothing ask for `()`-like types that accept `null`.
            let text = if text.is_empty() { "null" } else { text.as_str() };
            return serde_json::from_str(text).map(Ok).map_err(|error| {
                PageError::internal(format!("{path_and_query} answered JSON the page cannot read: {error}"))
            });
        }
        match serde_json::from_str::<ErrorEnvelope>(&text) {
            Ok(envelope) => {
                let error = envelope.error;
                answer_refused(ApiError { code: error.code, message: error.message, details: error.details })
            }
            Err(_) => Err(PageError::internal(format!("{path_and_query} answered {status} without an envelope"))),
        }
    }
}

/// A 4xx is the API's answer to this shopper; anything else is the page's failure.
fn answer_refused<T>(error: ApiError) -> Result<ApiResult<T>, PageError> {
    match error.status() {
        400..=499 => Ok(Err(error)),
        _ if error.code == ErrorCode::DependencyUnavailable => Err(PageError::Unavailable),
        _ => Err(PageError::Api(error)),
    }
}
