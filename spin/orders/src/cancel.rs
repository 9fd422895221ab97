//! A vendor cancels its order before shipment, with compensation. A `confirmed` or `processing`
//! order was paid, so the buyer gets it back in full (payments reverses the commission in the
//! ledger) and its units go back on the shelf; a `pending` one belongs to the checkout saga.
//!
//! Order of work, so that a crash at any point loses nothing and a retry of the same cancel
//! finishes it:
//! 1. `cancel_requested_at` is set on the row (if it is still where it was read): from then on the
//!    order cannot be processed, shipped or delivered.
//! 2. The refund, `POST /payments/refunds` under the key `<order_id>:cancel` (the same amount on
//!    every retry, since nothing else changes the order meanwhile): payments makes it once.
//! 3. The restock, `POST /inventory/reservations/release-vendor` for the group's reservation and
//!    this vendor: idempotent.
//! 4. Only then `cancelled`, with the refunded amount, and a timeline event naming the refund.
//!
//! The core is reached at `public_base_url`, which its signatures name anyway (`sub` is the
//! receiver's `public_base_url` + path), so no second variable can disagree with it.

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{ApiError, ErrorCode};
use shared::idempotency::IdempotencyKey;
use shared::inventory::{Reservation, ReservationReference, VendorReleaseRequest};
use shared::orders::api::{CancelRequest, OrderDetail};
use shared::orders::{OrderAction, OrderId, OrderStatus};
use shared::payments::api::{CreateRefund, Refund};

use crate::api::Failure;
use crate::calls::{self, Answer};
use crate::store::{self, Move, Neon};
use crate::vendor::{ATTEMPTS, Caller, load};

const REFUNDS: &str = "/payments/refunds";
const RELEASE_VENDOR: &str = "/inventory/reservations/release-vendor";
/// Shown to operators with the refund when the vendor gave no reason.
const DEFAULT_REASON: &str = "cancelled by the vendor";

pub async fn run(neon: &Neon, caller: &Caller, order: &OrderId, body: &CancelRequest) -> Result<OrderDetail, Failure> {
    let reason = body.reason()?.unwrap_or(DEFAULT_REASON);
    let actor = caller.actor();
    for _ in 0..ATTEMPTS {
        let current = load(neon, caller, order).await?;
        let state = current.state();
        if state.status == OrderStatus::Pending {
            return Err(Failure::conflict("checkout_in_progress", "the checkout is still running for this order"));
        }
        let cancelled = state.apply(&actor, OrderAction::Cancel)?;
        if state.status == OrderStatus::Cancelled {
            return Ok(current.detail);
        }
        if !store::request_cancel(neon, order, &caller.vendor, state.status).await? {
            continue;
        }
        let refundable = state.refundable().map_err(|_| internal("the order's refundable amount overflows"))?;
        let refund = if refundable.amount_minor > 0 {
            let request = CreateRefund {
                order_id: order.clone(),
                vendor_id: caller.vendor.clone(),
                amount: refundable,
                reason: Some(reason.to_owned()),
                idempotency_key: IdempotencyKey::parse(&format!("{order}:cancel"))
                    .map_err(|_| internal("the cancel's refund key"))?,
            };
            Some(call::<_, Refund>("payments", REFUNDS, &request).await?)
        } else {
            None
        };
        let reference = ReservationReference::for_group(&current.detail.group_id);
        let restock = VendorReleaseRequest { reference, vendor_id: caller.vendor.clone() };
        let released: Reservation = call("inventory", RELEASE_VENDOR, &restock).await?;
        let done = match &refund {
            Some(refund) => cancelled.apply(&actor, OrderAction::Refund { amount: refund.amount })?,
            None => cancelled,
        };
        let units: u32 = released.quantities().iter().map(|(_, quantity)| quantity).sum();
        let note = serde_json::json!({
            "reason": reason,
            "refund_id": refund.as_ref().map(|refund| &refund.refund_id),
            "refunded": refund.as_ref().map(|refund| refund.amount),
            "units_restocked": units,
        });
        let change = Move {
            order,
            vendor: &caller.vendor,
            actor: &caller.user,
            from: &state,
            to: &done,
            note: Some(("cancellation", note)),
        };
        if store::apply_move(neon, &change).await? {
            return Ok(load(neon, caller, order).await?.detail);
        }
    }
    Err(Failure::conflict("concurrent_change", "the order changed while this request ran; retry"))
}

/// A signed call to another component of this app (`calls::post`); a refusal or outage is
/// `EXT_6001` with what it answered in `details`.
async fn call<B: Serialize, R: DeserializeOwned>(service: &str, path: &str, body: &B) -> Result<R, Failure> {
    match calls::post::<R>(path, body).await {
        Answer::Done(value) => Ok(value),
        Answer::Refused(refusal) => {
            eprintln!("{service} {path} refused: {refusal:?}");
            let answer =
                serde_json::json!({"code": refusal.code, "message": refusal.message, "details": refusal.details});
            Err(dependency(service, Some(refusal.status()), Some(answer)))
        }
        Answer::Failed(error) => {
            eprintln!("{service} {path}: {error}");
            Err(dependency(service, None, None))
        }
    }
}

/// The order stays as it was (a retry of the cancel carries on); the caller learns which step failed.
fn dependency(service: &str, status: Option<u16>, answer: Option<serde_json::Value>) -> Failure {
    let details =
        serde_json::json!({"reason": "compensation_failed", "service": service, "status": status, "answer": answer});
    Failure::Api(
        ApiError::new(
            ErrorCode::DependencyUnavailable,
            format!("the {service} step of the cancellation failed; retry"),
        )
        .with_details(details),
    )
}

fn internal(what: &str) -> Failure {
    Failure::Api(ApiError::new(ErrorCode::Internal, what.to_owned()))
}
