//! `POST /api/v1/checkout` on the wire (docs/adr/0009): the shopper's request, the cart Worker's
//! signed call to the `orders` component that carries it with the cart priced just now, and the
//! answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::address::ShippingAddress;
use super::ids::{BuyerId, OrderGroupId, OrderId};
use crate::api::ApiError;
use crate::cart::{CartView, Coupon, CouponCode, CouponUsage};
use crate::catalog::{Money, VendorId};
use crate::idempotency::{IdempotencyKey, request_fingerprint};
use crate::payments::api::{Intent, PaymentMethodInput};
use crate::payments::{PaymentId, PaymentStatus};
use crate::saga::{SagaState, SagaStatus};

/// The shopper's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// The total the shopper confirmed: a cart that prices differently now is refused (409), never
    /// charged silently.
    pub expected_total: Money,
    pub payment_method: PaymentMethodInput,
    /// Where to deliver; the cart's destination must be its country and postcode. Absent for
    /// clients that predate it (the group then has only the destination).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
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

impl CheckoutAnswer {
    /// The checkout's answer as its saga stands: paid (201), still going (202), or `Err`, the
    /// refusal that undid it. `payment` is the payment as last read, `refusal` the refusing side's
    /// own answer when the caller saw it, `requested_total` the shopper's total before the cart
    /// was read.
    pub fn of(
        state: &SagaState,
        payment: Option<&Intent>,
        refusal: Option<&ApiError>,
        requested_total: Option<Money>,
    ) -> Result<CheckoutAnswer, ApiError> {
        let status = match state.status() {
            SagaStatus::Completed => CheckoutStatus::Confirmed,
            SagaStatus::Awaiting => CheckoutStatus::AwaitingPayment,
            SagaStatus::Running => CheckoutStatus::Processing,
            SagaStatus::Compensating | SagaStatus::Failed => {
                let failure = state.failure().map(|failure| failure.to_api_error());
                return Err(refusal.cloned().or(failure).unwrap_or_else(|| {
                    ApiError::new(crate::api::ErrorCode::Conflict, "the checkout was undone; nothing was charged")
                }));
            }
        };
        let snapshot = state.outputs().snapshot.as_deref();
        let orders = snapshot.map_or_else(Vec::new, |snapshot| {
            let orders = &snapshot.group.orders;
            orders
                .iter()
                .map(|order| CheckoutOrder {
                    order_id: order.id.clone(),
                    vendor_id: order.vendor_id.clone(),
                    total: order.totals.total,
                })
                .collect()
        });
        let paid = (status == CheckoutStatus::Confirmed).then_some(PaymentStatus::Succeeded);
        Ok(CheckoutAnswer {
            group_id: state.group_id(),
            status,
            total: snapshot.map(|snapshot| snapshot.group.totals.total).or(requested_total),
            orders,
            payment: CheckoutPayment {
                payment_id: state.payment_id(),
                status: payment.map(|intent| intent.status).or(paid),
                client_secret: payment.and_then(|intent| intent.client_secret.clone()),
            },
        })
    }

    /// 201 once paid; 202 while the client should read the group again later.
    pub fn http_status(&self) -> u16 {
        if self.status == CheckoutStatus::Confirmed { 201 } else { 202 }
    }
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
