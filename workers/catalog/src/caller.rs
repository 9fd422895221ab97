//! Who may call the vendor and admin routes. The gateway already checked the role from its route
//! table; this is the catalog's own check, and the only source of the vendor id (the token).

use shared::api::{ApiError, ErrorCode};
use shared::catalog::VendorId;
use worker::Request;
use worker_platform::forwarded;

use crate::respond::Failure;

/// The vendor the verified token acts for; a vendor id in a body or query is never read.
pub fn acting_vendor(request: &Request) -> Result<VendorId, Failure> {
    let principal = forwarded::principal(request)?;
    let vendor = principal.acting_vendor()?;
    VendorId::parse(vendor).map_err(|_| Failure::new(ErrorCode::Forbidden, "the token names no valid vendor"))
}

pub fn platform_admin(request: &Request) -> Result<(), Failure> {
    if forwarded::principal(request)?.is_platform_admin() {
        Ok(())
    } else {
        Err(Failure::from(ApiError::new(ErrorCode::Forbidden, "this needs a platform admin")))
    }
}
