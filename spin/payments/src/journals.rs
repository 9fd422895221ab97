//! `POST /payments/journals` (the saga's `record_ledger` step): books a succeeded payment from its
//! group's split (`ledger::payment`) and keeps each order's share for later refunds, in one batch.
//! Posting again is a no-op (`payments.post_journal` answers the first journal); another split for
//! the same payment is a conflict (PY003).

use shared::api::{ApiError, ErrorCode};
use shared::neon::{BatchOptions, NeonError, Query};
use shared::payments::api::{RecordLedger, Recorded};
use shared::payments::{PaymentId, PaymentStatus, ledger};
use spin_platform::{Received, Response, config as platform};

use crate::failures::{Handled, Problem, answer, parse_json};
use crate::store;

pub async fn handle(request: &Received) -> Response {
    answer(request, 200, run(request).await)
}

async fn run(request: &Received) -> Handled<Recorded> {
    let RecordLedger { split } = parse_json(request)?;
    split.check().map_err(|error| {
        ApiError::new(ErrorCode::ValidationFailed, error.to_string())
            .with_details(serde_json::json!({"reason": "split_inconsistent"}))
    })?;
    let payment_id = PaymentId::for_group(&split.group_id);
    let neon = platform::neon_client().await?;
    let payment = store::load(&neon, &payment_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no payment for group {}", split.group_id)))?;
    if payment.voided {
        return Err(Problem::conflict(format!("payment {payment_id} was voided")));
    }
    if payment.status != PaymentStatus::Succeeded {
        return Err(Problem::conflict(format!("payment {payment_id} is {}, not succeeded", payment.status)));
    }
    if payment.amount != split.charged {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            format!(
                "the split charges {} but the payment took {}",
                split.charged.amount_minor, payment.amount.amount_minor
            ),
        )
        .with_details(serde_json::json!({"reason": "split_does_not_match_payment"}))
        .into());
    }
    let journal = ledger::payment(&payment_id, &split)
        .map_err(|error| ApiError::new(ErrorCode::ValidationFailed, error.to_string()))?;
    let entries = serde_json::to_value(journal.postings()).unwrap_or_default();
    let orders: Vec<serde_json::Value> = split
        .vendors
        .iter()
        .map(|order| {
            serde_json::json!({
                "order_id": order.order_id, "vendor_id": order.vendor_id,
                "charged_minor": order.charged.amount_minor, "goods_minor": order.goods.amount_minor,
                "commission_minor": order.commission.amount_minor,
                "platform_discount_minor": order.platform_discount.amount_minor,
                "shipping_minor": order.shipping.amount_minor, "tax_minor": order.tax.amount_minor,
                "payable_minor": order.payable.amount_minor,
            })
        })
        .collect();
    let queries = [
        Query::new(
            "INSERT INTO payments.order_splits (order_id, payment_id, vendor_id, currency, charged_minor, goods_minor, \
                 commission_minor, platform_discount_minor, shipping_minor, tax_minor, payable_minor) \
             SELECT x.order_id, $1, x.vendor_id, $2, x.charged_minor, x.goods_minor, x.commission_minor, \
                    x.platform_discount_minor, x.shipping_minor, x.tax_minor, x.payable_minor \
             FROM jsonb_to_recordset($3::jsonb) AS x(order_id text, vendor_id text, charged_minor bigint, \
                 goods_minor bigint, commission_minor bigint, platform_discount_minor bigint, shipping_minor bigint, \
                 tax_minor bigint, payable_minor bigint) \
             ON CONFLICT (order_id) DO NOTHING",
            &[&payment_id, &split.charged.currency, &serde_json::Value::Array(orders)],
        ),
        Query::new(
            "SELECT payments.post_journal('payment', $1, $2::jsonb, $3) AS journal_id",
            &[&payment_id, &entries, &format!("order group {}", split.group_id)],
        ),
    ];
    let results = neon.batch(&queries, BatchOptions::default()).await.map_err(|error| match error.sqlstate() {
        Some("PY003") => Problem::conflict(format!("payment {payment_id} was booked with another split")),
        _ => error.into(),
    })?;
    let journal_id: String = results
        .get(1)
        .ok_or_else(|| Problem::corrupt("post_journal answered nothing"))?
        .one()
        .and_then(|row| row.get("journal_id"))
        .map_err(NeonError::from)?;
    Ok(Recorded { payment_id, journal_id })
}
