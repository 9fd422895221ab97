//! Every statement of the saga: one call of a 0010/0016 function each (one transaction), rows back
//! as JSON in the shape of `shared`'s types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use shared::catalog::{CategoryId, ProductId};
use shared::events::EventId;
use shared::events::edge::OrderPlaced;
use shared::idempotency::IdempotencyKey;
use shared::neon::{NeonError, RowError};
use shared::orders::{BuyerId, OrderGroup, OrderGroupId};
use shared::payments::{CommissionLine, CommissionRules};
use shared::saga::{SagaId, SagaState};

use crate::store::Neon;

/// A saga as stored (its revision inside the state), with its buyer.
pub struct StoredSaga {
    pub state: SagaState,
    pub buyer: BuyerId,
    /// Another runner is working on it now (its hold has not lapsed).
    pub held_elsewhere: bool,
}

/// What `orders.start_checkout` found under the key.
pub enum Start {
    /// The key is this request's, and the saga was written.
    New,
    Replay {
        status: u16,
        body: String,
    },
    /// Not answered for good yet; the saga of the key, once it has one.
    InProgress(Option<SagaId>),
    Mismatch,
}

fn ms(at_ms: Option<i64>) -> Option<DateTime<Utc>> {
    at_ms.and_then(DateTime::from_timestamp_millis)
}

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, NeonError> {
    serde_json::to_value(value).map_err(|error| NeonError::Row(RowError::Json(error.to_string())))
}

pub async fn start_checkout(
    neon: &Neon,
    buyer: &BuyerId,
    key: &IdempotencyKey,
    fingerprint: &str,
    state: &SagaState,
) -> Result<Start, NeonError> {
    let result = neon
        .query(
            "SELECT outcome, response_status::integer AS status, response_body, resource_id FROM orders.start_checkout(\
             $1, $2, $3, $4, $5, $6::jsonb, $7, $8::bigint, $9::timestamptz, $10::timestamptz, $11::timestamptz)",
            &[
                buyer,
                key,
                &fingerprint,
                state.saga_id(),
                &state.group_id(),
                &json(state)?,
                &state.step().as_str(),
                &state.revision(),
                &ms(state.next_attempt_at_ms()),
                &ms(Some(state.deadline_ms())),
                &ms(state.next_attempt_at_ms()),
            ],
        )
        .await?;
    let row = result.one()?;
    let outcome: String = row.get("outcome")?;
    Ok(match outcome.as_str() {
        "new" => Start::New,
        "replay" => Start::Replay {
            status: row.get::<Option<i64>>("status")?.and_then(|status| u16::try_from(status).ok()).unwrap_or(200),
            body: row.get::<Option<String>>("response_body")?.unwrap_or_default(),
        },
        "in_progress" => {
            Start::InProgress(row.get::<Option<String>>("resource_id")?.and_then(|id| SagaId::parse(&id).ok()))
        }
        _ => Start::Mismatch,
    })
}

pub async fn load(neon: &Neon, saga: &SagaId) -> Result<Option<StoredSaga>, NeonError> {
    let result = neon.query(&format!("SELECT {STORED} FROM orders.sagas WHERE id = $1"), &[saga]).await?;
    result.first().map(stored).transpose()
}

/// The columns `stored` reads.
const STORED: &str = "state, buyer_id, coalesce(locked_until > now(), false) AS held_elsewhere";

fn stored(row: shared::neon::Row<'_>) -> Result<StoredSaga, NeonError> {
    let state: serde_json::Value = row.get("state")?;
    let state = serde_json::from_value(state).map_err(|error| NeonError::Row(RowError::Json(error.to_string())))?;
    let buyer: String = row.get("buyer_id")?;
    let buyer = BuyerId::parse(&buyer).map_err(|error| NeonError::Row(RowError::Json(error.to_string())))?;
    Ok(StoredSaga { state, buyer, held_elsewhere: row.get("held_elsewhere")? })
}

/// The saga whose checkout is this group (the payment events name the group).
pub async fn load_by_group(neon: &Neon, group: &OrderGroupId) -> Result<Option<StoredSaga>, NeonError> {
    let result = neon.query(&format!("SELECT {STORED} FROM orders.sagas WHERE group_id = $1"), &[group]).await?;
    result.first().map(stored).transpose()
}

/// Up to `limit` sagas due (or past their deadline), held for `lease_secs` by this sweeper.
pub async fn claim_due(neon: &Neon, limit: u32, lease_secs: i64) -> Result<Vec<StoredSaga>, NeonError> {
    let result = neon
        .query(
            "SELECT state, buyer_id, false AS held_elsewhere \
             FROM orders.claim_sagas($1::integer, make_interval(secs => $2::integer))",
            &[&limit, &lease_secs],
        )
        .await?;
    result.iter().map(stored).collect()
}

/// False when another runner saved first (`loaded_revision` is no longer the stored one). The
/// saver keeps holding the saga until `hold_until_ms` (`None`: released).
pub async fn save(
    neon: &Neon,
    state: &SagaState,
    loaded_revision: u64,
    hold_until_ms: Option<i64>,
    answer: Option<(u16, &str)>,
) -> Result<bool, NeonError> {
    let result = neon
        .query(
            "SELECT orders.save_saga($1, $2::bigint, $3::jsonb, $4, $5, $6::bigint, $7::timestamptz, \
             $8::timestamptz, $9::smallint, $10) AS saved",
            &[
                state.saga_id(),
                &loaded_revision,
                &json(state)?,
                &state.status().as_str(),
                &state.step().as_str(),
                &state.revision(),
                &ms(state.next_attempt_at_ms()),
                &ms(hold_until_ms),
                &answer.map(|(status, _)| status),
                &answer.map(|(_, body)| body),
            ],
        )
        .await?;
    Ok(result.one()?.get("saved")?)
}

/// The runner stops working on the saga as saved at its current revision.
pub async fn release(neon: &Neon, state: &SagaState) -> Result<(), NeonError> {
    neon.query("SELECT orders.release_saga($1, $2::bigint)", &[state.saga_id(), &state.revision()]).await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct CommissionInputs {
    /// `None` when no default rule is in force (a misconfigured platform).
    pub rules: Option<CommissionRules>,
    pub categories: BTreeMap<ProductId, Vec<CategoryId>>,
}

pub async fn commission_inputs(neon: &Neon, group: &OrderGroup) -> Result<CommissionInputs, NeonError> {
    let products: Vec<&ProductId> =
        group.orders.iter().flat_map(|order| &order.lines).map(|line| &line.product_id).collect();
    Ok(neon.query("SELECT orders.commission_inputs($1, now())", &[&products]).await?.json()?)
}

pub async fn create_group(
    neon: &Neon,
    group: &OrderGroup,
    commission: &[CommissionLine],
    saga: &SagaId,
) -> Result<(), NeonError> {
    neon.query(
        "SELECT orders.create_group($1::jsonb, $2::jsonb, $3, now())",
        &[&json(group)?, &json(&commission)?, saga],
    )
    .await?;
    Ok(())
}

pub async fn cancel_group(neon: &Neon, group: &OrderGroupId) -> Result<(), NeonError> {
    neon.query("SELECT orders.cancel_group($1)", &[group]).await?;
    Ok(())
}

pub async fn confirm_group(neon: &Neon, group: &OrderGroup, event: &EventId) -> Result<(), NeonError> {
    let placed = OrderPlaced::from(group);
    neon.query("SELECT orders.confirm_group($1, $2, $3::jsonb)", &[&group.id, event, &json(&placed)?]).await?;
    Ok(())
}
