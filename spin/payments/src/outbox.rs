//! `payments.outbox` delivery (DESIGN §5): due rows are claimed (`payments.claim_outbox`, which
//! counts the attempt and leases the row), each POSTed as an event envelope signed with
//! `Upstash-Signature` to `payments_events_url`, and marked delivered only on a 2xx; anything else
//! waits out `shared::events::outbox`'s backoff, and after the last attempt stays undelivered for
//! an operator.

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
    let Some(url) = config::events_url().await? else {
        return Ok(OutboxReport { unconfigured: true, ..OutboxReport::default() });
    };
    let key = SigningKey::new(platform::get(Var::WebhookKeyCurrent).await?);
    let result = neon
        .query(
            "SELECT json_build_object('id', id, 'topic', topic, 'payload', payload, 'created_at', created_at, \
                                      'attempts', attempts) AS row \
             FROM payments.claim_outbox($1, $2 * interval '1 second')",
            &[&limit, &CLAIM_LEASE_SECS],
        )
        .await?;
    let rows: Vec<Claimed> =
        result.iter().map(|row| json_row(row.get("row").map_err(NeonError::from)?)).collect::<Result<_, _>>()?;
    let mut report = OutboxReport { claimed: u32::try_from(rows.len()).unwrap_or(u32::MAX), ..OutboxReport::default() };
    let mut delivered = Vec::new();
    for row in &rows {
        match send(&key, &url, row).await {
            Ok(()) => delivered.push(row.id.as_str()),
            Err(error) => {
                eprintln!("payments outbox {} ({}) attempt {} failed: {error}", row.id, row.topic, row.attempts);
                report.failed += 1;
                let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
                let retry_in = retry_delay_secs(row.attempts);
                neon.query(
                    "SELECT payments.outbox_failed($1, $2, now() + $3::integer * interval '1 second')",
                    &[&row.id, &error, &retry_in],
                )
                .await?;
            }
        }
    }
    if !delivered.is_empty() {
        let result = neon.query("SELECT payments.outbox_delivered($1::text[]) AS delivered", &[&delivered]).await?;
        report.delivered = result.one().and_then(|row| row.get::<u32>("delivered")).map_err(NeonError::from)?;
    }
    Ok(report)
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
