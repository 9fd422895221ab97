//! Stripe's error envelope (docs.stripe.com/api/errors): any non-2xx reply carries
//! `{"error":{"type","code","decline_code","message","param",…}}` with `type` one of `api_error`,
//! `card_error`, `idempotency_error`, `invalid_request_error`. Status codes
//! (docs.stripe.com/error-low-level): 400 bad request, 401 no valid key, 402 request failed (a card
//! error), 403 key lacks permission, 404 missing resource, 409 conflict with another request
//! (same idempotency key in flight), 429 rate limited, 5xx Stripe's side.

use serde::Deserialize;
use serde_json::Value as Json;
use thiserror::Error;

use super::ids::{ChargeId, PaymentIntentId};
use crate::transport::{HttpResponse, TransportError};

/// Longest piece of an unexpected reply quoted in an error.
const QUOTE_LIMIT: usize = 300;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StripeError {
    /// 402 `card_error`: the card was declined or its details are wrong. Not worth retrying.
    #[error("card error {}: {}", .0.code.as_deref().unwrap_or("-"), .0.message)]
    Card(CardError),
    /// 400/404 `invalid_request_error`: the request itself is wrong (unknown or missing
    /// parameter, missing object, wrong state). `param` names the field when there is one.
    #[error("invalid request (HTTP {status}) {}: {message}", code.as_deref().unwrap_or("-"))]
    InvalidRequest { status: u16, code: Option<String>, param: Option<String>, message: String },
    /// `idempotency_error`: the key was first used with other parameters or another endpoint.
    #[error("idempotency error: {message}")]
    Idempotency { message: String },
    /// 401: no valid API key.
    #[error("authentication failed: {message}")]
    Authentication { message: String },
    /// 403: the key may not do this.
    #[error("permission denied: {message}")]
    Permission { message: String },
    /// 409: another request with the same idempotency key is still running.
    #[error("conflict: {message}")]
    Conflict { code: Option<String>, message: String },
    /// 429.
    #[error("rate limited: {message}")]
    RateLimited { message: String },
    /// 5xx or `api_error`: the outcome is unknown; retry with the same idempotency key.
    #[error("Stripe API error (HTTP {status}): {message}")]
    Api { status: u16, message: String },
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A reply that is neither the object asked for nor Stripe's error envelope.
    #[error("unexpected reply (HTTP {status}): {body}")]
    UnexpectedReply { status: u16, body: String },
}

/// A `card_error` with the fields a checkout needs to tell the buyer what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardError {
    /// `card_declined`, `incorrect_number`, `expired_card`, …
    pub code: Option<String>,
    /// The issuer's reason when `code` is `card_declined`: `generic_decline`, `insufficient_funds`, …
    pub decline_code: Option<String>,
    /// Safe to show to the buyer (Stripe: "For card errors, these messages can be shown to your users").
    pub message: String,
    pub param: Option<String>,
    pub payment_intent: Option<PaymentIntentId>,
    pub charge: Option<ChargeId>,
}

impl StripeError {
    /// Worth retrying with the same idempotency key: the request may not have run, or ran into
    /// a temporary condition. Everything else would fail the same way again.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StripeError::Conflict { .. }
                | StripeError::RateLimited { .. }
                | StripeError::Api { .. }
                | StripeError::Transport(_)
                | StripeError::UnexpectedReply { .. }
        )
    }

    /// The `code` Stripe sent, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            StripeError::Card(card) => card.code.as_deref(),
            StripeError::InvalidRequest { code, .. } | StripeError::Conflict { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Classifies a non-2xx reply.
    pub fn from_response(response: &HttpResponse) -> Self {
        let status = response.status;
        let Ok(Envelope { error }) = serde_json::from_slice::<Envelope>(&response.body) else {
            return Self::unexpected(response);
        };
        let message = error.message.unwrap_or_default();
        match (error.kind.as_deref(), status) {
            (Some("card_error"), _) => StripeError::Card(CardError {
                code: error.code,
                decline_code: error.decline_code,
                message,
                param: error.param,
                payment_intent: error
                    .payment_intent
                    .as_ref()
                    .and_then(|intent| intent.get("id"))
                    .and_then(Json::as_str)
                    .and_then(|id| PaymentIntentId::parse(id).ok()),
                charge: error.charge.as_deref().and_then(|id| ChargeId::parse(id).ok()),
            }),
            (Some("idempotency_error"), _) => StripeError::Idempotency { message },
            (_, 401) => StripeError::Authentication { message },
            (_, 403) => StripeError::Permission { message },
            (_, 409) => StripeError::Conflict { code: error.code, message },
            (_, 429) => StripeError::RateLimited { message },
            (Some("api_error"), _) | (_, 500..=599) => StripeError::Api { status, message },
            (Some("invalid_request_error"), _) => {
                StripeError::InvalidRequest { status, code: error.code, param: error.param, message }
            }
            _ => Self::unexpected(response),
        }
    }

    pub(crate) fn unexpected(response: &HttpResponse) -> Self {
        if (500..=599).contains(&response.status) {
            return StripeError::Api { status: response.status, message: quote(&response.body) };
        }
        StripeError::UnexpectedReply { status: response.status, body: quote(&response.body) }
    }
}

#[derive(Deserialize)]
struct Envelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    param: Option<String>,
    payment_intent: Option<Json>,
    charge: Option<String>,
}

fn quote(body: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    if text.len() > QUOTE_LIMIT {
        let mut end = QUOTE_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reply(status: u16, body: Json) -> HttpResponse {
        HttpResponse { status, headers: Vec::new(), body: body.to_string().into_bytes() }
    }

    #[test]
    fn a_decline_keeps_code_decline_code_and_the_objects_it_names() {
        // Shape of a 402 from confirming with 4000000000000002 (docs.stripe.com/api/errors:
        // code, decline_code, message, param, payment_intent, charge, doc_url, type).
        let error = StripeError::from_response(&reply(
            402,
            json!({"error": {
                "charge": "ch_3MtwBw",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                "message": "Your card was declined.",
                "payment_intent": {"id": "pi_3MtwBw", "object": "payment_intent", "status": "requires_payment_method"},
                "request_log_url": "https://dashboard.stripe.com/test/logs/req_1",
                "type": "card_error"
            }}),
        ));
        let StripeError::Card(card) = &error else { panic!("card error, got {error:?}") };
        assert_eq!(card.code.as_deref(), Some("card_declined"));
        assert_eq!(card.decline_code.as_deref(), Some("generic_decline"));
        assert_eq!(card.message, "Your card was declined.");
        assert_eq!(card.payment_intent.as_ref().map(PaymentIntentId::as_str), Some("pi_3MtwBw"));
        assert_eq!(card.charge.as_ref().map(ChargeId::as_str), Some("ch_3MtwBw"));
        assert!(!error.is_transient());
        assert_eq!(error.code(), Some("card_declined"));
    }

    #[test]
    fn invalid_requests_keep_code_and_param() {
        let error = StripeError::from_response(&reply(
            400,
            json!({"error": {"code": "parameter_unknown", "message": "Received unknown parameter: amout",
                "param": "amout", "type": "invalid_request_error"}}),
        ));
        assert_eq!(
            error,
            StripeError::InvalidRequest {
                status: 400,
                code: Some("parameter_unknown".into()),
                param: Some("amout".into()),
                message: "Received unknown parameter: amout".into(),
            }
        );
        assert!(!error.is_transient());
        let missing = StripeError::from_response(&reply(
            404,
            json!({"error": {"code": "resource_missing", "message": "No such payment_intent: 'pi_x'",
                "param": "intent", "type": "invalid_request_error"}}),
        ));
        assert!(matches!(missing, StripeError::InvalidRequest { status: 404, .. }));
    }

    #[test]
    fn each_type_and_status_gets_its_variant() {
        let cases = [
            (400, "idempotency_error", None, "Idempotency", false),
            (401, "invalid_request_error", None, "Authentication", false),
            (403, "invalid_request_error", None, "Permission", false),
            (409, "invalid_request_error", Some("idempotency_key_in_use"), "Conflict", true),
            (429, "invalid_request_error", Some("rate_limit"), "RateLimited", true),
            (500, "api_error", None, "Api", true),
            (200, "api_error", None, "Api", true),
        ];
        for (status, kind, code, variant, transient) in cases {
            let error = StripeError::from_response(&reply(
                status,
                json!({"error": {"type": kind, "code": code, "message": "m"}}),
            ));
            assert!(format!("{error:?}").starts_with(variant), "{status} {kind}: {error:?}");
            assert_eq!(error.is_transient(), transient, "{status} {kind}");
        }
    }

    #[test]
    fn bodies_without_the_envelope_are_unexpected_or_server_errors() {
        let html = HttpResponse { status: 502, headers: Vec::new(), body: b"<html>bad gateway</html>".to_vec() };
        assert!(matches!(StripeError::from_response(&html), StripeError::Api { status: 502, .. }));
        let odd = StripeError::from_response(&reply(400, json!({"oops": true})));
        assert!(matches!(odd, StripeError::UnexpectedReply { status: 400, .. }));
        assert!(odd.is_transient());
        let long = HttpResponse { status: 418, headers: Vec::new(), body: "é".repeat(400).into_bytes() };
        let StripeError::UnexpectedReply { body, .. } = StripeError::from_response(&long) else { panic!() };
        assert!(body.len() <= QUOTE_LIMIT + '…'.len_utf8());
    }
}
