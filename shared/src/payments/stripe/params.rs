//! Parameters of the calls we make, each turned into Stripe's form encoding by `to_form`.
//! Amounts are `Money` and are converted to Stripe's units here, so a caller cannot send
//! 5 ISK as `5` (Stripe reads that as 0.05 ISK).

use std::fmt;

use super::amount::{AmountError, to_stripe_amount};
use super::form::{Form, Metadata};
use super::ids::{AccountId, ChargeId, PaymentIntentId, PaymentMethodId};
use super::model::CaptureMethod;
use crate::catalog::money::Money;

/// `POST /v1/payment_intents`. Card only (`payment_method_types[0]=card`): with Stripe's default
/// automatic payment methods a confirmation would also need a `return_url` for redirect methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePaymentIntent {
    pub amount: Money,
    pub payment_method: Option<PaymentMethodId>,
    /// Confirm in the same call (needs `payment_method`).
    pub confirm: bool,
    pub capture_method: CaptureMethod,
    /// Ties the charge to the transfers that pay vendors out of it.
    pub transfer_group: Option<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
}

impl CreatePaymentIntent {
    pub fn to_form(&self) -> Result<Form, AmountError> {
        Ok(Form::new()
            .field(&["amount"], to_stripe_amount(self.amount)?)
            .field(&["currency"], self.amount.currency.as_str().to_ascii_lowercase())
            .list("payment_method_types", &["card"])
            .optional(&["payment_method"], self.payment_method.as_ref())
            .field(&["confirm"], self.confirm)
            .field(&["capture_method"], self.capture_method.as_str())
            .optional(&["transfer_group"], self.transfer_group.as_ref())
            .optional(&["description"], self.description.as_ref())
            .map("metadata", self.metadata.iter()))
    }
}

/// `POST /v1/payment_intents/:id/confirm`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfirmPaymentIntent {
    pub payment_method: Option<PaymentMethodId>,
}

impl ConfirmPaymentIntent {
    pub fn to_form(&self) -> Form {
        Form::new().optional(&["payment_method"], self.payment_method.as_ref())
    }
}

/// `POST /v1/payment_intents/:id/capture`: all of `amount_capturable` unless `amount_to_capture`
/// says less (the rest is released).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturePaymentIntent {
    pub amount_to_capture: Option<Money>,
    pub metadata: Metadata,
}

impl CapturePaymentIntent {
    pub fn to_form(&self) -> Result<Form, AmountError> {
        let amount = self.amount_to_capture.map(to_stripe_amount).transpose()?;
        Ok(Form::new().optional(&["amount_to_capture"], amount).map("metadata", self.metadata.iter()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
    Abandoned,
}

impl CancellationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CancellationReason::Duplicate => "duplicate",
            CancellationReason::Fraudulent => "fraudulent",
            CancellationReason::RequestedByCustomer => "requested_by_customer",
            CancellationReason::Abandoned => "abandoned",
        }
    }
}

/// `POST /v1/payment_intents/:id/cancel`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancelPaymentIntent {
    pub cancellation_reason: Option<CancellationReason>,
}

impl CancelPaymentIntent {
    pub fn to_form(&self) -> Form {
        Form::new().optional(&["cancellation_reason"], self.cancellation_reason.map(CancellationReason::as_str))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
}

impl RefundReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::Duplicate => "duplicate",
            RefundReason::Fraudulent => "fraudulent",
            RefundReason::RequestedByCustomer => "requested_by_customer",
        }
    }
}

/// `POST /v1/refunds` against a PaymentIntent: everything still refundable unless `amount` says less.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRefund {
    pub payment_intent: PaymentIntentId,
    pub amount: Option<Money>,
    pub reason: Option<RefundReason>,
    pub metadata: Metadata,
}

impl CreateRefund {
    pub fn to_form(&self) -> Result<Form, AmountError> {
        let amount = self.amount.map(to_stripe_amount).transpose()?;
        Ok(Form::new()
            .field(&["payment_intent"], &self.payment_intent)
            .optional(&["amount"], amount)
            .optional(&["reason"], self.reason.map(RefundReason::as_str))
            .map("metadata", self.metadata.iter()))
    }
}

/// A capability a connected account asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Transfers,
    CardPayments,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Transfers => "transfers",
            Capability::CardPayments => "card_payments",
        }
    }
}

/// `POST /v1/accounts` with `type=express`: a vendor's connected account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateExpressAccount {
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country: Option<String>,
    pub email: Option<String>,
    pub capabilities: Vec<Capability>,
    pub metadata: Metadata,
}

impl CreateExpressAccount {
    pub fn to_form(&self) -> Form {
        let mut form = Form::new()
            .field(&["type"], "express")
            .optional(&["country"], self.country.as_ref())
            .optional(&["email"], self.email.as_ref());
        for capability in &self.capabilities {
            form = form.field(&["capabilities", capability.as_str(), "requested"], true);
        }
        form.map("metadata", self.metadata.iter())
    }
}

/// `POST /v1/transfers`: platform balance → connected account. With `source_transaction` the
/// money comes from that charge (and may not exceed what is left of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTransfer {
    pub amount: Money,
    pub destination: AccountId,
    pub transfer_group: Option<String>,
    pub source_transaction: Option<ChargeId>,
    pub description: Option<String>,
    pub metadata: Metadata,
}

impl CreateTransfer {
    pub fn to_form(&self) -> Result<Form, AmountError> {
        Ok(Form::new()
            .field(&["amount"], to_stripe_amount(self.amount)?)
            .field(&["currency"], self.amount.currency.as_str().to_ascii_lowercase())
            .field(&["destination"], &self.destination)
            .optional(&["transfer_group"], self.transfer_group.as_ref())
            .optional(&["source_transaction"], self.source_transaction.as_ref())
            .optional(&["description"], self.description.as_ref())
            .map("metadata", self.metadata.iter()))
    }
}

/// `POST /v1/payment_methods` with raw card details. Only for test mode and the sandbox: live
/// card numbers belong in Stripe.js, never on our servers. `Debug` shows the last four digits only.
#[derive(Clone, PartialEq, Eq)]
pub struct CreateCardPaymentMethod {
    pub number: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub cvc: Option<String>,
}

impl CreateCardPaymentMethod {
    pub fn to_form(&self) -> Form {
        Form::new()
            .field(&["type"], "card")
            .field(&["card", "number"], &self.number)
            .field(&["card", "exp_month"], self.exp_month)
            .field(&["card", "exp_year"], self.exp_year)
            .optional(&["card", "cvc"], self.cvc.as_ref())
    }
}

impl fmt::Debug for CreateCardPaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last4 = self.number.get(self.number.len().saturating_sub(4)..).unwrap_or("");
        f.debug_struct("CreateCardPaymentMethod")
            .field("number", &format_args!("…{last4}"))
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .finish_non_exhaustive()
    }
}
