//! One module per part of the shop.

pub mod account;
pub mod cart;
pub mod catalog_view;
pub mod category;
pub mod checkout;
pub mod home;
pub mod local;
pub mod orders;
pub mod product;
pub mod search;
pub mod vendor;
