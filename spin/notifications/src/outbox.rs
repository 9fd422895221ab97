//! `notifications.outbox` over Neon: insert once per event, claim due rows, record attempts.
//! Every statement is one round trip and safe to run from concurrent instances.

use std::time::{SystemTime, UNIX_EPOCH};

use shared::events::EventId;
use shared::events::notification::Notification;
use shared::events::outbox::{CLAIM_LEASE_SECS, Transition};
use shared::ids;
use shared::neon::{NeonClient, NeonError, Row, RowError};
use spin_platform::SpinTransport;

pub type Neon = NeonClient<SpinTransport>;

/// A row a sender holds: what it needs to send and count the attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub attempts: i32,
}

/// The row is born claimed by its inserter (`next_attempt_at` = now + lease), so a sweep cannot
/// send it while the event handler does. A known `event_id` inserts nothing and returns no row.
const INSERT: &str = "\
    INSERT INTO notifications.outbox (id, event_id, kind, recipient, subject, body_text, next_attempt_at) \
    VALUES ($1, $2, $3, $4, $5, $6, now() + $7::int * interval '1 second') \
    ON CONFLICT (event_id) DO NOTHING \
    RETURNING id";

/// Claims due rows and pushes their `next_attempt_at` past the lease in the same statement, so
/// concurrent sweeps skip them (SKIP LOCKED now, the new time afterwards) and never double-send.
const CLAIM_DUE: &str = "\
    UPDATE notifications.outbox AS o \
       SET next_attempt_at = now() + $2::int * interval '1 second' \
      FROM (SELECT id FROM notifications.outbox \
             WHERE status = 'pending' AND next_attempt_at <= now() \
             ORDER BY next_attempt_at \
             LIMIT $1::int \
             FOR UPDATE SKIP LOCKED) AS due \
     WHERE o.id = due.id \
    RETURNING o.id, o.recipient, o.subject, o.body_text, o.attempts";

/// Writes one attempt's outcome; only a pending row changes (a finished one stays finished).
const RECORD: &str = "\
    UPDATE notifications.outbox \
       SET status = $2, \
           attempts = $3, \
           last_error = $4, \
           provider_message_id = COALESCE($5, provider_message_id), \
           delivered_at = CASE WHEN $2 = 'delivered' THEN now() END, \
           next_attempt_at = CASE WHEN $2 = 'pending' THEN now() + $6::int * interval '1 second' END \
     WHERE id = $1 AND status = 'pending'";

/// Inserts the notification for `event_id`; `Some(row)` when this call created it.
pub async fn insert(
    neon: &Neon,
    event_id: &EventId,
    notification: &Notification,
) -> Result<Option<Claimed>, NeonError> {
    let id = new_id();
    let result = neon
        .query(
            INSERT,
            &[
                &id,
                &event_id.as_str(),
                &notification.kind,
                &notification.recipient,
                &notification.subject,
                &notification.body_text,
                &CLAIM_LEASE_SECS,
            ],
        )
        .await?;
    Ok((!result.is_empty()).then(|| Claimed {
        id,
        recipient: notification.recipient.clone(),
        subject: notification.subject.clone(),
        body_text: notification.body_text.clone(),
        attempts: 0,
    }))
}

pub async fn claim_due(neon: &Neon, limit: u32) -> Result<Vec<Claimed>, NeonError> {
    let result = neon.query(CLAIM_DUE, &[&limit, &CLAIM_LEASE_SECS]).await?;
    result.iter().map(|row| claimed(&row)).collect::<Result<_, _>>().map_err(NeonError::from)
}

pub async fn record(neon: &Neon, id: &str, transition: &Transition) -> Result<(), NeonError> {
    neon.query(
        RECORD,
        &[
            &id,
            &transition.status.as_str(),
            &transition.attempts,
            &transition.last_error,
            &transition.provider_id,
            &transition.retry_in_secs,
        ],
    )
    .await
    .map(drop)
}

fn claimed(row: &Row<'_>) -> Result<Claimed, RowError> {
    Ok(Claimed {
        id: row.get("id")?,
        recipient: row.get("recipient")?,
        subject: row.get("subject")?,
        body_text: row.get("body_text")?,
        attempts: row.get("attempts")?,
    })
}

/// `ntf_<ULID>`: time-ordered, entropy from wasi:random.
fn new_id() -> String {
    let mut entropy = ids::Entropy::default();
    // wasi:random does not fail; were it to, the id would still be time-ordered and the
    // primary key would refuse a collision rather than overwrite.
    let _ = getrandom::fill(&mut entropy);
    let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    ids::new_id("ntf", unix_ms, entropy)
}
