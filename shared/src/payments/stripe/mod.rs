//! Stripe, the subset the payments component uses (DESIGN §5, §9): PaymentIntents
//! (create/retrieve/confirm/capture/cancel), Refunds, Express connected accounts, Transfers
//! (separate charges and transfers, grouped by `transfer_group`), card PaymentMethods in test
//! mode, Events, and webhook signature checks. Pure Rust over [`crate::transport::HttpTransport`]:
//! the same adapter runs natively, in workerd and in Spin, against Stripe or the local sandbox
//! (`deploy/local/src/stripe`).

mod amount;
mod client;
mod error;
mod form;
mod ids;
mod model;
mod params;
#[cfg(test)]
mod tests;
mod webhook;

/// The key every POST carries; the same type the API's own idempotent endpoints use.
pub use crate::idempotency::IdempotencyKey;
pub use amount::{AmountError, ZERO_DECIMAL, from_stripe_amount, stripe_decimals, to_stripe_amount};
pub use client::{CallError, StripeClient};
pub use error::{CardError, StripeError};
pub use form::{Form, MAX_METADATA_KEY_LEN, MAX_METADATA_KEYS, MAX_METADATA_VALUE_LEN, Metadata, MetadataError};
pub use ids::{
    AccountId, ChargeId, EventId, IdError, PaymentIntentId, PaymentMethodId, RefundId, SecretKey, SecretKeyError,
    TransferId, WebhookSecret, WebhookSecretError,
};
pub use model::{
    Account, CaptureMethod, CardDetails, Charge, ChargeStatus, LastPaymentError, List, PaymentIntent,
    PaymentIntentStatus, PaymentMethod, Refund, RefundStatus, Transfer,
};
pub use params::{
    CancelPaymentIntent, CancellationReason, Capability, CapturePaymentIntent, ConfirmPaymentIntent,
    CreateCardPaymentMethod, CreateExpressAccount, CreatePaymentIntent, CreateRefund, CreateTransfer, RefundReason,
};
pub use webhook::{
    DEFAULT_TOLERANCE_SECS, Event, EventData, SIGNATURE_HEADER, WebhookRejection, WebhookSecrets, event_types,
    signature, signature_header, verify_webhook,
};

/// The API version every request pins (`Stripe-Version`), so object shapes cannot change under us
/// when the account's default version moves. 2024-06-20 has `latest_charge` on PaymentIntents
/// (since 2022-11-15) and no `charges` list.
pub const API_VERSION: &str = "2024-06-20";
pub const VERSION_HEADER: &str = "Stripe-Version";
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// Set on a response replayed for a repeated idempotency key.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "Idempotent-Replayed";
pub const PRODUCTION_BASE_URL: &str = "https://api.stripe.com";
