//! Coupons: platform-wide or one shop's; a percentage or a fixed amount; a minimum purchase, a
//! maximum discount, a validity window and usage limits. Each refusal has its own stable reason.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::basis_points::BasisPoints;
use crate::catalog::money::{Money, MoneyError};
use crate::catalog::validation::Reason;
use crate::catalog::{Currency, VendorId};
use crate::newtype::string_newtype;

/// Long enough for campaign names (`SUMMER-2026-NEWSLETTER`), short enough to type.
pub const MAX_CODE_LEN: usize = 32;

/// `SUMMER-10`: letters, digits, `-` and `_`, matched case-insensitively (stored upper-cased).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CouponCode(String);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("a coupon code is 3 to {MAX_CODE_LEN} letters, digits, '-' or '_'")]
pub struct CouponCodeError;

impl Reason for CouponCodeError {
    fn reason(&self) -> &'static str {
        "invalid"
    }
}

impl CouponCode {
    pub fn parse(input: &str) -> Result<Self, CouponCodeError> {
        let input = input.trim();
        let shaped = (3..=MAX_CODE_LEN).contains(&input.len())
            && input.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if shaped { Ok(Self(input.to_ascii_uppercase())) } else { Err(CouponCodeError) }
    }
}

string_newtype!(CouponCode, CouponCodeError);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CouponScope {
    /// Funded by the platform; discounts the whole cart.
    Platform,
    /// Funded by one shop; discounts only its goods.
    Vendor { vendor_id: VendorId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CouponValue {
    Percentage { basis_points: BasisPoints },
    Fixed { amount: Money },
}

/// A coupon's rules, as the platform or a vendor configured them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    pub code: CouponCode,
    pub scope: CouponScope,
    pub value: CouponValue,
    /// Of the goods in scope, before any discount.
    pub min_purchase: Option<Money>,
    pub max_discount: Option<Money>,
    pub valid_from: Option<DateTime<Utc>>,
    /// Exclusive: at `valid_until` the coupon has expired.
    pub valid_until: Option<DateTime<Utc>>,
    pub per_customer_limit: Option<u32>,
    pub total_limit: Option<u32>,
}

/// Redemptions so far (counted at checkout, passed in here); a guest's own count is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CouponUsage {
    pub by_customer: u32,
    pub total: u32,
}

/// Why a coupon gives no discount. The names are stable: clients show a message per reason.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponRejection {
    #[error("no such coupon")]
    Unknown,
    #[error("the coupon is not valid yet")]
    NotYetValid,
    #[error("the coupon has expired")]
    Expired,
    #[error("the coupon has been used as often as it may be")]
    UsageLimitReached,
    #[error("you have already used this coupon as often as you may")]
    CustomerLimitReached,
    #[error("the coupon is for a shop with nothing in this cart")]
    WrongVendor,
    #[error("the coupon is in another currency than the cart")]
    CurrencyMismatch,
    #[error("the goods it applies to are below the coupon's minimum purchase")]
    BelowMinimum,
    #[error("another coupon already discounts the same goods")]
    NotCombinable,
}

impl Reason for CouponRejection {
    fn reason(&self) -> &'static str {
        match self {
            CouponRejection::Unknown => "unknown",
            CouponRejection::NotYetValid => "not_yet_valid",
            CouponRejection::Expired => "expired",
            CouponRejection::UsageLimitReached => "usage_limit_reached",
            CouponRejection::CustomerLimitReached => "customer_limit_reached",
            CouponRejection::WrongVendor => "wrong_vendor",
            CouponRejection::CurrencyMismatch => "currency_mismatch",
            CouponRejection::BelowMinimum => "below_minimum",
            CouponRejection::NotCombinable => "not_combinable",
        }
    }
}

impl Coupon {
    /// Every rule that does not depend on the amounts, in the order a shopper would fix them.
    pub fn check(&self, now: DateTime<Utc>, usage: CouponUsage, currency: Currency) -> Result<(), CouponRejection> {
        if self.valid_from.is_some_and(|from| now < from) {
            return Err(CouponRejection::NotYetValid);
        }
        if self.valid_until.is_some_and(|until| now >= until) {
            return Err(CouponRejection::Expired);
        }
        if self.total_limit.is_some_and(|limit| usage.total >= limit) {
            return Err(CouponRejection::UsageLimitReached);
        }
        if self.per_customer_limit.is_some_and(|limit| usage.by_customer >= limit) {
            return Err(CouponRejection::CustomerLimitReached);
        }
        let fixed = match self.value {
            CouponValue::Fixed { amount } => Some(amount),
            CouponValue::Percentage { .. } => None,
        };
        if [fixed, self.min_purchase, self.max_discount].into_iter().flatten().any(|money| money.currency != currency) {
            return Err(CouponRejection::CurrencyMismatch);
        }
        Ok(())
    }

    /// The discount on `eligible` (the goods in scope, before discounts), never above the coupon's
    /// maximum nor `remaining` (what earlier discounts left of those goods), never negative.
    /// Assumes `check` passed (one currency).
    pub fn discount(&self, eligible: Money, remaining: Money) -> Result<Result<Money, CouponRejection>, MoneyError> {
        if self.min_purchase.is_some_and(|minimum| eligible.amount_minor < minimum.amount_minor) {
            return Ok(Err(CouponRejection::BelowMinimum));
        }
        let raw = match self.value {
            CouponValue::Percentage { basis_points } => basis_points.of(eligible)?,
            CouponValue::Fixed { amount } => amount,
        };
        let ceiling = self.max_discount.map_or(i64::MAX, |max| max.amount_minor).min(remaining.amount_minor);
        Ok(Ok(Money::new(raw.amount_minor.min(ceiling).max(0), eligible.currency)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::fixtures::{coupon, eur};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap()
    }

    fn percent(bp: u32) -> Coupon {
        let value = CouponValue::Percentage { basis_points: BasisPoints::new(bp).unwrap() };
        coupon("summer-10", CouponScope::Platform, value)
    }

    #[test]
    fn codes_are_upper_cased_and_shape_checked() {
        assert_eq!(CouponCode::parse(" summer-10 ").unwrap().as_str(), "SUMMER-10");
        for bad in ["AB", "WITH SPACE", "ÉTÉ10", &"X".repeat(MAX_CODE_LEN + 1)] {
            assert_eq!(CouponCode::parse(bad), Err(CouponCodeError), "{bad}");
        }
    }

    #[test]
    fn the_validity_window_is_inclusive_at_the_start_and_exclusive_at_the_end() {
        let coupon = Coupon { valid_from: Some(at(10)), valid_until: Some(at(20)), ..percent(1000) };
        let check = |now| coupon.check(now, CouponUsage::default(), Currency::EUR);
        assert_eq!(check(at(9)), Err(CouponRejection::NotYetValid));
        assert_eq!(check(at(10)), Ok(()));
        assert_eq!(check(at(19)), Ok(()));
        assert_eq!(check(at(20)), Err(CouponRejection::Expired));
    }

    #[test]
    fn usage_limits_count_total_and_per_customer_redemptions() {
        let coupon = Coupon { total_limit: Some(100), per_customer_limit: Some(1), ..percent(1000) };
        let check = |by_customer, total| coupon.check(at(1), CouponUsage { by_customer, total }, Currency::EUR);
        assert_eq!(check(0, 99), Ok(()));
        assert_eq!(check(0, 100), Err(CouponRejection::UsageLimitReached));
        assert_eq!(check(1, 5), Err(CouponRejection::CustomerLimitReached));
    }

    #[test]
    fn any_amount_in_another_currency_is_a_mismatch() {
        let usd = Money::new(500, Currency::parse("USD").unwrap());
        let fixed = Coupon { value: CouponValue::Fixed { amount: usd }, ..percent(0) };
        let capped = Coupon { max_discount: Some(usd), ..percent(1000) };
        for coupon in [fixed, capped] {
            assert_eq!(
                coupon.check(at(1), CouponUsage::default(), Currency::EUR),
                Err(CouponRejection::CurrencyMismatch)
            );
        }
    }

    #[test]
    fn minimum_maximum_and_fixed_amounts() {
        let coupon = Coupon { min_purchase: Some(eur(5000)), max_discount: Some(eur(700)), ..percent(2000) };
        assert_eq!(coupon.discount(eur(4999), eur(4999)), Ok(Err(CouponRejection::BelowMinimum)));
        assert_eq!(coupon.discount(eur(5000), eur(5000)), Ok(Ok(eur(700))), "20 % is 1000, capped at 700");
        assert_eq!(Coupon { max_discount: None, ..coupon.clone() }.discount(eur(5000), eur(5000)), Ok(Ok(eur(1000))));
        let fixed = Coupon { value: CouponValue::Fixed { amount: eur(1500) }, ..percent(0) };
        assert_eq!(fixed.discount(eur(1000), eur(1000)), Ok(Ok(eur(1000))), "never more than the goods");
        assert_eq!(fixed.discount(eur(3000), eur(2000)), Ok(Ok(eur(1500))));
        assert_eq!(CouponRejection::WrongVendor.reason(), "wrong_vendor");
        assert_eq!(serde_json::to_value(CouponRejection::BelowMinimum).unwrap(), serde_json::json!("below_minimum"));
    }

    proptest! {
        #[test]
        fn a_discount_never_exceeds_the_goods_nor_the_maximum(
            eligible in 0i64..1_000_000_000, spent in 0i64..1_000_000_000, bp in 0u32..=10_000, max in proptest::option::of(0i64..1_000_000),
        ) {
            let remaining = eur((eligible - spent).max(0));
            let coupon = Coupon { max_discount: max.map(eur), ..percent(bp) };
            let discount = coupon.discount(eur(eligible), remaining).unwrap().unwrap().amount_minor;
            prop_assert!((0..=remaining.amount_minor).contains(&discount));
            prop_assert!(max.is_none_or(|max| discount <= max));
            // Uncapped, a percentage is within one minor unit of the exact share.
            if max.is_none() && spent == 0 {
                let exact = i128::from(eligible) * i128::from(bp);
                prop_assert!((i128::from(discount) * 10_000 - exact).abs() <= 10_000);
            }
        }
    }
}

/// `cart.redeem_coupons` refusing (SQLSTATE CT001, migration 0012; DETAIL `{"code", "reason"}`) as
/// the shopper's answer: `BIZ_5001` naming the coupon and the reason, as the cart answers.
pub fn redemption_refusal(error: &crate::neon::NeonError) -> Option<crate::api::ApiError> {
    let postgres = error.postgres().filter(|postgres| postgres.code == "CT001")?;
    let detail: serde_json::Value =
        postgres.detail.as_deref().and_then(|detail| serde_json::from_str(detail).ok()).unwrap_or_default();
    let reason = detail["reason"].as_str().unwrap_or("unknown");
    Some(
        crate::api::ApiError::new(crate::api::ErrorCode::CouponRejected, "a coupon can no longer be redeemed")
            .with_details(serde_json::json!({ "code": detail["code"], "reason": reason })),
    )
}

#[cfg(test)]
mod redemption_tests {
    use super::*;
    use crate::neon::{NeonError, PostgresError};

    #[test]
    fn a_coupon_out_of_uses_at_checkout_is_biz_5001_with_its_reason() {
        let error = NeonError::Postgres(Box::new(PostgresError {
            code: "CT001".into(),
            detail: Some(r#"{"code": "WELCOME10", "reason": "usage_limit_reached"}"#.into()),
            ..PostgresError::default()
        }));
        let refusal = redemption_refusal(&error).unwrap();
        assert_eq!(refusal.code, crate::api::ErrorCode::CouponRejected);
        assert_eq!(refusal.details.unwrap(), serde_json::json!({"code": "WELCOME10", "reason": "usage_limit_reached"}));
        let other = NeonError::Postgres(Box::new(PostgresError { code: "23505".into(), ..PostgresError::default() }));
        assert!(redemption_refusal(&other).is_none());
    }
}
