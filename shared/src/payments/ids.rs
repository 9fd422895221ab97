//! Payment-side ids. Journals and their entries are derived from what they record (a group's
//! capture, a refund, a payout), so writing a journal again after a crash is a no-op.

use crate::catalog::ids::prefixed_id;
use crate::ids::derived_entropy;
use crate::orders::OrderGroupId;

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
    /// `pout_…`: one payout of a vendor's balance.
    PayoutId,
    "pout"
);
prefixed_id!(
    /// `jrnl_…`: one balanced ledger journal.
    JournalId,
    "jrnl"
);
prefixed_id!(
    /// `lent_…`: one posting of a journal.
    LedgerEntryId,
    "lent"
);

impl PaymentId {
    /// An order group is paid once.
    pub fn for_group(group: &OrderGroupId) -> Self {
        Self::generate(group.timestamp_ms(), derived_entropy(&[group.as_str(), "payment"]))
    }
}

impl JournalId {
    /// The journal recording `what` (`"captured"`, `"commission"`, `"refund"`…) of `parent`.
    pub(crate) fn derived(parent: &str, parent_ms: u64, what: &str) -> Self {
        Self::generate(parent_ms, derived_entropy(&[parent, what]))
    }
}

impl LedgerEntryId {
    /// The `index`th posting of `journal`.
    pub fn of(journal: &JournalId, index: usize) -> Self {
        Self::generate(journal.timestamp_ms(), derived_entropy(&[journal.as_str(), &index.to_string()]))
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
    fn derived_ids_are_stable() {
        let group = OrderGroupId::generate(1_763_700_000_000, [1; 10]);
        assert_eq!(PaymentId::for_group(&group), PaymentId::for_group(&group));
        assert_eq!(PaymentId::for_group(&group).timestamp_ms(), 1_763_700_000_000);
        let journal = JournalId::derived(group.as_str(), group.timestamp_ms(), "captured");
        assert_ne!(journal, JournalId::derived(group.as_str(), group.timestamp_ms(), "commission"));
        assert_ne!(LedgerEntryId::of(&journal, 0), LedgerEntryId::of(&journal, 1));
    }

    #[test]
    fn provider_ids_are_plain() {
        assert_eq!(PspReference::parse("pi_3MtwBwLkdIwHu7ix28a3tqPa").unwrap().as_str(), "pi_3MtwBwLkdIwHu7ix28a3tqPa");
        for bad in ["", "pi 1", "pi_1\n", &"x".repeat(MAX_PSP_REFERENCE_LEN + 1)] {
            assert_eq!(PspReference::parse(bad), Err(PspReferenceError), "{bad:?}");
        }
    }
}
