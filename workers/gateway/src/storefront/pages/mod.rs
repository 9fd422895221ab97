//! One module per part of the shop.

pub mod account;
pub mod home;
pub mod orders;
