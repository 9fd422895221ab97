//! Field-level validation failures, answered as `VAL_3002` with `{"fields":{"<field>":"<reason>"}}`,
//! the shape the identity Worker already uses, so clients handle every form the same way.

use serde_json::{Map, Value};

use crate::api::{ApiError, ErrorCode};

/// A stable, machine-readable reason (`too_long`, `out_of_range`) for `details.fields`.
pub trait Reason {
    fn reason(&self) -> &'static str;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The request field (or query parameter) at fault, e.g. `price_min` or `variants[0].sku`.
    pub field: String,
    pub reason: &'static str,
}

/// Every invalid field of one request, in the order they were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, reason: &'static str) -> Self {
        let mut errors = Self::new();
        errors.push(field, reason);
        errors
    }

    /// Records the first reason per field; a later one for the same field is dropped.
    pub fn push(&mut self, field: impl Into<String>, reason: &'static str) {
        let field = field.into();
        if self.reason_for(&field).is_none() {
            self.0.push(FieldError { field, reason });
        }
    }

    /// The value when `result` is `Ok`; otherwise records its reason under `field`.
    pub fn check<T, E: Reason>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|error| self.push(field, error.reason())).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    pub fn reason_for(&self, field: &str) -> Option<&'static str> {
        self.0.iter().find(|error| error.field == field).map(|error| error.reason)
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }

    /// `VAL_3002`; the message names the fields so a human reading a log sees them too.
    pub fn to_api_error(&self) -> ApiError {
        let names: Vec<&str> = self.0.iter().map(|error| error.field.as_str()).collect();
        let fields: Map<String, Value> =
            self.0.iter().map(|error| (error.field.clone(), Value::from(error.reason))).collect();
        ApiError::new(ErrorCode::ValidationFailed, format!("invalid fields: {}", names.join(", ")))
            .with_details(serde_json::json!({ "fields": fields }))
    }
}

/// `title: empty, slug: invalid_character`: for logs, and for serde when a validated newtype
/// refuses a value.
impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<String> = self.0.iter().map(|error| format!("{}: {}", error.field, error.reason)).collect();
        f.write_str(&pairs.join(", "))
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        errors.to_api_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_val_3002_naming_each_field_once() {
        let mut errors = FieldErrors::new();
        errors.push("limit", "out_of_range");
        errors.push("price_min", "invalid");
        errors.push("limit", "invalid");
        let error = errors.to_api_error();
        assert_eq!(error.code, ErrorCode::ValidationFailed);
        assert_eq!(error.status(), 422);
        assert_eq!(error.message, "invalid fields: limit, price_min");
        assert_eq!(
            error.details,
            Some(serde_json::json!({"fields": {"limit": "out_of_range", "price_min": "invalid"}}))
        );
    }

    #[test]
    fn into_result_passes_the_value_through_only_when_clean() {
        assert_eq!(FieldErrors::new().into_result(7), Ok(7));
        assert_eq!(FieldErrors::single("q", "required").into_result(7).unwrap_err().reason_for("q"), Some("required"));
    }
}
