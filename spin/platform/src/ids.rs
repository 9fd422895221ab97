//! Fresh ids and the clock, from wasi:random and the wasi wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

use shared::ids;

/// `<prefix>_<ULID>`: time-ordered, 80 random bits.
pub fn new_id(prefix: &str) -> String {
    let mut entropy = ids::Entropy::default();
    // wasi:random does not fail; were it to, the id would still be time-ordered and the primary
    // key would refuse a collision rather than overwrite.
    let _ = getrandom::fill(&mut entropy);
    ids::new_id(prefix, now_ms_u64(), entropy)
}

pub fn now_ms() -> i64 {
    i64::try_from(now_ms_u64()).unwrap_or(i64::MAX)
}

fn now_ms_u64() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
