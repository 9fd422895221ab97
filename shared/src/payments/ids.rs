//! Payment-side ids. The payment's is derived from its order group's, so creating it again after
//! a crash names the same row.

use crate::catalog::ids::prefixed_id;
use crate::idempotency::IdempotencyKey;
use crate::ids::derived_entropy;
use crate::orders::{OrderGroupId, OrderId};

prefixed_id!(
    /// `pay_…`: our record of the one payment of an order group.
    PaymentId,
    "pay"
);
prefixed_id!(
    /// `rfd_…`: one refund of (part of) one order.
    RefundId,
    "rfd"
);
prefixed_id!(
    /// `pyo_…`: one payout of a vendor's balance.
    PayoutId,
    "pyo"
);

impl PaymentId {
    /// An order group is paid once.
    pub fn for_group(group: &OrderGroupId) -> Self {
        Self::generate(group.timestamp_ms(), derived_entropy(&[group.as_str(), "payment"]))
    }
}

impl RefundId {
    /// A refund of `order` requested under `key`: asking again with the same key names the same
    /// refund, so it is made once.
    pub fn for_request(order: &OrderId, key: &IdempotencyKey) -> Self {
        Self::generate(order.timestamp_ms(), derived_entropy(&[order.as_str(), "refund", key.as_str()]))
    }
}

/// The payment provider's id of an object (`pi_3Mtw…`, `ch_3Mtw…`, `re_…`): opaque, kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PspReference(String);

/// Stripe ids are well under this; it bounds what a webhook can make us store.
pub const MAX_PSP_REFERENCE_LEN: usize = 255;

#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
#[error("a provider id is 1 to {MAX_PSP_REFERENCE_LEN} letters, digits, '_' or '-'")]
pub struct PspReferenceError;

impl PspReference {
    pub fn parse(input: &str) -> Result<Self, PspReferenceError> {
        let plain = input.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if plain && (1..=MAX_PSP_REFERENCE_LEN).contains(&input.len()) {
            Ok(Self(input.to_owned()))
        } else {
            Err(PspReferenceError)
        }
    }
}

crate::newtype::string_newtype!(PspReference, PspReferenceError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_groups_payment_id_is_stable() {
        let group = OrderGroupId::generate(1_763_700_000_000, [1; 10]);
        assert_eq!(PaymentId::for_group(&group), PaymentId::for_group(&group));
        assert_ne!(
            PaymentId::for_group(&group),
            PaymentId::for_group(&OrderGroupId::generate(1_763_700_000_000, [2; 10]))
        );
        assert_eq!(PaymentId::for_group(&group).timestamp_ms(), 1_763_700_000_000);
    }

    #[test]
    fn a_refund_id_is_a_function_of_its_order_and_key() {
        let order = OrderId::generate(1_763_700_000_000, [1; 10]);
        let key = |k: &str| IdempotencyKey::parse(k).unwrap();
        let id = RefundId::for_request(&order, &key("cancel-1"));
        assert_eq!(id, RefundId::for_request(&order, &key("cancel-1")));
        assert_ne!(id, RefundId::for_request(&order, &key("cancel-2")));
        assert_ne!(id, RefundId::for_request(&OrderId::generate(1_763_700_000_000, [2; 10]), &key("cancel-1")));
    }

    #[test]
    fn provider_ids_are_plain() {
        assert_eq!(PspReference::parse("pi_3MtwBwLkdIwHu7ix28a3tqPa").unwrap().as_str(), "pi_3MtwBwLkdIwHu7ix28a3tqPa");
        for bad in ["", "pi 1", "pi_1\n", &"x".repeat(MAX_PSP_REFERENCE_LEN + 1)] {
            assert_eq!(PspReference::parse(bad), Err(PspReferenceError), "{bad:?}");
        }
    }
}
