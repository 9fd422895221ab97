//! The orders domain (issue 6), pure: an order group per checkout and an order per vendor, built
//! from the priced cart; each order's lifecycle and who may move it.
//!
//! No clock, no randomness, no I/O: the `orders` component passes in the priced cart, the ids and
//! the actor from the verified token.

pub mod address;
pub mod api;
pub mod checkout;
pub mod group;
pub mod ids;
pub mod status;

#[cfg(test)]
pub(crate) mod fixtures;

pub use address::{AddressInput, AddressLine, ShippingAddress};
pub use group::{AppliedCoupon, CheckoutRefusal, Order, OrderGroup, OrderLine};
pub use ids::{BuyerId, OrderGroupId, OrderId};
pub use status::{
    Actor, Carrier, OrderAction, OrderState, OrderStatus, Shipment, ShipmentTextError, TrackingNumber, TransitionError,
};
