//! Roles (DESIGN §6) and who holds them: `customer`, `vendor_staff`, `vendor_admin`, `platform_admin`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Prefix of user ids (`usr_01J…`), the `sub` of every access token.
pub const USER_ID_PREFIX: &str = "usr_";
/// Ids are prefixed ULIDs (26 chars) in practice; this only bounds hostile input.
const MAX_ID_LEN: usize = 64;

/// Declared from least to most privileged: the derived order picks a token's primary role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    VendorStaff,
    VendorAdmin,
    PlatformAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Customer, Role::VendorStaff, Role::VendorAdmin, Role::PlatformAdmin];

    /// The wire and database name (`identity.role_grants.role`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::VendorStaff => "vendor_staff",
            Role::VendorAdmin => "vendor_admin",
            Role::PlatformAdmin => "platform_admin",
        }
    }

    /// Vendor roles act for exactly one vendor.
    pub fn is_vendor_role(self) -> bool {
        matches!(self, Role::VendorStaff | Role::VendorAdmin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|role| role.as_str() == text).ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum GrantError {
    #[error("{0} needs a vendor_id")]
    VendorMissing(Role),
    #[error("{0} must not carry a vendor_id")]
    UnexpectedVendor(Role),
    #[error("vendor_id is empty, too long or has odd characters")]
    InvalidVendorId,
    #[error("user id must look like usr_…")]
    InvalidUserId,
    #[error("an identity needs at least one role")]
    NoRoles,
    /// One token acts for one vendor; callers pick the vendor before issuing.
    #[error("vendor roles for more than one vendor")]
    SeveralVendors,
}

impl GrantError {
    /// Stable machine-readable reason for `details`.
    pub fn reason(self) -> &'static str {
        match self {
            GrantError::VendorMissing(_) => "vendor_missing",
            GrantError::UnexpectedVendor(_) => "unexpected_vendor",
            GrantError::InvalidVendorId => "invalid_vendor_id",
            GrantError::InvalidUserId => "invalid_user_id",
            GrantError::NoRoles => "no_roles",
            GrantError::SeveralVendors => "several_vendors",
        }
    }
}

/// One role held by a user; vendor roles name their vendor, the others must not (the same rule as
/// the `identity.role_grants` CHECK constraint).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawGrant")]
pub struct RoleGrant {
    role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_id: Option<String>,
}

#[derive(Deserialize)]
struct RawGrant {
    role: Role,
    #[serde(default)]
    vendor_id: Option<String>,
}

impl TryFrom<RawGrant> for RoleGrant {
    type Error = GrantError;

    fn try_from(raw: RawGrant) -> Result<Self, Self::Error> {
        RoleGrant::new(raw.role, raw.vendor_id)
    }
}

impl RoleGrant {
    pub fn new(role: Role, vendor_id: Option<String>) -> Result<Self, GrantError> {
        match (role.is_vendor_role(), vendor_id) {
            (true, None) => Err(GrantError::VendorMissing(role)),
            (false, Some(_)) => Err(GrantError::UnexpectedVendor(role)),
            (true, Some(vendor_id)) if !is_plain_id(&vendor_id) => Err(GrantError::InvalidVendorId),
            (_, vendor_id) => Ok(Self { role, vendor_id }),
        }
    }

    pub fn customer() -> Self {
        Self { role: Role::Customer, vendor_id: None }
    }

    pub fn platform_admin() -> Self {
        Self { role: Role::PlatformAdmin, vendor_id: None }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn vendor_id(&self) -> Option<&str> {
        self.vendor_id.as_deref()
    }
}

/// Who a token is issued to: a user and the grants it carries, all for at most one vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    user_id: String,
    grants: Vec<RoleGrant>,
}

impl Identity {
    /// A user who staffs several vendors gets one token per vendor: filter `grants` to the vendor
    /// the session acts for before calling this.
    pub fn new(user_id: impl Into<String>, grants: Vec<RoleGrant>) -> Result<Self, GrantError> {
        let user_id = user_id.into();
        if !is_user_id(&user_id) {
            return Err(GrantError::InvalidUserId);
        }
        if grants.is_empty() {
            return Err(GrantError::NoRoles);
        }
        let mut vendors = grants.iter().filter_map(RoleGrant::vendor_id);
        if let Some(first) = vendors.next()
            && vendors.any(|other| other != first)
        {
            return Err(GrantError::SeveralVendors);
        }
        Ok(Self { user_id, grants })
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    pub fn grants(&self) -> &[RoleGrant] {
        &self.grants
    }

    /// The most privileged role held (`role` claim).
    pub fn primary_role(&self) -> Role {
        self.grants.iter().map(RoleGrant::role).max().unwrap_or(Role::Customer)
    }

    /// Distinct roles, least privileged first (`scope` claim).
    pub fn roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = self.grants.iter().map(RoleGrant::role).collect();
        roles.sort_unstable();
        roles.dedup();
        roles
    }

    /// The vendor the vendor roles act for (`vendor_id` claim).
    pub fn vendor_id(&self) -> Option<&str> {
        self.grants.iter().find_map(RoleGrant::vendor_id)
    }
}

/// `usr_` and a plain id after it: what a token's `sub` must be.
pub(crate) fn is_user_id(id: &str) -> bool {
    id.len() > USER_ID_PREFIX.len() && id.starts_with(USER_ID_PREFIX) && is_plain_id(id)
}

/// Letters, digits, `_` and `-`, 1 to `MAX_ID_LEN` bytes: a user or vendor id as our ids look.
pub(crate) fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vendor(role: Role, vendor: &str) -> RoleGrant {
        RoleGrant::new(role, Some(vendor.into())).unwrap()
    }

    #[test]
    fn roles_order_from_customer_to_platform_admin() {
        assert!(Role::Customer < Role::VendorStaff);
        assert!(Role::VendorStaff < Role::VendorAdmin);
        assert!(Role::VendorAdmin < Role::PlatformAdmin);
    }

    #[test]
    fn roles_use_snake_case_on_the_wire() {
        for role in Role::ALL {
            assert_eq!(serde_json::to_value(role).unwrap(), serde_json::json!(role.as_str()));
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn vendor_roles_need_a_vendor_and_others_refuse_one() {
        assert_eq!(RoleGrant::new(Role::VendorAdmin, None), Err(GrantError::VendorMissing(Role::VendorAdmin)));
        assert_eq!(
            RoleGrant::new(Role::Customer, Some("ven_1".into())),
            Err(GrantError::UnexpectedVendor(Role::Customer))
        );
        assert_eq!(RoleGrant::new(Role::VendorStaff, Some(String::new())), Err(GrantError::InvalidVendorId));
        assert_eq!(vendor(Role::VendorStaff, "ven_1").vendor_id(), Some("ven_1"));
    }

    #[test]
    fn deserialising_a_grant_validates_it() {
        let bad: Result<RoleGrant, _> = serde_json::from_value(serde_json::json!({"role": "vendor_admin"}));
        assert!(bad.is_err());
        let good: RoleGrant =
            serde_json::from_value(serde_json::json!({"role": "vendor_admin", "vendor_id": "ven_1"})).unwrap();
        assert_eq!(good, vendor(Role::VendorAdmin, "ven_1"));
    }

    #[test]
    fn identity_picks_the_highest_role_and_lists_roles_in_order() {
        let identity = Identity::new(
            "usr_1",
            vec![vendor(Role::VendorAdmin, "ven_1"), RoleGrant::customer(), vendor(Role::VendorStaff, "ven_1")],
        )
        .unwrap();
        assert_eq!(identity.primary_role(), Role::VendorAdmin);
        assert_eq!(identity.roles(), vec![Role::Customer, Role::VendorStaff, Role::VendorAdmin]);
        assert_eq!(identity.vendor_id(), Some("ven_1"));
    }

    #[test]
    fn identity_refuses_bad_users_no_roles_and_two_vendors() {
        assert_eq!(Identity::new("user_1", vec![RoleGrant::customer()]), Err(GrantError::InvalidUserId));
        assert_eq!(Identity::new("usr_", vec![RoleGrant::customer()]), Err(GrantError::InvalidUserId));
        assert_eq!(Identity::new("usr_1", vec![]), Err(GrantError::NoRoles));
        assert_eq!(
            Identity::new("usr_1", vec![vendor(Role::VendorAdmin, "ven_1"), vendor(Role::VendorStaff, "ven_2")]),
            Err(GrantError::SeveralVendors)
        );
    }
}
