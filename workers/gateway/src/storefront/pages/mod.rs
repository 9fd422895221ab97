//! One module per part of the shop.

pub mod home;
