//! Runtime adapter shared by the Spin components: wasi:http transport, typed variables,
//! request/response helpers, the signed-request guard, gateway-forwarded API calls, signed calls
//! out, and outbox delivery. No business rules live here.

pub mod config;
pub mod forwarded;
pub mod ids;
pub mod outbox;
pub mod respond;
pub mod signature;
pub mod signed;
pub mod sweep;
pub mod transport;

pub use config::{ConfigError, Var};
pub use forwarded::receive_forwarded;
pub use outbox::{DeliveryError, Destination, Outbox};
pub use respond::{Received, Response, database_failure, error_response, json_response, misconfigured, receive};
pub use signature::{NeonSeenJtiStore, Rejection, ReplayTable, require_signature};
pub use transport::SpinTransport;
