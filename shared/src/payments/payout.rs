//! Payouts: what a vendor is paid, from its `vendor_payable` ledger entries. An order's entries
//! become payable once the order was delivered at least a hold period ago (escrow-like: returns
//! and disputes come out of the held money, not the vendor's next sale).
//!
//! A payout takes every eligible entry not yet paid out, credits and debits alike (a refund after
//! an earlier payout lowers the next one), and pays their sum if it is positive. Otherwise it pays
//! nothing and leaves the entries for later. Each entry is marked with the payout that paid it, so
//! none is paid twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{LedgerEntryId, PayoutId};
use super::ledger::{Account, Journal, JournalKind, LedgerError, Posting};
use crate::catalog::money::MoneyError;
use crate::catalog::validation::Reason;
use crate::catalog::{Currency, Money, VendorId};
use crate::orders::OrderId;

/// The platform's default hold after delivery. Shops selling to EU consumers may want 14 days,
/// the statutory withdrawal period.
pub const DEFAULT_HOLD_DAYS: u16 = 7;
/// Longer than a quarter, money is held hostage rather than in escrow.
pub const MAX_HOLD_DAYS: u16 = 90;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct HoldPeriod(u16);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("the hold period is 0 to {MAX_HOLD_DAYS} whole days")]
pub struct HoldPeriodError;

impl Reason for HoldPeriodError {
    fn reason(&self) -> &'static str {
        "out_of_range"
    }
}

impl HoldPeriod {
    pub fn days(days: u16) -> Result<Self, HoldPeriodError> {
        if days <= MAX_HOLD_DAYS { Ok(Self(days)) } else { Err(HoldPeriodError) }
    }

    /// Whole days as configuration gives them (`"7"`).
    pub fn parse(input: &str) -> Result<Self, HoldPeriodError> {
        input.trim().parse::<u16>().map_err(|_| HoldPeriodError).and_then(Self::days)
    }

    pub fn as_ms(self) -> i64 {
        i64::from(self.0) * DAY_MS
    }
}

impl Default for HoldPeriod {
    fn default() -> Self {
        Self(DEFAULT_HOLD_DAYS)
    }
}

impl TryFrom<u16> for HoldPeriod {
    type Error = HoldPeriodError;

    fn try_from(days: u16) -> Result<Self, Self::Error> {
        Self::days(days)
    }
}

impl From<HoldPeriod> for u16 {
    fn from(hold: HoldPeriod) -> Self {
        hold.0
    }
}

/// One `vendor_payable` posting of the vendor, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayableEntry {
    pub id: LedgerEntryId,
    /// `None` for the payouts' own postings, which are never paid again.
    pub order_id: Option<OrderId>,
    /// As posted: credits (owed to the vendor) are negative.
    pub amount: Money,
    /// Set once a payout covered it.
    pub paid_out_by: Option<PayoutId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutPlan {
    pub vendor_id: VendorId,
    /// More than zero.
    pub amount: Money,
    /// The entries this payout settles: mark them `paid_out_by` in the same transaction.
    pub entries: Vec<LedgerEntryId>,
}

/// What `vendor` can be paid now, one plan per currency with a positive balance. `delivered_at_ms`
/// holds the delivery time of the vendor's delivered orders (UTC unix ms); entries of orders not
/// there (not delivered, cancelled) are held.
pub fn plan_payouts(
    vendor_id: &VendorId,
    entries: &[PayableEntry],
    delivered_at_ms: &BTreeMap<OrderId, i64>,
    now_ms: i64,
    hold: HoldPeriod,
) -> Result<Vec<PayoutPlan>, MoneyError> {
    let released = |order: &OrderId| {
        delivered_at_ms.get(order).is_some_and(|at| at.checked_add(hold.as_ms()).is_some_and(|until| until <= now_ms))
    };
    let mut by_currency: BTreeMap<Currency, (Money, Vec<LedgerEntryId>)> = BTreeMap::new();
    for entry in entries {
        if entry.paid_out_by.is_some() || !entry.order_id.as_ref().is_some_and(released) {
            continue;
        }
        let currency = entry.amount.currency;
        let (owed, ids) = by_currency.entry(currency).or_insert_with(|| (Money::zero(currency), Vec::new()));
        *owed = owed.checked_sub(entry.amount)?;
        ids.push(entry.id.clone());
    }
    Ok(by_currency
        .into_values()
        .filter(|(owed, _)| owed.amount_minor > 0)
        .map(|(amount, entries)| PayoutPlan { vendor_id: vendor_id.clone(), amount, entries })
        .collect())
}

/// The payout's journal: the vendor's payable settled, cash out of the provider balance. Its own
/// `vendor_payable` posting has no order, so no later payout counts it.
pub fn payout_journal(payout_id: &PayoutId, plan: &PayoutPlan) -> Result<Journal, LedgerError> {
    let postings = vec![
        Posting { account: Account::VendorPayable(plan.vendor_id.clone()), amount: plan.amount, order_id: None },
        Posting {
            account: Account::PspBalance,
            amount: Money::zero(plan.amount.currency).checked_sub(plan.amount)?,
            order_id: None,
        },
    ];
    let kind = JournalKind::Payout { payout_id: payout_id.clone(), vendor_id: plan.vendor_id.clone() };
    Journal::new(kind, plan.amount.currency, postings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::fixtures::{eur, vendor};
    use proptest::prelude::*;

    const NOW: i64 = 1_763_700_000_000;

    fn order(n: u8) -> OrderId {
        OrderId::generate(NOW as u64, [n; 10])
    }

    fn entry(n: u8, order_n: Option<u8>, minor: i64) -> PayableEntry {
        PayableEntry {
            id: LedgerEntryId::generate(NOW as u64, [n; 10]),
            order_id: order_n.map(order),
            amount: eur(minor),
            paid_out_by: None,
        }
    }

    #[test]
    fn hold_periods_are_whole_days_within_a_quarter() {
        assert_eq!(HoldPeriod::parse(" 7 ").unwrap().as_ms(), 7 * DAY_MS);
        assert_eq!(HoldPeriod::default(), HoldPeriod::days(7).unwrap());
        assert_eq!(HoldPeriod::parse("91"), Err(HoldPeriodError));
        assert_eq!(HoldPeriod::parse("-1"), Err(HoldPeriodError));
        assert!(serde_json::from_str::<HoldPeriod>("120").is_err());
    }

    #[test]
    fn pays_orders_delivered_before_the_hold_and_nets_their_refunds() {
        let hold = HoldPeriod::days(7).unwrap();
        // Order 1 delivered 8 days ago (10.00 owed, 3.00 refunded); order 2 delivered 6 days ago.
        let delivered = [(order(1), NOW - 8 * DAY_MS), (order(2), NOW - 6 * DAY_MS)].into();
        let entries =
            [entry(1, Some(1), -1_000), entry(2, Some(1), 300), entry(3, Some(2), -5_000), entry(4, Some(3), -70)];
        let plans = plan_payouts(&vendor(1), &entries, &delivered, NOW, hold).unwrap();
        assert_eq!(plans.len(), 1);
        assert_eq!(plans[0].amount, eur(700));
        assert_eq!(plans[0].entries, vec![entries[0].id.clone(), entries[1].id.clone()]);
        // Exactly at the end of the hold, order 2 is released too.
        let later = plan_payouts(&vendor(1), &entries, &delivered, NOW + DAY_MS, hold).unwrap();
        assert_eq!(later[0].amount, eur(5_700));
        let journal = payout_journal(&PayoutId::generate(NOW as u64, [1; 10]), &plans[0]).unwrap();
        assert_eq!(journal.postings()[0].amount, eur(700));
        assert_eq!(journal.postings()[1].amount, eur(-700));
    }

    #[test]
    fn a_balance_in_the_red_pays_nothing_and_keeps_its_entries_for_later() {
        let delivered = [(order(1), NOW - 30 * DAY_MS)].into();
        let entries = [entry(1, Some(1), 400)];
        assert_eq!(plan_payouts(&vendor(1), &entries, &delivered, NOW, HoldPeriod::default()), Ok(vec![]));
        let payout_posting = entry(2, None, 999);
        assert_eq!(plan_payouts(&vendor(1), &[payout_posting], &delivered, NOW, HoldPeriod::default()), Ok(vec![]));
    }

    proptest! {
        /// Paying out repeatedly as time passes and refunds arrive: never negative, no entry twice,
        /// only released orders, and in the end everything released is paid.
        #[test]
        fn payouts_are_positive_and_never_pay_an_entry_twice(
            raw in prop::collection::vec((0u8..6, -5_000i64..20_000), 1..30),
            delivered_days_ago in prop::collection::vec(prop::option::of(0i64..20), 6),
            ticks in prop::collection::vec(0i64..4, 1..6),
        ) {
            let hold = HoldPeriod::days(7).unwrap();
            let delivered: BTreeMap<OrderId, i64> = delivered_days_ago.iter().enumerate()
                .filter_map(|(n, ago)| ago.map(|ago| (order(n as u8), NOW - ago * DAY_MS))).collect();
            let mut entries: Vec<PayableEntry> = raw.iter().enumerate()
                .map(|(i, (n, minor))| entry(i as u8, Some(*n), *minor)).collect();
            let mut now = NOW;
            let mut paid = 0i64;
            for (t, tick) in ticks.iter().enumerate() {
                now += tick * DAY_MS;
                for plan in plan_payouts(&vendor(1), &entries, &delivered, now, hold).unwrap() {
                    prop_assert!(plan.amount.amount_minor > 0);
                    let payout = PayoutId::generate(now as u64, [t as u8; 10]);
                    prop_assert_eq!(payout_journal(&payout, &plan).unwrap().postings().iter().map(|p| p.amount.amount_minor).sum::<i64>(), 0);
                    let mut covered = 0;
                    for entry in entries.iter_mut().filter(|e| plan.entries.contains(&e.id)) {
                        prop_assert!(entry.paid_out_by.is_none(), "paid twice");
                        let released = delivered.get(entry.order_id.as_ref().unwrap()).is_some_and(|at| at + hold.as_ms() <= now);
                        prop_assert!(released);
                        covered -= entry.amount.amount_minor;
                        entry.paid_out_by = Some(payout.clone());
                    }
                    prop_assert_eq!(covered, plan.amount.amount_minor);
                    paid += plan.amount.amount_minor;
                }
            }
            // What is left unpaid among released orders nets to zero or less (owed by the vendor).
            let left: i64 = entries.iter()
                .filter(|e| e.paid_out_by.is_none() && delivered.get(e.order_id.as_ref().unwrap()).is_some_and(|at| at + hold.as_ms() <= now))
                .map(|e| -e.amount.amount_minor).sum();
            prop_assert!(left <= 0);
            prop_assert!(paid >= 0);
        }
    }
}
