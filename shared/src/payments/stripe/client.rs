//! The calls the payments component makes, over any [`HttpTransport`]. Every request carries
//! `Authorization: Bearer sk_…` and the pinned `Stripe-Version`; every POST a form body and the
//! caller's `Idempotency-Key` (a retry with the same key and parameters gets the first answer).

use std::fmt;

use serde::de::DeserializeOwned;
use thiserror::Error;

use super::amount::AmountError;
use super::error::StripeError;
use super::form::Form;
use super::ids::{AccountId, ChargeId, EventId, PaymentIntentId, SecretKey};
use super::model::{Account, Charge, PaymentIntent, PaymentMethod, Refund, Transfer};
use super::params::{
    CancelPaymentIntent, CapturePaymentIntent, ConfirmPaymentIntent, CreateCardPaymentMethod, CreateExpressAccount,
    CreatePaymentIntent, CreateRefund, CreateTransfer,
};
use super::webhook::Event;
use super::{API_VERSION, IDEMPOTENCY_KEY_HEADER, VERSION_HEADER};
use crate::idempotency::IdempotencyKey;
use crate::transport::{HttpRequest, HttpTransport, Method};

/// Everything a call can fail with: Stripe's answer, or an amount we could not express.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CallError {
    #[error(transparent)]
    Stripe(#[from] StripeError),
    #[error(transparent)]
    Amount(#[from] AmountError),
}

impl CallError {
    pub fn is_transient(&self) -> bool {
        matches!(self, CallError::Stripe(error) if error.is_transient())
    }

    pub fn stripe(&self) -> Option<&StripeError> {
        match self {
            CallError::Stripe(error) => Some(error),
            CallError::Amount(_) => None,
        }
    }
}

pub struct StripeClient<T> {
    transport: T,
    base_url: String,
    secret_key: SecretKey,
}

/// Hand-written so the key never reaches a log.
impl<T> fmt::Debug for StripeClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl<T: HttpTransport> StripeClient<T> {
    /// `base_url` is the API origin: `https://api.stripe.com`, or the local sandbox
    /// (`http://127.0.0.1:12111`). A trailing `/` is ignored.
    pub fn new(transport: T, base_url: impl Into<String>, secret_key: SecretKey) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self { transport, base_url, secret_key }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub async fn create_payment_intent(
        &self,
        params: &CreatePaymentIntent,
        key: &IdempotencyKey,
    ) -> Result<PaymentIntent, CallError> {
        self.post("/v1/payment_intents", params.to_form()?, key).await
    }

    pub async fn retrieve_payment_intent(&self, id: &PaymentIntentId) -> Result<PaymentIntent, CallError> {
        self.get(&format!("/v1/payment_intents/{id}")).await
    }

    pub async fn confirm_payment_intent(
        &self,
        id: &PaymentIntentId,
        params: &ConfirmPaymentIntent,
        key: &IdempotencyKey,
    ) -> Result<PaymentIntent, CallError> {
        self.post(&format!("/v1/payment_intents/{id}/confirm"), params.to_form(), key).await
    }

    pub async fn capture_payment_intent(
        &self,
        id: &PaymentIntentId,
        params: &CapturePaymentIntent,
        key: &IdempotencyKey,
    ) -> Result<PaymentIntent, CallError> {
        self.post(&format!("/v1/payment_intents/{id}/capture"), params.to_form()?, key).await
    }

    pub async fn cancel_payment_intent(
        &self,
        id: &PaymentIntentId,
        params: &CancelPaymentIntent,
        key: &IdempotencyKey,
    ) -> Result<PaymentIntent, CallError> {
        self.post(&format!("/v1/payment_intents/{id}/cancel"), params.to_form(), key).await
    }

    pub async fn retrieve_charge(&self, id: &ChargeId) -> Result<Charge, CallError> {
        self.get(&format!("/v1/charges/{id}")).await
    }

    pub async fn create_refund(&self, params: &CreateRefund, key: &IdempotencyKey) -> Result<Refund, CallError> {
        self.post("/v1/refunds", params.to_form()?, key).await
    }

    pub async fn create_express_account(
        &self,
        params: &CreateExpressAccount,
        key: &IdempotencyKey,
    ) -> Result<Account, CallError> {
        self.post("/v1/accounts", params.to_form(), key).await
    }

    pub async fn retrieve_account(&self, id: &AccountId) -> Result<Account, CallError> {
        self.get(&format!("/v1/accounts/{id}")).await
    }

    pub async fn create_transfer(&self, params: &CreateTransfer, key: &IdempotencyKey) -> Result<Transfer, CallError> {
        self.post("/v1/transfers", params.to_form()?, key).await
    }

    /// Test mode only: see [`CreateCardPaymentMethod`].
    pub async fn create_card_payment_method(
        &self,
        params: &CreateCardPaymentMethod,
        key: &IdempotencyKey,
    ) -> Result<PaymentMethod, CallError> {
        self.post("/v1/payment_methods", params.to_form(), key).await
    }

    /// An event as Stripe stored it: the way to double-check a webhook, or to catch up on one.
    pub async fn retrieve_event(&self, id: &EventId) -> Result<Event, CallError> {
        self.get(&format!("/v1/events/{id}")).await
    }

    async fn post<R: DeserializeOwned>(&self, path: &str, form: Form, key: &IdempotencyKey) -> Result<R, CallError> {
        let request = self
            .request(Method::Post, path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header(IDEMPOTENCY_KEY_HEADER, key.as_str())
            .body(form.encode());
        self.send(request).await
    }

    async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, CallError> {
        self.send(self.request(Method::Get, path)).await
    }

    fn request(&self, method: Method, path: &str) -> HttpRequest {
        HttpRequest::new(method, format!("{}{path}", self.base_url))
            .header("Authorization", format!("Bearer {}", self.secret_key.expose()))
            .header(VERSION_HEADER, API_VERSION)
    }

    async fn send<R: DeserializeOwned>(&self, request: HttpRequest) -> Result<R, CallError> {
        let response = self.transport.send(request).await.map_err(StripeError::from)?;
        if !(200..300).contains(&response.status) {
            return Err(StripeError::from_response(&response).into());
        }
        serde_json::from_slice(&response.body).map_err(|_| StripeError::unexpected(&response).into())
    }
}
