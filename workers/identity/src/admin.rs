//! Role grants, for platform admins only: `POST` grants, `DELETE` revokes.

use serde::{Deserialize, Serialize};
use shared::api::ErrorCode;
use shared::identity::access_token::{GrantError, Role, RoleGrant, USER_ID_PREFIX};
use worker_platform::forwarded::Principal;

use crate::respond::{Failure, Outcome, Reply};
use crate::services::Services;
use crate::store::{GrantOutcome, RevokeOutcome};

#[derive(Deserialize)]
pub struct RoleBody {
    user_id: String,
    role: String,
    #[serde(default)]
    vendor_id: Option<String>,
}

#[derive(Serialize)]
struct GrantView<'a> {
    user_id: &'a str,
    role: Role,
    vendor_id: Option<&'a str>,
}

/// `POST /api/v1/auth/admin/roles` → 201 when granted, 200 when already held. Takes effect at the
/// user's next token (login or refresh, within the access token's 15 minutes).
pub async fn grant(services: &Services, principal: &Principal, body: RoleBody) -> Outcome {
    require_platform_admin(principal)?;
    let (user_id, grant) = parse(body)?;
    let status = match services.store.grant_role(&user_id, &grant).await? {
        GrantOutcome::Granted => 201,
        GrantOutcome::AlreadyHeld => 200,
        GrantOutcome::UnknownUser => return Err(Failure::invalid_fields(&[("user_id", "unknown_user")])),
    };
    worker::console_log!("{} granted {} to {user_id}", principal.user_id(), grant.role());
    Reply::json(status, &GrantView { user_id: &user_id, role: grant.role(), vendor_id: grant.vendor_id() })
}

/// `DELETE /api/v1/auth/admin/roles` → 204 (also when the grant was not held). A user keeps at
/// least one role, and an admin cannot drop their own `platform_admin` (no lock-out by mistake).
pub async fn revoke(services: &Services, principal: &Principal, body: RoleBody) -> Outcome {
    require_platform_admin(principal)?;
    let (user_id, grant) = parse(body)?;
    if user_id == principal.user_id() && grant.role() == Role::PlatformAdmin {
        return Err(Failure::new(ErrorCode::Conflict, "you cannot revoke your own platform_admin role"));
    }
    match services.store.revoke_role(&user_id, &grant).await? {
        RevokeOutcome::Revoked => {
            worker::console_log!("{} revoked {} from {user_id}", principal.user_id(), grant.role());
            Ok(Reply::no_content())
        }
        RevokeOutcome::NotHeld => Ok(Reply::no_content()),
        RevokeOutcome::LastRole => Err(Failure::new(ErrorCode::Conflict, "this is the user's only role")),
    }
}

/// The gateway checks this too; the Worker does not rely on it.
fn require_platform_admin(principal: &Principal) -> Result<(), Failure> {
    if principal.is_platform_admin() {
        Ok(())
    } else {
        Err(Failure::new(ErrorCode::Forbidden, "only platform admins can change roles"))
    }
}

fn parse(body: RoleBody) -> Result<(String, RoleGrant), Failure> {
    let user_id = body.user_id.trim().to_owned();
    if !user_id.starts_with(USER_ID_PREFIX) || user_id.len() > 64 {
        return Err(Failure::invalid_fields(&[("user_id", GrantError::InvalidUserId.reason())]));
    }
    let role = body.role.parse::<Role>().map_err(|_| Failure::invalid_fields(&[("role", "unknown_role")]))?;
    let vendor_id = body.vendor_id.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty());
    let grant = RoleGrant::new(role, vendor_id).map_err(|error| {
        let field = if matches!(
            error,
            GrantError::VendorMissing(_) | GrantError::UnexpectedVendor(_) | GrantError::InvalidVendorId
        ) {
            "vendor_id"
        } else {
            "role"
        };
        Failure::invalid_fields(&[(field, error.reason())])
    })?;
    Ok((user_id, grant))
}
