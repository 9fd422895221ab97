//! Signed POSTs to Spin (DESIGN §5): `Upstash-Signature` over the exact URL and body.

use std::time::Duration;

use futures_util::future::{Either, select};
use shared::transport::{HttpRequest, HttpResponse, HttpTransport, Method, ReqwestTransport};
use shared::webhook::{self, SignRequest, SigningKey};

use crate::config::Config;
use crate::platform;

const ISSUER: &str = "marketplace-events";
/// A hung core must not hold a queue batch for the consumer's whole wall-time budget.
const TIMEOUT: Duration = Duration::from_secs(30);

pub const EVENTS_PATH: &str = "/notifications/events";
pub const SWEEP_PATH: &str = "/notifications/sweep";

/// POSTs `body` to `{SPIN_URL}{path}`; Err is a sentence for the log.
pub async fn post_signed(config: &Config, path: &str, body: Vec<u8>) -> Result<HttpResponse, String> {
    let url = format!("{}{path}", config.spin_url);
    let signature = webhook::sign(
        &SigningKey::new(config.webhook_key_current.as_bytes()),
        SignRequest {
            issuer: ISSUER,
            url: &url,
            body: &body,
            now: platform::now_unix_seconds(),
            jti: &platform::new_id("sig"),
        },
    )
    .map_err(|error| error.to_string())?;
    let request = HttpRequest::new(Method::Post, &url)
        .header(webhook::SIGNATURE_HEADER, signature)
        .header("Content-Type", "application/json")
        .body(body);
    let transport = ReqwestTransport::default();
    match select(Box::pin(transport.send(request)), worker::Delay::from(TIMEOUT)).await {
        Either::Left((result, _)) => result.map_err(|error| format!("POST {url}: {error}")),
        Either::Right(((), _)) => Err(format!("POST {url}: no answer within {}s", TIMEOUT.as_secs())),
    }
}
