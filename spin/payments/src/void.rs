//! `POST /payments/intents/{payment_id}/void` (the saga's `void_payment` compensation): the
//! payment is marked voided first, so a create still running (a runner past its lease) finds it
//! and makes nothing; then whatever the provider did is undone: an intent that took no money is
//! cancelled, one that succeeded is refunded in full. Idempotent: voiding again answers the same.

use shared::catalog::Money;
use shared::payments::api::{VoidOutcome, Voided};
use shared::payments::stripe::{
    CancelPaymentIntent, CancellationReason, CreateRefund, PaymentIntentStatus, StripeError,
};
use shared::payments::{PaymentId, PaymentStatus};
use spin_platform::{Received, Response, config as platform};

use crate::config::{self, Provider};
use crate::failures::{Handled, Problem, answer};
use crate::intents::{refresh, stripe_key};
use crate::refunds;
use crate::store::{self, Neon, PaymentRow, Report};
use spin_platform::ids;

/// The key of the refunds a void makes per booked order (one per order, derived with it).
const VOID_REFUND_KEY: &str = "void";

pub async fn handle(request: &Received, payment_id: &PaymentId) -> Response {
    answer(request, 200, run(payment_id).await)
}

async fn run(payment_id: &PaymentId) -> Handled<Voided> {
    let neon = platform::neon_client().await?;
    neon.query(
        "INSERT INTO payments.voids (payment_id) VALUES ($1) ON CONFLICT (payment_id) DO NOTHING",
        &[payment_id],
    )
    .await?;
    let Some(row) = store::load(&neon, payment_id).await? else {
        return Ok(Voided {
            payment_id: payment_id.clone(),
            outcome: VoidOutcome::NotCreated,
            status: None,
            refunded: None,
        });
    };
    let provider = config::stripe().await?;
    let row = undo(&neon, &provider, &row).await?;
    // A cancelled row can have been refunded too: the money came in after the void.
    let outcome = if row.status == PaymentStatus::Succeeded || row.refunded().amount_minor > 0 {
        VoidOutcome::Refunded
    } else {
        VoidOutcome::Cancelled
    };
    Ok(Voided { payment_id: row.payment_id.clone(), outcome, status: Some(row.status), refunded: Some(row.refunded()) })
}

/// Takes back what the provider did for a voided payment; the row afterwards.
pub async fn undo(neon: &Neon, provider: &Provider, row: &PaymentRow) -> Handled<PaymentRow> {
    let Some(intent_id) = &row.psp_intent_id else {
        // Not at the provider yet: a create still running finds the row cancelled and undoes
        // its own intent; one that crashed leaves an intent whose webhook is refunded on arrival.
        let report = Report { reported: PaymentStatus::Cancelled, intent: None, failure: None, event_id: None };
        store::apply(neon, row, report).await?;
        return Ok(store::reload(neon, &row.payment_id).await?);
    };
    let intent = provider.client.retrieve_payment_intent(intent_id).await?;
    match intent.status {
        PaymentIntentStatus::Succeeded => {
            let row = refresh(neon, row.clone(), &intent).await?;
            refund_all(neon, provider, &row).await?;
            Ok(store::reload(neon, &row.payment_id).await?)
        }
        PaymentIntentStatus::Processing => Err(Problem::conflict(format!(
            "payment {} is still processing at the provider; void it again once it settles",
            row.payment_id
        ))),
        PaymentIntentStatus::Canceled => refresh(neon, row.clone(), &intent).await,
        PaymentIntentStatus::RequiresPaymentMethod
        | PaymentIntentStatus::RequiresConfirmation
        | PaymentIntentStatus::RequiresAction
        | PaymentIntentStatus::RequiresCapture => {
            // A fresh key per attempt: a cancel refused because the intent moved meanwhile must
            // not be replayed to the next attempt, and cancelling twice changes nothing.
            let key = stripe_key(&ids::new_id("void"))?;
            let params = CancelPaymentIntent { cancellation_reason: Some(CancellationReason::Abandoned) };
            match provider.client.cancel_payment_intent(intent_id, &params, &key).await {
                Ok(cancelled) => refresh(neon, row.clone(), &cancelled).await,
                Err(error) if error.stripe().is_some_and(|e| matches!(e, StripeError::InvalidRequest { .. })) => {
                    Err(Problem::conflict(format!("payment {} moved at the provider; void it again", row.payment_id)))
                }
                Err(error) => Err(error.into()),
            }
        }
    }
}

/// Refunds what is left of a succeeded payment: per booked order (with their journals) when the
/// payment was booked, else in one refund recorded with the void (nothing was booked to reverse).
async fn refund_all(neon: &Neon, provider: &Provider, row: &PaymentRow) -> Handled<()> {
    let orders = refunds::booked_orders(neon, &row.payment_id).await?;
    if !orders.is_empty() {
        let key = stripe_key(VOID_REFUND_KEY)?;
        for (order, refundable) in orders.iter().filter(|(_, refundable)| refundable.amount_minor > 0) {
            refunds::refund_order(neon, provider, row, order, *refundable, &key, "checkout voided").await?;
        }
        return Ok(());
    }
    let Some(intent) = &row.psp_intent_id else { return Ok(()) };
    let params =
        CreateRefund { payment_intent: intent.clone(), amount: None, reason: None, metadata: Default::default() };
    let key = stripe_key(&format!("{}:void:refund", row.payment_id))?;
    let refund = match provider.client.create_refund(&params, &key).await {
        Ok(refund) => refund,
        Err(error) if error.stripe().and_then(StripeError::code) == Some("charge_already_refunded") => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    let amount = refund.amount_money().map_err(|error| Problem::corrupt(error.to_string()))?;
    record_void_refund(neon, &row.payment_id, &refund.id, amount).await
}

async fn record_void_refund(
    neon: &Neon,
    payment_id: &PaymentId,
    refund: &shared::payments::stripe::RefundId,
    amount: Money,
) -> Handled<()> {
    neon.query(
        "UPDATE payments.voids SET psp_refund_id = $2, refunded_minor = $3 WHERE payment_id = $1 AND psp_refund_id IS NULL",
        &[payment_id, refund, &amount.amount_minor],
    )
    .await?;
    Ok(())
}
