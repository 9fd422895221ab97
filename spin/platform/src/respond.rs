//! Reading requests and writing JSON responses, including DESIGN §8's error envelope:
//! `{"error":{"code":"AUTH_1002","message":"…","requestId":"…"}}`.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt as _, Limited};
use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::ids;
use shared::neon::NeonError;
use spin_sdk::http::{FullBody, Request};

/// What every handler returns.
pub type Response = http::Response<FullBody<Bytes>>;

/// Largest request body a component reads (webhook events and API payloads are a few KB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request with its body read, so signatures can hash the exact bytes that arrived.
#[derive(Debug)]
pub struct Received {
    pub parts: http::request::Parts,
    pub body: Bytes,
    pub request_id: String,
}

impl Received {
    pub fn path(&self) -> &str {
        self.parts.uri.path()
    }

    /// Path and query as sent, e.g. `/orders/health?verbose=1`.
    pub fn path_and_query(&self) -> &str {
        self.parts.uri.path_and_query().map_or("/", |pq| pq.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Reads the body (bounded); an oversized or broken body is answered here.
pub async fn receive(request: Request) -> Result<Received, Response> {
    let (parts, body) = request.into_parts();
    let request_id = request_id(&parts.headers);
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(Received { parts, body: collected.to_bytes(), request_id }),
        Err(error) => {
            let error = ApiError::new(
                ErrorCode::InvalidRequest,
                format!("cannot read request body (limit {MAX_BODY_BYTES} bytes): {error}"),
            );
            Err(error_response(&error, &request_id))
        }
    }
}

/// The error envelope with the code's HTTP status and the request id echoed.
pub fn error_response(error: &ApiError, request_id: &str) -> Response {
    json_response(error.status(), &error.clone().into_envelope(request_id), request_id)
}

/// A JSON body with `content-type` and the request id echoed as `x-request-id`.
pub fn json_response(status: u16, value: &impl Serialize, request_id: &str) -> Response {
    // Serialising our own plain structs cannot fail; keep a valid envelope if it ever does.
    let body = serde_json::to_vec(value)
        .unwrap_or_else(|_| br#"{"error":{"code":"SYS_9001","message":"cannot encode response"}}"#.to_vec());
    json_bytes_response(status, body, request_id)
}

/// JSON already encoded (an answer kept to be replayed byte for byte).
pub fn json_bytes_response(status: u16, body: impl Into<Bytes>, request_id: &str) -> Response {
    let mut response = http::Response::new(FullBody::new(body.into()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", value);
    }
    response
}

/// The caller's `x-request-id` when short and plain (safe in logs), else a fresh `req_…` ULID.
pub fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| ids::is_acceptable_request_id(id))
        .map_or_else(|| ids::new_id("req", unix_millis(), entropy()), str::to_owned)
}

/// 80 bits for a ULID. RandomState is seeded from wasi:random per instance, i.e. per request;
/// good enough to keep log ids apart, never used for secrets.
fn entropy() -> ids::Entropy {
    use std::hash::{BuildHasher as _, Hasher as _};
    let draw = || std::collections::hash_map::RandomState::new().build_hasher().finish();
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&draw().to_le_bytes());
    bytes[8..].copy_from_slice(&draw().to_le_bytes()[..2]);
    bytes
}

fn unix_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The database failing: 503 when it may pass (the caller retries), 500 when it is our bug (a bad
/// statement). The cause goes to the log, not to the caller.
pub fn database_failure(error: &NeonError, request_id: &str) -> Response {
    eprintln!("[{request_id}] database: {error}");
    let error = if error.is_transient() || matches!(error, NeonError::Unauthorized { .. }) {
        ApiError::new(ErrorCode::DependencyUnavailable, "the database is unavailable; retry later")
    } else {
        ApiError::new(ErrorCode::Internal, "internal error")
    };
    error_response(&error, request_id)
}

/// A variable is missing or empty: `SYS_9002`, the name in the log only.
pub fn misconfigured(error: &crate::ConfigError, request_id: &str) -> Response {
    eprintln!("[{request_id}] misconfigured: {error}");
    error_response(&ApiError::new(ErrorCode::Misconfigured, "service is misconfigured"), request_id)
}

/// Current unix time in seconds from the wasi wall clock.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_request_ids_are_echoed_and_odd_ones_replaced() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("gw-123:abc"));
        assert_eq!(request_id(&headers), "gw-123:abc");
        headers.insert("x-request-id", HeaderValue::from_static("has space"));
        assert!(request_id(&headers).starts_with("req_"));
    }

    #[test]
    fn errors_carry_their_codes_status() {
        let error = ApiError::new(ErrorCode::SignatureMissing, "no signature");
        let response = error_response(&error, "req_1");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["x-request-id"], "req_1");
        assert_eq!(response.headers()["content-type"], "application/json");
    }
}
