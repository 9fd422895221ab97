//! `POST /payments/refunds`: give (part of) one vendor's order back to the buyer, and the void's
//! refunds of a booked payment.
//!
//! A refund is recorded first (`pending`, its id derived from the order and the caller's key, its
//! commission and promotion reversal worked out on the order's refunds so far), then made at the
//! provider under its own id as the idempotency key, then marked `succeeded` together with its
//! journal. A retry finds the row and carries on where the last attempt stopped; the sum of an
//! order's refunds never passes what it was charged (checked under a per-order lock) and a
//! payment's never what it took (`payments.refund_within_payment`).

use serde::Deserialize;
use shared::api::{ApiError, ErrorCode};
use shared::catalog::validation::FieldErrors;
use shared::catalog::{Money, VendorId};
use shared::idempotency::IdempotencyKey;
use shared::neon::{BatchOptions, NeonError, Query};
use shared::orders::OrderId;
use shared::payments::api::{CreateRefund, MAX_REFUND_REASON_CHARS, Refund, RefundStatus};
use shared::payments::stripe::{self, CallError, Metadata, StripeError};
use shared::payments::{LedgerError, PaymentId, PaymentStatus, PspReference, RefundId, Reversal, VendorSplit, ledger};
use spin_platform::{Received, Response, config as platform};

use crate::config::{self, Provider};
use crate::failures::{Handled, Problem, answer, parse_json};
use crate::intents::stripe_key;
use crate::store::{self, Neon, PaymentRow, json_row};

const DEFAULT_REASON: &str = "requested by the buyer";
/// Inserts lost to a concurrent refund of the same order before giving up (the caller retries).
const INSERT_ATTEMPTS: usize = 3;

pub async fn handle(request: &Received) -> Response {
    answer(request, 200, run(request).await)
}

async fn run(request: &Received) -> Handled<Refund> {
    let body: CreateRefund = parse_json(request)?;
    let reason = body.reason.as_deref().map(str::trim).unwrap_or(DEFAULT_REASON);
    if reason.is_empty() || reason.chars().count() > MAX_REFUND_REASON_CHARS {
        return Err(FieldErrors::single("reason", "invalid").to_api_error().into());
    }
    if body.amount.amount_minor <= 0 {
        return Err(FieldErrors::single("amount", "out_of_range").to_api_error().into());
    }
    let neon = platform::neon_client().await?;
    let Some((payment_id, split)) = load_split(&neon, &body.order_id).await? else {
        return Err(Problem::not_found(format!("no paid and booked order {}", body.order_id)));
    };
    // Vendor isolation: another vendor's order does not exist for this caller.
    if split.vendor_id != body.vendor_id {
        return Err(Problem::not_found(format!("no paid and booked order {}", body.order_id)));
    }
    if body.amount.currency != split.charged.currency {
        return Err(FieldErrors::single("amount", "invalid_currency").to_api_error().into());
    }
    let payment = store::load(&neon, &payment_id)
        .await?
        .ok_or_else(|| Problem::corrupt(format!("order {} is booked to a missing payment", body.order_id)))?;
    if payment.voided {
        return Err(Problem::conflict(format!("payment {payment_id} was voided: everything was refunded")));
    }
    let provider = config::stripe().await?;
    refund_order(&neon, &provider, &payment, &split, body.amount, &body.idempotency_key, reason).await
}

/// Refunds `amount` of `order` of `payment` under `key` (see the module docs).
pub async fn refund_order(
    neon: &Neon,
    provider: &Provider,
    payment: &PaymentRow,
    order: &VendorSplit,
    amount: Money,
    key: &IdempotencyKey,
    reason: &str,
) -> Handled<Refund> {
    if payment.status != PaymentStatus::Succeeded {
        return Err(Problem::conflict(format!("payment {} has not succeeded", payment.payment_id)));
    }
    let Some(intent) = &payment.psp_intent_id else {
        return Err(Problem::corrupt(format!("succeeded payment {} has no intent", payment.payment_id)));
    };
    let refund_id = RefundId::for_request(&order.order_id, key);
    let row = match load_refund(neon, &refund_id).await? {
        Some(row) => row,
        None => record(neon, payment, order, &refund_id, amount, reason).await?,
    };
    if row.order_id != order.order_id || row.amount != amount {
        return Err(shared::idempotency::idempotency_key_reused().into());
    }
    match row.status {
        RefundStatus::Succeeded => return Ok(row.to_refund()),
        RefundStatus::Failed => return Err(refused(&row, "the payment provider refused it")),
        RefundStatus::Pending => {}
    }
    let params = stripe::CreateRefund {
        payment_intent: intent.clone(),
        amount: Some(amount),
        reason: None,
        metadata: Metadata::new()
            .with("refund_id", refund_id.as_str())
            .and_then(|metadata| metadata.with("order_id", order.order_id.as_str()))
            .map_err(|error| Problem::api(ErrorCode::Internal, format!("refund metadata: {error}")))?,
    };
    match provider.client.create_refund(&params, &stripe_key(refund_id.as_str())?).await {
        Ok(made) if matches!(made.status, Some(stripe::RefundStatus::Failed | stripe::RefundStatus::Canceled)) => {
            mark_failed(neon, &refund_id).await?;
            Err(refused(&row, "the payment provider could not refund it"))
        }
        // `pending` (some methods settle later) counts: the provider has taken it on.
        Ok(made) => {
            succeed(neon, &row, &PspReference::from(&made.id)).await?;
            let row = load_refund(neon, &refund_id).await?.unwrap_or(row);
            Ok(row.to_refund())
        }
        Err(CallError::Stripe(error @ (StripeError::InvalidRequest { .. } | StripeError::Card(_)))) => {
            eprintln!("refund {refund_id} refused by the provider: {error}");
            mark_failed(neon, &refund_id).await?;
            Err(refused(&row, &error.to_string()))
        }
        Err(error) => Err(error.into()),
    }
}

/// Records the refund with its reversal, under a per-order lock and only if the order's refunds
/// are still what the reversal was computed on (another refund in between: compute again).
async fn record(
    neon: &Neon,
    payment: &PaymentRow,
    order: &VendorSplit,
    refund_id: &RefundId,
    amount: Money,
    reason: &str,
) -> Handled<RefundRow> {
    for _ in 0..INSERT_ATTEMPTS {
        let before = refunded_before(neon, &order.order_id, amount.currency).await?;
        let back = ledger::reversal(order, before, amount).map_err(|error| refund_error(&error))?;
        let lock = Query::new(
            "SELECT pg_advisory_xact_lock(hashtextextended('payments.refund:' || $1::text, 0))",
            &[&order.order_id],
        );
        let insert = Query::new(
            "INSERT INTO payments.refunds (id, payment_id, order_id, vendor_id, amount_minor, currency, \
                                           commission_reversed_minor, promotion_reversed_minor, reason) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE (SELECT coalesce(sum(amount_minor), 0) FROM payments.refunds \
                    WHERE order_id = $3 AND status <> 'failed') = $10 \
             ON CONFLICT (id) DO NOTHING RETURNING id",
            &[
                refund_id,
                &payment.payment_id,
                &order.order_id,
                &order.vendor_id,
                &amount.amount_minor,
                &amount.currency,
                &back.commission.amount_minor,
                &back.platform_discount.amount_minor,
                &reason,
                &before.amount_minor,
            ],
        );
        let results = neon.batch(&[lock, insert], BatchOptions::default()).await.map_err(within_payment)?;
        let inserted = results.get(1).is_some_and(|result| !result.is_empty());
        if let Some(row) = load_refund(neon, refund_id).await? {
            return Ok(row);
        }
        if inserted {
            return Err(Problem::corrupt(format!("refund {refund_id} vanished")));
        }
    }
    Err(Problem::conflict(format!("order {} is being refunded concurrently; retry", order.order_id)))
}

async fn refunded_before(neon: &Neon, order: &OrderId, currency: shared::catalog::Currency) -> Handled<Money> {
    let result = neon
        .query(
            "SELECT coalesce(sum(amount_minor), 0)::bigint AS refunded FROM payments.refunds \
             WHERE order_id = $1 AND status <> 'failed'",
            &[order],
        )
        .await?;
    let refunded: i64 = result.one().and_then(|row| row.get("refunded")).map_err(NeonError::from)?;
    Ok(Money::new(refunded, currency))
}

/// `succeeded` and the refund's journal, in one batch (both idempotent).
async fn succeed(neon: &Neon, row: &RefundRow, psp_refund: &PspReference) -> Handled<()> {
    let back = Reversal::from_parts(row.amount, row.commission_reversed(), row.promotion_reversed())
        .map_err(|error| refund_error(&error))?;
    let journal = ledger::refund_of(&row.refund_id, &row.order_id, &row.vendor_id, &back)
        .map_err(|error| refund_error(&error))?;
    let entries = serde_json::to_value(journal.postings()).unwrap_or_default();
    let queries = [
        Query::new(
            "UPDATE payments.refunds SET status = 'succeeded', psp_refund_id = $2 WHERE id = $1 AND status = 'pending'",
            &[&row.refund_id, psp_refund],
        ),
        Query::new(
            "SELECT payments.post_journal('refund', $1, $2::jsonb, $3)",
            &[&row.refund_id, &entries, &row.reason],
        ),
    ];
    neon.batch(&queries, BatchOptions::default()).await?;
    Ok(())
}

async fn mark_failed(neon: &Neon, refund_id: &RefundId) -> Handled<()> {
    neon.query("UPDATE payments.refunds SET status = 'failed' WHERE id = $1 AND status = 'pending'", &[refund_id])
        .await?;
    Ok(())
}

/// `payments.refund_within_payment` refused: the payment's refunds would pass what it took.
fn within_payment(error: NeonError) -> Problem {
    if error.sqlstate() == Some("PY004") {
        let message = error.postgres().map(|pg| pg.message.clone()).unwrap_or_default();
        ApiError::new(ErrorCode::ValidationFailed, message)
            .with_details(serde_json::json!({"reason": "refund_exceeds_paid"}))
            .into()
    } else {
        error.into()
    }
}

fn refund_error(error: &LedgerError) -> Problem {
    let details = match error {
        LedgerError::RefundExceedsCharged { refundable } => {
            serde_json::json!({"reason": "refund_exceeds_paid", "refundable": refundable})
        }
        _ => serde_json::json!({"reason": "invalid_refund"}),
    };
    ApiError::new(ErrorCode::ValidationFailed, error.to_string()).with_details(details).into()
}

fn refused(row: &RefundRow, why: &str) -> Problem {
    ApiError::new(ErrorCode::Conflict, format!("refund {} failed: {why}", row.refund_id))
        .with_details(serde_json::json!({"refund_id": row.refund_id, "status": "failed"}))
        .into()
}

/// A `payments.refunds` row.
#[derive(Debug, Clone, Deserialize)]
struct RefundRow {
    refund_id: RefundId,
    order_id: OrderId,
    vendor_id: VendorId,
    amount: Money,
    commission_reversed_minor: i64,
    promotion_reversed_minor: i64,
    status: RefundStatus,
    psp_refund_id: Option<PspReference>,
    reason: String,
}

impl RefundRow {
    fn commission_reversed(&self) -> Money {
        Money::new(self.commission_reversed_minor, self.amount.currency)
    }

    fn promotion_reversed(&self) -> Money {
        Money::new(self.promotion_reversed_minor, self.amount.currency)
    }

    fn to_refund(&self) -> Refund {
        Refund {
            refund_id: self.refund_id.clone(),
            order_id: self.order_id.clone(),
            status: self.status,
            amount: self.amount,
            commission_reversed: self.commission_reversed(),
            psp_reference: self.psp_refund_id.clone(),
        }
    }
}

async fn load_refund(neon: &Neon, refund_id: &RefundId) -> Handled<Option<RefundRow>> {
    let result = neon
        .query(
            "SELECT json_build_object('refund_id', id, 'order_id', order_id, 'vendor_id', vendor_id, \
                'amount', json_build_object('amount_minor', amount_minor, 'currency', currency), \
                'commission_reversed_minor', commission_reversed_minor, \
                'promotion_reversed_minor', promotion_reversed_minor, \
                'status', status, 'psp_refund_id', psp_refund_id, 'reason', reason) AS refund \
             FROM payments.refunds WHERE id = $1",
            &[refund_id],
        )
        .await?;
    Ok(result.first().map(|row| json_row(row.get("refund")?)).transpose()?)
}

/// Columns of `payments.order_splits` as a `VendorSplit`.
const SPLIT_JSON: &str = "json_build_object('order_id', s.order_id, 'vendor_id', s.vendor_id, \
    'charged', json_build_object('amount_minor', s.charged_minor, 'currency', s.currency), \
    'goods', json_build_object('amount_minor', s.goods_minor, 'currency', s.currency), \
    'commission', json_build_object('amount_minor', s.commission_minor, 'currency', s.currency), \
    'platform_discount', json_build_object('amount_minor', s.platform_discount_minor, 'currency', s.currency), \
    'shipping', json_build_object('amount_minor', s.shipping_minor, 'currency', s.currency), \
    'tax', json_build_object('amount_minor', s.tax_minor, 'currency', s.currency), \
    'payable', json_build_object('amount_minor', s.payable_minor, 'currency', s.currency))";

/// The booked split of `order` and its payment.
async fn load_split(neon: &Neon, order: &OrderId) -> Handled<Option<(PaymentId, VendorSplit)>> {
    let sql = format!("SELECT s.payment_id, {SPLIT_JSON} AS split FROM payments.order_splits s WHERE s.order_id = $1");
    let result = neon.query(&sql, &[order]).await?;
    let Some(row) = result.first() else { return Ok(None) };
    let payment_id: String = row.get("payment_id").map_err(NeonError::from)?;
    let payment_id =
        PaymentId::parse(&payment_id).map_err(|_| Problem::corrupt(format!("payment id {payment_id:?}")))?;
    Ok(Some((payment_id, json_row(row.get("split").map_err(NeonError::from)?)?)))
}

/// Every booked order of `payment`, with what is left to refund of each.
pub async fn booked_orders(neon: &Neon, payment: &PaymentId) -> Handled<Vec<(VendorSplit, Money)>> {
    let sql = format!(
        "SELECT {SPLIT_JSON} AS split, (s.charged_minor - coalesce((SELECT sum(r.amount_minor) FROM payments.refunds r \
            WHERE r.order_id = s.order_id AND r.status <> 'failed'), 0))::bigint AS refundable \
         FROM payments.order_splits s WHERE s.payment_id = $1 ORDER BY s.order_id"
    );
    let result = neon.query(&sql, &[payment]).await?;
    result
        .iter()
        .map(|row| {
            let split: VendorSplit = json_row(row.get("split").map_err(NeonError::from)?)?;
            let refundable: i64 = row.get("refundable").map_err(NeonError::from)?;
            let currency = split.charged.currency;
            Ok((split, Money::new(refundable, currency)))
        })
        .collect()
}
