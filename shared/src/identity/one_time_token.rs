//! Single-use, expiring tokens mailed to the user: email verification and password reset.
//! `ott_` + base64url(32 random bytes); only the SHA-256 is stored (`identity.one_time_tokens`).
//! Consuming one must be atomic (`UPDATE … SET used_at = now() WHERE token_hash = $1 AND used_at
//! IS NULL`); `check` decides whether the stored row allows it.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::opaque::{self, SECRET_BYTES};

pub const ONE_TIME_TOKEN_PREFIX: &str = "ott_";

/// What a token may be used for; a reset token cannot verify an email, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    /// `identity.one_time_tokens.purpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Purpose::VerifyEmail, Purpose::ResetPassword].into_iter().find(|purpose| purpose.as_str() == text)
    }

    /// Verification links may sit in an inbox for a day; a reset link grants the account, so it
    /// lives an hour (OWASP Forgot Password Cheat Sheet: short-lived reset tokens).
    pub fn ttl_secs(self) -> i64 {
        match self {
            Purpose::VerifyEmail => 24 * 60 * 60,
            Purpose::ResetPassword => 60 * 60,
        }
    }

    pub fn expires_at(self, now: i64) -> i64 {
        now.saturating_add(self.ttl_secs())
    }
}

/// The secret mailed once; only `hash()` is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeToken(String);

impl OneTimeToken {
    /// `random` must come from a CSPRNG.
    pub fn from_random(random: [u8; SECRET_BYTES]) -> Self {
        Self(opaque::encode(ONE_TIME_TOKEN_PREFIX, &random))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `token_hash` to store.
    pub fn hash(&self) -> String {
        opaque::sha256_hex(&self.0)
    }
}

/// Hand-written so the token never reaches a log.
impl fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeToken(…)")
    }
}

/// The hash to look a presented token up by, or `None` when it cannot be one of ours.
pub fn hash_presented(presented: &str) -> Option<String> {
    opaque::has_shape(presented.trim(), ONE_TIME_TOKEN_PREFIX).then(|| opaque::sha256_hex(presented.trim()))
}

/// The stored row for a presented token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeTokenRecord {
    pub purpose: Purpose,
    /// Unix seconds; valid while `now < expires_at`.
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum OneTimeTokenError {
    #[error("unknown token")]
    Unknown,
    #[error("token is for something else")]
    WrongPurpose,
    #[error("token has expired")]
    Expired,
    #[error("token was already used")]
    AlreadyUsed,
}

impl OneTimeTokenError {
    /// Stable machine-readable reason for `details` (the API code is `VAL_3002`). Clients should
    /// show one "link invalid or expired" message; the reasons are for logs and tests.
    pub fn reason(self) -> &'static str {
        match self {
            OneTimeTokenError::Unknown => "unknown",
            OneTimeTokenError::WrongPurpose => "wrong_purpose",
            OneTimeTokenError::Expired => "expired",
            OneTimeTokenError::AlreadyUsed => "already_used",
        }
    }
}

/// Whether the stored row (`None` if no row has the hash) lets the token be used for `purpose` now.
pub fn check(record: Option<&OneTimeTokenRecord>, purpose: Purpose, now: i64) -> Result<(), OneTimeTokenError> {
    let record = record.ok_or(OneTimeTokenError::Unknown)?;
    if record.purpose != purpose {
        return Err(OneTimeTokenError::WrongPurpose);
    }
    if record.used_at.is_some() {
        return Err(OneTimeTokenError::AlreadyUsed);
    }
    if now >= record.expires_at {
        return Err(OneTimeTokenError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NOW: i64 = 1_795_000_000;

    fn fresh(purpose: Purpose) -> OneTimeTokenRecord {
        OneTimeTokenRecord { purpose, expires_at: purpose.expires_at(NOW), used_at: None }
    }

    #[test]
    fn lifetimes_are_a_day_and_an_hour() {
        assert_eq!(Purpose::VerifyEmail.ttl_secs(), 86_400);
        assert_eq!(Purpose::ResetPassword.ttl_secs(), 3_600);
        assert_eq!(Purpose::parse("reset_password"), Some(Purpose::ResetPassword));
        assert_eq!(serde_json::to_value(Purpose::VerifyEmail).unwrap(), serde_json::json!("verify_email"));
    }

    #[test]
    fn token_shape_and_hash() {
        let token = OneTimeToken::from_random([7; 32]);
        assert!(token.as_str().starts_with("ott_") && token.as_str().len() == 47);
        assert_eq!(hash_presented(&format!(" {} ", token.as_str())), Some(token.hash()));
        assert_eq!(hash_presented("rt_whatever"), None);
        assert_eq!(format!("{token:?}"), "OneTimeToken(…)");
    }

    #[test]
    fn a_fresh_token_is_valid_until_it_expires() {
        let record = fresh(Purpose::ResetPassword);
        assert_eq!(check(Some(&record), Purpose::ResetPassword, NOW + 3_599), Ok(()));
        assert_eq!(check(Some(&record), Purpose::ResetPassword, NOW + 3_600), Err(OneTimeTokenError::Expired));
    }

    #[test]
    fn unknown_used_and_wrong_purpose_tokens_fail() {
        assert_eq!(check(None, Purpose::VerifyEmail, NOW), Err(OneTimeTokenError::Unknown));
        let record = fresh(Purpose::VerifyEmail);
        assert_eq!(check(Some(&record), Purpose::ResetPassword, NOW), Err(OneTimeTokenError::WrongPurpose));
        let used = OneTimeTokenRecord { used_at: Some(NOW), ..record };
        assert_eq!(check(Some(&used), Purpose::VerifyEmail, NOW), Err(OneTimeTokenError::AlreadyUsed));
        assert_eq!(OneTimeTokenError::AlreadyUsed.reason(), "already_used");
    }

    proptest! {
        #[test]
        fn never_valid_after_expiry_or_once_used(offset in 0i64..200_000, used: bool) {
            let record = OneTimeTokenRecord { used_at: used.then_some(NOW), ..fresh(Purpose::VerifyEmail) };
            let result = check(Some(&record), Purpose::VerifyEmail, NOW + offset);
            prop_assert_eq!(result.is_ok(), !used && offset < Purpose::VerifyEmail.ttl_secs());
        }
    }
}
