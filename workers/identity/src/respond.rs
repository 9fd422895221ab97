//! What handlers return: a JSON reply, or a failure rendered as the DESIGN §8 envelope.

use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::neon::NeonError;
use worker::{Response, Result};
use worker_platform::respond;

/// A success: status and optional JSON body.
pub struct Reply {
    status: u16,
    body: Option<String>,
    cacheable: bool,
}

impl Reply {
    pub fn json<T: Serialize>(status: u16, body: &T) -> std::result::Result<Self, Failure> {
        let body = serde_json::to_string(body).map_err(|error| Failure::internal(error.to_string()))?;
        Ok(Self { status, body: Some(body), cacheable: false })
    }

    pub fn no_content() -> Self {
        Self { status: 204, body: None, cacheable: false }
    }

    /// Public material (the JWKS) that caches may keep briefly.
    #[must_use]
    pub fn cacheable(mut self) -> Self {
        self.cacheable = true;
        self
    }

    pub fn into_response(self) -> Result<Response> {
        let mut response = match self.body {
            Some(body) => respond::json(self.status, body)?,
            None => Response::empty()?.with_status(self.status),
        };
        // Tokens and account data must not sit in any cache (RFC 6749 §5.1).
        let cache_control = if self.cacheable { "public, max-age=300" } else { "no-store" };
        response.headers_mut().set("cache-control", cache_control)?;
        Ok(response)
    }
}

/// A refusal or an outage, with `Retry-After` when a rate limit said no.
#[derive(Debug)]
pub struct Failure {
    pub error: ApiError,
    pub retry_after_secs: Option<u64>,
}

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::new(code, message).into()
    }

    /// `VAL_3002` naming the fields and why: `{"fields":{"email":"not_one_at"}}`.
    pub fn invalid_fields(fields: &[(&str, &str)]) -> Self {
        let fields: serde_json::Map<String, serde_json::Value> =
            fields.iter().map(|(field, reason)| ((*field).to_owned(), (*reason).into())).collect();
        ApiError::new(ErrorCode::ValidationFailed, "some fields are invalid")
            .with_details(serde_json::json!({ "fields": fields }))
            .into()
    }

    /// Logged in full; the client sees only that something went wrong.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        respond::internal(message).into()
    }

    pub fn unavailable(what: &str, message: impl std::fmt::Display) -> Self {
        respond::unavailable(what, message).into()
    }

    pub fn into_response(self, request_id: &str) -> Result<Response> {
        let mut response = respond::error(&self.error, request_id)?;
        let headers = response.headers_mut();
        headers.set("cache-control", "no-store")?;
        if let Some(seconds) = self.retry_after_secs {
            headers.set("retry-after", &seconds.to_string())?;
        }
        Ok(response)
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self { error, retry_after_secs: None }
    }
}

/// The database failing is an outage when it may pass, a bug otherwise (e.g. a bad statement).
impl From<NeonError> for Failure {
    fn from(error: NeonError) -> Self {
        respond::database_failure(&error).into()
    }
}

pub type Outcome = std::result::Result<Reply, Failure>;
