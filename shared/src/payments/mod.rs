//! The payments domain (issue 6), pure: commission frozen per order line, the split of a paid
//! order group between vendors and the platform, the double-entry ledger and payouts; and
//! [`stripe`], the provider adapter (a protocol client over `HttpTransport`, plus webhook checks).
//!
//! The domain modules have no clock and no I/O: the `payments` component passes in the rules, the
//! stored entries and the time. `stripe` reaches the network only through the transport it is given.
//! [`api`] is the component's internal API (the bodies the `orders` saga sends), [`status`] our
//! record of a payment's state.

pub mod api;
pub mod commission;
pub mod ids;
pub mod ledger;
pub mod payout;
pub mod split;
pub mod status;
pub mod stripe;

pub use commission::{CommissionLine, CommissionRules, RuleSource, assess};
pub use ids::{PaymentId, PayoutId, PspReference, PspReferenceError, RefundId};
pub use ledger::{
    Account, AccountError, Journal, JournalKind, LedgerError, Posting, Reversal, payment, payout, refund, refund_of,
    reversal,
};
pub use payout::{HoldPeriod, HoldPeriodError, PayableEntry, available_for_payout};
pub use split::{Split, SplitError, VendorSplit, split};
pub use status::{PaymentStatus, PaymentStatusError};
