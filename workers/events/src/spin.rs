//! Signed POSTs to Spin (DESIGN §5), through `worker_platform::spin`.

use std::time::Duration;

use shared::transport::HttpResponse;
use worker::Env;
use worker_platform::config::{MissingVars, RequiredVars};
use worker_platform::spin::{SpinCall, SpinSettings};

const ISSUER: &str = "marketplace-events";
/// A hung core must not hold a queue batch for the consumer's whole wall-time budget.
const TIMEOUT: Duration = Duration::from_secs(30);

pub const EVENTS_PATH: &str = "/notifications/events";
/// Every outbox the cron drives (the notifications mailer, inventory's expiry and events, payments'
/// events and vendor payouts); a component with an outbox adds its sweep here.
pub const SWEEP_PATHS: &[&str] = &["/notifications/sweep", "/inventory/sweep", "/payments/sweep", "/orders/sweep"];

/// `SPIN_URL` and `WEBHOOK_KEY_CURRENT`; Err names what is missing.
pub fn settings(env: &Env) -> Result<SpinSettings, MissingVars> {
    let mut vars = RequiredVars::allowing_empty(env);
    let spin = vars.spin();
    vars.finish().map(|()| spin)
}

/// POSTs the JSON `body` to `{SPIN_URL}{path}`; Err is a sentence for the log.
pub async fn post_signed(spin: &SpinSettings, path: &str, body: Vec<u8>) -> Result<HttpResponse, String> {
    let client = spin.client(ISSUER);
    let call = SpinCall::post_json(path, body).timeout(TIMEOUT);
    client.send(call).await.map_err(|error| format!("POST {}: {error}", client.url(path)))
}
