//! The API contract every service speaks: one error envelope with stable codes (DESIGN §8).

use serde::{Deserialize, Serialize};

/// Stable, documented error codes. Clients switch on these, so a code never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// A signed request came without a signature.
    #[serde(rename = "AUTH_1001")]
    SignatureMissing,
    /// The signature failed a check (key, expiry, subject, body hash).
    #[serde(rename = "AUTH_1002")]
    SignatureInvalid,
    /// The signature was valid but has been used before.
    #[serde(rename = "AUTH_1003")]
    SignatureReplayed,
    /// The route needs an access token and none was sent (`Authorization: Bearer …`).
    #[serde(rename = "AUTH_1004")]
    TokenMissing,
    /// The access token is malformed, signed by an unknown key, or its signature does not verify.
    #[serde(rename = "AUTH_1005")]
    TokenInvalid,
    /// The access token has expired (or is not valid yet): refresh it.
    #[serde(rename = "AUTH_1006")]
    TokenExpired,
    /// The access token was issued by someone else or for another audience.
    #[serde(rename = "AUTH_1007")]
    TokenWrongAudience,
    /// Email or password (or a 2FA/recovery code) is wrong; never says which.
    #[serde(rename = "AUTH_1008")]
    InvalidCredentials,
    /// The password was right and the account has 2FA: send the code too.
    #[serde(rename = "AUTH_1009")]
    TwoFactorRequired,
    /// The refresh token is unknown, expired, revoked, or was already used (its family is now revoked).
    #[serde(rename = "AUTH_1010")]
    RefreshTokenInvalid,
    /// Too many attempts from this client or against this account; see `Retry-After`.
    #[serde(rename = "AUTH_1011")]
    TooManyAttempts,
    /// Authenticated, but the token's roles do not allow this.
    #[serde(rename = "AUTHZ_2001")]
    Forbidden,
    /// The request cannot be parsed (bad JSON, wrong types, missing body).
    #[serde(rename = "VAL_3001")]
    InvalidRequest,
    /// Well-formed JSON whose fields break a rule (email shape, password length); `details` names them.
    #[serde(rename = "VAL_3002")]
    ValidationFailed,
    #[serde(rename = "RES_4001")]
    RouteNotFound,
    #[serde(rename = "RES_4002")]
    MethodNotAllowed,
    /// The change clashes with existing state, e.g. the email is already registered. Saying so
    /// at sign-up reveals that an account exists; accepted (as most sites do) and throttled
    /// by the register rate limit instead.
    #[serde(rename = "RES_4003")]
    Conflict,
    /// The resource (a product by id) does not exist, or is not visible to this caller.
    #[serde(rename = "RES_4004")]
    NotFound,
    /// The coupon gives no discount on this cart; `details.reason` says why (`expired`, `below_minimum`…).
    #[serde(rename = "BIZ_5001")]
    CouponRejected,
    /// A cart limit (lines per cart, quantity per line, coupons per cart, one currency); `details.reason`.
    #[serde(rename = "BIZ_5002")]
    CartLimit,
    /// The variant cannot be bought now (out of stock).
    #[serde(rename = "BIZ_5003")]
    OutOfStock,
    /// The payment provider refused the payment (a declined card); `details` carries the
    /// provider's `code` and `decline_code`. Retrying the same payment cannot succeed.
    #[serde(rename = "BIZ_5004")]
    PaymentDeclined,
    /// A dependency (database, cache, core service) is unreachable or failing.
    #[serde(rename = "EXT_6001")]
    DependencyUnavailable,
    #[serde(rename = "SYS_9001")]
    Internal,
    /// The service is missing configuration it needs to run.
    #[serde(rename = "SYS_9002")]
    Misconfigured,
}

impl ErrorCode {
    /// The stable name clients see (`BIZ_5003`), for keeping a code as text.
    pub fn wire_name(self) -> String {
        serde_json::to_value(self).ok().and_then(|name| name.as_str().map(str::to_owned)).unwrap_or_default()
    }

    pub fn from_wire_name(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::from(name)).ok()
    }

    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::SignatureMissing
            | ErrorCode::SignatureInvalid
            | ErrorCode::SignatureReplayed
            | ErrorCode::TokenMissing
            | ErrorCode::TokenInvalid
            | ErrorCode::TokenExpired
            | ErrorCode::TokenWrongAudience
            | ErrorCode::InvalidCredentials
            | ErrorCode::TwoFactorRequired
            | ErrorCode::RefreshTokenInvalid => 401,
            ErrorCode::TooManyAttempts => 429,
            ErrorCode::Forbidden => 403,
            ErrorCode::InvalidRequest => 400,
            ErrorCode::ValidationFailed => 422,
            ErrorCode::RouteNotFound | ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict | ErrorCode::OutOfStock => 409,
            ErrorCode::CouponRejected | ErrorCode::CartLimit => 422,
            // RFC 9110 reserves 402; Stripe answers a declined card with it too.
            ErrorCode::PaymentDeclined => 402,
            ErrorCode::DependencyUnavailable => 503,
            ErrorCode::Internal | ErrorCode::Misconfigured => 500,
        }
    }
}

/// `{"error":{"code":"VAL_3001","message":"…","details":…,"requestId":"…"}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    #[serde(rename = "requestId")]
    pub request_id: String,
}

/// A user-facing error: rendered as the envelope with the code's HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn status(&self) -> u16 {
        self.code.http_status()
    }

    pub fn into_envelope(self, request_id: &str) -> ErrorEnvelope {
        ErrorEnvelope {
            error: ErrorBody {
                code: self.code,
                message: self.message,
                details: self.details,
                request_id: request_id.to_owned(),
            },
        }
    }

    pub fn to_json(&self, request_id: &str) -> String {
        let envelope = self.clone().into_envelope(request_id);
        // Serialising plain strings and enums cannot fail; fall back to a fixed envelope anyway.
        serde_json::to_string(&envelope).unwrap_or_else(|_| {
            format!(r#"{{"error":{{"code":"SYS_9001","message":"internal error","requestId":"{request_id}"}}}}"#)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_the_documented_shape() {
        let json = ApiError::new(ErrorCode::InvalidRequest, "email is required")
            .with_details(serde_json::json!({"field": "email"}))
            .to_json("req_1");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"error": {
                "code": "VAL_3001",
                "message": "email is required",
                "details": {"field": "email"},
                "requestId": "req_1"
            }})
        );
    }

    #[test]
    fn envelope_without_details_omits_the_field() {
        let json = ApiError::new(ErrorCode::RouteNotFound, "no route").to_json("r");
        assert!(!json.contains("details"));
        assert!(json.contains(r#""code":"RES_4001""#));
    }

    #[test]
    fn identity_codes_keep_their_wire_names_and_statuses() {
        let expected = [
            (ErrorCode::TokenMissing, "AUTH_1004", 401),
            (ErrorCode::TokenInvalid, "AUTH_1005", 401),
            (ErrorCode::TokenExpired, "AUTH_1006", 401),
            (ErrorCode::TokenWrongAudience, "AUTH_1007", 401),
            (ErrorCode::InvalidCredentials, "AUTH_1008", 401),
            (ErrorCode::TwoFactorRequired, "AUTH_1009", 401),
            (ErrorCode::RefreshTokenInvalid, "AUTH_1010", 401),
            (ErrorCode::TooManyAttempts, "AUTH_1011", 429),
            (ErrorCode::Forbidden, "AUTHZ_2001", 403),
            (ErrorCode::ValidationFailed, "VAL_3002", 422),
            (ErrorCode::Conflict, "RES_4003", 409),
            (ErrorCode::NotFound, "RES_4004", 404),
        ];
        for (code, wire, status) in expected {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(wire));
            assert_eq!(serde_json::from_value::<ErrorCode>(serde_json::json!(wire)).unwrap(), code);
            assert_eq!((code.wire_name(), ErrorCode::from_wire_name(wire)), (wire.to_owned(), Some(code)));
            assert_eq!(code.http_status(), status, "{wire}");
        }
    }

    #[test]
    fn business_codes_keep_their_wire_names_and_statuses() {
        let expected = [
            (ErrorCode::CouponRejected, "BIZ_5001", 422),
            (ErrorCode::CartLimit, "BIZ_5002", 422),
            (ErrorCode::OutOfStock, "BIZ_5003", 409),
            (ErrorCode::PaymentDeclined, "BIZ_5004", 402),
        ];
        assert_eq!(ErrorCode::from_wire_name("BIZ_5999"), None);
        for (code, wire, status) in expected {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(wire));
            assert_eq!(serde_json::from_value::<ErrorCode>(serde_json::json!(wire)).unwrap(), code);
            assert_eq!((code.wire_name(), ErrorCode::from_wire_name(wire)), (wire.to_owned(), Some(code)));
            assert_eq!(code.http_status(), status, "{wire}");
        }
    }

    #[test]
    fn signature_failures_are_401_and_outages_503() {
        assert_eq!(ErrorCode::SignatureMissing.http_status(), 401);
        assert_eq!(ErrorCode::SignatureReplayed.http_status(), 401);
        assert_eq!(ErrorCode::DependencyUnavailable.http_status(), 503);
    }
}
