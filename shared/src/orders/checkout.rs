//! `POST /api/v1/checkout` on the wire (docs/adr/0009): the shopper's request, the cart Worker's
//! signed call to the `orders` component that carries it with the cart priced just now, and the
//! answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{BuyerId, OrderGroupId, OrderId};
use crate::cart::{CartView, Coupon, CouponCode, CouponUsage};
use crate::catalog::{Money, VendorId};
use crate::idempotency::{IdempotencyKey, request_fingerprint};
use crate::payments::api::PaymentMethodInput;
use crate::payments::{PaymentId, PaymentStatus};

/// The shopper's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// The total the shopper confirmed: a cart that prices differently now is refused (409), never
    /// charged silently.
    pub expected_total: Money,
    pub payment_method: PaymentMethodInput,
}

impl CheckoutRequest {
    /// What identifies the request under its Idempotency-Key (`request_fingerprint` of its JSON), so
    /// the same body sent with other spacing or key order is the same request.
    pub fn fingerprint(&self) -> String {
        request_fingerprint(&serde_json::to_value(self).unwrap_or_default())
    }
}

/// `POST /orders/checkout`, signed by the cart Worker: the buyer from the verified token, the key,
/// the request, and the buyer's account cart priced with the coupon definitions it used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutCall {
    pub buyer_id: BuyerId,
    pub idempotency_key: IdempotencyKey,
    pub request: CheckoutRequest,
    pub cart: CartView,
    pub coupons: BTreeMap<CouponCode, (Coupon, CouponUsage)>,
}

/// Where a checkout stands, as the shopper sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    /// Paid; the orders are confirmed.
    Confirmed,
    /// Waiting for the payment to be completed (3-D Secure, a delayed confirmation).
    AwaitingPayment,
    /// Still being worked on (a step is being retried); read the group later.
    Processing,
}

/// The 201/202 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutAnswer {
    pub group_id: OrderGroupId,
    pub status: CheckoutStatus,
    /// What is charged; `None` only before the cart was read.
    pub total: Option<Money>,
    pub orders: Vec<CheckoutOrder>,
    pub payment: CheckoutPayment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutOrder {
    pub order_id: OrderId,
    pub vendor_id: VendorId,
    pub total: Money,
}

/// What the client needs to finish paying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutPayment {
    pub payment_id: PaymentId,
    /// `None` before the provider answered.
    pub status: Option<PaymentStatus>,
    /// For Stripe.js when the payment needs the buyer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_same_request_has_one_fingerprint_whatever_its_spacing() {
        let compact: CheckoutRequest = serde_json::from_str(
            r#"{"expected_total":{"amount_minor":2599,"currency":"EUR"},"payment_method":{"payment_method":"pm_card_visa"}}"#,
        )
        .unwrap();
        let spaced: CheckoutRequest = serde_json::from_value(json!({
            "payment_method": {"payment_method": "pm_card_visa"},
            "expected_total": {"currency": "EUR", "amount_minor": 2599}
        }))
        .unwrap();
        assert_eq!(compact.fingerprint(), spaced.fingerprint());
        assert_eq!(compact.fingerprint().len(), 64);
        let mut other = compact.clone();
        other.expected_total.amount_minor += 1;
        assert_ne!(other.fingerprint(), compact.fingerprint());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let body = json!({"expected_total": {"amount_minor": 1, "currency": "EUR"},
            "payment_method": {"payment_method": "pm_card_visa"}, "discount": 100});
        assert!(serde_json::from_value::<CheckoutRequest>(body).is_err());
    }
}
