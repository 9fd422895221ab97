//! What handlers return: a JSON reply, or a failure rendered as the DESIGN §8 envelope.

use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::catalog::cache::Tag;
use shared::catalog::{FieldErrors, ProductId};
use shared::neon::NeonError;
use worker::{Response, Result};
use worker_platform::respond;

/// A JSON body, its status (200 unless `created`), and the products it shows (its cache tags
/// beyond the route's own).
pub struct Reply {
    status: u16,
    body: String,
    tags: Vec<Tag>,
}

impl Reply {
    pub fn json<T: Serialize>(body: &T) -> std::result::Result<Self, Failure> {
        serde_json::to_string(body).map(Self::encoded).map_err(|error| Failure::internal(error.to_string()))
    }

    /// Already-encoded JSON, sent as is (an idempotent replay answers the stored bytes).
    pub fn encoded(body: String) -> Self {
        Self { status: 200, body, tags: Vec::new() }
    }

    /// 201: the write created what the body describes.
    pub fn created(self) -> Self {
        Self { status: 201, ..self }
    }

    /// A write's answer: never stored by a cache (the public reads go through `cache`).
    pub fn into_response(self) -> Result<Response> {
        let mut response = respond::json(self.status, self.body)?;
        response.headers_mut().set("cache-control", "no-store")?;
        Ok(response)
    }

    /// Lists the products shown, so a change to one of them reaches this response in the cache.
    #[must_use]
    pub fn showing<'a>(mut self, products: impl IntoIterator<Item = &'a ProductId>) -> Self {
        self.tags.extend(products.into_iter().cloned().map(Tag::Product));
        self
    }

    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    pub fn into_body(self) -> String {
        self.body
    }
}

#[derive(Debug)]
pub struct Failure(pub ApiError);

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ApiError::new(code, message))
    }

    /// Logged in full; the client sees only that something went wrong.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self(respond::internal(message))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn into_response(self, request_id: &str) -> Result<Response> {
        let mut response = respond::error(&self.0, request_id)?;
        response.headers_mut().set("cache-control", "no-store")?;
        Ok(response)
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

/// Invalid query parameters: `VAL_3002` naming each field.
impl From<FieldErrors> for Failure {
    fn from(errors: FieldErrors) -> Self {
        Self(errors.to_api_error())
    }
}

/// The database failing is an outage when it may pass, a bug otherwise (e.g. a bad statement).
impl From<NeonError> for Failure {
    fn from(error: NeonError) -> Self {
        Self(respond::database_failure(&error))
    }
}

pub type Outcome = std::result::Result<Reply, Failure>;
