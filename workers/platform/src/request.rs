//! Reading a request: its body, bounded, and parsed as JSON into the caller's type; its
//! `Idempotency-Key`.

use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;
use shared::api::{ApiError, ErrorCode};
use shared::catalog::FieldErrors;
use shared::idempotency::IdempotencyKey;
use worker::Request;

/// Reads at most `limit` bytes, refusing more without reading the rest: `VAL_3002` naming `body`
/// as `too_large` (the error codes have no 413), whether the length was declared or streamed.
pub async fn read_body(request: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    read_bounded(request, limit).await?.ok_or_else(|| {
        let mut error = FieldErrors::single("body", "too_large").to_api_error();
        error.message = format!("the request body is larger than {limit} bytes");
        error
    })
}

/// The body, or `None` as soon as it is known to be longer than `limit` (by its `Content-Length`,
/// or while streaming): the rest is never read.
pub async fn read_bounded(request: &mut Request, limit: usize) -> Result<Option<Vec<u8>>, ApiError> {
    let declared =
        request.headers().get("content-length").ok().flatten().and_then(|length| length.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Ok(None);
    }
    // GET and body-less requests have no stream.
    let Ok(mut stream) = request.stream() else { return Ok(Some(Vec::new())) };
    let mut body = Vec::with_capacity(declared.unwrap_or_default());
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::new(ErrorCode::InvalidRequest, format!("cannot read body: {error}")))?;
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The body as `T`; malformed JSON or wrong types are `VAL_3001`.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::new(ErrorCode::InvalidRequest, format!("invalid JSON body: {error}")))
}

/// The `Idempotency-Key` header (DESIGN §8), if sent; a malformed one is `VAL_3002` naming it.
pub fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    let header = request.headers().get(IdempotencyKey::HEADER).ok().flatten();
    Ok(header.map(|key| IdempotencyKey::parse(&key)).transpose()?)
}
