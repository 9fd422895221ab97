//! The account pages' plain rules: where a shopper may be sent after signing in, what the API's
//! field reasons mean in words, and which API refusals a fresh access token would cure.

use crate::api::{ApiError, ErrorCode};
use crate::identity::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::identity::profile::MAX_DISPLAY_NAME_CHARS;

/// Where signing in leads when `next` is absent or not ours.
pub const DEFAULT_AFTER_SIGN_IN: &str = "/account";

/// The first value of `name` in a query string, decoded.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// `next` when it is a path on this site (`/orders?x=1`), else `None`. `//host` and `/\host` are
/// other sites to a browser, and a control character could split the `Location` header.
pub fn safe_next(next: Option<&str>) -> Option<&str> {
    let next = next?;
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    let clean = !next.chars().any(|c| c.is_control() || c == '\\');
    (local && clean && next.len() <= 2048).then_some(next)
}

/// Where to go after signing in or registering.
pub fn after_sign_in(next: Option<&str>) -> &str {
    safe_next(next).unwrap_or(DEFAULT_AFTER_SIGN_IN)
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
    use proptest::prelude::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/orders")), Some("/orders"));
        assert_eq!(safe_next(Some("/orders/grp_1?placed=1")), Some("/orders/grp_1?placed=1"));
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example/", "evil", "", "/a\r\nSet-Cookie: x"] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
        assert_eq!(after_sign_in(Some("//evil.example")), "/account");
        assert_eq!(after_sign_in(Some("/cart")), "/cart");
        assert_eq!(after_sign_in(None), "/account");
        assert_eq!(query_param("next=%2Forders%3Fx%3D1&reset=1", "next").as_deref(), Some("/orders?x=1"));
        assert_eq!(query_param("reset=1", "next"), None);
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

    proptest! {
        #[test]
        fn a_followed_next_never_leaves_the_site(next in "\\PC{0,40}") {
            if let Some(path) = safe_next(Some(&next)) {
                prop_assert!(path.starts_with('/'));
                prop_assert!(!path.starts_with("//"));
                prop_assert!(!path.contains('\\'));
            }
        }
    }
}
