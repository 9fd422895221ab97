//! `payments.outbox` delivery (DESIGN §5): an event is tried right after the statement that wrote
//! it, and due rows are claimed by the sweep (`payments.claim_outbox`, which counts the attempt and
//! leases the row). Each is POSTed as an event envelope signed with `Upstash-Signature` to
//! `payments_events_url` and marked delivered only on a 2xx; anything else waits out
//! `shared::events::outbox`'s backoff, and after the last attempt stays undelivered for an operator.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use shared::events::outbox::{CLAIM_LEASE_SECS, retry_delay_secs};
use shared::events::{EventId, envelope_json};
use shared::neon::NeonError;
use shared::payments::api::OutboxReport;
use shared::transport::{HttpRequest, HttpTransport, Method};
use shared::webhook::{self, SIGNATURE_HEADER, SignRequest, SigningKey};
use spin_platform::SpinTransport;
use spin_platform::config::{self as platform, Var};
use spin_platform::respond::unix_now;

use crate::config;
use crate::failures::Handled;
use crate::ids;
use crate::store::{Neon, json_row};

/// The `iss` of our signed events.
const ISSUER: &str = "payments";
/// Longest error kept per row (`payments.outbox_failed` keeps 2,000 characters).
const MAX_ERROR_CHARS: usize = 500;

#[derive(Deserialize)]
struct Claimed {
    id: EventId,
    topic: String,
    payload: serde_json::Value,
    created_at: DateTime<Utc>,
    attempts: i32,
}

pub async fn deliver(neon: &Neon, limit: u32) -> Handled<OutboxReport> {
    let Some(destination) = destination().await? else {
        return Ok(OutboxReport { unconfigured: true, ..OutboxReport::default() });
    };
    let result = neon
        .query(
            &format!("SELECT {CLAIMED_JSON} AS row FROM payments.claim_outbox($1, $2 * interval '1 second') o"),
            &[&limit, &CLAIM_LEASE_SECS],
        )
        .await?;
    let rows = claimed(&result)?;
    let mut report = OutboxReport { claimed: u32::try_from(rows.len()).unwrap_or(u32::MAX), ..OutboxReport::default() };
    let mut delivered = Vec::new();
    for row in &rows {
        if attempt(neon, &destination, row).await? {
            delivered.push(row.id.as_str());
        } else {
            report.failed += 1;
        }
    }
    report.delivered = mark_delivered(neon, &delivered).await?;
    Ok(report)
}

/// Delivers one event just written (DESIGN §5: "attempted right after commit"), so the saga hears
/// of a payment without waiting for the cron. Claimed like a sweep claims it, so the two never
/// send it at once; whatever fails is left to the sweep and only logged.
pub async fn deliver_now(neon: &Neon, event_id: &str) {
    let result: Handled<()> = async {
        let Some(destination) = destination().await? else { return Ok(()) };
        let result = neon
            .query(
                &format!(
                    "UPDATE payments.outbox o SET attempts = o.attempts + 1,                          next_attempt_at = now() + $2 * interval '1 second'                      WHERE o.id = $1 AND o.delivered_at IS NULL AND o.next_attempt_at <= now()                      RETURNING {CLAIMED_JSON} AS row"
                ),
                &[&event_id, &CLAIM_LEASE_SECS],
            )
            .await?;
        for row in claimed(&result)? {
            if attempt(neon, &destination, &row).await? {
                mark_delivered(neon, &[row.id.as_str()]).await?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(problem) = result {
        eprintln!("payments outbox {event_id}: left for the sweep: {problem:?}");
    }
}

/// A claimed row as JSON (`o` is the outbox row).
const CLAIMED_JSON: &str = "json_build_object('id', o.id, 'topic', o.topic, 'payload', o.payload,                             'created_at', o.created_at, 'attempts', o.attempts)";

struct Destination {
    url: String,
    key: SigningKey,
}

async fn destination() -> Handled<Option<Destination>> {
    let Some(url) = config::events_url().await? else { return Ok(None) };
    Ok(Some(Destination { url, key: SigningKey::new(platform::get(Var::WebhookKeyCurrent).await?) }))
}

fn claimed(result: &shared::neon::QueryResult) -> Handled<Vec<Claimed>> {
    Ok(result.iter().map(|row| json_row(row.get("row").map_err(NeonError::from)?)).collect::<Result<_, _>>()?)
}

/// Sends `row`; on failure records the error and the next try (none after the last attempt).
/// Whether it was delivered; the caller marks delivered rows.
async fn attempt(neon: &Neon, destination: &Destination, row: &Claimed) -> Handled<bool> {
    let Err(error) = send(&destination.key, &destination.url, row).await else { return Ok(true) };
    eprintln!("payments outbox {} ({}) attempt {} failed: {error}", row.id, row.topic, row.attempts);
    let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
    let retry_in = retry_delay_secs(row.attempts);
    neon.query(
        "SELECT payments.outbox_failed($1, $2, now() + $3::integer * interval '1 second')",
        &[&row.id, &error, &retry_in],
    )
    .await?;
    Ok(false)
}

async fn mark_delivered(neon: &Neon, ids: &[&str]) -> Handled<u32> {
    if ids.is_empty() {
        return Ok(0);
    }
    let result = neon.query("SELECT payments.outbox_delivered($1::text[]) AS delivered", &[&ids]).await?;
    Ok(result.one().and_then(|row| row.get::<u32>("delivered")).map_err(NeonError::from)?)
}

/// One signed POST; `Err` says why it does not count as delivered.
async fn send(key: &SigningKey, url: &str, row: &Claimed) -> Result<(), String> {
    let body = envelope_json(&row.id, &row.topic, row.created_at, &row.payload);
    let jti = ids::new_jti();
    let signature =
        webhook::sign(key, SignRequest { issuer: ISSUER, url, body: body.as_bytes(), now: unix_now(), jti: &jti })
            .map_err(|error| error.to_string())?;
    let request = HttpRequest::new(Method::Post, url)
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(body);
    let response = SpinTransport.send(request).await.map_err(|error| error.to_string())?;
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&response.body);
        Err(format!("HTTP {}: {}", response.status, text.chars().take(200).collect::<String>()))
    }
}
