//! The incoming request as handlers need it: a bounded body, the caller's address, and who the
//! gateway says is signed in. The headers are trusted because this Worker has no public route:
//! only the gateway reaches it, through its service binding, after verifying the access token.

use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;
use shared::api::ErrorCode;
use shared::identity::access_token::{Role, USER_ID_PREFIX};
use worker::Request;

use crate::respond::Failure;

/// Every identity body is a few short fields; 16 KiB is generous and bounds parsing work.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub const HEADER_USER_ID: &str = "x-auth-user-id";
pub const HEADER_ROLE: &str = "x-auth-role";
pub const HEADER_VENDOR_ID: &str = "x-auth-vendor-id";
pub const HEADER_SCOPE: &str = "x-auth-scope";
pub const HEADER_CLIENT_IP: &str = "x-client-ip";

/// Reads at most `MAX_BODY_BYTES`, refusing more without reading the rest.
pub async fn read_body(request: &mut Request) -> Result<Vec<u8>, Failure> {
    let too_large =
        || Failure::new(ErrorCode::InvalidRequest, format!("the request body is larger than {MAX_BODY_BYTES} bytes"));
    let declared =
        request.headers().get("content-length").ok().flatten().and_then(|length| length.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    // GET and body-less requests have no stream.
    let Ok(mut stream) = request.stream() else { return Ok(Vec::new()) };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|error| Failure::new(ErrorCode::InvalidRequest, format!("cannot read body: {error}")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body as `T`; malformed JSON or wrong types are `VAL_3001`.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(body)
        .map_err(|error| Failure::new(ErrorCode::InvalidRequest, format!("invalid JSON body: {error}")))
}

/// The client address the gateway saw, for per-IP rate limits.
pub fn client_ip(request: &Request) -> String {
    request.headers().get(HEADER_CLIENT_IP).ok().flatten().unwrap_or_default()
}

/// The signed-in user, as the gateway verified from the access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub role: Role,
    pub vendor_id: Option<String>,
    /// Every role in the token, least privileged first.
    pub roles: Vec<Role>,
}

impl Principal {
    /// `AUTH_1004` when the gateway sent no user: the route was reached without authentication.
    pub fn from_headers(request: &Request) -> Result<Self, Failure> {
        let header = |name: &str| request.headers().get(name).ok().flatten().filter(|value| !value.is_empty());
        let missing = || Failure::new(ErrorCode::TokenMissing, "an access token is required");
        let invalid = || Failure::new(ErrorCode::TokenInvalid, "the access token is invalid");
        let user_id = header(HEADER_USER_ID).ok_or_else(missing)?;
        if !user_id.starts_with(USER_ID_PREFIX) {
            return Err(invalid());
        }
        let role = header(HEADER_ROLE).and_then(|role| role.parse::<Role>().ok()).ok_or_else(invalid)?;
        let mut roles = match header(HEADER_SCOPE) {
            Some(scope) => {
                scope.split(' ').map(str::parse::<Role>).collect::<Result<Vec<_>, _>>().map_err(|_| invalid())?
            }
            None => vec![role],
        };
        roles.sort_unstable();
        roles.dedup();
        Ok(Self { user_id, role, vendor_id: header(HEADER_VENDOR_ID), roles })
    }

    /// Both the primary role and the scope must say so; a mismatch means a header was not the gateway's.
    pub fn is_platform_admin(&self) -> bool {
        self.role == Role::PlatformAdmin && self.roles.contains(&Role::PlatformAdmin)
    }
}
