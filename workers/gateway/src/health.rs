//! `GET /api/v1/health`: real calls to Neon (a query), Upstash (PING) and Spin (a signed
//! `GET /orders/health`), run concurrently, each bounded by a timeout so one hung dependency
//! shows as down instead of hanging the probe.

use crate::config::Config;
use futures_util::future::join3;
use shared::health::{Check, HealthReport};
use shared::neon::NeonClient;
use shared::upstash::UpstashClient;
use std::future::Future;
use std::time::Duration;
use worker_platform::clock;
use worker_platform::fetch::FetchTransport;
use worker_platform::spin::SpinCall;

/// Longer than any healthy round trip, short enough for an uptime probe.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
const SIGNATURE_ISSUER: &str = "marketplace-gateway";
const SPIN_HEALTH_PATH: &str = "/orders/health";

pub async fn check_all(config: &Config) -> HealthReport {
    let (neon, upstash, spin) =
        join3(timed(check_neon(config)), timed(check_upstash(config)), timed(check_spin(config))).await;
    HealthReport::from_checks([("neon", neon), ("upstash", upstash), ("spin", spin)])
}

async fn check_neon(config: &Config) -> Result<(), String> {
    let client = NeonClient::from_config(FetchTransport, config.neon.clone());
    let result = client.query("SELECT 1", &[]).await.map_err(|error| error.to_string())?;
    match result.first().map(|row| row.get::<i64>(0)) {
        Some(Ok(1)) => Ok(()),
        other => Err(format!("unexpected answer to SELECT 1: {other:?}")),
    }
}

async fn check_upstash(config: &Config) -> Result<(), String> {
    let client = UpstashClient::new(FetchTransport, &config.upstash.url, &config.upstash.token);
    let pong = client.command(&["PING"]).await.map_err(|error| error.to_string())?;
    match pong.as_str() {
        Some("PONG") => Ok(()),
        _ => Err(format!("unexpected answer to PING: {pong:?}")),
    }
}

/// Spin's own health also proves the signature path works end to end.
async fn check_spin(config: &Config) -> Result<(), String> {
    let spin = config.spin.client(SIGNATURE_ISSUER);
    let response = spin.send(SpinCall::get(SPIN_HEALTH_PATH)).await.map_err(|error| error.to_string())?;
    if response.status == 200 {
        Ok(())
    } else {
        Err(format!("{SPIN_HEALTH_PATH} answered {}: {}", response.status, String::from_utf8_lossy(&response.body)))
    }
}

async fn timed(check: impl Future<Output = Result<(), String>>) -> Check {
    let started = clock::now_ms();
    let outcome = clock::within(CHECK_TIMEOUT, check).await.unwrap_or_else(|elapsed| Err(elapsed.to_string()));
    Check::from_result(clock::now_ms().saturating_sub(started), outcome)
}
