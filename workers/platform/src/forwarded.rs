//! Who is calling, as the gateway tells the internal Workers behind its service bindings. Both
//! halves live here so writer and reader cannot drift: the gateway drops whatever a caller sent
//! under these names and writes what it verified; internal Workers, reachable only through the
//! gateway, trust them.

use shared::api::{ApiError, ErrorCode};
use shared::identity::access_token::{Role, VerifiedIdentity};
pub use shared::identity::principal::Principal;
use worker::{Headers, Request};

use crate::respond::REQUEST_ID_HEADER;

pub const HEADER_USER_ID: &str = "x-auth-user-id";
pub const HEADER_ROLE: &str = "x-auth-role";
pub const HEADER_VENDOR_ID: &str = "x-auth-vendor-id";
pub const HEADER_SCOPE: &str = "x-auth-scope";
pub const HEADER_CLIENT_IP: &str = "x-client-ip";

pub const AUTH_HEADERS: [&str; 4] = [HEADER_USER_ID, HEADER_ROLE, HEADER_VENDOR_ID, HEADER_SCOPE];

/// The gateway's half: replaces any caller-supplied `x-auth-*` with the verified identity.
pub fn stamp(
    headers: &mut Headers,
    identity: Option<&VerifiedIdentity>,
    client_ip: &str,
    request_id: &str,
) -> worker::Result<()> {
    for name in AUTH_HEADERS {
        headers.delete(name)?;
    }
    headers.set(REQUEST_ID_HEADER, request_id)?;
    headers.set(HEADER_CLIENT_IP, client_ip)?;
    if let Some(identity) = identity {
        let scope: Vec<&str> = identity.roles.iter().map(|role| role.as_str()).collect();
        headers.set(HEADER_USER_ID, &identity.user_id)?;
        headers.set(HEADER_ROLE, identity.role.as_str())?;
        headers.set(HEADER_SCOPE, &scope.join(" "))?;
        if let Some(vendor_id) = &identity.vendor_id {
            headers.set(HEADER_VENDOR_ID, vendor_id)?;
        }
    }
    Ok(())
}

/// The client address the gateway saw, for per-IP rate limits; empty if it sent none.
pub fn client_ip(request: &Request) -> String {
    request.headers().get(HEADER_CLIENT_IP).ok().flatten().unwrap_or_default()
}

/// The signed-in user the gateway verified from the access token; `AUTH_1004` when it sent none
/// (the route was reached without authentication), `AUTH_1005` when the headers are not the gateway's.
pub fn principal(request: &Request) -> Result<Principal, ApiError> {
    let header = |name: &str| request.headers().get(name).ok().flatten().filter(|value| !value.is_empty());
    let invalid = || ApiError::new(ErrorCode::TokenInvalid, "the access token is invalid");
    let user_id =
        header(HEADER_USER_ID).ok_or_else(|| ApiError::new(ErrorCode::TokenMissing, "an access token is required"))?;
    let role = header(HEADER_ROLE).and_then(|role| role.parse::<Role>().ok()).ok_or_else(invalid)?;
    let roles = match header(HEADER_SCOPE) {
        Some(scope) => {
            scope.split(' ').map(str::parse::<Role>).collect::<Result<Vec<_>, _>>().map_err(|_| invalid())?
        }
        None => vec![role],
    };
    Principal::new(user_id, role, header(HEADER_VENDOR_ID), roles).map_err(|_| invalid())
}
