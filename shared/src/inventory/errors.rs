//! The inventory functions' refusals (their own SQLSTATEs, class IV, migration 0009) as API errors.
//! Anything else the database says is the caller's to map (an outage, or our bug).

use serde_json::json;

use super::api::Shortage;
use crate::api::{ApiError, ErrorCode};
use crate::catalog::validation::FieldErrors;
use crate::neon::NeonError;

/// Insufficient stock; DETAIL is a JSON array of `{variant_id, requested, available}`.
pub const INSUFFICIENT_STOCK: &str = "IV001";
/// A reservation reference reused with other items.
pub const REFERENCE_REUSED: &str = "IV002";
/// Nothing held to consume.
pub const NOT_HELD: &str = "IV003";
/// A variant or location that is not this vendor's.
pub const NOT_THIS_VENDORS: &str = "IV004";
/// On hand would drop below what is reserved.
pub const BELOW_RESERVED: &str = "IV005";
/// `invalid_parameter_value`: the functions' argument checks.
const INVALID_PARAMETER: &str = "22023";

/// `Some` when the database refused for a reason the caller can act on.
pub fn refusal(error: &NeonError) -> Option<ApiError> {
    let postgres = error.postgres()?;
    let error = match postgres.code.as_str() {
        INSUFFICIENT_STOCK => {
            let short: Vec<Shortage> =
                postgres.detail.as_deref().and_then(|detail| serde_json::from_str(detail).ok()).unwrap_or_default();
            ApiError::new(ErrorCode::OutOfStock, "not enough stock for every item; nothing was reserved")
                .with_details(json!({ "short": short }))
        }
        REFERENCE_REUSED => FieldErrors::single("reference", "reused_with_other_items").to_api_error(),
        NOT_HELD => ApiError::new(ErrorCode::Conflict, "the reservation no longer holds its stock")
            .with_details(json!({ "reason": "not_held" })),
        NOT_THIS_VENDORS => ApiError::new(ErrorCode::NotFound, "variant not found"),
        BELOW_RESERVED => ApiError::new(ErrorCode::Conflict, "on hand cannot be set below what is reserved")
            .with_details(json!({ "reason": "below_reserved" })),
        INVALID_PARAMETER => ApiError::new(ErrorCode::ValidationFailed, postgres.message.clone()),
        _ => return None,
    };
    Some(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neon::PostgresError;

    fn postgres(code: &str, detail: Option<&str>) -> NeonError {
        NeonError::Postgres(Box::new(PostgresError {
            code: code.into(),
            message: "raised".into(),
            detail: detail.map(str::to_owned),
            ..PostgresError::default()
        }))
    }

    #[test]
    fn short_stock_is_biz_5003_naming_each_short_variant() {
        let detail = r#"[{"variant_id": "var_01JC0000000000000000000001", "requested": 3, "available": 1}]"#;
        let error = refusal(&postgres(INSUFFICIENT_STOCK, Some(detail))).unwrap();
        assert_eq!((error.code, error.status()), (ErrorCode::OutOfStock, 409));
        assert_eq!(
            error.details,
            Some(json!({"short": [{"variant_id": "var_01JC0000000000000000000001", "requested": 3, "available": 1}]}))
        );
    }

    #[test]
    fn each_refusal_has_its_status_and_other_errors_are_not_refusals() {
        let status = |code| refusal(&postgres(code, None)).map(|error| error.status());
        assert_eq!(status(REFERENCE_REUSED), Some(422));
        assert_eq!(status(NOT_HELD), Some(409));
        assert_eq!(status(NOT_THIS_VENDORS), Some(404));
        assert_eq!(status(BELOW_RESERVED), Some(409));
        assert_eq!(status("22023"), Some(422));
        assert_eq!(status("23505"), None);
        assert_eq!(status("40001"), None);
    }
}
