//! The double-entry ledger (DESIGN §3): every movement of money is a journal of postings that sum
//! to zero. Amounts are signed: a debit is positive, a credit negative.
//!
//! Accounts:
//! - `psp_balance` (asset): the money the payment provider holds for the platform; buyers' payments
//!   come in here, refunds and payouts go out of it.
//! - `vendor_payable:<vendor>` (liability): what the platform owes a vendor; a credit balance.
//! - `platform_revenue` (income): commission earned.
//! - `platform_promotions` (expense): platform coupons, paid to vendors on the buyer's behalf.
//!
//! Refunds and payouts are journals, not accounts: each moves money out of `psp_balance` against
//! the payable and revenue it settles, so an account of their own would only mirror it. The
//! provider's own fees are not booked here.
//!
//! Journal and entry ids derive from what they record (a group's capture, a refund, a payout), so a
//! retried write inserts the same rows and `ON CONFLICT DO NOTHING` makes it a no-op.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{JournalId, LedgerEntryId, PayoutId, RefundId};
use super::split::{Split, VendorSplit};
use crate::catalog::money::MoneyError;
use crate::catalog::{Currency, IdError, Money, VendorId};
use crate::orders::{OrderGroupId, OrderId};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Account {
    PspBalance,
    VendorPayable(VendorId),
    PlatformRevenue,
    PlatformPromotions,
}

const VENDOR_PAYABLE: &str = "vendor_payable:";

impl Account {
    /// The `account` column: `psp_balance`, `vendor_payable:ven_…`, …
    pub fn key(&self) -> String {
        match self {
            Account::PspBalance => "psp_balance".to_owned(),
            Account::VendorPayable(vendor) => format!("{VENDOR_PAYABLE}{vendor}"),
            Account::PlatformRevenue => "platform_revenue".to_owned(),
            Account::PlatformPromotions => "platform_promotions".to_owned(),
        }
    }

    pub fn parse(key: &str) -> Result<Self, IdError> {
        match key {
            "psp_balance" => Ok(Account::PspBalance),
            "platform_revenue" => Ok(Account::PlatformRevenue),
            "platform_promotions" => Ok(Account::PlatformPromotions),
            _ => key
                .strip_prefix(VENDOR_PAYABLE)
                .ok_or(IdError::Invalid)
                .and_then(VendorId::parse)
                .map(Account::VendorPayable),
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

impl TryFrom<String> for Account {
    type Error = IdError;

    fn try_from(key: String) -> Result<Self, Self::Error> {
        Account::parse(&key)
    }
}

impl From<Account> for String {
    fn from(account: Account) -> Self {
        account.key()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: Account,
    /// Debit positive, credit negative.
    pub amount: Money,
    /// The order the movement belongs to; payouts use it to find what is delivered and held long enough.
    pub order_id: Option<OrderId>,
}

/// What a journal records; its id is derived from this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalKind {
    /// The buyer's payment arrived: owed to vendors in full, less the platform's promotions.
    PaymentCaptured {
        group_id: OrderGroupId,
    },
    /// The commission frozen on the group's lines moves from the vendors to the platform.
    CommissionFrozen {
        group_id: OrderGroupId,
    },
    Refund {
        refund_id: RefundId,
        order_id: OrderId,
    },
    Payout {
        payout_id: PayoutId,
        vendor_id: VendorId,
    },
}

impl JournalKind {
    fn journal_id(&self) -> JournalId {
        match self {
            JournalKind::PaymentCaptured { group_id } => {
                JournalId::derived(group_id.as_str(), group_id.timestamp_ms(), "captured")
            }
            JournalKind::CommissionFrozen { group_id } => {
                JournalId::derived(group_id.as_str(), group_id.timestamp_ms(), "commission")
            }
            JournalKind::Refund { refund_id, .. } => {
                JournalId::derived(refund_id.as_str(), refund_id.timestamp_ms(), "refund")
            }
            JournalKind::Payout { payout_id, .. } => {
                JournalId::derived(payout_id.as_str(), payout_id.timestamp_ms(), "payout")
            }
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LedgerError {
    #[error("the postings sum to {0}, not zero")]
    Unbalanced(i128),
    #[error("a journal is in one currency")]
    MixedCurrencies,
    #[error("a refund must be more than zero, in the order's currency")]
    InvalidRefund,
    #[error("at most {refundable} of this order can still be refunded")]
    RefundExceedsCharged { refundable: Money },
    #[error("an amount overflows")]
    Amount(#[from] MoneyError),
}

/// A balanced set of postings. Only built through `Journal::new`, which checks the balance, so a
/// `Journal` that exists sums to zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Journal {
    id: JournalId,
    kind: JournalKind,
    currency: Currency,
    postings: Vec<Posting>,
}

impl Journal {
    /// Zero postings are dropped (a free order moves no money, and that is not an error); the
    /// rest must be in `currency` and sum to zero.
    pub fn new(kind: JournalKind, currency: Currency, postings: Vec<Posting>) -> Result<Journal, LedgerError> {
        let postings: Vec<Posting> = postings.into_iter().filter(|posting| posting.amount.amount_minor != 0).collect();
        if postings.iter().any(|posting| posting.amount.currency != currency) {
            return Err(LedgerError::MixedCurrencies);
        }
        let sum: i128 = postings.iter().map(|posting| i128::from(posting.amount.amount_minor)).sum();
        if sum != 0 {
            return Err(LedgerError::Unbalanced(sum));
        }
        Ok(Journal { id: kind.journal_id(), kind, currency, postings })
    }

    pub fn id(&self) -> &JournalId {
        &self.id
    }

    pub fn kind(&self) -> &JournalKind {
        &self.kind
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// The rows to insert: each posting with its derived id.
    pub fn entries(&self) -> impl Iterator<Item = (LedgerEntryId, &Posting)> {
        self.postings.iter().enumerate().map(|(index, posting)| (LedgerEntryId::of(&self.id, index), posting))
    }
}

fn posting(account: Account, amount: Money, order_id: &OrderId) -> Posting {
    Posting { account, amount, order_id: Some(order_id.clone()) }
}

fn negate(amount: Money) -> Result<Money, MoneyError> {
    Money::zero(amount.currency).checked_sub(amount)
}

/// The payment arrived: cash in; each vendor is owed its payable plus its commission (taken in
/// the next journal); the platform's promotions are its expense.
pub fn payment_captured(split: &Split) -> Result<Journal, LedgerError> {
    let mut postings = vec![Posting { account: Account::PspBalance, amount: split.charged, order_id: None }];
    for vendor in &split.vendors {
        let owed = vendor.payable.checked_add(vendor.commission)?;
        postings.push(posting(Account::VendorPayable(vendor.vendor_id.clone()), negate(owed)?, &vendor.order_id));
        postings.push(posting(Account::PlatformPromotions, vendor.platform_discount, &vendor.order_id));
    }
    Journal::new(JournalKind::PaymentCaptured { group_id: split.group_id.clone() }, split.charged.currency, postings)
}

/// The commission frozen on the lines: from each vendor's payable to the platform's revenue.
pub fn commission_frozen(split: &Split) -> Result<Journal, LedgerError> {
    let mut postings = Vec::with_capacity(split.vendors.len() * 2);
    for vendor in &split.vendors {
        postings.push(posting(Account::VendorPayable(vendor.vendor_id.clone()), vendor.commission, &vendor.order_id));
        postings.push(posting(Account::PlatformRevenue, negate(vendor.commission)?, &vendor.order_id));
    }
    Journal::new(JournalKind::CommissionFrozen { group_id: split.group_id.clone() }, split.charged.currency, postings)
}

/// What a refund takes back from each party, proportionally to the part of the order refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reversal {
    /// Given back to the buyer.
    pub refunded: Money,
    /// Commission the platform gives up.
    pub commission: Money,
    /// Promotion the platform no longer pays.
    pub platform_discount: Money,
    /// Taken from the vendor's payable: `refunded + platform_discount − commission`.
    pub vendor: Money,
}

/// The reversal of refunding `amount` of `order` after `refunded_before` was already refunded.
/// Each share is computed on the cumulative refund and rounded down:
/// `reversed_so_far = ⌊share × refunded_so_far / charged⌋`, and this refund reverses the increase.
/// So partial refunds never reverse more commission (or promotion) than was taken, and a full
/// refund reverses exactly all of it, whatever the number of parts.
pub fn reversal(order: &VendorSplit, refunded_before: Money, amount: Money) -> Result<Reversal, LedgerError> {
    let currency = order.charged.currency;
    if amount.currency != currency || refunded_before.currency != currency || amount.amount_minor <= 0 {
        return Err(LedgerError::InvalidRefund);
    }
    let refundable = order.charged.checked_sub(refunded_before)?;
    if refunded_before.is_negative() || amount.amount_minor > refundable.amount_minor {
        return Err(LedgerError::RefundExceedsCharged { refundable });
    }
    let after = refunded_before.checked_add(amount)?;
    let reversed = |share: Money| -> Result<Money, LedgerError> {
        let portion = |refunded: Money| {
            // charged > 0 here: amount > 0 fits under it.
            let exact = i128::from(share.amount_minor) * i128::from(refunded.amount_minor);
            i64::try_from(exact.div_euclid(i128::from(order.charged.amount_minor))).map_err(|_| MoneyError::Overflow)
        };
        Ok(Money::new(portion(after)? - portion(refunded_before)?, currency))
    };
    let commission = reversed(order.commission)?;
    let platform_discount = reversed(order.platform_discount)?;
    let vendor = amount.checked_add(platform_discount)?.checked_sub(commission)?;
    Ok(Reversal { refunded: amount, commission, platform_discount, vendor })
}

/// Refunding `amount` of `order` (`refunded_before` already given back): cash out, the vendor's
/// payable down by its part, the platform's commission and promotion reversed in proportion.
pub fn refund(
    refund_id: &RefundId,
    order: &VendorSplit,
    refunded_before: Money,
    amount: Money,
) -> Result<Journal, LedgerError> {
    let back = reversal(order, refunded_before, amount)?;
    let id = &order.order_id;
    let postings = vec![
        Posting { account: Account::PspBalance, amount: negate(back.refunded)?, order_id: Some(id.clone()) },
        posting(Account::VendorPayable(order.vendor_id.clone()), back.vendor, id),
        posting(Account::PlatformRevenue, back.commission, id),
        posting(Account::PlatformPromotions, negate(back.platform_discount)?, id),
    ];
    Journal::new(
        JournalKind::Refund { refund_id: refund_id.clone(), order_id: id.clone() },
        order.charged.currency,
        postings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::BasisPoints;
    use crate::orders::fixtures::{self, Shop, World, eur, vendor};
    use crate::payments::commission::{CommissionRules, assess};
    use crate::payments::split::split;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn rules(bp: u32) -> CommissionRules {
        CommissionRules {
            default: BasisPoints::new(bp).unwrap(),
            by_category: BTreeMap::new(),
            by_vendor: BTreeMap::new(),
        }
    }

    fn split_of(group: &crate::orders::OrderGroup, bp: u32) -> Split {
        split(group, &assess(group, &rules(bp), &BTreeMap::new()).unwrap()).unwrap()
    }

    fn balances<'a>(journals: impl IntoIterator<Item = &'a Journal>) -> BTreeMap<Account, i64> {
        let mut balances = BTreeMap::new();
        for journal in journals {
            for posting in journal.postings() {
                *balances.entry(posting.account.clone()).or_default() += posting.amount.amount_minor;
            }
        }
        balances
    }

    fn example() -> Split {
        let world = World::new().shop(Shop::new(1).flat_shipping(500)).platform_percent_coupon("EVERYONE", 1000);
        let group = world.checkout(&world.price_cart(&world.cart(&[(1, 1, 1, 10_000)], &["EVERYONE"]))).unwrap();
        split_of(&group, 1200)
    }

    #[test]
    fn accounts_have_stable_keys() {
        let payable = Account::VendorPayable(vendor(1));
        assert_eq!(payable.key(), "vendor_payable:ven_01JC0000000000000000000001");
        for account in [Account::PspBalance, Account::PlatformRevenue, Account::PlatformPromotions, payable] {
            assert_eq!(Account::parse(&account.key()), Ok(account.clone()));
            assert_eq!(serde_json::to_value(&account).unwrap(), serde_json::json!(account.key()));
        }
        assert!(Account::parse("vendor_payable:prod_01JC0000000000000000000001").is_err());
        assert!(Account::parse("cash").is_err());
    }

    #[test]
    fn a_journal_that_does_not_balance_cannot_exist() {
        let kind = JournalKind::CommissionFrozen { group_id: crate::orders::OrderGroupId::generate(1, [1; 10]) };
        let unbalanced = vec![
            Posting { account: Account::PspBalance, amount: eur(100), order_id: None },
            Posting { account: Account::PlatformRevenue, amount: eur(-99), order_id: None },
        ];
        assert_eq!(Journal::new(kind.clone(), Currency::EUR, unbalanced), Err(LedgerError::Unbalanced(1)));
        let mixed = vec![
            Posting { account: Account::PspBalance, amount: eur(100), order_id: None },
            Posting {
                account: Account::PlatformRevenue,
                amount: Money::new(-100, Currency::parse("USD").unwrap()),
                order_id: None,
            },
        ];
        assert_eq!(Journal::new(kind.clone(), Currency::EUR, mixed), Err(LedgerError::MixedCurrencies));
        let free = Journal::new(
            kind,
            Currency::EUR,
            vec![Posting { account: Account::PspBalance, amount: eur(0), order_id: None }],
        );
        assert!(free.unwrap().postings().is_empty(), "a free order moves nothing");
    }

    #[test]
    fn capture_and_commission_leave_the_vendor_owed_its_payable() {
        let split = example();
        let vendor_split = &split.vendors[0];
        let captured = payment_captured(&split).unwrap();
        let commission = commission_frozen(&split).unwrap();
        let balances = balances([&captured, &commission]);
        assert_eq!(balances[&Account::PspBalance], split.charged.amount_minor);
        assert_eq!(balances[&Account::VendorPayable(vendor(1))], -vendor_split.payable.amount_minor);
        assert_eq!(balances[&Account::PlatformRevenue], -1_200);
        assert_eq!(balances[&Account::PlatformPromotions], 1_000);
        // Written twice (a retried step), it is the same journal with the same entry ids.
        assert_eq!(payment_captured(&split).unwrap().id(), captured.id());
        let ids: Vec<_> = captured.entries().map(|(id, _)| id).collect();
        assert_eq!(ids, payment_captured(&split).unwrap().entries().map(|(id, _)| id).collect::<Vec<_>>());
        assert_ne!(captured.id(), commission.id());
    }

    #[test]
    fn a_full_refund_in_parts_reverses_everything_exactly_once() {
        let split = example();
        let order = &split.vendors[0];
        let charged = order.charged.amount_minor;
        let mut journals = vec![payment_captured(&split).unwrap(), commission_frozen(&split).unwrap()];
        let mut refunded = eur(0);
        for (n, part) in [1, 3_333, charged - 3_334].into_iter().enumerate() {
            let id = RefundId::generate(1_763_700_000_000, [n as u8; 10]);
            journals.push(refund(&id, order, refunded, eur(part)).unwrap());
            refunded = refunded.checked_add(eur(part)).unwrap();
        }
        assert!(balances(&journals).values().all(|balance| *balance == 0), "{:?}", balances(&journals));
        assert_eq!(
            refund(&RefundId::generate(1, [9; 10]), order, refunded, eur(1)),
            Err(LedgerError::RefundExceedsCharged { refundable: eur(0) })
        );
        assert_eq!(reversal(order, eur(0), eur(0)), Err(LedgerError::InvalidRefund));
    }

    proptest! {
        #[test]
        fn every_journal_balances_and_refunds_never_reverse_more_than_was_taken(
            group in fixtures::order_group(),
            bp in 0u32..=10_000,
            parts in prop::collection::vec(1u32..=100, 1..6),
        ) {
            let split = split_of(&group, bp);
            let mut journals = vec![payment_captured(&split).unwrap(), commission_frozen(&split).unwrap()];
            for (v, order) in split.vendors.iter().enumerate() {
                // Refund the order in parts (weights `parts`), then whatever is left.
                let charged = order.charged.amount_minor;
                let weight: i64 = parts.iter().map(|p| i64::from(*p)).sum();
                let mut refunded = eur(0);
                let (mut commission_back, mut promotion_back) = (0, 0);
                for (n, part) in parts.iter().enumerate() {
                    let amount = charged * i64::from(*part) / weight;
                    let last = n == parts.len() - 1;
                    let amount = if last { charged - refunded.amount_minor } else { amount };
                    if amount <= 0 { continue; }
                    let back = reversal(order, refunded, eur(amount)).unwrap();
                    commission_back += back.commission.amount_minor;
                    promotion_back += back.platform_discount.amount_minor;
                    prop_assert!(commission_back <= order.commission.amount_minor);
                    prop_assert!(promotion_back <= order.platform_discount.amount_minor);
                    let id = RefundId::generate(1_763_700_000_000, [v as u8, n as u8, 0, 0, 0, 0, 0, 0, 0, 0]);
                    journals.push(refund(&id, order, refunded, eur(amount)).unwrap());
                    refunded = refunded.checked_add(eur(amount)).unwrap();
                }
                if charged > 0 {
                    prop_assert_eq!(commission_back, order.commission.amount_minor);
                    prop_assert_eq!(promotion_back, order.platform_discount.amount_minor);
                }
            }
            for journal in &journals {
                prop_assert_eq!(journal.postings().iter().map(|p| p.amount.amount_minor).sum::<i64>(), 0);
            }
            // Everything charged was refunded: every account is back to zero, except what a free
            // (zero-total) order still owes: its vendor's promotion-funded payable.
            let balances = balances(&journals);
            let unrefundable: i64 = split.vendors.iter().filter(|v| v.charged.amount_minor == 0)
                .map(|v| v.payable.amount_minor).sum();
            prop_assert_eq!(balances.get(&Account::PspBalance).copied().unwrap_or(0), 0);
            let payables: i64 = balances.iter().filter(|(a, _)| matches!(a, Account::VendorPayable(_))).map(|(_, b)| *b).sum();
            prop_assert_eq!(payables, -unrefundable);
        }
    }
}
