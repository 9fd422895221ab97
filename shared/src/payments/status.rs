//! Our record of a payment's state (`payments.payments.status`) and how the provider's
//! PaymentIntent states map onto it.
//!
//! `created → requires_payment → processing → succeeded | failed | cancelled`, exactly the moves
//! `payments.payment_status_guard` (0011) allows. Succeeded, failed and cancelled are final: a late
//! or repeated webhook cannot undo them. The component moves a row only along [`PaymentStatus::sources`],
//! so a stale report updates nothing instead of tripping the guard.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::stripe::{PaymentIntent, PaymentIntentStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Our row exists; the provider has not answered yet (or never will: a crash in between).
    Created,
    /// The provider has the intent and waits for the buyer (3-D Secure, a new card).
    RequiresPayment,
    /// The provider is settling it; a webhook will say how it ended.
    Processing,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown payment status {0:?}")]
pub struct PaymentStatusError(pub String);

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 6] = [
        PaymentStatus::Created,
        PaymentStatus::RequiresPayment,
        PaymentStatus::Processing,
        PaymentStatus::Succeeded,
        PaymentStatus::Failed,
        PaymentStatus::Cancelled,
    ];

    /// The `status` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Created => "created",
            PaymentStatus::RequiresPayment => "requires_payment",
            PaymentStatus::Processing => "processing",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(input: &str) -> Result<Self, PaymentStatusError> {
        Self::ALL.into_iter().find(|status| status.as_str() == input).ok_or_else(|| PaymentStatusError(input.into()))
    }

    pub fn is_final(self) -> bool {
        matches!(self, PaymentStatus::Succeeded | PaymentStatus::Failed | PaymentStatus::Cancelled)
    }

    /// The moves `payments.payment_status_guard` allows (staying put is always allowed).
    pub fn can_move_to(self, to: PaymentStatus) -> bool {
        use PaymentStatus::*;
        self == to
            || matches!(
                (self, to),
                (Created, RequiresPayment | Failed | Cancelled)
                    | (RequiresPayment, Processing | Succeeded | Failed | Cancelled)
                    | (Processing, Succeeded | Failed | RequiresPayment)
            )
    }

    /// The statuses a row may be in to move to `to` in one step (excluding `to` itself).
    pub fn sources(to: PaymentStatus) -> Vec<PaymentStatus> {
        Self::ALL.into_iter().filter(|from| *from != to && from.can_move_to(to)).collect()
    }

    /// What the provider's PaymentIntent says about our payment. `None` for states our flow does
    /// not use (a manual capture's `requires_capture`): they change nothing.
    pub fn of_intent(intent: &PaymentIntent) -> Option<PaymentStatus> {
        match intent.status {
            PaymentIntentStatus::Succeeded => Some(PaymentStatus::Succeeded),
            PaymentIntentStatus::Processing => Some(PaymentStatus::Processing),
            PaymentIntentStatus::Canceled => Some(PaymentStatus::Cancelled),
            // After a decline Stripe goes back to `requires_payment_method` with the error kept;
            // we confirm once, so that attempt was the payment.
            PaymentIntentStatus::RequiresPaymentMethod if intent.last_payment_error.is_some() => {
                Some(PaymentStatus::Failed)
            }
            PaymentIntentStatus::RequiresPaymentMethod
            | PaymentIntentStatus::RequiresConfirmation
            | PaymentIntentStatus::RequiresAction => Some(PaymentStatus::RequiresPayment),
            PaymentIntentStatus::RequiresCapture => None,
        }
    }

    /// Where a payment in `self` ends up when the provider reports `reported`: the reported
    /// status if the row may get there (through `requires_payment` from `created`, which the
    /// component writes as two updates), else `self` (a stale or out-of-order report).
    /// A cancellation reported while processing counts as a failure: the guard has no
    /// `processing → cancelled`, and the money did not move either way.
    pub fn after_report(self, reported: PaymentStatus) -> PaymentStatus {
        let reported = match (self, reported) {
            (PaymentStatus::Processing, PaymentStatus::Cancelled) => PaymentStatus::Failed,
            (_, reported) => reported,
        };
        let via_requires_payment = self == PaymentStatus::Created
            && PaymentStatus::RequiresPayment.can_move_to(reported)
            && reported != PaymentStatus::Created;
        if self.can_move_to(reported) || via_requires_payment { reported } else { self }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn intent(status: &str, error: bool) -> PaymentIntent {
        let error = error.then(|| serde_json::json!({"type": "card_error", "code": "card_declined"}));
        serde_json::from_value(serde_json::json!({
            "id": "pi_1", "amount": 100, "amount_capturable": 0, "amount_received": 0, "currency": "eur",
            "status": status, "capture_method": "automatic", "client_secret": null, "latest_charge": null,
            "payment_method": null, "last_payment_error": error, "cancellation_reason": null,
            "transfer_group": null, "created": 1, "livemode": false
        }))
        .unwrap()
    }

    #[test]
    fn names_match_the_columns_check_constraint() {
        let names: Vec<_> = PaymentStatus::ALL.map(PaymentStatus::as_str).to_vec();
        assert_eq!(names, ["created", "requires_payment", "processing", "succeeded", "failed", "cancelled"]);
        for status in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(status.as_str()), Ok(status));
        }
        assert!(PaymentStatus::parse("paid").is_err());
    }

    #[test]
    fn the_moves_are_the_guards() {
        use PaymentStatus::*;
        // payments.payment_status_guard's list, verbatim.
        let guard = [
            (Created, RequiresPayment),
            (Created, Failed),
            (Created, Cancelled),
            (RequiresPayment, Processing),
            (RequiresPayment, Succeeded),
            (RequiresPayment, Failed),
            (RequiresPayment, Cancelled),
            (Processing, Succeeded),
            (Processing, Failed),
            (Processing, RequiresPayment),
        ];
        for from in PaymentStatus::ALL {
            for to in PaymentStatus::ALL {
                assert_eq!(from.can_move_to(to), from == to || guard.contains(&(from, to)), "{from} → {to}");
            }
        }
        assert_eq!(PaymentStatus::sources(Succeeded), [RequiresPayment, Processing]);
        assert_eq!(PaymentStatus::sources(Cancelled), [Created, RequiresPayment]);
    }

    #[test]
    fn intents_map_to_our_states() {
        assert_eq!(PaymentStatus::of_intent(&intent("succeeded", false)), Some(PaymentStatus::Succeeded));
        assert_eq!(PaymentStatus::of_intent(&intent("processing", false)), Some(PaymentStatus::Processing));
        assert_eq!(PaymentStatus::of_intent(&intent("canceled", false)), Some(PaymentStatus::Cancelled));
        assert_eq!(PaymentStatus::of_intent(&intent("requires_payment_method", true)), Some(PaymentStatus::Failed));
        assert_eq!(
            PaymentStatus::of_intent(&intent("requires_payment_method", false)),
            Some(PaymentStatus::RequiresPayment)
        );
        assert_eq!(PaymentStatus::of_intent(&intent("requires_action", false)), Some(PaymentStatus::RequiresPayment));
        assert_eq!(PaymentStatus::of_intent(&intent("requires_capture", false)), None);
    }

    #[test]
    fn reports_move_forward_only() {
        use PaymentStatus::*;
        assert_eq!(Created.after_report(Succeeded), Succeeded, "through requires_payment");
        assert_eq!(Created.after_report(Processing), Processing);
        assert_eq!(Processing.after_report(Cancelled), Failed);
        assert_eq!(Succeeded.after_report(Failed), Succeeded);
        assert_eq!(Succeeded.after_report(Processing), Succeeded, "a late processing event");
        assert_eq!(Cancelled.after_report(Succeeded), Cancelled, "a voided payment stays voided");
    }

    proptest! {
        /// Whatever the provider reports, in whatever order and how often: every step is one the
        /// guard allows (or two through requires_payment), and a final state never changes.
        #[test]
        fn any_sequence_of_reports_keeps_to_the_guard(reports in prop::collection::vec(0usize..6, 0..30)) {
            let mut status = PaymentStatus::Created;
            for report in reports {
                let next = status.after_report(PaymentStatus::ALL[report]);
                let direct = status.can_move_to(next);
                let through = status == PaymentStatus::Created
                    && PaymentStatus::RequiresPayment.can_move_to(next);
                prop_assert!(direct || through, "{status} → {next}");
                if status.is_final() {
                    prop_assert_eq!(next, status);
                }
                status = next;
            }
        }
    }
}
