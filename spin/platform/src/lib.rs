//! Runtime adapter shared by the Spin components: wasi:http transport, typed variables,
//! request/response helpers and the signed-request guard. No business rules live here.

pub mod config;
pub mod respond;
pub mod signature;
pub mod transport;

pub use config::{ConfigError, Var};
pub use respond::{Received, Response, error_response, json_response, receive};
pub use signature::{NeonSeenJtiStore, Rejection, ReplayTable, require_signature};
pub use transport::SpinTransport;
