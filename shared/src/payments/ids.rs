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
