//! Queue batches → Spin, one signed POST per message: ack on 2xx, retry otherwise (after the
//! consumer's `retry_delay`; past `max_retries` the queue moves it to the dead-letter queue).

use futures_util::future::join_all;
use worker::{Env, MessageBatch, MessageExt, RawMessage, console_error, console_log};
use worker_platform::spin::SpinSettings;

use crate::spin::{self, EVENTS_PATH, SWEEP_PATHS};

pub async fn batch<T>(batch: &MessageBatch<T>, env: &Env) {
    let settings = match spin::settings(env) {
        Ok(settings) => settings,
        Err(error) => {
            console_error!("events: {error}; retrying the batch");
            batch.retry_all();
            return;
        }
    };
    join_all(batch.raw_iter().map(|message| deliver(&settings, message))).await;
}

async fn deliver(settings: &SpinSettings, message: RawMessage) {
    let id = message.id();
    let Some(body) = json_bytes(&message) else {
        // Not JSON (raw bytes): no retry fixes that, but retrying moves it on to the dead-letter
        // queue, where it is kept for an operator instead of being dropped.
        console_error!("events: message {id} has no JSON body; retrying until it dead-letters");
        message.retry();
        return;
    };
    match spin::post_signed(settings, EVENTS_PATH, body).await {
        Ok(response) if (200..300).contains(&response.status) => message.ack(),
        Ok(response) => {
            let text = String::from_utf8_lossy(&response.body);
            console_error!("events: message {id}: Spin answered {}: {text}", response.status);
            message.retry();
        }
        Err(error) => {
            console_error!("events: message {id}: {error}");
            message.retry();
        }
    }
}

/// The exact JSON text: a string body is taken as already-encoded JSON, anything else is encoded.
fn json_bytes(message: &RawMessage) -> Option<Vec<u8>> {
    let body = message.body();
    if let Some(text) = body.as_string() {
        return Some(text.into_bytes());
    }
    let text = worker::js_sys::JSON::stringify(&body).ok()?.as_string()?;
    Some(text.into_bytes())
}

/// The cron's job: one signed sweep of every component's outbox, all at once (each is bounded).
pub async fn sweep(env: &Env) {
    let settings = match spin::settings(env) {
        Ok(settings) => settings,
        Err(error) => return console_error!("events: sweep skipped: {error}"),
    };
    join_all(SWEEP_PATHS.iter().map(|path| sweep_one(&settings, path))).await;
}

async fn sweep_one(settings: &SpinSettings, path: &str) {
    match spin::post_signed(settings, path, Vec::new()).await {
        Ok(response) if (200..300).contains(&response.status) => {
            console_log!("events: sweep {path}: {}", String::from_utf8_lossy(&response.body));
        }
        Ok(response) => {
            let text = String::from_utf8_lossy(&response.body);
            console_error!("events: sweep {path} answered {}: {text}", response.status);
        }
        Err(error) => console_error!("events: sweep {path} failed: {error}"),
    }
}
