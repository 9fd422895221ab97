//! `GET /api/v1/health`: real calls to Neon (a query), Upstash (PING) and Spin (a signed
//! `GET /orders/health`), run concurrently, each bounded by a timeout so one hung dependency
//! shows as down instead of hanging the probe.

use crate::config::Config;
use crate::platform;
use futures_util::future::{Either, join3, select};
use shared::health::{Check, HealthReport};
use shared::neon::{NeonClient, NeonConfig};
use shared::transport::{HttpRequest, HttpTransport, Method, ReqwestTransport};
use shared::upstash::UpstashClient;
use shared::webhook::{self, SignRequest, SigningKey};
use std::future::Future;
use std::time::Duration;

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
    let client = NeonClient::from_config(
        ReqwestTransport::default(),
        NeonConfig { url: config.neon_url.clone(), connection_string: config.neon_connection_string.clone() },
    );
    let result = client.query("SELECT 1", &[]).await.map_err(|error| error.to_string())?;
    match result.first().map(|row| row.get::<i64>(0)) {
        Some(Ok(1)) => Ok(()),
        other => Err(format!("unexpected answer to SELECT 1: {other:?}")),
    }
}

async fn check_upstash(config: &Config) -> Result<(), String> {
    let client = UpstashClient::new(ReqwestTransport::default(), &config.upstash_url, &config.upstash_token);
    let pong = client.command(&["PING"]).await.map_err(|error| error.to_string())?;
    match pong.as_str() {
        Some("PONG") => Ok(()),
        _ => Err(format!("unexpected answer to PING: {pong:?}")),
    }
}

/// Spin's own health also proves the signature path works end to end.
async fn check_spin(config: &Config) -> Result<(), String> {
    let url = format!("{}{SPIN_HEALTH_PATH}", config.spin_url);
    let signature = webhook::sign(
        &SigningKey::new(config.webhook_key_current.as_bytes()),
        SignRequest {
            issuer: SIGNATURE_ISSUER,
            url: &url,
            body: b"",
            now: platform::now_unix_seconds(),
            jti: &platform::new_id("sig"),
        },
    )
    .map_err(|error| error.to_string())?;
    let request = HttpRequest::new(Method::Get, &url).header(webhook::SIGNATURE_HEADER, signature);
    let response = ReqwestTransport::default().send(request).await.map_err(|error| error.to_string())?;
    if response.status == 200 {
        Ok(())
    } else {
        Err(format!("{SPIN_HEALTH_PATH} answered {}: {}", response.status, String::from_utf8_lossy(&response.body)))
    }
}

async fn timed(check: impl Future<Output = Result<(), String>>) -> Check {
    let started = platform::now_ms();
    let timeout = worker::Delay::from(CHECK_TIMEOUT);
    let outcome = match select(Box::pin(check), timeout).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
    };
    Check::from_result(platform::now_ms().saturating_sub(started), outcome)
}
