//! Delivery of a component's outbox (DESIGN §5, `shared::events::edge`): claim due rows
//! (`<schema>.claim_outbox`, so concurrent sweeps share the work), POST them in one signed batch to
//! the outbox's destination, and mark them delivered only on a 2xx; otherwise each is due again
//! after the outbox backoff, or parked once its attempts ran out. Every outbox of the 0009–0011
//! shape (inventory, orders, payments) is delivered by this one type, whoever receives it.

use shared::events::edge::{
    CLAIM_LEASE_SECS, DELIVERY_PATH, DeliveryReport, EventBatch, MAX_EVENTS_PER_DELIVERY, RawEvent,
};
use shared::events::outbox::retry_delay_secs;
use shared::neon::{NeonClient, NeonError};
use thiserror::Error;

use crate::config::{self, ConfigError, Var};
use crate::signed::{self, SignedCallError};
use crate::transport::SpinTransport;

/// Longest part of a receiver's answer kept in `last_error`.
const ERROR_QUOTE: usize = 300;
/// One batch right after a commit: the events of the change just committed, and whatever else was due.
const AFTER_COMMIT_LIMIT: usize = MAX_EVENTS_PER_DELIVERY;

/// Who receives an outbox's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// `{edge_url}/webhooks/core-events`: workers/events (docs/adr/0006).
    Edge,
    /// The URL in this component variable (a receiver in the core, such as the orders saga's);
    /// empty: the events wait in the outbox.
    Variable(&'static str),
}

/// A schema with an outbox, checked when the constant is built so it can be spliced into SQL, and
/// where its events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outbox {
    schema: &'static str,
    destination: Destination,
}

#[derive(Debug, Error)]
pub enum DeliveryError {
    /// Nothing was claimed: the component cannot sign or does not know where the receiver is.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Claiming or recording failed; claimed rows fall due again when their lease ends.
    #[error(transparent)]
    Neon(#[from] NeonError),
}

impl Outbox {
    /// Use in a `const`: lower-case letters and `_` only.
    pub const fn new(schema: &'static str, destination: Destination) -> Self {
        let bytes = schema.as_bytes();
        assert!(!bytes.is_empty(), "outbox schema: empty");
        let mut i = 0;
        while i < bytes.len() {
            assert!(bytes[i].is_ascii_lowercase() || bytes[i] == b'_', "outbox schema: only a-z and _");
            i += 1;
        }
        Self { schema, destination }
    }

    /// The component that signs the deliveries (`iss`).
    pub fn issuer(self) -> &'static str {
        self.schema
    }

    /// Where the deliveries go now; `None` when the destination is a variable left empty.
    async fn url(self) -> Result<Option<String>, ConfigError> {
        match self.destination {
            Destination::Edge => {
                Ok(Some(format!("{}{DELIVERY_PATH}", config::get(Var::EdgeUrl).await?.trim_end_matches('/'))))
            }
            Destination::Variable(name) => config::named_optional(name).await,
        }
    }

    /// Claims up to `limit` due events (at most `MAX_EVENTS_PER_DELIVERY`) and delivers them in
    /// one batch.
    pub async fn deliver_due(
        self,
        neon: &NeonClient<SpinTransport>,
        limit: usize,
    ) -> Result<DeliveryReport, DeliveryError> {
        let Some(url) = self.url().await? else {
            return Ok(DeliveryReport { unconfigured: true, ..DeliveryReport::default() });
        };
        // Also fails before claiming, so a component without its key leaves the rows due.
        config::get(Var::WebhookKeyCurrent).await?;
        let limit = limit.clamp(1, MAX_EVENTS_PER_DELIVERY);
        let claimed = self.claim(neon, limit).await?;
        if claimed.is_empty() {
            return Ok(DeliveryReport::default());
        }
        let ids: Vec<String> = claimed.iter().map(|(event, _)| event.id.as_str().to_owned()).collect();
        let batch = EventBatch { events: claimed.iter().map(|(event, _)| event.clone()).collect() };
        let body = serde_json::to_vec(&batch).unwrap_or_default();
        let failure = match signed::post_json(self.issuer(), &url, &body).await {
            Ok(response) if (200..300).contains(&response.status) => None,
            Ok(response) => Some(format!(
                "HTTP {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body).chars().take(ERROR_QUOTE).collect::<String>()
            )),
            Err(SignedCallError::Config(error)) => return Err(DeliveryError::Config(error)),
            Err(error) => Some(error.to_string()),
        };
        let mut report = DeliveryReport { claimed: claimed.len(), ..DeliveryReport::default() };
        match failure {
            None => {
                neon.query(&format!("SELECT {}.outbox_delivered($1::text[])", self.schema), &[&ids]).await?;
                report.delivered = claimed.len();
            }
            Some(error) => {
                eprintln!("{} outbox: delivery of {} events to {url} failed: {error}", self.schema, ids.len());
                let retry_secs: Vec<Option<i64>> =
                    claimed.iter().map(|(_, attempts)| retry_delay_secs(*attempts)).collect();
                neon.query(
                    &format!(
                        "SELECT {}.outbox_failed(t.id, $2, now() + t.secs * interval '1 second') \
                         FROM unnest($1::text[], $3::bigint[]) AS t (id, secs)",
                        self.schema
                    ),
                    &[&ids, &error, &retry_secs],
                )
                .await?;
                report.failed = claimed.len();
            }
        }
        Ok(report)
    }

    /// A sweep's share: batch after batch until fewer than a full batch was due, one failed, or
    /// `max_events` were claimed, so a backlog drains over a few sweeps instead of one request
    /// outliving its caller's timeout.
    pub async fn deliver_backlog(
        self,
        neon: &NeonClient<SpinTransport>,
        max_events: usize,
    ) -> Result<DeliveryReport, DeliveryError> {
        let mut report = DeliveryReport::default();
        while report.claimed < max_events {
            let asked = (max_events - report.claimed).min(MAX_EVENTS_PER_DELIVERY);
            let batch = self.deliver_due(neon, asked).await?;
            report = report.and(batch);
            if batch.unconfigured || batch.failed > 0 || batch.claimed < asked {
                break;
            }
        }
        Ok(report)
    }

    /// "Attempted right after commit" (DESIGN §5): what is due goes at once, so receivers hear of
    /// a change without waiting for the cron. A failure changes nothing for the caller: it is
    /// logged under `context` and the rows stay due for the next sweep (or the next change).
    pub async fn after_commit(self, neon: &NeonClient<SpinTransport>, context: &str) -> DeliveryReport {
        match self.deliver_due(neon, AFTER_COMMIT_LIMIT).await {
            Ok(report) => report,
            Err(error) => {
                eprintln!("[{context}] {} outbox not delivered after commit: {error}", self.schema);
                DeliveryReport::default()
            }
        }
    }

    /// Claimed events with their attempt count (this attempt included).
    async fn claim(self, neon: &NeonClient<SpinTransport>, limit: usize) -> Result<Vec<(RawEvent, i32)>, NeonError> {
        let result = neon
            .query(
                &format!(
                    "SELECT json_build_object('id', id, 'type', topic, 'occurred_at', created_at, 'data', payload) AS event, \
                     attempts FROM {}.claim_outbox($1::integer, $2::integer * interval '1 second') ORDER BY id",
                    self.schema
                ),
                &[&i64::try_from(limit).unwrap_or(1), &CLAIM_LEASE_SECS],
            )
            .await?;
        result
            .iter()
            .map(|row| {
                let event: serde_json::Value = row.get("event")?;
                let event: RawEvent = serde_json::from_value(event).map_err(|error| {
                    NeonError::Decode(shared::neon::DecodeError::Body(format!(
                        "an outbox row is not an event: {error}"
                    )))
                })?;
                Ok((event, row.get::<i32>("attempts")?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_names_its_schema_signer_and_receiver() {
        const INVENTORY: Outbox = Outbox::new("inventory", Destination::Edge);
        const PAYMENTS: Outbox = Outbox::new("payments", Destination::Variable("payments_events_url"));
        assert_eq!(INVENTORY.issuer(), "inventory");
        assert_eq!(PAYMENTS.destination, Destination::Variable("payments_events_url"));
    }
}
