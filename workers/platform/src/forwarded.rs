//! Who is calling, as the gateway tells the internal Workers behind its service bindings. Both
//! halves live here so writer and reader cannot drift: the gateway drops whatever a caller sent
//! under these names and writes what it verified; internal Workers, reachable only through the
//! gateway, trust them.

use shared::api::{ApiError, ErrorCode};
use shared::identity::access_token::{Role, USER_ID_PREFIX, VerifiedIdentity};
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
    pub fn from_headers(request: &Request) -> Result<Self, ApiError> {
        let header = |name: &str| request.headers().get(name).ok().flatten().filter(|value| !value.is_empty());
        let missing = || ApiError::new(ErrorCode::TokenMissing, "an access token is required");
        let invalid = || ApiError::new(ErrorCode::TokenInvalid, "the access token is invalid");
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

    /// The vendor this caller manages, from the verified token only (never from a body): vendor admins
    /// and vendor staff act for the vendor their token names; anyone else gets `AUTHZ_2001`.
    pub fn acting_vendor(&self) -> Result<&str, ApiError> {
        let is_vendor = self.roles.iter().any(|role| matches!(role, Role::VendorAdmin | Role::VendorStaff));
        match (&self.vendor_id, is_vendor) {
            (Some(vendor_id), true) => Ok(vendor_id),
            _ => Err(ApiError::new(ErrorCode::Forbidden, "this needs a vendor account")),
        }
    }
}
