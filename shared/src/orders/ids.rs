//! Order ids. An order's id is derived from its group's and its vendor's, so rebuilding a group
//! after a crash names the same rows (the insert is then a no-op, never a second order).

use crate::catalog::VendorId;
use crate::catalog::ids::prefixed_id;
use crate::ids::derived_entropy;

prefixed_id!(
    /// `usr_…`: the identity user who checks out (the access token's `sub`).
    BuyerId,
    "usr"
);
prefixed_id!(
    /// `grp_…`: one checkout: everything a buyer paid for at once.
    OrderGroupId,
    "grp"
);
prefixed_id!(
    /// `ord_…`: the part of an order group one vendor fulfils.
    OrderId,
    "ord"
);

impl OrderId {
    /// The order of `vendor` in `group`; the same inputs give the same id.
    pub fn for_vendor(group: &OrderGroupId, vendor: &VendorId) -> Self {
        Self::generate(group.timestamp_ms(), derived_entropy(&[group.as_str(), vendor.as_str()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_id_is_a_function_of_its_group_and_vendor() {
        let group = OrderGroupId::generate(1_763_700_000_000, [3; 10]);
        let other_group = OrderGroupId::generate(1_763_700_000_000, [4; 10]);
        let vendor = VendorId::parse("ven_01JC00000000000000000000A1").unwrap();
        let other_vendor = VendorId::parse("ven_01JC00000000000000000000A2").unwrap();
        let id = OrderId::for_vendor(&group, &vendor);
        assert_eq!(id, OrderId::for_vendor(&group, &vendor));
        assert_ne!(id, OrderId::for_vendor(&group, &other_vendor));
        assert_ne!(id, OrderId::for_vendor(&other_group, &vendor));
        assert_eq!(id.timestamp_ms(), 1_763_700_000_000);
        assert_eq!(OrderId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn buyer_ids_are_identity_user_ids() {
        assert!(BuyerId::parse("usr_01JC00000000000000000000A1").is_ok());
        assert!(BuyerId::parse("ven_01JC00000000000000000000A1").is_err());
    }
}
