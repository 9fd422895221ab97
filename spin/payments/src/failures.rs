//! Why a handler could not do its job, and the answer each reason gets. Details of outages and
//! misconfiguration go to the log; the caller gets a stable code (DESIGN §8).

use shared::api::{ApiError, ErrorCode};
use shared::neon::NeonError;
use shared::payments::stripe::{CallError, StripeError};
use spin_platform::{ConfigError, DeliveryError, Received, Response, error_response, json_response};

/// A handler's failure. `?` turns the component's errors into one.
#[derive(Debug)]
pub enum Problem {
    /// An answer for the caller, as is.
    Api(ApiError),
    Neon(NeonError),
    /// Boxed: a provider error carries the provider's whole message and would bloat every `Handled`.
    Stripe(Box<CallError>),
    Config(ConfigError),
}

pub type Handled<T> = Result<T, Problem>;

impl From<ApiError> for Problem {
    fn from(error: ApiError) -> Self {
        Problem::Api(error)
    }
}

impl From<NeonError> for Problem {
    fn from(error: NeonError) -> Self {
        Problem::Neon(error)
    }
}

impl From<CallError> for Problem {
    fn from(error: CallError) -> Self {
        Problem::Stripe(Box::new(error))
    }
}

impl From<ConfigError> for Problem {
    fn from(error: ConfigError) -> Self {
        Problem::Config(error)
    }
}

impl From<DeliveryError> for Problem {
    fn from(error: DeliveryError) -> Self {
        match error {
            DeliveryError::Config(error) => Problem::Config(error),
            DeliveryError::Neon(error) => Problem::Neon(error),
        }
    }
}

impl Problem {
    pub fn api(code: ErrorCode, message: impl Into<String>) -> Self {
        Problem::Api(ApiError::new(code, message))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::api(ErrorCode::Conflict, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::api(ErrorCode::NotFound, message)
    }

    /// A row that does not decode is our bug, not the caller's.
    pub fn corrupt(what: impl Into<String>) -> Self {
        Problem::Neon(NeonError::Decode(shared::neon::DecodeError::Body(what.into())))
    }

    pub fn to_api_error(&self) -> ApiError {
        match self {
            Problem::Api(error) => error.clone(),
            Problem::Neon(error) if error.is_transient() => {
                ApiError::new(ErrorCode::DependencyUnavailable, "the payments database is unavailable; retry later")
            }
            Problem::Neon(_) => ApiError::new(ErrorCode::Internal, "the payments database refused the change"),
            Problem::Stripe(error) => stripe_error(error),
            Problem::Config(_) => ApiError::new(ErrorCode::Misconfigured, "service is misconfigured"),
        }
    }

    pub fn respond(self, request: &Received) -> Response {
        let cause = match &self {
            Problem::Api(_) => None,
            Problem::Neon(error) => Some(format!("database: {error}")),
            Problem::Stripe(error) => Some(format!("provider: {error}")),
            Problem::Config(error) => Some(format!("configuration: {error}")),
        };
        if let Some(cause) = cause {
            eprintln!("[{}] {} {}: {cause}", request.request_id, request.parts.method, request.path());
        }
        error_response(&self.to_api_error(), &request.request_id)
    }
}

/// The provider's refusals of what we asked, as the caller should see them. Card errors are
/// decided by each handler (a decline is a business refusal there, not a failure).
fn stripe_error(error: &CallError) -> ApiError {
    match error {
        CallError::Amount(error) => ApiError::new(ErrorCode::ValidationFailed, error.to_string()),
        CallError::Stripe(error) if error.is_transient() => {
            ApiError::new(ErrorCode::DependencyUnavailable, "the payment provider is unavailable; retry later")
        }
        CallError::Stripe(StripeError::Idempotency { .. }) => shared::idempotency::idempotency_key_reused(),
        CallError::Stripe(StripeError::Card(card)) => ApiError::new(ErrorCode::ValidationFailed, card.message.clone())
            .with_details(serde_json::json!({"code": card.code, "param": card.param})),
        CallError::Stripe(StripeError::InvalidRequest { code, param, message, .. }) => {
            ApiError::new(ErrorCode::ValidationFailed, format!("the payment provider refused it: {message}"))
                .with_details(serde_json::json!({"code": code, "param": param}))
        }
        CallError::Stripe(StripeError::Authentication { .. } | StripeError::Permission { .. }) => {
            ApiError::new(ErrorCode::Misconfigured, "service is misconfigured")
        }
        CallError::Stripe(_) => {
            ApiError::new(ErrorCode::DependencyUnavailable, "the payment provider answered unexpectedly; retry later")
        }
    }
}

/// Parses a JSON body; a broken one is the caller's `VAL_3001`.
pub fn parse_json<T: serde::de::DeserializeOwned>(request: &Received) -> Handled<T> {
    serde_json::from_slice(&request.body)
        .map_err(|error| Problem::api(ErrorCode::InvalidRequest, format!("invalid request body: {error}")))
}

/// Runs a handler and answers its result (`status` on success).
pub fn answer<T: serde::Serialize>(request: &Received, status: u16, result: Handled<T>) -> Response {
    match result {
        Ok(body) => json_response(status, &body, &request.request_id),
        Err(problem) => problem.respond(request),
    }
}
