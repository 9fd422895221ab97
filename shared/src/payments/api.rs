//! The `payments` component's internal API: the JSON bodies of its signed routes (DESIGN §5),
//! shared so the `orders` saga sends exactly what `payments` reads.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /payments/intents` | [`CreateIntent`] | [`Intent`]; a declined card is `BIZ_5004` ([`PaymentFailure::to_api_error`]) |
//! | `GET /payments/intents/{payment_id}` | — | [`Intent`], refreshed from the provider while not final |
//! | `POST /payments/intents/{payment_id}/void` | empty | [`Voided`] |
//! | `POST /payments/journals` | [`RecordLedger`] | [`Recorded`] |
//! | `POST /payments/refunds` | [`CreateRefund`] | [`Refund`] |
//! | `POST /payments/accounts` | [`CreateAccount`] | [`ConnectedAccount`] |
//! | `POST /payments/sweep` | [`SweepRequest`]: outbox rows and vendors | [`SweepReport`] |
//!
//! Every retry of a POST with the same key (or, for voids and journals, the same payment) finds the
//! work done and answers as the first call did. `POST /payments/webhooks/stripe` is the provider's,
//! checked with `Stripe-Signature`.
//!
//! The component tells the saga how a payment ended through its outbox, delivered in signed
//! batches (`crate::events::edge::EventBatch`) to the saga's receiver: events of type
//! [`TOPIC_PAYMENT_SUCCEEDED`] or [`TOPIC_PAYMENT_FAILED`] whose `data` is a [`PaymentEvent`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::{PaymentId, PspReference, RefundId};
use super::split::Split;
use super::status::PaymentStatus;
use super::stripe::{CardError, CreateCardPaymentMethod, PaymentIntent, PaymentMethodId};
use crate::api::{ApiError, ErrorCode};
use crate::catalog::{Money, VendorId};
use crate::events::edge::DeliveryReport;
#[cfg(doc)]
use crate::events::outbox::SweepRequest;
use crate::idempotency::IdempotencyKey;
use crate::orders::{BuyerId, OrderGroupId, OrderId};

pub const TOPIC_PAYMENT_SUCCEEDED: &str = "payments.payment_succeeded";
/// Declined, failed while processing, or cancelled: the group was not paid.
pub const TOPIC_PAYMENT_FAILED: &str = "payments.payment_failed";

/// `POST /payments/intents`: take the group's payment (the saga's `create_payment` step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIntent {
    pub group_id: OrderGroupId,
    pub buyer_id: BuyerId,
    /// The group's total.
    pub amount: Money,
    pub method: PaymentMethodInput,
    /// The saga's step key. A retry with it never makes a second PaymentIntent; another key for
    /// a group already being paid is a conflict.
    pub idempotency_key: IdempotencyKey,
}

/// How the buyer pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PaymentMethodInput {
    /// A PaymentMethod the browser created with Stripe.js, or a test token (`pm_card_visa`).
    PaymentMethod(PaymentMethodId),
    /// Test mode only: a test card number, turned into a PaymentMethod by the provider. Refused
    /// with a live key (card numbers never touch our servers in production).
    TestCard(TestCard),
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCard {
    pub number: String,
    pub exp_month: u8,
    pub exp_year: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvc: Option<String>,
}

impl TestCard {
    pub fn to_params(&self) -> CreateCardPaymentMethod {
        CreateCardPaymentMethod {
            number: self.number.clone(),
            exp_month: self.exp_month,
            exp_year: self.exp_year,
            cvc: self.cvc.clone(),
        }
    }
}

/// Like `CreateCardPaymentMethod`'s: never the whole number in a log.
impl fmt::Debug for TestCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last4 = self.number.get(self.number.len().saturating_sub(4)..).unwrap_or("");
        f.debug_struct("TestCard").field("number", &format_args!("…{last4}")).finish_non_exhaustive()
    }
}

/// A payment as `payments` knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub payment_id: PaymentId,
    pub group_id: OrderGroupId,
    pub status: PaymentStatus,
    pub amount: Money,
    /// The provider's PaymentIntent (`pi_…`), once it exists.
    pub psp_reference: Option<PspReference>,
    /// Lets the browser finish a payment that needs the buyer (3-D Secure); only in answers that
    /// read the PaymentIntent from the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<PaymentFailure>,
    /// Given back so far (refunds and a void's refund).
    pub refunded: Money,
    /// The saga voided it: a create with its key is refused from now on.
    pub voided: bool,
}

/// Why the provider refused or failed a payment, in its words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailure {
    /// `card_declined`, `expired_card`, … (Stripe's error `code`).
    pub code: Option<String>,
    /// The issuer's reason: `generic_decline`, `insufficient_funds`, …
    pub decline_code: Option<String>,
    /// Safe to show to the buyer.
    pub message: Option<String>,
}

impl PaymentFailure {
    /// A decline as the provider answered the confirmation.
    pub fn from_card_error(card: &CardError) -> Self {
        Self { code: card.code.clone(), decline_code: card.decline_code.clone(), message: Some(card.message.clone()) }
    }

    /// The last attempt's error kept on a PaymentIntent (a webhook or a poll).
    pub fn of_intent(intent: &PaymentIntent) -> Option<Self> {
        intent.last_payment_error.as_ref().map(|error| Self {
            code: error.code.clone(),
            decline_code: error.decline_code.clone(),
            message: error.message.clone(),
        })
    }

    /// `BIZ_5004` (402) with the provider's codes in `details`: a refusal the saga compensates,
    /// not an outage it retries.
    pub fn to_api_error(&self, payment_id: &PaymentId) -> ApiError {
        let message = self.message.clone().unwrap_or_else(|| "the payment was declined".into());
        ApiError::new(ErrorCode::PaymentDeclined, message).with_details(serde_json::json!({
            "payment_id": payment_id,
            "code": self.code,
            "decline_code": self.decline_code,
        }))
    }
}

/// A payment that did not go through, as the shopper is told: the provider's words when it gave any.
pub fn declined(payment_id: &PaymentId, failure: Option<&PaymentFailure>) -> ApiError {
    match failure {
        Some(failure) => failure.to_api_error(payment_id),
        None => ApiError::new(ErrorCode::PaymentDeclined, "the payment did not go through"),
    }
}

/// What a void did, read from the payment's state (so a repeated void answers the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidOutcome {
    /// No payment was created; none will be under this payment id.
    NotCreated,
    /// Nothing was taken: the intent is cancelled (or had failed).
    Cancelled,
    /// The payment had succeeded: what was not refunded yet was refunded.
    Refunded,
}

/// `POST /payments/intents/{payment_id}/void` (the saga's `void_payment` compensation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voided {
    pub payment_id: PaymentId,
    pub outcome: VoidOutcome,
    /// `None` when no payment was created.
    pub status: Option<PaymentStatus>,
    pub refunded: Option<Money>,
}

/// `POST /payments/journals`: book the group's payment (the saga's `record_ledger` step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordLedger {
    /// `payments::split` of the group with the commission frozen on its lines; its `charged` is
    /// the payment's amount.
    pub split: Split,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub payment_id: PaymentId,
    /// The `payment` journal (`jrn_…`), the same on every retry.
    pub journal_id: String,
}

/// `POST /payments/refunds`: give (part of) one vendor's order back to the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    pub order_id: OrderId,
    pub vendor_id: VendorId,
    pub amount: Money,
    /// Shown to operators; defaults to "requested by the buyer".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The same key makes the refund once; another body under it is refused (422).
    pub idempotency_key: IdempotencyKey,
}

/// Longest refund reason kept (`payments.refunds.reason`).
pub const MAX_REFUND_REASON_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Recorded, the provider not heard from yet (retry the same request).
    Pending,
    Succeeded,
    /// The provider refused it; nothing moved and the amount can be refunded again.
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        [RefundStatus::Pending, RefundStatus::Succeeded, RefundStatus::Failed]
            .into_iter()
            .find(|status| status.as_str() == input)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub refund_id: RefundId,
    pub order_id: OrderId,
    pub status: RefundStatus,
    pub amount: Money,
    /// The platform's commission given back with it (`ledger::reversal`).
    pub commission_reversed: Money,
    /// The provider's refund (`re_…`).
    pub psp_reference: Option<PspReference>,
}

/// `POST /payments/accounts`: a vendor's connected account, where its payouts go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    pub vendor_id: VendorId,
    /// ISO 3166-1 alpha-2 (`DE`); the provider's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectedAccount {
    pub vendor_id: VendorId,
    /// The provider's account (`acct_…`).
    pub account: PspReference,
    /// Whether transfers to it are accepted now (onboarding done).
    pub transfers_enabled: bool,
}

/// `POST /payments/sweep` (the edge cron): deliver the outbox, then pay out vendors; its body's
/// `limit` bounds both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    pub outbox: DeliveryReport,
    pub payouts: PayoutReport,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutReport {
    /// Payouts requested (new ones and pending ones tried again).
    pub attempted: u32,
    /// Transfers the provider made.
    pub paid: u32,
    /// Refused by the provider: the payout was reversed and the money is the vendor's again.
    pub failed: u32,
    /// The provider did not answer; tried again next sweep.
    pub pending: u32,
}

/// `data` of the outbox events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    pub payment_id: PaymentId,
    pub group_id: OrderGroupId,
    pub buyer_id: BuyerId,
    pub status: PaymentStatus,
    pub amount: Money,
    pub psp_reference: Option<PspReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<PaymentFailure>,
}

impl PaymentEvent {
    /// The event type for a payment that reached `status`; none for a state that is not an end.
    pub fn topic(status: PaymentStatus) -> Option<&'static str> {
        match status {
            PaymentStatus::Succeeded => Some(TOPIC_PAYMENT_SUCCEEDED),
            PaymentStatus::Failed | PaymentStatus::Cancelled => Some(TOPIC_PAYMENT_FAILED),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_create_request_reads_either_payment_method_form() {
        let body = json!({
            "group_id": "grp_01JC00000000000000000000A1",
            "buyer_id": "usr_01JC00000000000000000000A1",
            "amount": {"amount_minor": 2599, "currency": "EUR"},
            "method": {"payment_method": "pm_card_visa"},
            "idempotency_key": "sga_01JC00000000000000000000A1:create_payment"
        });
        let request: CreateIntent = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(request.method, PaymentMethodInput::PaymentMethod(PaymentMethodId::parse("pm_card_visa").unwrap()));
        assert_eq!(serde_json::to_value(&request).unwrap(), body);

        let mut card = body.clone();
        card["method"] = json!({"test_card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034}});
        let request: CreateIntent = serde_json::from_value(card).unwrap();
        let PaymentMethodInput::TestCard(card) = &request.method else { panic!("a test card") };
        assert_eq!(card.to_params().number, "4242424242424242");
        assert!(!format!("{card:?}").contains("42424242"));

        for bad in [json!({"payment_method": "card_1"}), json!({"cash": true}), json!("pm_card_visa")] {
            let mut body = body.clone();
            body["method"] = bad.clone();
            assert!(serde_json::from_value::<CreateIntent>(body).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_decline_is_biz_5004_with_the_providers_codes() {
        let failure = PaymentFailure {
            code: Some("card_declined".into()),
            decline_code: Some("insufficient_funds".into()),
            message: Some("Your card has insufficient funds.".into()),
        };
        let payment = PaymentId::generate(1_763_700_000_000, [1; 10]);
        let error = failure.to_api_error(&payment);
        assert_eq!((error.code, error.status()), (ErrorCode::PaymentDeclined, 402));
        assert_eq!(error.message, "Your card has insufficient funds.");
        let details = error.details.unwrap();
        assert_eq!(details["decline_code"], "insufficient_funds");
        assert_eq!(details["payment_id"], payment.as_str());
    }

    #[test]
    fn failures_read_the_same_from_a_decline_and_from_the_intent() {
        let card = CardError {
            code: Some("card_declined".into()),
            decline_code: Some("generic_decline".into()),
            message: "Your card was declined.".into(),
            param: None,
            payment_intent: None,
            charge: None,
        };
        let intent: PaymentIntent = serde_json::from_value(json!({
            "id": "pi_1", "amount": 100, "amount_capturable": 0, "amount_received": 0, "currency": "eur",
            "status": "requires_payment_method", "capture_method": "automatic", "client_secret": null,
            "latest_charge": "ch_1", "payment_method": null, "cancellation_reason": null, "transfer_group": null,
            "created": 1, "livemode": false,
            "last_payment_error": {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                "message": "Your card was declined."}
        }))
        .unwrap();
        assert_eq!(PaymentFailure::of_intent(&intent), Some(PaymentFailure::from_card_error(&card)));
    }

    #[test]
    fn only_final_states_are_announced() {
        assert_eq!(PaymentEvent::topic(PaymentStatus::Succeeded), Some(TOPIC_PAYMENT_SUCCEEDED));
        assert_eq!(PaymentEvent::topic(PaymentStatus::Cancelled), Some(TOPIC_PAYMENT_FAILED));
        assert_eq!(PaymentEvent::topic(PaymentStatus::Processing), None);
        for topic in [TOPIC_PAYMENT_SUCCEEDED, TOPIC_PAYMENT_FAILED] {
            // payments.outbox.topic's CHECK.
            let (context, rest) = topic.split_once('.').unwrap();
            assert!(context.bytes().all(|b| b.is_ascii_lowercase()));
            assert!(rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn refund_statuses_match_the_column() {
        for status in [RefundStatus::Pending, RefundStatus::Succeeded, RefundStatus::Failed] {
            assert_eq!(RefundStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(RefundStatus::parse("done"), None);
    }
}
