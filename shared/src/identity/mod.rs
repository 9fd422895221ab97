//! The identity domain (DESIGN §6), pure: validated account fields, password hashing, access tokens
//! and their JWKS, refresh-token rotation, TOTP 2FA and recovery codes, single-use email tokens.
//!
//! No clock, no randomness, no I/O: callers pass `now`, random bytes and seeds, and store the
//! hashes these functions return. That keeps it identical in Workers (wasm32-unknown-unknown) and
//! Spin (wasm32-wasip2), and testable.

pub mod access_token;
pub mod api;
mod eddsa;
pub mod email;
pub mod jwks;
pub mod one_time_token;
mod opaque;
pub mod password;
pub mod principal;
pub mod profile;
pub mod refresh;
pub mod role;
pub mod totp;
