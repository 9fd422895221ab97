//! One module per part of the shop.

pub mod cart;
pub mod checkout;
pub mod home;
