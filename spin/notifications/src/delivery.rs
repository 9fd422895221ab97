//! One delivery attempt: send a claimed row through Resend (the row id is the Idempotency-Key,
//! so a retry after a lost answer never sends twice), then record what happened.

use std::collections::BTreeMap;

use shared::events::outbox::{self, Attempt, Status};
use shared::events::resend::{self, SendEmail};
use shared::neon::NeonError;
use spin_platform::ConfigError;

use crate::mailer::Mailer;
use crate::outbox::{Claimed, Neon};

/// Sends `row` and records the outcome; the error is only from recording it (the row's claim
/// then lapses and a later sweep tries again).
pub async fn attempt(neon: &Neon, mailer: Result<&Mailer, &ConfigError>, row: &Claimed) -> Result<Status, NeonError> {
    let attempt = match mailer {
        Ok(mailer) => resend::to_attempt(mailer.client.send(&email(mailer, row), &row.id).await),
        // Counted as a failed attempt so `last_error` shows operators what to fix.
        Err(error) => Attempt::Transient { error: format!("email is not configured: {error}") },
    };
    match &attempt {
        Attempt::Delivered { provider_id } => eprintln!("notification {} delivered as {provider_id}", row.id),
        Attempt::Transient { error } | Attempt::Permanent { error } => {
            eprintln!("notification {} attempt {} failed: {error}", row.id, row.attempts + 1)
        }
    }
    let transition = outbox::after_attempt(row.attempts, attempt);
    crate::outbox::record(neon, &row.id, &transition).await?;
    Ok(transition.status)
}

fn email(mailer: &Mailer, row: &Claimed) -> SendEmail {
    SendEmail {
        from: mailer.from.clone(),
        to: vec![row.recipient.clone()],
        subject: row.subject.clone(),
        text: Some(row.body_text.clone()),
        html: None,
        reply_to: None,
        headers: BTreeMap::new(),
    }
}
