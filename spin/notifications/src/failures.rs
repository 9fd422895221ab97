//! Answers for when the component cannot do its job; details go to the log, not the caller.

use shared::api::{ApiError, ErrorCode};
use shared::neon::NeonError;
use spin_platform::{Received, Response, error_response};

/// The outbox's database is unreachable or failing: 503, so the queue or cron tries again later.
pub fn unavailable(request: &Received, error: &NeonError) -> Response {
    eprintln!("[{}] outbox unavailable: {error}", request.request_id);
    error_response(
        &ApiError::new(ErrorCode::DependencyUnavailable, "the outbox is unavailable; retry later"),
        &request.request_id,
    )
}
