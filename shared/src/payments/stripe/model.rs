//! The Stripe objects we read, with the fields the payments component uses (Stripe sends many
//! more; unknown fields are ignored). Shapes as of API version [`super::API_VERSION`]
//! (docs.stripe.com/api: the PaymentIntent, Charge, Refund, Transfer, Account and PaymentMethod objects).
//! Amounts are in Stripe's units; `*_money` converts them (see [`super::amount`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::amount::{AmountError, from_stripe_amount};
use super::ids::{AccountId, ChargeId, PaymentIntentId, PaymentMethodId, RefundId, TransferId};
use crate::catalog::money::{Currency, Money};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentIntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// Captured as soon as the payment is authorised.
    Automatic,
    /// Like `Automatic`, with the charge's balance details filled in asynchronously.
    AutomaticAsync,
    /// Authorised now, captured (or cancelled) later: `requires_capture` in between.
    Manual,
}

impl CaptureMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::AutomaticAsync => "automatic_async",
            CaptureMethod::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentIntent {
    pub id: PaymentIntentId,
    pub amount: i64,
    pub amount_capturable: i64,
    pub amount_received: i64,
    pub currency: Currency,
    pub status: PaymentIntentStatus,
    pub capture_method: CaptureMethod,
    pub client_secret: Option<String>,
    pub latest_charge: Option<ChargeId>,
    pub payment_method: Option<PaymentMethodId>,
    pub last_payment_error: Option<LastPaymentError>,
    pub cancellation_reason: Option<String>,
    pub transfer_group: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
    pub livemode: bool,
}

impl PaymentIntent {
    pub fn amount_money(&self) -> Result<Money, AmountError> {
        from_stripe_amount(self.amount, self.currency)
    }

    pub fn amount_received_money(&self) -> Result<Money, AmountError> {
        from_stripe_amount(self.amount_received, self.currency)
    }
}

/// Why the last confirmation failed; cleared when the PaymentIntent changes again.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LastPaymentError {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    Succeeded,
    Pending,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Charge {
    pub id: ChargeId,
    pub amount: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub currency: Currency,
    pub captured: bool,
    pub paid: bool,
    pub refunded: bool,
    pub status: ChargeStatus,
    pub payment_intent: Option<PaymentIntentId>,
    pub transfer_group: Option<String>,
    pub failure_code: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    pub id: RefundId,
    pub amount: i64,
    pub currency: Currency,
    pub charge: Option<ChargeId>,
    pub payment_intent: Option<PaymentIntentId>,
    pub status: Option<RefundStatus>,
    pub reason: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
}

impl Refund {
    pub fn amount_money(&self) -> Result<Money, AmountError> {
        from_stripe_amount(self.amount, self.currency)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Transfer {
    pub id: TransferId,
    pub amount: i64,
    pub amount_reversed: i64,
    pub currency: Currency,
    pub destination: Option<AccountId>,
    pub source_transaction: Option<ChargeId>,
    pub transfer_group: Option<String>,
    pub reversed: bool,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
}

impl Transfer {
    pub fn amount_money(&self) -> Result<Money, AmountError> {
        from_stripe_amount(self.amount, self.currency)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    pub id: AccountId,
    /// `express`, `standard` or `custom`; absent for accounts created with `controller` settings.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
    pub default_currency: Option<String>,
    #[serde(default)]
    pub charges_enabled: bool,
    #[serde(default)]
    pub payouts_enabled: bool,
    #[serde(default)]
    pub details_submitted: bool,
    /// Capability name → `active`, `inactive` or `pending`.
    #[serde(default)]
    pub capabilities: BTreeMap<String, String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub created: Option<i64>,
}

impl Account {
    /// Transfers to this account will be accepted.
    pub fn can_receive_transfers(&self) -> bool {
        self.capabilities.get("transfers").is_some_and(|status| status == "active")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentMethod {
    pub id: PaymentMethodId,
    #[serde(rename = "type")]
    pub kind: String,
    pub card: Option<CardDetails>,
    pub created: i64,
}

/// What Stripe tells about a card: never the number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CardDetails {
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub funding: Option<String>,
    pub country: Option<String>,
}

/// `GET /v1/events` and other list endpoints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    pub url: String,
}
