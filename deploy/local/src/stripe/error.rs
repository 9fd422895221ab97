//! Stripe's error envelope `{"error":{"type","code","message","param","doc_url",…}}` and the
//! messages its API sends for the cases the sandbox covers. Messages quoted from Stripe where we
//! know them (docs, SDK issues); the rest are marked as the sandbox's own wording.

use http::StatusCode;
use serde_json::{Map, Value as Json, json};

/// Whether an error ends the request before Stripe's "endpoint execution begins": such answers
/// are never stored under an idempotency key (docs.stripe.com/api/idempotent_requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Validation,
    Execution,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    pub phase: Phase,
    /// Extra envelope fields: `decline_code`, `charge`, `payment_intent`, `payment_method`.
    pub extra: Map<String, Json>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            message: message.into(),
            param: None,
            phase: Phase::Execution,
            extra: Map::new(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn code(mut self, code: &str) -> Self {
        self.code = Some(code.to_owned());
        self
    }

    pub fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    pub fn with(mut self, field: &str, value: Json) -> Self {
        self.extra.insert(field.to_owned(), value);
        self
    }

    /// Marks a failure of the request's shape (parameters, credentials, content type).
    pub fn validation(mut self) -> Self {
        self.phase = Phase::Validation;
        self
    }

    pub fn unknown_parameter(name: &str) -> Self {
        Self::invalid(format!("Received unknown parameter: {name}")).code("parameter_unknown").param(name).validation()
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::invalid(format!("Missing required param: {name}.")).code("parameter_missing").param(name).validation()
    }

    pub fn invalid_integer(name: &str, value: &str) -> Self {
        Self::invalid(format!("Invalid integer: {value}")).code("parameter_invalid_integer").param(name).validation()
    }

    pub fn invalid_boolean(name: &str, value: &str) -> Self {
        Self::invalid(format!("Invalid boolean: {value}")).param(name).validation()
    }

    pub fn invalid_enum(name: &str, allowed: &[&str]) -> Self {
        let choices = match allowed {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [first, second] => format!("{first} or {second}"),
            [init @ .., last] => format!("{}, or {last}", init.join(", ")),
        };
        Self::invalid(format!("Invalid {name}: must be one of {choices}")).param(name).validation()
    }

    /// 404 `resource_missing`: "No such payment_intent: 'pi_123'".
    pub fn no_such(object: &str, id: &str, param: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", format!("No such {object}: '{id}'"))
            .code("resource_missing")
            .param(param)
    }

    pub fn unexpected_state(message: impl Into<String>) -> Self {
        Self::invalid(message).code("payment_intent_unexpected_state")
    }

    /// 402 `card_error`.
    pub fn card(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, "card_error", message).code(code)
    }

    pub fn body(&self) -> Json {
        let mut error = self.extra.clone();
        if let Some(code) = &self.code {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-"))),
            );
        }
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        error.insert("type".into(), json!(self.kind));
        json!({ "error": error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_has_type_message_and_only_the_fields_that_apply() {
        let body = ApiError::unknown_parameter("amout").body();
        assert_eq!(
            body,
            json!({"error": {"code": "parameter_unknown", "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
                "message": "Received unknown parameter: amout", "param": "amout", "type": "invalid_request_error"}})
        );
        let bare = ApiError::invalid("x").body();
        assert_eq!(bare, json!({"error": {"message": "x", "type": "invalid_request_error"}}));
        assert_eq!(ApiError::invalid_enum("a", &["x", "y"]).message, "Invalid a: must be one of x or y");
    }
}
