//! The outbox's delivery rules, free of I/O: what a row becomes after each attempt, and when it
//! is tried again. A row is `pending` until one attempt succeeds (`delivered`) or retrying is
//! pointless (`failed`: a permanent rejection, or the attempts ran out). Also the body of every
//! component's `POST /{component}/sweep`, which the edge cron sends.

use serde::{Deserialize, Serialize};

use crate::api::{ApiError, ErrorCode};
use crate::catalog::validation::FieldErrors;

/// Waits after the 1st, 2nd, … failed attempt: quick at first (a blip, a restart), then spread
/// over more than ten hours so an outage of the email provider does not lose mail.
pub const RETRY_DELAYS_SECS: [i64; 7] = [30, 120, 600, 1_800, 3_600, 3 * 3_600, 6 * 3_600];
/// One first attempt plus one per delay above.
pub const MAX_ATTEMPTS: i32 = RETRY_DELAYS_SECS.len() as i32 + 1;
/// How long a claimed row stays invisible to other sweeps while one delivers it; longer than any
/// single send takes, so a crashed sender's row comes back on its own afterwards.
pub const CLAIM_LEASE_SECS: i64 = 300;

/// `POST /{component}/sweep`: an empty body, or `{"limit": n}` (how much one sweep may take on;
/// each component says of what, and its own default and maximum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl SweepRequest {
    /// The limit a sweep's body asks for: `default` when it names none, `VAL_3001` for a body that
    /// is not a sweep request, `VAL_3002` (`limit`: `out_of_range`) outside `1..=max`.
    pub fn limit(body: &[u8], default: u32, max: u32) -> Result<u32, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(default);
        }
        let request: SweepRequest = serde_json::from_slice(body).map_err(|error| {
            ApiError::new(ErrorCode::InvalidRequest, format!("a sweep body is empty or {{\"limit\": n}}: {error}"))
        })?;
        match request.limit {
            None => Ok(default),
            Some(limit) if (1..=max).contains(&limit) => Ok(limit),
            Some(_) => Err(FieldErrors::single("limit", "out_of_range").to_api_error()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Delivered,
    Failed,
}

impl Status {
    /// The `status` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        }
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The provider accepted it, under this id.
    Delivered { provider_id: String },
    /// Worth trying again later (network, outage, rate limit, credentials being fixed).
    Transient { error: String },
    /// The provider will refuse these exact bytes every time (invalid recipient, …).
    Permanent { error: String },
}

/// The row after an attempt: written in one UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub status: Status,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub provider_id: Option<String>,
    /// Seconds from now until the next attempt; only for `Pending`.
    pub retry_in_secs: Option<i64>,
}

/// `attempts_before` is the row's count before this attempt.
pub fn after_attempt(attempts_before: i32, attempt: Attempt) -> Transition {
    let attempts = attempts_before.saturating_add(1);
    match attempt {
        Attempt::Delivered { provider_id } => Transition {
            status: Status::Delivered,
            attempts,
            last_error: None,
            provider_id: Some(provider_id),
            retry_in_secs: None,
        },
        Attempt::Transient { error } => match retry_delay_secs(attempts) {
            Some(delay) => Transition {
                status: Status::Pending,
                attempts,
                last_error: Some(error),
                provider_id: None,
                retry_in_secs: Some(delay),
            },
            None => Transition {
                status: Status::Failed,
                attempts,
                last_error: Some(format!("gave up after {attempts} attempts: {error}")),
                provider_id: None,
                retry_in_secs: None,
            },
        },
        Attempt::Permanent { error } => Transition {
            status: Status::Failed,
            attempts,
            last_error: Some(error),
            provider_id: None,
            retry_in_secs: None,
        },
    }
}

/// The wait after `attempts_made` failed attempts; `None` once they are used up.
pub fn retry_delay_secs(attempts_made: i32) -> Option<i64> {
    let index = usize::try_from(attempts_made.checked_sub(1)?).ok()?;
    RETRY_DELAYS_SECS.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stop_after_the_last_attempt() {
        let delays: Vec<_> = (1..=MAX_ATTEMPTS).map(retry_delay_secs).collect();
        assert_eq!(delays[0], Some(30));
        assert!(delays.windows(2).take(6).all(|pair| pair[0] < pair[1]), "{delays:?}");
        assert_eq!(delays.last(), Some(&None));
        assert_eq!(retry_delay_secs(0), None);
        assert_eq!(retry_delay_secs(-1), None);
        assert_eq!(MAX_ATTEMPTS, 8);
    }

    #[test]
    fn retries_outlast_a_provider_outage_of_ten_hours() {
        let total: i64 = RETRY_DELAYS_SECS.iter().sum();
        assert!((10 * 3_600..12 * 3_600).contains(&total), "{total}");
    }

    #[test]
    fn a_delivery_clears_the_error_and_records_the_provider_id() {
        let row = after_attempt(2, Attempt::Delivered { provider_id: "4ef9…".into() });
        assert_eq!(row.status, Status::Delivered);
        assert_eq!(row.attempts, 3);
        assert_eq!(row.last_error, None);
        assert_eq!(row.provider_id.as_deref(), Some("4ef9…"));
        assert_eq!(row.retry_in_secs, None);
    }

    #[test]
    fn a_transient_failure_stays_pending_with_backoff_until_attempts_run_out() {
        let row = after_attempt(0, Attempt::Transient { error: "503".into() });
        assert_eq!((row.status, row.attempts, row.retry_in_secs), (Status::Pending, 1, Some(30)));
        assert_eq!(row.last_error.as_deref(), Some("503"));

        let last = after_attempt(MAX_ATTEMPTS - 1, Attempt::Transient { error: "503".into() });
        assert_eq!((last.status, last.attempts, last.retry_in_secs), (Status::Failed, MAX_ATTEMPTS, None));
        assert!(last.last_error.unwrap().starts_with("gave up after 8 attempts"));
    }

    #[test]
    fn a_permanent_rejection_fails_at_once() {
        let row = after_attempt(0, Attempt::Permanent { error: "422 validation_error".into() });
        assert_eq!((row.status, row.attempts, row.retry_in_secs), (Status::Failed, 1, None));
    }

    #[test]
    fn a_sweep_takes_its_default_its_limit_or_refuses() {
        assert_eq!(SweepRequest::limit(b"", 20, 100), Ok(20));
        assert_eq!(SweepRequest::limit(b" \n", 20, 100), Ok(20));
        assert_eq!(SweepRequest::limit(b"{}", 20, 100), Ok(20));
        assert_eq!(SweepRequest::limit(br#"{"limit": 100}"#, 20, 100), Ok(100));
        let status = |body: &[u8]| SweepRequest::limit(body, 20, 100).map_err(|error| (error.code, error.status()));
        assert_eq!(status(br#"{"limit": 101}"#), Err((ErrorCode::ValidationFailed, 422)));
        assert_eq!(status(br#"{"limit": 0}"#), Err((ErrorCode::ValidationFailed, 422)));
        assert_eq!(status(br#"{"limit": -1}"#), Err((ErrorCode::InvalidRequest, 400)));
        assert_eq!(status(br#"{"limit": 5, "all": true}"#), Err((ErrorCode::InvalidRequest, 400)));
        assert_eq!(status(b"five"), Err((ErrorCode::InvalidRequest, 400)));
        assert_eq!(serde_json::to_string(&SweepRequest { limit: Some(5) }).unwrap(), r#"{"limit":5}"#);
    }

    #[test]
    fn status_names_match_the_columns_check_constraint() {
        let names: Vec<_> = [Status::Pending, Status::Delivered, Status::Failed].map(Status::as_str).to_vec();
        assert_eq!(names, ["pending", "delivered", "failed"]);
    }
}
