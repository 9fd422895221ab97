//! The pages' way to the data: a call to this gateway's own `/api/v1` routes, made in-process
//! with the shopper's access token and cookies, so a page sees exactly what the API would answer
//! them (same access checks, same caches, same validation).

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{ApiError, ErrorCode, ErrorEnvelope};
use shared::storefront::account::{means_signed_out, token_needs_refresh};
use worker::{Headers, Method, Request, RequestInit};

use super::errors::PageError;
use shared::identity::refresh::TokenPair;

use super::visit::Visit;
use crate::router;
use crate::routes::{self, Access, Lookup};

/// The host of the in-process calls; only the path and query are routed.
const ORIGIN: &str = "https://storefront.internal";

/// What an API call answered: a value, or the API's refusal (a 4xx the page shows the shopper).
pub type ApiResult<T> = Result<T, ApiError>;

impl Visit<'_> {
    /// `GET path_and_query` as this shopper; a refusal is a [`PageError::Api`], or
    /// [`PageError::SignInRequired`] when it says the shopper is not signed in.
    pub async fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, PageError> {
        match self.call(Method::Get, path_and_query, None::<&()>, None).await? {
            Ok(value) => Ok(value),
            Err(error) if means_signed_out(error.code) => Err(self.sign_in_required()),
            Err(error) => Err(PageError::Api(error)),
        }
    }

    /// A write as this shopper. `Ok(Err(…))` is the API refusing it (bad input, out of stock…),
    /// which forms show next to what was typed; `Err` is a failure the page cannot explain, or
    /// [`PageError::SignInRequired`] when the session is gone.
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<ApiResult<T>, PageError> {
        match self.call(method, path, body, idempotency_key).await? {
            Err(error) if means_signed_out(error.code) => Err(self.sign_in_required()),
            answer => Ok(answer),
        }
    }

    /// Sends the shopper to sign in, and back here (or, after a form post, to the page that
    /// posted it) afterwards.
    pub fn sign_in_required(&self) -> PageError {
        PageError::SignInRequired { return_to: self.return_to.clone() }
    }

    /// Calls as the shopper, renewing their session once when the access token has lapsed (the
    /// browser dropped its cookie) or is refused as expired or unreadable: every page gets the
    /// renewal, and the call is made again with the new token (or, when the renewal was refused
    /// and the shopper signed out, without one: a guest may still see a cart).
    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<ApiResult<T>, PageError> {
        let json = body.map(serde_json::to_string).transpose().map_err(PageError::internal)?;
        let lapsed = self.access_token.borrow().is_none() && self.refresh_token.borrow().is_some();
        if lapsed && !self.refresh_tried.get() && reads_the_caller(&method, path_and_query) {
            self.renew_session().await?;
        }
        let answer = self.call_once(method.clone(), path_and_query, json.as_deref(), idempotency_key, true).await?;
        match answer {
            Err(error)
                if token_needs_refresh(error.code)
                    && self.refresh_token.borrow().is_some()
                    && !self.refresh_tried.get() =>
            {
                self.renew_session().await?;
                self.call_once(method, path_and_query, json.as_deref(), idempotency_key, true).await
            }
            answer => Ok(answer),
        }
    }

    /// Rotates the refresh token (`POST /api/v1/auth/refresh`) and holds the new pair; a refused
    /// rotation (revoked, expired, reused) signs the shopper out. Once per visit: a refresh token
    /// presented twice would look like theft and revoke the whole session.
    async fn renew_session(&self) -> Result<(), PageError> {
        self.refresh_tried.set(true);
        let Some(refresh_token) = self.refresh_token.borrow().clone() else { return Ok(()) };
        let body = serde_json::json!({ "refresh_token": refresh_token }).to_string();
        match self.call_once::<TokenPair>(Method::Post, "/api/v1/auth/refresh", Some(&body), None, false).await? {
            Ok(tokens) => self.start_session(&tokens),
            Err(_) => self.end_session(),
        }
        Ok(())
    }

    /// One call to this gateway's own routes; `with_token`: as the shopper (else anonymously).
    async fn call_once<T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        json: Option<&str>,
        idempotency_key: Option<&str>,
        with_token: bool,
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
        if with_token && let Some(token) = self.access_token.borrow().as_deref() {
            set("authorization", &format!("Bearer {token}"))?;
        }
        if let Some(key) = idempotency_key {
            set("idempotency-key", key)?;
        }
        let mut init = RequestInit::new();
        init.with_method(method);
        if let Some(json) = json {
            set("content-type", "application/json")?;
            init.with_body(Some(json.into()));
        }
        init.with_headers(headers);
        let request =
            Request::new_with_init(&format!("{ORIGIN}{path_and_query}"), &init).map_err(PageError::internal)?;
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

/// Whether the route looks at who calls: public reads (the catalog) never renew a session, so
/// their pages set no cookie and stay the same for everyone.
fn reads_the_caller(method: &Method, path_and_query: &str) -> bool {
    let path = path_and_query.split('?').next().unwrap_or_default();
    match routes::find(method, path) {
        Lookup::Found(route) => route.access != Access::Public,
        _ => false,
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
