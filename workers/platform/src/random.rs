//! Randomness from crypto.getRandomValues, and the time-ordered ids built from it.

use shared::ids::{self, Entropy};

use crate::clock;

/// Secret material (tokens, TOTP secrets, recovery codes). crypto.getRandomValues does not fail for
/// small buffers; if it ever did, refusing is the only safe answer, so this returns an error.
pub fn bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes)
}

/// `{prefix}_{ULID}`, e.g. `req_01J…`.
pub fn new_id(prefix: &str) -> String {
    // Ids are not secrets: zeros would still give a unique, time-ordered id within a millisecond.
    let entropy: Entropy = bytes().unwrap_or_default();
    ids::new_id(prefix, clock::now_ms(), entropy)
}
