//! Time as the Workers runtime tells it, for `shared`, which takes the time as an input.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::{Either, select};
use thiserror::Error;

pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

pub fn now_unix_seconds() -> i64 {
    (now_ms() / 1000) as i64
}

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(now_ms() as i64).unwrap_or_default()
}

/// The bounded future did not finish in time.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("no answer within {}s", .0.as_secs())]
pub struct Elapsed(pub Duration);

/// Bounds a call so one hung dependency cannot hold a request for the runtime's whole limit;
/// the loser is dropped, which cancels it.
pub async fn within<F: Future>(limit: Duration, future: F) -> Result<F::Output, Elapsed> {
    match select(Box::pin(future), worker::Delay::from(limit)).await {
        Either::Left((output, _)) => Ok(output),
        Either::Right(((), _)) => Err(Elapsed(limit)),
    }
}
