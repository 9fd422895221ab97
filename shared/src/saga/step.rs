//! The checkout saga's steps, in order, with their compensations and retry budgets.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::SagaId;
use crate::catalog::validation::Reason;
use crate::newtype::string_newtype;

/// The forward steps (DESIGN §9). Each is idempotent under its `StepKey`: running it again after
/// a crash or a lost reply finds the work done and reports the same result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Read the cart, revalidate prices and stock against the catalog (`cart::price`), build the
    /// order group (`OrderGroup::from_cart`) and its commission (`payments::assess`). Writes nothing.
    SnapshotCart,
    /// Insert the group, its orders (`pending`) and lines with their commission, and count the
    /// coupons' redemptions, in one batch. Undone by `CancelOrders`.
    CreateOrders,
    /// `inventory.reserve(group id, items, reservation expiry)`: all or nothing. Refused when short
    /// of stock. Undone by `ReleaseStock`.
    ReserveStock,
    /// Create the payment intent for the group's total (idempotency key = the step key). Undone by
    /// `VoidPayment`.
    CreatePayment,
    /// Wait for the provider's signed webhook (or poll it when the wait is up). Success is the
    /// pivot: from here the saga only goes forward, unless stock can no longer be consumed.
    AwaitPayment,
    /// `inventory.consume(group id)`. Refused if the reservation is gone and the stock with it.
    ConsumeStock,
    /// The group's `payment` journal (`payments::payment` of its split): the capture and the
    /// commission frozen on its lines.
    RecordLedger,
    /// Orders `pending → confirmed` and the `OrderPlaced` outbox row, in one batch.
    ConfirmOrders,
}

/// What undoes a step. Compensations are idempotent: each finds what to undo by the saga's
/// derived ids (group, payment), never by a step's reported output, because a step may have acted
/// without its reply arriving; undoing something that never happened is a no-op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compensation {
    /// Cancel the group's orders that are still `pending` (`OrderState::apply(System, Cancel)`).
    CancelOrders,
    /// `inventory.release(group id)`; a reservation already consumed has its units put back.
    ReleaseStock,
    /// Mark our payment voided (so a `CreatePayment` still running past its lease does not create
    /// the intent after all), then cancel the intent; if it already succeeded, refund it in full
    /// (with the refund journals if the capture was recorded).
    VoidPayment,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::SnapshotCart,
        Step::CreateOrders,
        Step::ReserveStock,
        Step::CreatePayment,
        Step::AwaitPayment,
        Step::ConsumeStock,
        Step::RecordLedger,
        Step::ConfirmOrders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::SnapshotCart => "snapshot_cart",
            Step::CreateOrders => "create_orders",
            Step::ReserveStock => "reserve_stock",
            Step::CreatePayment => "create_payment",
            Step::AwaitPayment => "await_payment",
            Step::ConsumeStock => "consume_stock",
            Step::RecordLedger => "record_ledger",
            Step::ConfirmOrders => "confirm_orders",
        }
    }

    /// 1-based position, for logs and the test-only "crash after step N" switch.
    pub fn number(self) -> usize {
        Self::ALL.iter().position(|step| *step == self).map_or(0, |index| index + 1)
    }

    pub fn next(self) -> Option<Step> {
        Self::ALL.get(self.number()).copied()
    }

    pub fn compensation(self) -> Option<Compensation> {
        match self {
            Step::CreateOrders => Some(Compensation::CancelOrders),
            Step::ReserveStock => Some(Compensation::ReleaseStock),
            Step::CreatePayment => Some(Compensation::VoidPayment),
            _ => None,
        }
    }

    /// After the payment succeeded: retries are not bounded by the checkout deadline.
    pub fn after_pivot(self) -> bool {
        self > Step::AwaitPayment
    }

    /// Attempts before giving up on the step (then the saga compensates).
    pub(crate) fn max_attempts(self) -> u32 {
        match self {
            Step::AwaitPayment => MAX_PAYMENT_POLLS,
            step if step.after_pivot() => AFTER_PIVOT_RETRY_MS.len() as u32 + 1,
            _ => BEFORE_PIVOT_RETRY_MS.len() as u32 + 1,
        }
    }

    /// The wait after the `attempts`th failed attempt (1-based), if another is allowed.
    pub(crate) fn retry_delay_ms(self, attempts: u32) -> Option<i64> {
        let delays: &[i64] = if self.after_pivot() { &AFTER_PIVOT_RETRY_MS } else { &BEFORE_PIVOT_RETRY_MS };
        delays.get(usize::try_from(attempts.checked_sub(1)?).ok()?).copied()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Compensation {
    pub fn as_str(self) -> &'static str {
        match self {
            Compensation::CancelOrders => "cancel_orders",
            Compensation::ReleaseStock => "release_stock",
            Compensation::VoidPayment => "void_payment",
        }
    }
}

/// Before the pivot the shopper is waiting on the checkout request: a couple of quick retries,
/// then give up and undo (the shopper can try again).
pub const BEFORE_PIVOT_RETRY_MS: [i64; 2] = [200, 1_000];
/// After the pivot the money is taken: keep trying for about two hours (the sweep runs every
/// minute), then refund.
pub const AFTER_PIVOT_RETRY_MS: [i64; 7] = [1_000, 5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000];
/// Compensations get the same patience; after that the saga is left for an operator.
pub const COMPENSATION_RETRY_MS: [i64; 7] = AFTER_PIVOT_RETRY_MS;
pub const MAX_COMPENSATION_ATTEMPTS: u32 = COMPENSATION_RETRY_MS.len() as u32 + 1;
/// Polls of the provider while awaiting the payment; the deadline ends the wait long before this
/// many polls at the default interval (12 minutes / 1 minute). It bounds a misconfigured interval.
pub const MAX_PAYMENT_POLLS: u32 = 100;

/// The idempotency key of one step (or its compensation) of one saga: the same on every attempt,
/// so the provider and the SQL functions recognise a retry. `sga_…:create_payment`,
/// `sga_…:create_payment:undo`. Shorter than Stripe's 255-character limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StepKey(String);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("a step key is `<saga id>:<step>` or `<saga id>:<step>:undo`")]
pub struct StepKeyError;

impl Reason for StepKeyError {
    fn reason(&self) -> &'static str {
        "invalid"
    }
}

impl StepKey {
    pub fn forward(saga: &SagaId, step: Step) -> Self {
        Self(format!("{saga}:{step}"))
    }

    pub fn undo(saga: &SagaId, step: Step) -> Self {
        Self(format!("{saga}:{step}:undo"))
    }

    pub fn parse(input: &str) -> Result<Self, StepKeyError> {
        let mut parts = input.split(':');
        let saga = parts.next().and_then(|saga| SagaId::parse(saga).ok()).ok_or(StepKeyError)?;
        let step = parts.next().and_then(|name| Step::ALL.into_iter().find(|step| step.as_str() == name));
        let step = step.ok_or(StepKeyError)?;
        match (parts.next(), parts.next()) {
            (None, _) => Ok(Self::forward(&saga, step)),
            (Some("undo"), None) if step.compensation().is_some() => Ok(Self::undo(&saga, step)),
            _ => Err(StepKeyError),
        }
    }
}

string_newtype!(StepKey, StepKeyError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_in_order_and_three_have_compensations() {
        let names: Vec<_> = Step::ALL.iter().map(|step| step.as_str()).collect();
        assert_eq!(
            names,
            [
                "snapshot_cart",
                "create_orders",
                "reserve_stock",
                "create_payment",
                "await_payment",
                "consume_stock",
                "record_ledger",
                "confirm_orders"
            ]
        );
        assert_eq!(Step::SnapshotCart.next(), Some(Step::CreateOrders));
        assert_eq!(Step::ConfirmOrders.next(), None);
        assert_eq!(Step::ReserveStock.number(), 3);
        let undone: Vec<_> = Step::ALL.iter().filter_map(|step| step.compensation()).collect();
        assert_eq!(undone, [Compensation::CancelOrders, Compensation::ReleaseStock, Compensation::VoidPayment]);
        assert!(!Step::AwaitPayment.after_pivot() && Step::ConsumeStock.after_pivot());
    }

    #[test]
    fn retry_budgets() {
        assert_eq!(Step::CreatePayment.max_attempts(), 3);
        assert_eq!(Step::CreatePayment.retry_delay_ms(1), Some(200));
        assert_eq!(Step::CreatePayment.retry_delay_ms(3), None);
        assert_eq!(Step::RecordLedger.max_attempts(), 8);
        let patience: i64 = AFTER_PIVOT_RETRY_MS.iter().sum();
        assert!((90 * 60_000..3 * 3_600_000).contains(&patience), "{patience}");
    }

    #[test]
    fn step_keys_are_stable_and_distinct() {
        let saga = SagaId::parse("sga_01JC00000000000000000000A1").unwrap();
        let key = StepKey::forward(&saga, Step::CreatePayment);
        assert_eq!(key.as_str(), "sga_01JC00000000000000000000A1:create_payment");
        assert_eq!(StepKey::parse(key.as_str()), Ok(key.clone()));
        let undo = StepKey::undo(&saga, Step::CreatePayment);
        assert_eq!(undo.as_str(), "sga_01JC00000000000000000000A1:create_payment:undo");
        assert_eq!(StepKey::parse(undo.as_str()), Ok(undo));
        for bad in [
            "sga_01JC00000000000000000000A1:pay",
            "x:create_payment",
            "sga_01JC00000000000000000000A1:snapshot_cart:undo",
        ] {
            assert_eq!(StepKey::parse(bad), Err(StepKeyError), "{bad}");
        }
    }
}
