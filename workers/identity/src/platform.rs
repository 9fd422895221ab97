//! What the Workers runtime provides that `shared` takes as inputs: time and randomness.

use chrono::{DateTime, Utc};
use shared::ids::{self, Entropy};

pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

pub fn now_unix_seconds() -> i64 {
    (now_ms() / 1000) as i64
}

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(now_ms() as i64).unwrap_or_default()
}

/// Secret material (tokens, TOTP secrets, recovery codes). crypto.getRandomValues does not fail for
/// small buffers; if it ever did, refusing is the only safe answer, so this returns an error.
pub fn random<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes)
}

fn entropy() -> Entropy {
    // Ids are not secrets: zeros would still give a unique, time-ordered id within a millisecond.
    random().unwrap_or_default()
}

pub fn new_id(prefix: &str) -> String {
    ids::new_id(prefix, now_ms(), entropy())
}
