//! The cart domain (issue 5), pure: lines and their limits, guest-into-account merge, revalidation
//! against the catalog, coupons, shipping, tax and totals, and the API's response shape.
//!
//! No clock, no randomness, no I/O: the Worker passes in the time, new line ids, the catalog's
//! current variants, coupon definitions with their usage counts, shipping options and the tax table.
//! All amounts are integer minor units in the cart's one currency; arithmetic is checked.

pub mod basis_points;
pub mod bought;
pub mod coupon;
pub mod destination;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod model;
pub mod owner;
pub mod pricing;
pub mod shipping;
pub mod tax;

pub use basis_points::{BasisPoints, BasisPointsError};
pub use bought::{ORDER_PLACED_PATH, REMEMBERED_GROUPS, Removal};
pub use coupon::{Coupon, CouponCode, CouponRejection, CouponScope, CouponUsage, CouponValue};
pub use destination::{CountryCode, Destination, DestinationError, Postcode, Region};
pub use model::{
    AddLine, Cart, CartError, CartLine, CartLineId, KeyedRequest, MAX_COUPONS, MAX_LINE_QUANTITY, MAX_LINES, MergeCap,
    MergeCapReason, Merged, REMEMBERED_REQUESTS, Remembered, merge,
};
pub use owner::{CartOwner, CookieKey, GuestCartId};
pub use pricing::{
    CartView, CatalogVariant, CouponOutcome, LineFlag, LineView, PricingInput, Totals, VendorView, price,
};
pub use shipping::{
    ShippingOption, ShippingOptionId, ShippingQuote, ShippingRate, ShippingRateError, ShippingUnavailable, WeightBand,
};
pub use tax::{TaxRate, TaxTable};
