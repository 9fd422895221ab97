//! Passwords: the policy a new password must meet, and Argon2id hashing to PHC strings.
//!
//! Hashing costs tens of milliseconds (see `hash_password`), past a free Worker's 10 ms CPU
//! budget, so it runs in the identity Spin component (DESIGN §6). The salt comes from the caller:
//! nothing in `shared` reads OS randomness.

use std::fmt;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{Error as PhcError, PasswordHasher as _, PasswordVerifier as _};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Params, Version};
use thiserror::Error;

/// NIST SP 800-63B §5.1.1.2: at least 8 characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// NIST SP 800-63B asks to allow at least 64; 128 leaves room for passphrases while bounding the
/// hashing input (OWASP Authentication Cheat Sheet).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// OWASP Password Storage Cheat Sheet, Argon2id option 1: m=19 MiB, t=2, p=1.
pub const ARGON2_M_COST_KIB: u32 = 19_456;
pub const ARGON2_T_COST: u32 = 2;
pub const ARGON2_P_COST: u32 = 1;
/// RFC 9106 §3.1 recommends 128-bit salts.
pub const SALT_LEN: usize = 16;
/// Verification takes its cost from the stored hash; these caps keep a tampered row from making
/// one login allocate gigabytes. Four times today's memory cost leaves room to raise it.
const MAX_VERIFY_M_COST_KIB: u32 = 4 * ARGON2_M_COST_KIB;
const MAX_VERIFY_T_COST: u32 = 10;
const MAX_VERIFY_P_COST: u32 = 4;

/// An Argon2id hash, with today's parameters, of a random 32-character string nobody knows (made
/// once with `hash_password`). Verify against it when the email is unknown, so a login for a
/// missing account spends the same time as one with a wrong password.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$aqRejAlpd7HK8h4LhZP+Uw$HHXjjqrghktpwQG59cKZ8zaoK1/I1psScIE0MdH/aIo";

/// Length rules for new passwords. Nothing else (no composition rules, per NIST SP 800-63B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_chars: usize,
    pub max_chars: usize,
}

impl PasswordPolicy {
    pub const DEFAULT: PasswordPolicy = PasswordPolicy { min_chars: MIN_PASSWORD_CHARS, max_chars: MAX_PASSWORD_CHARS };

    /// Counts characters, not bytes, so non-Latin passwords get the same room.
    pub fn check(&self, candidate: &str) -> Result<(), PasswordError> {
        let chars = candidate.chars().count();
        if chars < self.min_chars {
            return Err(PasswordError::TooShort { min: self.min_chars });
        }
        if chars > self.max_chars {
            return Err(PasswordError::TooLong { max: self.max_chars });
        }
        if candidate.chars().all(char::is_whitespace) {
            return Err(PasswordError::AllWhitespace);
        }
        Ok(())
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password must have at least {min} characters")]
    TooShort { min: usize },
    #[error("password must have at most {max} characters")]
    TooLong { max: usize },
    #[error("password must not be only whitespace")]
    AllWhitespace,
}

impl PasswordError {
    /// Stable machine-readable reason for `details`.
    pub fn reason(self) -> &'static str {
        match self {
            PasswordError::TooShort { .. } => "too_short",
            PasswordError::TooLong { .. } => "too_long",
            PasswordError::AllWhitespace => "all_whitespace",
        }
    }
}

/// A new password that meets the policy. Kept verbatim (no trimming): it is a secret, not text.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(candidate: &str) -> Result<Self, PasswordError> {
        Self::parse_with(candidate, &PasswordPolicy::DEFAULT)
    }

    pub fn parse_with(candidate: &str, policy: &PasswordPolicy) -> Result<Self, PasswordError> {
        policy.check(candidate)?;
        Ok(Self(candidate.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Hand-written so the password never reaches a log.
impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PasswordHashError {
    #[error("stored password hash is not a PHC string: {0}")]
    MalformedHash(String),
    #[error("stored password hash is not one we accept: {0}")]
    UnsupportedHash(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

fn hasher() -> Result<Argon2<'static>, PasswordHashError> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|error| PasswordHashError::Hashing(error.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`; `salt` must be fresh random bytes per hash.
/// Measured natively on this project's 2-core x86-64 box: ~23 ms at opt-level 3, 42–58 ms with the
/// workspace release profile (opt-level "s"); expect more under Wasm (no SIMD by default).
pub fn hash_password(password: &Password, salt: [u8; SALT_LEN]) -> Result<String, PasswordHashError> {
    hasher()?
        .hash_password_with_salt(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordHashError::Hashing(error.to_string()))
}

/// Whether `password` matches the stored PHC string, compared in constant time (argon2's `Output`
/// equality). Any password is accepted here, not only in-policy ones: the policy may have changed
/// since it was set. An error means the stored hash is unusable, never a wrong password.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, PasswordHashError> {
    let hash = parse_supported(phc)?;
    match hasher()?.verify_password(password.as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(PhcError::PasswordInvalid) => Ok(false),
        Err(error) => Err(PasswordHashError::Hashing(error.to_string())),
    }
}

/// Spends the time of one verification against `DUMMY_HASH`; call it when the account is unknown.
pub fn verify_dummy(password: &str) {
    // The outcome is meaningless by design: only the time spent matters.
    let _ = verify_password(password, DUMMY_HASH);
}

/// True when the stored hash uses other parameters than today's: rehash after a successful login.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    let current = Params::try_from(&hash).ok().map(|p| (p.m_cost(), p.t_cost(), p.p_cost()));
    hash.algorithm != ARGON2ID_IDENT
        || hash.version != Some(Version::V0x13.into())
        || current != Some((ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST))
}

fn parse_supported(phc: &str) -> Result<PasswordHash, PasswordHashError> {
    let hash = PasswordHash::new(phc).map_err(|error| PasswordHashError::MalformedHash(error.to_string()))?;
    if hash.algorithm != ARGON2ID_IDENT {
        return Err(PasswordHashError::UnsupportedHash(format!("algorithm {}", hash.algorithm)));
    }
    let params = Params::try_from(&hash).map_err(|error| PasswordHashError::MalformedHash(error.to_string()))?;
    if params.m_cost() > MAX_VERIFY_M_COST_KIB
        || params.t_cost() > MAX_VERIFY_T_COST
        || params.p_cost() > MAX_VERIFY_P_COST
    {
        return Err(PasswordHashError::UnsupportedHash(format!(
            "cost m={},t={},p={} is above the verification cap",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        )));
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: [u8; SALT_LEN] = *b"0123456789abcdef";

    fn password(text: &str) -> Password {
        Password::parse(text).unwrap()
    }

    #[test]
    fn policy_counts_characters_not_bytes() {
        assert_eq!(Password::parse("1234567").unwrap_err(), PasswordError::TooShort { min: 8 });
        assert!(Password::parse("12345678").is_ok());
        // 7 characters, 14 bytes: still too short.
        assert_eq!(Password::parse("ééééééé").unwrap_err(), PasswordError::TooShort { min: 8 });
        assert!(Password::parse(&"密".repeat(MAX_PASSWORD_CHARS)).is_ok());
        assert_eq!(
            Password::parse(&"密".repeat(MAX_PASSWORD_CHARS + 1)).unwrap_err(),
            PasswordError::TooLong { max: 128 }
        );
    }

    #[test]
    fn policy_refuses_only_whitespace_but_keeps_spaces_verbatim() {
        assert_eq!(Password::parse(" \t\n        ").unwrap_err(), PasswordError::AllWhitespace);
        assert_eq!(Password::parse("  correct horse  ").unwrap().expose(), "  correct horse  ");
        assert_eq!(PasswordError::AllWhitespace.reason(), "all_whitespace");
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(format!("{:?}", password("hunter22hunter22")), "Password(…)");
    }

    #[test]
    fn hash_is_argon2id_phc_with_owasp_parameters() {
        let phc = hash_password(&password("correct horse battery"), SALT).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"), "{phc}");
        assert!(!needs_rehash(&phc));
    }

    #[test]
    fn verify_accepts_the_password_and_rejects_others() {
        let phc = hash_password(&password("correct horse battery"), SALT).unwrap();
        assert_eq!(verify_password("correct horse battery", &phc), Ok(true));
        assert_eq!(verify_password("correct horse battery ", &phc), Ok(false));
        assert_eq!(verify_password("", &phc), Ok(false));
    }

    #[test]
    fn known_answer_from_the_reference_implementation() {
        // `echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1` (phc-winner-argon2), as quoted in
        // the RustCrypto argon2 crate's tests.
        let phc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        assert_eq!(verify_password("password", phc), Ok(true));
        assert_eq!(verify_password("passwore", phc), Ok(false));
        assert!(needs_rehash(phc));
    }

    #[test]
    fn unusable_stored_hashes_are_errors_not_mismatches() {
        assert!(matches!(verify_password("x", "plaintext"), Err(PasswordHashError::MalformedHash(_))));
        let argon2i = "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA";
        assert!(matches!(verify_password("password", argon2i), Err(PasswordHashError::UnsupportedHash(_))));
        let huge = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        assert!(matches!(verify_password("password", huge), Err(PasswordHashError::UnsupportedHash(_))));
    }

    #[test]
    fn dummy_hash_is_a_real_hash_with_todays_parameters() {
        assert!(!needs_rehash(DUMMY_HASH));
        assert_eq!(verify_password("not the secret", DUMMY_HASH), Ok(false));
        verify_dummy("anything");
    }
}
