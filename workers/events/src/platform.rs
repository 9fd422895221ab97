//! What the Workers runtime provides that `shared` takes as inputs: time and randomness.

use shared::ids::{self, Entropy};

pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

pub fn now_unix_seconds() -> i64 {
    (now_ms() / 1000) as i64
}

pub fn new_id(prefix: &str) -> String {
    let mut bytes = Entropy::default();
    // crypto.getRandomValues does not fail for 10 bytes; zeros would still give a time-ordered id.
    let _ = getrandom::getrandom(&mut bytes);
    ids::new_id(prefix, now_ms(), bytes)
}
