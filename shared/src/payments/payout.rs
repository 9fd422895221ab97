//! Payouts: what a vendor is paid, from its `vendor_payable` ledger entries. An order's entries
//! become payable once the order was delivered at least a hold period ago (escrow-like: returns
//! and disputes come out of the held money, not the vendor's next sale).
//!
//! What can be paid is the vendor's balance less what its unreleased orders still owe: a refund
//! after an earlier payout lowers the next one, and a balance in the red pays nothing. The payout
//! itself is a journal (`ledger::payout`, or `payments.request_payout`, which checks the balance
//! in the same statement).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::money::MoneyError;
use crate::catalog::validation::Reason;
use crate::catalog::{Currency, Money};
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

/// One `vendor_payable` entry of the vendor, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayableEntry {
    /// `None` for payouts (and anything else not tied to an order).
    pub order_id: Option<OrderId>,
    /// As posted: credits (owed to the vendor) are negative.
    pub amount: Money,
}

/// What `vendor`'s entries allow paying out now, per currency, only amounts above zero.
/// `delivered_at_ms` holds the delivery time (UTC unix ms) of the vendor's delivered orders;
/// orders not in it (not delivered yet, cancelled) are held.
///
/// `available = balance − held`: the balance is everything owed (payouts already taken off, as
/// they are debits); held is what the orders not yet released still owe, each counted only if
/// positive. The ledger stays append-only: a payout's own debit is what stops the same money being
/// paid twice, so nothing is marked.
pub fn available_for_payout(
    entries: &[PayableEntry],
    delivered_at_ms: &BTreeMap<OrderId, i64>,
    now_ms: i64,
    hold: HoldPeriod,
) -> Result<Vec<Money>, MoneyError> {
    let released = |order: &OrderId| {
        delivered_at_ms.get(order).is_some_and(|at| at.checked_add(hold.as_ms()).is_some_and(|until| until <= now_ms))
    };
    let mut balance: BTreeMap<Currency, i64> = BTreeMap::new();
    let mut unreleased: BTreeMap<(Currency, &OrderId), i64> = BTreeMap::new();
    for entry in entries {
        let currency = entry.amount.currency;
        let owed = balance.entry(currency).or_default();
        *owed = owed.checked_sub(entry.amount.amount_minor).ok_or(MoneyError::Overflow)?;
        if let Some(order) = entry.order_id.as_ref().filter(|order| !released(order)) {
            let held = unreleased.entry((currency, order)).or_default();
            *held = held.checked_sub(entry.amount.amount_minor).ok_or(MoneyError::Overflow)?;
        }
    }
    for ((currency, _), held) in unreleased {
        if let Some(owed) = balance.get_mut(&currency) {
            *owed = owed.checked_sub(held.max(0)).ok_or(MoneyError::Overflow)?;
        }
    }
    Ok(balance
        .into_iter()
        .filter(|(_, available)| *available > 0)
        .map(|(currency, minor)| Money::new(minor, currency))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::fixtures::{eur, vendor};
    use crate::payments::ids::PayoutId;
    use crate::payments::ledger::payout;
    use proptest::prelude::*;

    const NOW: i64 = 1_763_700_000_000;

    fn order(n: u8) -> OrderId {
        OrderId::generate(NOW as u64, [n; 10])
    }

    fn entry(order_n: Option<u8>, minor: i64) -> PayableEntry {
        PayableEntry { order_id: order_n.map(order), amount: eur(minor) }
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
        // Order 1 delivered 8 days ago (10.00 owed, 3.00 refunded); order 2 delivered 6 days ago;
        // order 3 not delivered.
        let delivered = [(order(1), NOW - 8 * DAY_MS), (order(2), NOW - 6 * DAY_MS)].into();
        let mut entries =
            vec![entry(Some(1), -1_000), entry(Some(1), 300), entry(Some(2), -5_000), entry(Some(3), -70)];
        assert_eq!(available_for_payout(&entries, &delivered, NOW, hold), Ok(vec![eur(700)]));
        // Paid out: the payout's debit takes it off; nothing is paid twice.
        entries.extend(
            payout(&PayoutId::generate(NOW as u64, [1; 10]), &vendor(1), eur(700))
                .unwrap()
                .postings()
                .iter()
                .filter(|posting| posting.account.vendor_id().is_some())
                .map(|posting| PayableEntry { order_id: posting.order_id.clone(), amount: posting.amount }),
        );
        assert_eq!(available_for_payout(&entries, &delivered, NOW, hold), Ok(vec![]));
        // Exactly at the end of its hold, order 2 is released too.
        assert_eq!(available_for_payout(&entries, &delivered, NOW + DAY_MS, hold), Ok(vec![eur(5_000)]));
    }

    #[test]
    fn a_refund_after_a_payout_is_recovered_from_the_next_one() {
        let delivered = [(order(1), NOW - 30 * DAY_MS), (order(2), NOW - 30 * DAY_MS)].into();
        let hold = HoldPeriod::default();
        // Order 1 was paid out (10.00), then refunded 4.00; order 2 owes 3.00: 3.00 − 4.00 < 0.
        let entries = [entry(Some(1), -1_000), entry(None, 1_000), entry(Some(1), 400), entry(Some(2), -300)];
        assert_eq!(available_for_payout(&entries, &delivered, NOW, hold), Ok(vec![]));
        let more = [&entries[..], &[entry(Some(2), -500)]].concat();
        assert_eq!(available_for_payout(&more, &delivered, NOW, hold), Ok(vec![eur(400)]));
    }

    proptest! {
        /// Sales, refunds, deliveries and payouts in any order: every payout is positive, never pays
        /// money of an order still held, never pays the same money twice, and once everything is
        /// released the vendor has been paid all it is owed.
        #[test]
        fn payouts_never_pay_held_or_already_paid_money(
            sales in prop::collection::vec((1i64..20_000, prop::option::of(0i64..20), 0u32..=100), 1..8),
            ticks in prop::collection::vec(0i64..4, 1..8),
        ) {
            let hold = HoldPeriod::days(7).unwrap();
            let mut entries: Vec<PayableEntry> = Vec::new();
            let mut delivered: BTreeMap<OrderId, i64> = BTreeMap::new();
            let mut now = NOW;
            let mut paid = 0i64;
            let released_owed = |entries: &[PayableEntry], delivered: &BTreeMap<OrderId, i64>, now: i64| -> i64 {
                entries.iter()
                    .filter(|e| e.order_id.as_ref().is_some_and(|o| delivered.get(o).is_some_and(|at| at + hold.as_ms() <= now)))
                    .map(|e| -e.amount.amount_minor).sum()
            };
            for (t, tick) in ticks.iter().enumerate() {
                // Each tick sells the orders, delivers some, refunds a part of some.
                for (n, (owed, delivered_on_tick, refund_percent)) in sales.iter().enumerate() {
                    let id = order(n as u8);
                    if t == n % ticks.len() {
                        entries.push(PayableEntry { order_id: Some(id.clone()), amount: eur(-owed) });
                    }
                    if *delivered_on_tick == Some(t as i64) && entries.iter().any(|e| e.order_id.as_ref() == Some(&id)) {
                        delivered.entry(id.clone()).or_insert(now);
                    }
                    if t == ticks.len() - 1 && *refund_percent > 0 && entries.iter().any(|e| e.order_id.as_ref() == Some(&id)) {
                        entries.push(PayableEntry { order_id: Some(id), amount: eur(owed * i64::from(*refund_percent) / 100) });
                    }
                }
                now += tick * DAY_MS;
                for amount in available_for_payout(&entries, &delivered, now, hold).unwrap() {
                    prop_assert!(amount.amount_minor > 0);
                    paid += amount.amount_minor;
                    entries.push(PayableEntry { order_id: None, amount });
                    prop_assert!(paid <= released_owed(&entries, &delivered, now), "paid held money");
                }
                prop_assert_eq!(available_for_payout(&entries, &delivered, now, hold).unwrap(), vec![], "paid twice");
            }
            // Far later, every delivered order is released: the vendor is paid everything it is owed.
            let later = now + 30 * DAY_MS;
            let owed = released_owed(&entries, &delivered, later) - paid;
            let last: i64 = available_for_payout(&entries, &delivered, later, hold).unwrap().iter().map(|m| m.amount_minor).sum();
            let held: i64 = entries.iter()
                .filter(|e| e.order_id.as_ref().is_some_and(|o| !delivered.contains_key(o)))
                .map(|e| -e.amount.amount_minor).sum();
            prop_assert!(held >= 0);
            prop_assert_eq!(last, owed.max(0));
        }
    }
}
