//! `payments.payments` over Neon: a payment's row, and moving it as the provider reports, with the
//! outbox event of a final state written in the same statement (DESIGN §5).

use serde::Deserialize;
use shared::catalog::Money;
use shared::neon::{BatchOptions, DecodeError, NeonClient, NeonError, Query};
use shared::orders::{BuyerId, OrderGroupId};
use shared::payments::PspReference;
use shared::payments::api::{Intent, PaymentEvent, PaymentFailure};
use shared::payments::stripe::PaymentIntentId;
use shared::payments::{PaymentId, PaymentStatus};
use spin_platform::{SpinTransport, ids};

use crate::OUTBOX;

pub type Neon = NeonClient<SpinTransport>;

/// Column limits of `payments.payments` (0011, 0013).
const MAX_FAILURE_REASON: usize = 500;
const MAX_FAILURE_CODE: usize = 100;

/// A payment with what was refunded of it and whether the saga voided it.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentRow {
    pub payment_id: PaymentId,
    pub group_id: OrderGroupId,
    pub buyer_id: BuyerId,
    pub amount: Money,
    pub status: PaymentStatus,
    pub psp_intent_id: Option<PaymentIntentId>,
    pub idempotency_key: Option<String>,
    failure_code: Option<String>,
    decline_code: Option<String>,
    failure_reason: Option<String>,
    pub voided: bool,
    refunded_minor: i64,
}

impl PaymentRow {
    pub fn failure(&self) -> Option<PaymentFailure> {
        (self.failure_code.is_some() || self.decline_code.is_some() || self.failure_reason.is_some()).then(|| {
            PaymentFailure {
                code: self.failure_code.clone(),
                decline_code: self.decline_code.clone(),
                message: self.failure_reason.clone(),
            }
        })
    }

    /// Succeeded refunds and a void's refund.
    pub fn refunded(&self) -> Money {
        Money::new(self.refunded_minor, self.amount.currency)
    }

    pub fn psp_reference(&self) -> Option<PspReference> {
        self.psp_intent_id.as_ref().map(PspReference::from)
    }

    pub fn to_intent(&self, client_secret: Option<String>) -> Intent {
        Intent {
            payment_id: self.payment_id.clone(),
            group_id: self.group_id.clone(),
            status: self.status,
            amount: self.amount,
            psp_reference: self.psp_reference(),
            client_secret,
            failure: self.failure(),
            refunded: self.refunded(),
            voided: self.voided,
        }
    }
}

const LOAD: &str = "\
    SELECT json_build_object(
        'payment_id', p.id, 'group_id', p.group_id, 'buyer_id', p.buyer_id,
        'amount', json_build_object('amount_minor', p.amount_minor, 'currency', p.currency),
        'status', p.status, 'psp_intent_id', p.psp_intent_id, 'idempotency_key', p.idempotency_key,
        'failure_code', p.failure_code, 'decline_code', p.decline_code, 'failure_reason', p.failure_reason,
        'voided', v.payment_id IS NOT NULL,
        'refunded_minor', coalesce(v.refunded_minor, 0) + coalesce((
            SELECT sum(r.amount_minor) FROM payments.refunds r
            WHERE r.payment_id = p.id AND r.status = 'succeeded'), 0)
    ) AS payment
    FROM payments.payments p LEFT JOIN payments.voids v ON v.payment_id = p.id
    WHERE p.id = $1";

pub async fn load(neon: &Neon, payment_id: &PaymentId) -> Result<Option<PaymentRow>, NeonError> {
    let result = neon.query(LOAD, &[payment_id]).await?;
    result.first().map(|row| json_row(row.get("payment")?)).transpose()
}

/// A payment this request has just read or written, as it is now (gone is our bug, not a 404).
pub async fn reload(neon: &Neon, payment_id: &PaymentId) -> Result<PaymentRow, NeonError> {
    load(neon, payment_id)
        .await?
        .ok_or_else(|| NeonError::Decode(DecodeError::Body(format!("payment {payment_id} vanished"))))
}

/// A `json_build_object` column as the type it was built for.
pub fn json_row<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, NeonError> {
    serde_json::from_value(value)
        .map_err(|error| NeonError::Decode(DecodeError::Body(format!("unexpected row: {error}"))))
}

/// What the provider said about a payment: its state, the intent, why it failed, and for a
/// webhook the event (marked processed in the same batch).
pub struct Report<'a> {
    pub reported: PaymentStatus,
    pub intent: Option<&'a PaymentIntentId>,
    pub failure: Option<PaymentFailure>,
    pub event_id: Option<&'a str>,
}

/// Moves `row` as `report` says, in one batch: the intent id recorded if it was missing, the
/// status moved only from a state that may reach it (a stale or repeated report changes nothing),
/// and a final state's outbox event written by the same statement that moved it, so it is
/// written once, and then sent at once. Returns the status the row is in now if nothing else
/// moved it meanwhile.
pub async fn apply(neon: &Neon, row: &PaymentRow, report: Report<'_>) -> Result<PaymentStatus, NeonError> {
    let target = row.status.after_report(report.reported);
    let id = &row.payment_id;
    let mut queries = Vec::new();
    // (index of the outbox insert in the batch, the event's id)
    let mut announced: Option<(usize, String)> = None;
    if let (Some(intent), None) = (report.intent, &row.psp_intent_id) {
        queries.push(Query::new(
            "UPDATE payments.payments SET psp_intent_id = $2 WHERE id = $1 AND psp_intent_id IS NULL",
            &[id, intent],
        ));
    }
    if target != row.status {
        if !PaymentStatus::Created.can_move_to(target) {
            // created → succeeded/processing goes through requires_payment (the guard's path).
            queries.push(Query::new(
                "UPDATE payments.payments SET status = 'requires_payment' WHERE id = $1 AND status = 'created'",
                &[id],
            ));
        }
        let sources: Vec<&str> = PaymentStatus::sources(target).into_iter().map(PaymentStatus::as_str).collect();
        let failure = report.failure.as_ref().filter(|_| target == PaymentStatus::Failed);
        let code = failure.and_then(|f| f.code.as_deref()).map(|text| clip(text, MAX_FAILURE_CODE));
        let decline = failure.and_then(|f| f.decline_code.as_deref()).map(|text| clip(text, MAX_FAILURE_CODE));
        let reason = failure.and_then(|f| f.message.as_deref()).map(|text| clip(text, MAX_FAILURE_REASON));
        match PaymentEvent::topic(target) {
            Some(topic) => {
                let event = PaymentEvent {
                    payment_id: id.clone(),
                    group_id: row.group_id.clone(),
                    buyer_id: row.buyer_id.clone(),
                    status: target,
                    amount: row.amount,
                    psp_reference: report.intent.map(PspReference::from).or_else(|| row.psp_reference()),
                    failure: failure.cloned(),
                };
                let payload = serde_json::to_value(&event).unwrap_or_default();
                let event_id = ids::new_id("evt");
                announced = Some((queries.len(), event_id.clone()));
                queries.push(Query::new(
                    "WITH moved AS (
                        UPDATE payments.payments
                           SET status = $2,
                               succeeded_at = CASE WHEN $2 = 'succeeded' THEN now() END,
                               failure_code = coalesce($4, failure_code),
                               decline_code = coalesce($5, decline_code),
                               failure_reason = coalesce($6, failure_reason)
                         WHERE id = $1 AND status = ANY($3::text[])
                        RETURNING id)
                     INSERT INTO payments.outbox (id, topic, payload)
                     SELECT $7, $8, $9::jsonb FROM moved
                     RETURNING id",
                    &[id, &target.as_str(), &sources, &code, &decline, &reason, &event_id, &topic, &payload],
                ));
            }
            None => queries.push(Query::new(
                "UPDATE payments.payments SET status = $2 WHERE id = $1 AND status = ANY($3::text[])",
                &[id, &target.as_str(), &sources],
            )),
        }
    }
    if let Some(event_id) = report.event_id {
        queries.push(Query::new(
            "UPDATE payments.psp_events SET processed_at = now(), payment_id = $2 \
             WHERE event_id = $1 AND processed_at IS NULL",
            &[&event_id, id],
        ));
    }
    let results = neon.batch(&queries, BatchOptions::default()).await?;
    if let Some((index, event_id)) = announced
        && results.get(index).is_some_and(|result| !result.is_empty())
    {
        OUTBOX.after_commit(neon, &event_id).await;
    }
    Ok(target)
}

/// At most `limit` bytes, cut on a character boundary.
fn clip(text: &str, limit: usize) -> String {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
