//! Two-factor codes: RFC 6238 TOTP (HMAC-SHA1, 30-second steps, 6 digits — what every
//! authenticator app defaults to) and single-use recovery codes (`recovery`).
//!
//! The secret is 20 random bytes from the caller (RFC 4226 §4 R6: 160 bits), stored as base32
//! (`identity.users.totp_secret`). A code is accepted for one step either side of now, and each
//! step only once: `verify` returns the matched step, which callers store as `totp_last_step`.

pub mod base32;
pub mod recovery;

use std::fmt;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::{ConditionallySelectable, ConstantTimeEq};
use thiserror::Error;

pub use base32::Base32Error;

/// RFC 6238 §5.2 recommends 30 seconds.
pub const STEP_SECS: i64 = 30;
pub const DIGITS: u32 = 6;
/// RFC 6238 §5.2: allow at most one step of network delay or clock drift either way.
pub const WINDOW_STEPS: u64 = 1;
pub const SECRET_LEN: usize = 20;

#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_LEN]);

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TotpSecretError {
    #[error(transparent)]
    Base32(#[from] Base32Error),
    #[error("secret is {0} bytes, expected {SECRET_LEN}")]
    WrongLength(usize),
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum TotpError {
    #[error("code must be {DIGITS} digits")]
    Malformed,
    #[error("code does not match")]
    Mismatch,
    /// The code is right but its step was already used: someone may have watched it being typed.
    #[error("code was already used")]
    Replayed,
}

impl TotpError {
    /// Stable machine-readable reason for logs; clients get `AUTH_1008` for all of them.
    pub fn reason(self) -> &'static str {
        match self {
            TotpError::Malformed => "malformed",
            TotpError::Mismatch => "mismatch",
            TotpError::Replayed => "replayed",
        }
    }
}

impl TotpSecret {
    /// `random` must come from a CSPRNG.
    pub fn from_random(random: [u8; SECRET_LEN]) -> Self {
        Self(random)
    }

    pub fn from_base32(text: &str) -> Result<Self, TotpSecretError> {
        let bytes = base32::decode(text)?;
        let length = bytes.len();
        bytes.try_into().map(Self).map_err(|_| TotpSecretError::WrongLength(length))
    }

    /// Unpadded base32, for storage and for manual entry in an authenticator app.
    pub fn to_base32(&self) -> String {
        base32::encode(&self.0)
    }

    /// The code for the step containing `now` (unix seconds), zero-padded.
    pub fn code_at(&self, now: i64) -> String {
        format_code(hotp(&self.0, step_at(now), DIGITS), DIGITS)
    }

    /// Checks `code` against the steps `now ± WINDOW_STEPS`, comparing every candidate in constant
    /// time, and returns the matched step. A step at or before `last_used_step` is `Replayed`.
    pub fn verify(&self, code: &str, now: i64, last_used_step: Option<u64>) -> Result<u64, TotpError> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TotpError::Malformed);
        }
        let current = step_at(now);
        let mut found = subtle::Choice::from(0);
        let mut matched = 0u64;
        for step in current.saturating_sub(WINDOW_STEPS)..=current.saturating_add(WINDOW_STEPS) {
            let expected = format_code(hotp(&self.0, step, DIGITS), DIGITS);
            let equal = expected.as_bytes().ct_eq(code.as_bytes());
            matched = u64::conditional_select(&matched, &step, equal);
            found |= equal;
        }
        if !bool::from(found) {
            return Err(TotpError::Mismatch);
        }
        if last_used_step.is_some_and(|last| matched <= last) {
            return Err(TotpError::Replayed);
        }
        Ok(matched)
    }

    /// `otpauth://totp/Issuer:account?secret=…&issuer=Issuer&algorithm=SHA1&digits=6&period=30`
    /// (Google Authenticator Key URI format), shown as a QR code at enrolment.
    pub fn provisioning_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = percent_encode(issuer);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            account = percent_encode(account),
            secret = self.to_base32(),
        )
    }
}

/// Hand-written so the secret never reaches a log.
impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

/// The RFC 6238 time step `T` for unix time `now` (T0 = 0); times before 1970 count as step 0.
pub fn step_at(now: i64) -> u64 {
    u64::try_from(now.div_euclid(STEP_SECS)).unwrap_or(0)
}

/// RFC 4226 §5.3: HMAC-SHA1 of the big-endian counter, dynamically truncated, modulo 10^digits.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        // HMAC takes keys of any length; this branch cannot run.
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary =
        u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    binary % 10u32.pow(digits)
}

fn format_code(code: u32, digits: u32) -> String {
    format!("{code:0width$}", width = digits as usize)
}

/// RFC 3986 §2.3: everything but unreserved characters is percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// RFC 6238 Appendix B uses the ASCII seed "12345678901234567890" for SHA1.
    const RFC_SEED: &[u8; 20] = b"12345678901234567890";

    fn secret() -> TotpSecret {
        TotpSecret::from_random(*RFC_SEED)
    }

    #[test]
    fn rfc_6238_sha1_test_vectors() {
        // RFC 6238 Appendix B, SHA1 rows: (time, T, 8-digit TOTP).
        let vectors = [
            (59, 0x1, "94287082"),
            (1_111_111_109, 0x23523EC, "07081804"),
            (1_111_111_111, 0x23523ED, "14050471"),
            (1_234_567_890, 0x273EF07, "89005924"),
            (2_000_000_000, 0x3F940AA, "69279037"),
            (20_000_000_000, 0x27BC86AA, "65353130"),
        ];
        for (time, step, code) in vectors {
            assert_eq!(step_at(time), step);
            assert_eq!(format_code(hotp(RFC_SEED, step, 8), 8), code, "t={time}");
            // Six digits are the last six of the eight.
            assert_eq!(secret().code_at(time), code[2..], "t={time}");
        }
    }

    #[test]
    fn accepts_one_step_either_side_and_no_further() {
        let now = 1_111_111_111;
        let step = step_at(now);
        for (offset, expected) in [(-30, Ok(step - 1)), (0, Ok(step)), (30, Ok(step + 1))] {
            assert_eq!(secret().verify(&secret().code_at(now + offset), now, None), expected);
        }
        assert_eq!(secret().verify(&secret().code_at(now - 60), now, None), Err(TotpError::Mismatch));
        assert_eq!(secret().verify(&secret().code_at(now + 60), now, None), Err(TotpError::Mismatch));
    }

    #[test]
    fn a_used_step_is_not_accepted_again() {
        let now = 1_234_567_890;
        let code = secret().code_at(now);
        let step = secret().verify(&code, now, None).unwrap();
        assert_eq!(secret().verify(&code, now + 5, Some(step)), Err(TotpError::Replayed));
        // The previous step's code, still in the window, is older than the one used: refused too.
        assert_eq!(secret().verify(&secret().code_at(now - 30), now, Some(step)), Err(TotpError::Replayed));
        assert_eq!(secret().verify(&secret().code_at(now + 30), now + 30, Some(step)), Ok(step + 1));
    }

    #[test]
    fn malformed_codes_are_refused_before_any_hmac() {
        for code in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(secret().verify(code, 59, None), Err(TotpError::Malformed), "{code:?}");
        }
        assert_eq!(secret().verify(" 287 082 ", 59, None), Ok(1));
    }

    #[test]
    fn secret_round_trips_through_base32() {
        assert_eq!(secret().to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq"), Ok(secret()));
        assert_eq!(TotpSecret::from_base32("GEZDGNBV"), Err(TotpSecretError::WrongLength(5)));
        assert!(TotpSecret::from_base32("GEZDGNB1").is_err());
        assert_eq!(format!("{:?}", secret()), "TotpSecret(…)");
    }

    #[test]
    fn provisioning_uri_follows_the_key_uri_format() {
        assert_eq!(
            secret().provisioning_uri("Market Place", "ann+x@example.com"),
            "otpauth://totp/Market%20Place:ann%2Bx%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Market%20Place&algorithm=SHA1&digits=6&period=30"
        );
    }

    proptest! {
        #[test]
        fn the_current_code_always_verifies_once(random: [u8; 20], now in 0i64..10_000_000_000) {
            let secret = TotpSecret::from_random(random);
            let code = secret.code_at(now);
            let step = secret.verify(&code, now, None).unwrap();
            prop_assert!(step >= step_at(now).saturating_sub(1) && step <= step_at(now) + 1);
            prop_assert_eq!(secret.verify(&code, now, Some(step)), Err(TotpError::Replayed));
        }
    }
}
