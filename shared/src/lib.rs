//! Shared by the Workers and the Spin components. Never imports `worker` or `spin-sdk`.

pub mod api;
pub mod cart;
pub mod catalog;
pub mod events;
pub mod forwarding;
pub mod health;
pub mod hmac_key;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod inventory;
pub mod neon;
pub(crate) mod newtype;
pub mod orders;
pub mod payments;
pub mod ratelimit;
pub mod saga;
pub mod storefront;
pub mod transport;
pub mod upstash;
pub mod webhook;

#[cfg(test)]
mod test_support;
