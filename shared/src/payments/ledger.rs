//! The double-entry ledger (DESIGN §3): every movement of money is a journal of postings that sum
//! to zero. Amounts are signed: a debit is positive, a credit negative.
//!
//! Accounts (the `payments.ledger_entries.account` values):
//! - `psp_clearing` (asset): the money the payment provider holds for the platform; buyers'
//!   payments come in here, refunds and payouts go out of it.
//! - `vendor_payable` (liability, one per vendor): what the platform owes a vendor; a credit balance.
//! - `platform_commission` (income): commission earned.
//! - `platform_promotions` (expense): platform coupons, paid to vendors on the buyer's behalf.
//!
//! Refunds and payouts are journals, not accounts: each moves money out of `psp_clearing` against
//! the payable and income it settles, so an account of their own would only mirror it. The
//! provider's fees are not booked here.
//!
//! A journal is identified by what it records, `(kind, reference)`: one `payment` per payment, one
//! `refund` per refund, one `payout` per payout. Posting it again is a no-op (`payments.post_journal`).

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{PaymentId, PayoutId, RefundId};
use super::split::{Split, VendorSplit};
use crate::catalog::money::MoneyError;
use crate::catalog::{Currency, Money, VendorId};
use crate::orders::OrderId;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    PspClearing,
    VendorPayable(VendorId),
    PlatformCommission,
    PlatformPromotions,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AccountError {
    #[error("unknown account {0:?}")]
    Unknown(String),
    /// `vendor_payable` names its vendor; no other account does.
    #[error("vendor_payable needs a vendor id, and only it")]
    Vendor,
}

impl Account {
    /// The `account` column.
    pub fn name(&self) -> &'static str {
        match self {
            Account::PspClearing => "psp_clearing",
            Account::VendorPayable(_) => "vendor_payable",
            Account::PlatformCommission => "platform_commission",
            Account::PlatformPromotions => "platform_promotions",
        }
    }

    /// The `vendor_id` column.
    pub fn vendor_id(&self) -> Option<&VendorId> {
        match self {
            Account::VendorPayable(vendor) => Some(vendor),
            _ => None,
        }
    }

    pub fn parse(name: &str, vendor_id: Option<VendorId>) -> Result<Self, AccountError> {
        let account = match name {
            "psp_clearing" => Account::PspClearing,
            "platform_commission" => Account::PlatformCommission,
            "platform_promotions" => Account::PlatformPromotions,
            "vendor_payable" => return vendor_id.map(Account::VendorPayable).ok_or(AccountError::Vendor),
            other => return Err(AccountError::Unknown(other.to_owned())),
        };
        if vendor_id.is_some() { Err(AccountError::Vendor) } else { Ok(account) }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::VendorPayable(vendor) => write!(f, "vendor_payable:{vendor}"),
            other => f.write_str(other.name()),
        }
    }
}

/// One line of a journal. As JSON it is one element of `payments.post_journal`'s entries:
/// `{"account":"vendor_payable","vendor_id":"ven_…","order_id":"ord_…","amount_minor":-9000,"currency":"EUR"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "PostingRow", try_from = "PostingRow")]
pub struct Posting {
    pub account: Account,
    /// Debit positive, credit negative.
    pub amount: Money,
    /// The order the movement belongs to; payouts use it to find what is delivered and held long enough.
    pub order_id: Option<OrderId>,
}

#[derive(Serialize, Deserialize)]
struct PostingRow {
    account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vendor_id: Option<VendorId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order_id: Option<OrderId>,
    amount_minor: i64,
    currency: Currency,
}

impl From<Posting> for PostingRow {
    fn from(posting: Posting) -> Self {
        PostingRow {
            account: posting.account.name().to_owned(),
            vendor_id: posting.account.vendor_id().cloned(),
            order_id: posting.order_id,
            amount_minor: posting.amount.amount_minor,
            currency: posting.amount.currency,
        }
    }
}

impl TryFrom<PostingRow> for Posting {
    type Error = AccountError;

    fn try_from(row: PostingRow) -> Result<Self, Self::Error> {
        Ok(Posting {
            account: Account::parse(&row.account, row.vendor_id)?,
            amount: Money::new(row.amount_minor, row.currency),
            order_id: row.order_id,
        })
    }
}

/// What a journal records: `kind` and `reference` are the journal's unique key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalKind {
    /// The buyer's payment arrived, and the commission frozen on its lines was taken.
    Payment {
        payment_id: PaymentId,
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
    /// The `kind` column.
    pub fn name(&self) -> &'static str {
        match self {
            JournalKind::Payment { .. } => "payment",
            JournalKind::Refund { .. } => "refund",
            JournalKind::Payout { .. } => "payout",
        }
    }

    /// The `reference` column: the id of the payment, refund or payout.
    pub fn reference(&self) -> &str {
        match self {
            JournalKind::Payment { payment_id } => payment_id.as_str(),
            JournalKind::Refund { refund_id, .. } => refund_id.as_str(),
            JournalKind::Payout { payout_id, .. } => payout_id.as_str(),
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
    #[error("a payout must be more than zero")]
    InvalidPayout,
    #[error("an amount overflows")]
    Amount(#[from] MoneyError),
}

/// A balanced set of postings. Only built through `Journal::new`, which checks the balance, so a
/// `Journal` that exists sums to zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Journal {
    kind: JournalKind,
    currency: Currency,
    postings: Vec<Posting>,
}

impl Journal {
    /// Zero postings are dropped (the ledger stores none; a free order moves no money, and that
    /// is not an error); the rest must be in `currency` and sum to zero.
    pub fn new(kind: JournalKind, currency: Currency, postings: Vec<Posting>) -> Result<Journal, LedgerError> {
        let postings: Vec<Posting> = postings.into_iter().filter(|posting| posting.amount.amount_minor != 0).collect();
        if postings.iter().any(|posting| posting.amount.currency != currency) {
            return Err(LedgerError::MixedCurrencies);
        }
        let sum: i128 = postings.iter().map(|posting| i128::from(posting.amount.amount_minor)).sum();
        if sum != 0 {
            return Err(LedgerError::Unbalanced(sum));
        }
        Ok(Journal { kind, currency, postings })
    }

    pub fn kind(&self) -> &JournalKind {
        &self.kind
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// As a JSON array, `payments.post_journal`'s `p_entries`. Empty for a journal that moves
    /// nothing: skip posting it.
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }
}

fn posting(account: Account, amount: Money, order_id: &OrderId) -> Posting {
    Posting { account, amount, order_id: Some(order_id.clone()) }
}

fn negate(amount: Money) -> Result<Money, MoneyError> {
    Money::zero(amount.currency).checked_sub(amount)
}

/// The payment of a group arrived: cash in; each vendor is owed its goods, shipping and tax
/// (`payable + commission`) and the platform's promotions are its expense; then the commission
/// frozen on the lines moves from each vendor's payable to the platform's income.
pub fn payment(payment_id: &PaymentId, split: &Split) -> Result<Journal, LedgerError> {
    let mut postings = vec![Posting { account: Account::PspClearing, amount: split.charged, order_id: None }];
    for vendor in &split.vendors {
        let payable = Account::VendorPayable(vendor.vendor_id.clone());
        let owed = vendor.payable.checked_add(vendor.commission)?;
        postings.push(posting(payable.clone(), negate(owed)?, &vendor.order_id));
        postings.push(posting(Account::PlatformPromotions, vendor.platform_discount, &vendor.order_id));
        postings.push(posting(payable, vendor.commission, &vendor.order_id));
        postings.push(posting(Account::PlatformCommission, negate(vendor.commission)?, &vendor.order_id));
    }
    Journal::new(JournalKind::Payment { payment_id: payment_id.clone() }, split.charged.currency, postings)
}

/// What a refund takes back from each party, proportionally to the part of the order refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reversal {
    /// Given back to the buyer.
    pub refunded: Money,
    /// Commission the platform gives back (`payments.refunds.commission_reversed_minor`).
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
            // charged > 0 here: a positive amount fits under it.
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
    refund_of(refund_id, &order.order_id, &order.vendor_id, &back)
}

/// The journal of a refund whose reversal was worked out (and stored) when it was requested:
/// the provider confirms it later, and other refunds of the order may have come in between.
pub fn refund_of(
    refund_id: &RefundId,
    order_id: &OrderId,
    vendor_id: &VendorId,
    back: &Reversal,
) -> Result<Journal, LedgerError> {
    let currency = back.refunded.currency;
    let same_currency = [back.commission, back.platform_discount, back.vendor].iter().all(|m| m.currency == currency);
    if !same_currency || back.refunded.amount_minor <= 0 {
        return Err(LedgerError::InvalidRefund);
    }
    let postings = vec![
        posting(Account::PspClearing, negate(back.refunded)?, order_id),
        posting(Account::VendorPayable(vendor_id.clone()), back.vendor, order_id),
        posting(Account::PlatformCommission, back.commission, order_id),
        posting(Account::PlatformPromotions, negate(back.platform_discount)?, order_id),
    ];
    Journal::new(JournalKind::Refund { refund_id: refund_id.clone(), order_id: order_id.clone() }, currency, postings)
}

impl Reversal {
    /// A reversal as stored with its refund: the vendor's part follows from the other three.
    pub fn from_parts(refunded: Money, commission: Money, platform_discount: Money) -> Result<Reversal, LedgerError> {
        let vendor = refunded.checked_add(platform_discount)?.checked_sub(commission)?;
        Ok(Reversal { refunded, commission, platform_discount, vendor })
    }
}

/// Paying `amount` out to a vendor: its payable settled, cash out (the same postings
/// `payments.request_payout` writes). No order: a later payout never counts it as owed.
pub fn payout(payout_id: &PayoutId, vendor_id: &VendorId, amount: Money) -> Result<Journal, LedgerError> {
    if amount.amount_minor <= 0 {
        return Err(LedgerError::InvalidPayout);
    }
    let postings = vec![
        Posting { account: Account::VendorPayable(vendor_id.clone()), amount, order_id: None },
        Posting { account: Account::PspClearing, amount: negate(amount)?, order_id: None },
    ];
    let kind = JournalKind::Payout { payout_id: payout_id.clone(), vendor_id: vendor_id.clone() };
    Journal::new(kind, amount.currency, postings)
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

    fn paid(split: &Split) -> Journal {
        payment(&PaymentId::for_group(&split.group_id), split).unwrap()
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
    fn postings_are_the_rows_post_journal_takes() {
        let order = OrderId::generate(1_763_700_000_000, [1; 10]);
        let payable = Posting { account: Account::VendorPayable(vendor(1)), amount: eur(-9000), order_id: Some(order) };
        let json = serde_json::to_value(&payable).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"account": "vendor_payable", "vendor_id": vendor(1), "order_id": payable.order_id,
                "amount_minor": -9000, "currency": "EUR"})
        );
        assert_eq!(serde_json::from_value::<Posting>(json).unwrap(), payable);
        let cash = Posting { account: Account::PspClearing, amount: eur(9000), order_id: None };
        assert_eq!(
            serde_json::to_value(&cash).unwrap(),
            serde_json::json!({"account": "psp_clearing", "amount_minor": 9000, "currency": "EUR"})
        );
        assert_eq!(Account::parse("vendor_payable", None), Err(AccountError::Vendor));
        assert_eq!(Account::parse("psp_clearing", Some(vendor(1))), Err(AccountError::Vendor));
        assert_eq!(Account::parse("cash", None), Err(AccountError::Unknown("cash".into())));
        assert_eq!(Account::VendorPayable(vendor(1)).to_string(), "vendor_payable:ven_01JC0000000000000000000001");
    }

    #[test]
    fn a_journal_that_does_not_balance_cannot_exist() {
        let kind = JournalKind::Payout { payout_id: PayoutId::generate(1, [1; 10]), vendor_id: vendor(1) };
        let line = |account, minor| Posting { account, amount: eur(minor), order_id: None };
        let unbalanced = vec![line(Account::PspClearing, 100), line(Account::PlatformCommission, -99)];
        assert_eq!(Journal::new(kind.clone(), Currency::EUR, unbalanced), Err(LedgerError::Unbalanced(1)));
        let usd = Posting {
            account: Account::PlatformCommission,
            amount: Money::new(-100, Currency::parse("USD").unwrap()),
            order_id: None,
        };
        let mixed = vec![line(Account::PspClearing, 100), usd];
        assert_eq!(Journal::new(kind.clone(), Currency::EUR, mixed), Err(LedgerError::MixedCurrencies));
        let free = Journal::new(kind, Currency::EUR, vec![line(Account::PspClearing, 0)]).unwrap();
        assert!(free.postings().is_empty(), "a free order moves nothing");
        assert_eq!(payout(&PayoutId::generate(1, [1; 10]), &vendor(1), eur(0)), Err(LedgerError::InvalidPayout));
    }

    #[test]
    fn the_payment_leaves_the_vendor_owed_its_payable_and_the_platform_its_commission() {
        let split = example();
        let journal = paid(&split);
        assert_eq!(
            (journal.kind().name(), journal.kind().reference()),
            ("payment", PaymentId::for_group(&split.group_id).as_str())
        );
        let balances = balances([&journal]);
        assert_eq!(balances[&Account::PspClearing], split.charged.amount_minor);
        assert_eq!(balances[&Account::VendorPayable(vendor(1))], -split.vendors[0].payable.amount_minor);
        assert_eq!(balances[&Account::PlatformCommission], -1_200);
        assert_eq!(balances[&Account::PlatformPromotions], 1_000);
    }

    #[test]
    fn a_full_refund_in_parts_reverses_everything_exactly_once() {
        let split = example();
        let order = &split.vendors[0];
        let charged = order.charged.amount_minor;
        let mut journals = vec![paid(&split)];
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

    #[test]
    fn a_stored_reversal_books_the_same_journal() {
        let split = example();
        let order = &split.vendors[0];
        let id = RefundId::generate(1_763_700_000_000, [7; 10]);
        let back = reversal(order, eur(1_000), eur(2_500)).unwrap();
        let stored = Reversal::from_parts(back.refunded, back.commission, back.platform_discount).unwrap();
        assert_eq!(stored, back);
        assert_eq!(
            refund_of(&id, &order.order_id, &order.vendor_id, &stored).unwrap(),
            refund(&id, order, eur(1_000), eur(2_500)).unwrap()
        );
        let nothing = Reversal::from_parts(eur(0), eur(0), eur(0)).unwrap();
        assert_eq!(refund_of(&id, &order.order_id, &order.vendor_id, &nothing), Err(LedgerError::InvalidRefund));
    }

    proptest! {
        #[test]
        fn every_journal_balances_and_refunds_never_reverse_more_than_was_taken(
            group in fixtures::order_group(),
            bp in 0u32..=10_000,
            parts in prop::collection::vec(1u32..=100, 1..6),
        ) {
            let split = split_of(&group, bp);
            let mut journals = vec![paid(&split)];
            for (v, order) in split.vendors.iter().enumerate() {
                // Refund the order in parts (weights `parts`), the last part whatever is left.
                let charged = order.charged.amount_minor;
                let weight: i64 = parts.iter().map(|p| i64::from(*p)).sum();
                let mut refunded = eur(0);
                let (mut commission_back, mut promotion_back) = (0, 0);
                for (n, part) in parts.iter().enumerate() {
                    let last = n == parts.len() - 1;
                    let amount = if last { charged - refunded.amount_minor } else { charged * i64::from(*part) / weight };
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
            // Everything charged was refunded: cash is back to zero, and vendors are owed nothing
            // but what a free (zero-total) order still owes them: its platform-funded payable.
            let balances = balances(&journals);
            let unrefundable: i64 =
                split.vendors.iter().filter(|v| v.charged.amount_minor == 0).map(|v| v.payable.amount_minor).sum();
            prop_assert_eq!(balances.get(&Account::PspClearing).copied().unwrap_or(0), 0);
            let payables: i64 =
                balances.iter().filter(|(a, _)| matches!(a, Account::VendorPayable(_))).map(|(_, b)| *b).sum();
            prop_assert_eq!(payables, -unrefundable);
        }
    }
}
