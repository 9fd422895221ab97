//! Delivery of a component's outbox to the edge (DESIGN §5, `shared::events::edge`): claim due rows
//! (`<schema>.claim_outbox`, so concurrent sweeps share the work), POST them in one signed batch to
//! `{edge_url}/webhooks/core-events`, and mark them delivered only on a 2xx; otherwise each is due
//! again after the outbox backoff, or parked once its attempts ran out. Every outbox of the 0009–0011
//! shape (inventory, orders, payments) is delivered by this one function.

use shared::events::edge::{self, CLAIM_LEASE_SECS, DELIVERY_PATH, DeliveryReport, EventBatch, RawEvent};
use shared::neon::{NeonClient, NeonError};
use thiserror::Error;

use crate::config::{self, ConfigError, Var};
use crate::signed::{self, SignedCallError};
use crate::transport::SpinTransport;

/// Longest part of an edge answer kept in `last_error`.
const ERROR_QUOTE: usize = 300;

/// A schema with an outbox, checked when the constant is built so it can be spliced into SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeOutbox(&'static str);

#[derive(Debug, Error)]
pub enum DeliveryError {
    /// Nothing was claimed: the component cannot sign or does not know where the edge is.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Claiming or recording failed; claimed rows fall due again when their lease ends.
    #[error(transparent)]
    Neon(#[from] NeonError),
}

impl EdgeOutbox {
    /// Use in a `const`: lower-case letters and `_` only.
    pub const fn new(schema: &'static str) -> Self {
        let bytes = schema.as_bytes();
        assert!(!bytes.is_empty(), "outbox schema: empty");
        let mut i = 0;
        while i < bytes.len() {
            assert!(bytes[i].is_ascii_lowercase() || bytes[i] == b'_', "outbox schema: only a-z and _");
            i += 1;
        }
        Self(schema)
    }

    /// The component that signs the deliveries (`iss`).
    pub fn issuer(self) -> &'static str {
        self.0
    }

    /// Claims up to `limit` due events and delivers them in one batch.
    pub async fn deliver_due(
        self,
        neon: &NeonClient<SpinTransport>,
        limit: usize,
    ) -> Result<DeliveryReport, DeliveryError> {
        let url = format!("{}{DELIVERY_PATH}", config::get(Var::EdgeUrl).await?.trim_end_matches('/'));
        // Also fails before claiming, so a component without its key leaves the rows due.
        config::get(Var::WebhookKeyCurrent).await?;
        let limit = limit.clamp(1, edge::MAX_EVENTS_PER_DELIVERY);
        let claimed = self.claim(neon, limit).await?;
        if claimed.is_empty() {
            return Ok(DeliveryReport::default());
        }
        let ids: Vec<String> = claimed.iter().map(|(event, _)| event.id.as_str().to_owned()).collect();
        let batch = EventBatch { events: claimed.iter().map(|(event, _)| event.clone()).collect() };
        let body = serde_json::to_vec(&batch).unwrap_or_default();
        let failure = match signed::post_json(self.issuer(), &url, body).await {
            Ok(response) if (200..300).contains(&response.status) => None,
            Ok(response) => Some(format!(
                "the edge answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body).chars().take(ERROR_QUOTE).collect::<String>()
            )),
            Err(SignedCallError::Config(error)) => return Err(DeliveryError::Config(error)),
            Err(error) => Some(error.to_string()),
        };
        let mut report = DeliveryReport { claimed: claimed.len(), ..DeliveryReport::default() };
        match failure {
            None => {
                neon.query(&format!("SELECT {}.outbox_delivered($1::text[])", self.0), &[&ids]).await?;
                report.delivered = claimed.len();
            }
            Some(error) => {
                eprintln!("{} outbox: delivery of {} events failed: {error}", self.0, ids.len());
                let retry_secs: Vec<Option<i64>> =
                    claimed.iter().map(|(_, attempts)| edge::retry_after_secs(*attempts)).collect();
                neon.query(
                    &format!(
                        "SELECT {}.outbox_failed(t.id, $2, now() + t.secs * interval '1 second') \
                         FROM unnest($1::text[], $3::bigint[]) AS t (id, secs)",
                        self.0
                    ),
                    &[&ids, &error, &retry_secs],
                )
                .await?;
                report.failed = claimed.len();
            }
        }
        Ok(report)
    }

    /// Claimed events with their attempt count (this attempt included).
    async fn claim(self, neon: &NeonClient<SpinTransport>, limit: usize) -> Result<Vec<(RawEvent, i32)>, NeonError> {
        let result = neon
            .query(
                &format!(
                    "SELECT json_build_object('id', id, 'type', topic, 'occurred_at', created_at, 'data', payload) AS event, \
                     attempts FROM {}.claim_outbox($1::integer, $2::integer * interval '1 second') ORDER BY id",
                    self.0
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
    fn the_outbox_names_its_schema_and_signer() {
        const INVENTORY: EdgeOutbox = EdgeOutbox::new("inventory");
        assert_eq!(INVENTORY.issuer(), "inventory");
    }
}
