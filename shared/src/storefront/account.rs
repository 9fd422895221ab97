//! The account pages' plain rules: where a shopper may be sent after signing in, what the API's
//! field reasons mean in words, and which API refusals a fresh access token would cure.

use crate::api::{ApiError, ErrorCode};
use crate::identity::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::identity::profile::MAX_DISPLAY_NAME_CHARS;

use super::local_path;

/// Where signing in leads when `next` is absent or not ours.
pub const DEFAULT_AFTER_SIGN_IN: &str = "/account";

/// Where to go after signing in or registering: `next` when it is a path on this site.
pub fn after_sign_in(next: Option<&str>) -> &str {
    next.and_then(local_path).unwrap_or(DEFAULT_AFTER_SIGN_IN)
}

/// The password rule shown under every new-password field (the identity policy's numbers).
pub fn password_rule() -> String {
    format!("At least {MIN_PASSWORD_CHARS} characters (at most {MAX_PASSWORD_CHARS}). A few words make a good one.")
}

/// A `VAL_3002` refusal's per-field reasons (`details.fields`), in the order given.
pub fn field_reasons(error: &ApiError) -> Vec<(String, String)> {
    let Some(fields) = error.details.as_ref().and_then(|details| details.get("fields")).and_then(|f| f.as_object())
    else {
        return Vec::new();
    };
    fields
        .iter()
        .filter_map(|(field, reason)| reason.as_str().map(|reason| (field.clone(), reason.to_owned())))
        .collect()
}

/// What a field's reason (identity's `reason()` strings) means to the person typing.
pub fn field_message(field: &str, reason: &str) -> String {
    match (field, reason) {
        ("email", "empty") => "Enter your email address.".into(),
        ("email", "too_long") => "That email address is too long.".into(),
        ("email", _) => "Enter an email address like name@example.com.".into(),
        ("password", "too_short") => format!("Use at least {MIN_PASSWORD_CHARS} characters."),
        ("password", "too_long") => format!("Use at most {MAX_PASSWORD_CHARS} characters."),
        ("password", "all_whitespace") => "A password cannot be only spaces.".into(),
        ("display_name", "empty") => "Enter your name.".into(),
        ("display_name", "too_long") => format!("Use at most {MAX_DISPLAY_NAME_CHARS} characters."),
        ("display_name", "forbidden_character") => "Use letters, digits and punctuation only.".into(),
        ("code", _) => "That code is not right. Enter the 6 digits your app shows now.".into(),
        ("token", _) => "This link is invalid or has expired.".into(),
        (_, _) => "Check this field.".into(),
    }
}

/// An access token refused for a reason a rotation cures: missing, expired or unreadable (a
/// rotated signing key, a cookie from before). Anything else (forbidden, a bad request) stands.
pub fn token_needs_refresh(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::TokenMissing | ErrorCode::TokenExpired | ErrorCode::TokenInvalid)
}

/// Refusals that mean "this visitor is not signed in (any more)": pages answer by sending them to
/// sign in, not with an error page.
pub fn means_signed_out(code: ErrorCode) -> bool {
    token_needs_refresh(code) || matches!(code, ErrorCode::TokenWrongAudience | ErrorCode::RefreshTokenInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_leads_to_next_only_on_this_site() {
        assert_eq!(after_sign_in(Some("//evil.example")), "/account");
        assert_eq!(after_sign_in(Some("/cart")), "/cart");
        assert_eq!(after_sign_in(None), "/account");
    }

    #[test]
    fn field_reasons_are_read_from_the_details_and_worded() {
        let error = ApiError::new(ErrorCode::ValidationFailed, "some fields are invalid")
            .with_details(serde_json::json!({"fields": {"email": "not_one_at", "password": "too_short"}}));
        let reasons = field_reasons(&error);
        assert_eq!(reasons, [("email".into(), "not_one_at".into()), ("password".into(), "too_short".into())]);
        assert_eq!(field_message("password", "too_short"), "Use at least 8 characters.");
        assert!(field_message("email", "not_one_at").contains("name@example.com"));
        assert!(field_reasons(&ApiError::new(ErrorCode::Conflict, "taken")).is_empty());
        assert!(password_rule().contains("At least 8 characters"));
    }

    #[test]
    fn which_refusals_a_refresh_cures() {
        assert!(token_needs_refresh(ErrorCode::TokenExpired));
        assert!(token_needs_refresh(ErrorCode::TokenMissing));
        assert!(token_needs_refresh(ErrorCode::TokenInvalid));
        assert!(!token_needs_refresh(ErrorCode::Forbidden));
        assert!(!token_needs_refresh(ErrorCode::ValidationFailed));
        assert!(means_signed_out(ErrorCode::RefreshTokenInvalid));
        assert!(!means_signed_out(ErrorCode::InvalidCredentials));
    }
}
