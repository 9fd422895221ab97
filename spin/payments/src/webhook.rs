//! `POST /payments/webhooks/stripe`: the provider's events, checked with `Stripe-Signature`
//! (current or next endpoint secret, 5 minutes of tolerance) before anything is read; a forged,
//! stale or wrongly signed delivery is 401 and changes nothing (DESIGN §5).
//!
//! Each event is recorded in `payments.psp_events` first and marked processed in the batch that
//! applies it, so a redelivery of a processed event is acknowledged and ignored, and one that
//! failed half-way is processed again. PaymentIntent events move the payment (and write its outbox
//! event once it is final); money that arrives for a voided payment is refunded.

use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::payments::api::PaymentFailure;
use shared::payments::stripe::{
    DEFAULT_TOLERANCE_SECS, Event, PaymentIntent, SIGNATURE_HEADER, WebhookRejection, event_types, verify_webhook,
};
use shared::payments::{PaymentId, PaymentStatus};
use spin_platform::respond::unix_now;
use spin_platform::{Received, Response, config as platform};

use crate::config;
use crate::failures::{Handled, Problem, answer};
use crate::store::{self, Neon, Report};
use crate::void;

#[derive(Serialize)]
struct Ack {
    event_id: String,
    /// `applied`, `duplicate` (processed before) or `ignored` (not ours, or a type we do not use).
    status: &'static str,
}

pub async fn handle(request: &Received) -> Response {
    answer(request, 200, run(request).await)
}

async fn run(request: &Received) -> Handled<Ack> {
    let secrets = config::webhook_secrets().await?;
    let event =
        verify_webhook(request.header(SIGNATURE_HEADER), &request.body, &secrets, unix_now(), DEFAULT_TOLERANCE_SECS)
            .map_err(|rejection| {
            eprintln!("[{}] stripe webhook rejected: {rejection}", request.request_id);
            Problem::Api(rejection_error(&rejection))
        })?;
    let neon = platform::neon_client().await?;
    if already_processed(&neon, &event).await? {
        return Ok(Ack { event_id: event.id.to_string(), status: "duplicate" });
    }
    let reported = match event.kind.as_str() {
        event_types::PAYMENT_INTENT_SUCCEEDED => PaymentStatus::Succeeded,
        event_types::PAYMENT_INTENT_PAYMENT_FAILED => PaymentStatus::Failed,
        event_types::PAYMENT_INTENT_CANCELED => PaymentStatus::Cancelled,
        event_types::PAYMENT_INTENT_PROCESSING => PaymentStatus::Processing,
        _ => return ignore(&neon, &event).await,
    };
    let intent: PaymentIntent = event.object().map_err(|error| {
        Problem::api(ErrorCode::InvalidRequest, format!("{} without a PaymentIntent: {error}", event.kind))
    })?;
    let payment_id = intent.metadata.get("payment_id").and_then(|id| PaymentId::parse(id).ok());
    let row = match &payment_id {
        Some(payment_id) => store::load(&neon, payment_id).await?,
        None => None,
    };
    // Not ours (another integration on the account), or an intent this payment no longer uses.
    let Some(row) = row.filter(|row| row.psp_intent_id.as_ref().is_none_or(|known| *known == intent.id)) else {
        return ignore(&neon, &event).await;
    };
    let failure = PaymentFailure::of_intent(&intent);
    if row.voided && reported == PaymentStatus::Succeeded {
        // Money for a payment the saga already gave up on: record the intent, give it back,
        // then mark the event (a failure in between gets it redelivered and retried).
        store::apply(&neon, &row, Report { reported, intent: Some(&intent.id), failure, event_id: None }).await?;
        let row = store::load(&neon, &row.payment_id).await?.unwrap_or(row);
        let provider = config::stripe().await?;
        void::undo(&neon, &provider, &row).await?;
        mark_processed(&neon, &event).await?;
    } else {
        let report = Report { reported, intent: Some(&intent.id), failure, event_id: Some(event.id.as_str()) };
        store::apply(&neon, &row, report).await?;
    }
    Ok(Ack { event_id: event.id.to_string(), status: "applied" })
}

fn rejection_error(rejection: &WebhookRejection) -> ApiError {
    match rejection {
        WebhookRejection::MissingHeader => ApiError::new(ErrorCode::SignatureMissing, rejection.to_string()),
        // Correctly signed, so from the provider, but not an event: nothing to retry into shape.
        WebhookRejection::BadPayload(_) => ApiError::new(ErrorCode::InvalidRequest, rejection.to_string()),
        _ => ApiError::new(ErrorCode::SignatureInvalid, rejection.to_string()),
    }
}

/// Records the event if new; whether an earlier delivery already processed it.
async fn already_processed(neon: &Neon, event: &Event) -> Handled<bool> {
    let result = neon
        .query(
            "WITH recorded AS (
                INSERT INTO payments.psp_events (event_id, type) VALUES ($1, $2)
                ON CONFLICT (event_id) DO NOTHING RETURNING event_id)
             SELECT (SELECT processed_at IS NOT NULL FROM payments.psp_events WHERE event_id = $1) AS processed",
            &[&event.id, &event.kind],
        )
        .await?;
    let processed: Option<bool> =
        result.one().and_then(|row| row.get("processed")).map_err(shared::neon::NeonError::from)?;
    Ok(processed.unwrap_or(false))
}

async fn ignore(neon: &Neon, event: &Event) -> Handled<Ack> {
    mark_processed(neon, event).await?;
    Ok(Ack { event_id: event.id.to_string(), status: "ignored" })
}

async fn mark_processed(neon: &Neon, event: &Event) -> Handled<()> {
    neon.query(
        "UPDATE payments.psp_events SET processed_at = now() WHERE event_id = $1 AND processed_at IS NULL",
        &[&event.id],
    )
    .await?;
    Ok(())
}
