//! The verified caller, as the gateway hands it on to the services behind it: to internal Workers in
//! headers (`worker_platform::forwarded`), to Spin inside the signed body (`crate::forwarding`).
//! The gateway built it from an access token it verified; receivers trust it only because of the
//! channel (a service binding, or a body the signature covers), never from a client.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::access_token::VerifiedIdentity;
use super::role::{Role, is_plain_id, is_user_id};
use crate::api::{ApiError, ErrorCode};

/// The signed-in user: who, the most privileged role, every role, and the vendor the vendor roles
/// act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPrincipal", into = "RawPrincipal")]
pub struct Principal {
    user_id: String,
    role: Role,
    vendor_id: Option<String>,
    /// Every role in the token, least privileged first.
    roles: Vec<Role>,
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalError {
    #[error("user id must look like usr_…")]
    InvalidUserId,
    #[error("vendor id is empty, too long or has odd characters")]
    InvalidVendorId,
    #[error("the primary role is not among the roles")]
    RoleNotInScope,
}

impl Principal {
    /// `roles` may come in any order and with repeats; `role` must be one of them.
    pub fn new(
        user_id: impl Into<String>,
        role: Role,
        vendor_id: Option<String>,
        roles: Vec<Role>,
    ) -> Result<Self, PrincipalError> {
        let user_id = user_id.into();
        if !is_user_id(&user_id) {
            return Err(PrincipalError::InvalidUserId);
        }
        if vendor_id.as_deref().is_some_and(|vendor| !is_plain_id(vendor)) {
            return Err(PrincipalError::InvalidVendorId);
        }
        let mut roles = roles;
        roles.sort_unstable();
        roles.dedup();
        if !roles.contains(&role) {
            return Err(PrincipalError::RoleNotInScope);
        }
        Ok(Self { user_id, role, vendor_id, roles })
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn vendor_id(&self) -> Option<&str> {
        self.vendor_id.as_deref()
    }

    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Both the primary role and the scope must say so; a mismatch means it was not the gateway's.
    pub fn is_platform_admin(&self) -> bool {
        self.role == Role::PlatformAdmin && self.roles.contains(&Role::PlatformAdmin)
    }

    /// The vendor this caller manages, from the verified token only (never from a body): vendor
    /// admins and vendor staff act for the vendor their token names; anyone else gets `AUTHZ_2001`.
    pub fn acting_vendor(&self) -> Result<&str, ApiError> {
        let is_vendor = self.roles.iter().any(|role| role.is_vendor_role());
        match (&self.vendor_id, is_vendor) {
            (Some(vendor_id), true) => Ok(vendor_id),
            _ => Err(ApiError::new(ErrorCode::Forbidden, "this needs a vendor account")),
        }
    }
}

/// Identity's tokens always pass; an `Err` means a token broke the rules above (treat it as invalid).
impl TryFrom<&VerifiedIdentity> for Principal {
    type Error = PrincipalError;

    fn try_from(identity: &VerifiedIdentity) -> Result<Self, Self::Error> {
        Principal::new(identity.user_id.clone(), identity.role, identity.vendor_id.clone(), identity.roles.clone())
    }
}

/// The wire form: the token's claim names (`sub` is `user_id` here, `scope` is `roles`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    user_id: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vendor_id: Option<String>,
    roles: Vec<Role>,
}

impl TryFrom<RawPrincipal> for Principal {
    type Error = PrincipalError;

    fn try_from(raw: RawPrincipal) -> Result<Self, Self::Error> {
        Principal::new(raw.user_id, raw.role, raw.vendor_id, raw.roles)
    }
}

impl From<Principal> for RawPrincipal {
    fn from(principal: Principal) -> Self {
        Self {
            user_id: principal.user_id,
            role: principal.role,
            vendor_id: principal.vendor_id,
            roles: principal.roles,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const USER: &str = "usr_01JC0000000000000000000001";
    const VENDOR: &str = "ven_01JC0000000000000000000001";

    #[test]
    fn vendor_staff_act_for_their_vendor_only() {
        let staff =
            Principal::new(USER, Role::VendorStaff, Some(VENDOR.into()), vec![Role::Customer, Role::VendorStaff])
                .unwrap();
        assert_eq!(staff.acting_vendor(), Ok(VENDOR));
        assert!(!staff.is_platform_admin());

        let shopper = Principal::new(USER, Role::Customer, None, vec![Role::Customer]).unwrap();
        assert_eq!(shopper.acting_vendor().unwrap_err().code, ErrorCode::Forbidden);
        // A vendor id without a vendor role acts for nobody.
        let odd = Principal::new(USER, Role::Customer, Some(VENDOR.into()), vec![Role::Customer]).unwrap();
        assert!(odd.acting_vendor().is_err());
    }

    #[test]
    fn the_wire_form_round_trips_and_refuses_what_the_gateway_never_sends() {
        let admin = Principal::new(USER, Role::PlatformAdmin, None, vec![Role::PlatformAdmin, Role::Customer]).unwrap();
        let wire = serde_json::to_value(&admin).unwrap();
        assert_eq!(wire, json!({"user_id": USER, "role": "platform_admin", "roles": ["customer", "platform_admin"]}));
        assert_eq!(serde_json::from_value::<Principal>(wire).unwrap(), admin);
        assert!(admin.is_platform_admin());

        for bad in [
            json!({"user_id": "admin", "role": "customer", "roles": ["customer"]}),
            json!({"user_id": USER, "role": "platform_admin", "roles": ["customer"]}),
            json!({"user_id": USER, "role": "vendor_admin", "vendor_id": "ven 1", "roles": ["vendor_admin"]}),
            json!({"user_id": USER, "role": "customer", "roles": ["customer"], "extra": 1}),
        ] {
            assert!(serde_json::from_value::<Principal>(bad.clone()).is_err(), "{bad}");
        }
    }
}
