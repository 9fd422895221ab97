//! Runtime adapter shared by the edge Workers: the clock, randomness and ids, required vars and
//! secrets, JSON and error-envelope responses, request ids, the gateway's forwarded-caller headers,
//! signed calls to Spin, and the two-layer read-through cache (`tag_cache`). No business rules live
//! here (spin/platform is the Spin counterpart).

pub mod clock;
pub mod config;
pub mod fetch;
pub mod forwarded;
pub mod random;
pub mod request;
pub mod respond;
pub mod spin;
pub mod tag_cache;
