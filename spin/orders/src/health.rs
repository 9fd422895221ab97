//! `GET /orders/health`: signed, then one real round trip through the Neon gateway.

use std::time::Instant;

use serde::Serialize;
use shared::api::{ApiError, ErrorCode, ErrorEnvelope};
use shared::health::{Check, CheckStatus, HealthReport};
use spin_platform::{Received, Rejection, Response, config, error_response, json_response, require_signature};

use crate::REPLAY_TABLE;

/// The report, plus the error envelope when degraded so generic clients see a DESIGN §8 error.
#[derive(Serialize)]
struct HealthBody {
    #[serde(flatten)]
    report: HealthReport,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    error: Option<ErrorEnvelope>,
}

pub async fn handle(request: &Received) -> Response {
    let started = Instant::now();
    let neon = match require_signature(request, REPLAY_TABLE).await {
        Ok(_) => check_neon().await,
        // The replay table lives in Neon: a valid probe that cannot record its id has found Neon down.
        Err(Rejection::ReplayStore(error)) => Check::down(elapsed_ms(started), error.to_string()),
        Err(rejection) => return error_response(&rejection.to_api_error(), &request.request_id),
    };
    let error = (neon.status == CheckStatus::Down).then(|| {
        let reason = neon.error.as_deref().unwrap_or("unreachable");
        ApiError::new(ErrorCode::DependencyUnavailable, format!("neon is down: {reason}"))
            .into_envelope(&request.request_id)
    });
    let report = HealthReport::from_checks([("neon", neon)]);
    let status = report.http_status();
    json_response(status, &HealthBody { report, error }, &request.request_id)
}

async fn check_neon() -> Check {
    let started = Instant::now();
    let result = match config::neon_client().await {
        Ok(client) => client.query("select 1", &[]).await.map(drop).map_err(|error| error.to_string()),
        Err(error) => Err(error.to_string()),
    };
    Check::from_result(elapsed_ms(started), result)
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
