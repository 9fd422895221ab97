//! Test values for the cart's tests and for checkout's, which price real carts: variant, product
//! and vendor `n` have ULIDs ending in `n`; amounts are euros; coupons start with no rules.

use super::coupon::{Coupon, CouponCode, CouponScope, CouponValue};
use crate::catalog::{Currency, Money, ProductId, VariantId, VendorId};

pub fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

pub fn vendor(n: u8) -> VendorId {
    VendorId::parse(&format!("ven_01JC00000000000000000000{n:02}")).unwrap()
}

pub fn variant(n: u8) -> VariantId {
    VariantId::parse(&format!("var_01JC000000000000000000{n:04}")).unwrap()
}

pub fn product(n: u8) -> ProductId {
    ProductId::parse(&format!("prod_01JC000000000000000000{n:04}")).unwrap()
}

pub fn code(text: &str) -> CouponCode {
    CouponCode::parse(text).unwrap()
}

/// No minimum, maximum, validity window or usage limit: a test adds only the rule it exercises.
pub fn coupon(text: &str, scope: CouponScope, value: CouponValue) -> Coupon {
    Coupon {
        code: code(text),
        scope,
        value,
        min_purchase: None,
        max_discount: None,
        valid_from: None,
        valid_until: None,
        per_customer_limit: None,
        total_limit: None,
    }
}
