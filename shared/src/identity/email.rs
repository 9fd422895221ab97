//! Email addresses as accounts use them: one normalised form, so `Ann@Example.com ` and
//! `ann@example.com` are the same account (`identity.users.email` is unique on it).

use crate::newtype::string_newtype;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// RFC 5321 §4.5.3.1.3 allows a 256-octet path including the angle brackets (RFC 3696 errata 1690).
pub const MAX_EMAIL_LEN: usize = 254;
/// RFC 5321 §4.5.3.1.1.
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// RFC 1035 §2.3.4.
const MAX_LABEL_LEN: usize = 63;

/// A trimmed, lower-cased address with one `@`, a dot-atom local part (RFC 5322 §3.2.3, no quoted
/// strings) and a DNS host name with at least two labels.
///
/// The whole address is lower-cased: RFC 5321 lets the local part be case-sensitive, but no large
/// provider treats it so, and two accounts differing only by case would be a support trap. ASCII
/// only: internationalised addresses (RFC 6531) are rare, often undeliverable, and open homograph
/// tricks; IDN domains can still be given in their `xn--` form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum EmailError {
    #[error("email is empty")]
    Empty,
    #[error("email is longer than {MAX_EMAIL_LEN} characters")]
    TooLong,
    #[error("email contains whitespace or control characters")]
    ForbiddenCharacter,
    #[error("email needs exactly one @")]
    NotOneAt,
    #[error("the part before @ is not a valid mailbox")]
    InvalidLocalPart,
    #[error("the part after @ is not a valid domain")]
    InvalidDomain,
}

impl EmailError {
    /// Stable machine-readable reason for `details`.
    pub fn reason(self) -> &'static str {
        match self {
            EmailError::Empty => "empty",
            EmailError::TooLong => "too_long",
            EmailError::ForbiddenCharacter => "forbidden_character",
            EmailError::NotOneAt => "not_one_at",
            EmailError::InvalidLocalPart => "invalid_local_part",
            EmailError::InvalidDomain => "invalid_domain",
        }
    }
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::ForbiddenCharacter);
        }
        if trimmed.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let address = trimmed.to_ascii_lowercase();
        let mut parts = address.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::NotOneAt);
        };
        if !is_dot_atom(local) {
            return Err(EmailError::InvalidLocalPart);
        }
        if !is_host_name(domain) {
            return Err(EmailError::InvalidDomain);
        }
        Ok(Self(address))
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

string_newtype!(Email, EmailError);

/// `atext` of RFC 5322 §3.2.3, in dot-separated non-empty runs.
fn is_dot_atom(local: &str) -> bool {
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    !local.is_empty()
        && local.len() <= MAX_LOCAL_PART_LEN
        && local.split('.').all(|run| !run.is_empty() && run.bytes().all(atext))
}

/// Letters, digits and inner hyphens per label (RFC 1123 §2.1); a numeric top label would be an IP.
fn is_host_name(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels.last().is_some_and(|top| !top.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_case_and_surrounding_space() {
        let email = Email::parse("  Ann.Lee+shop@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "ann.lee+shop@example.com");
        assert_eq!(email.domain(), "example.com");
    }

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in ["a@b.co", "first.last@sub.example.org", "o'brien@x-y.ie", "x_y-z{1}@xn--bcher-kva.de"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_malformed_addresses_with_stable_reasons() {
        let cases = [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("ann lee@example.com", EmailError::ForbiddenCharacter),
            ("ann@exa\u{7}mple.com", EmailError::ForbiddenCharacter),
            ("ann.example.com", EmailError::NotOneAt),
            ("a@b@example.com", EmailError::NotOneAt),
            ("@example.com", EmailError::InvalidLocalPart),
            (".ann@example.com", EmailError::InvalidLocalPart),
            ("ann.@example.com", EmailError::InvalidLocalPart),
            ("an..n@example.com", EmailError::InvalidLocalPart),
            ("\"ann\"@example.com", EmailError::InvalidLocalPart),
            ("ännа@example.com", EmailError::InvalidLocalPart),
            ("ann@", EmailError::InvalidDomain),
            ("ann@localhost", EmailError::InvalidDomain),
            ("ann@-example.com", EmailError::InvalidDomain),
            ("ann@example..com", EmailError::InvalidDomain),
            ("ann@exa_mple.com", EmailError::InvalidDomain),
            ("ann@127.0.0.1", EmailError::InvalidDomain),
            ("ann@[127.0.0.1]", EmailError::InvalidDomain),
        ];
        for (input, error) in cases {
            assert_eq!(Email::parse(input), Err(error), "{input:?}");
        }
        assert_eq!(EmailError::NotOneAt.reason(), "not_one_at");
    }

    #[test]
    fn enforces_length_limits() {
        let local_64 = "a".repeat(64);
        assert!(Email::parse(&format!("{local_64}@example.com")).is_ok());
        assert_eq!(Email::parse(&format!("a{local_64}@example.com")), Err(EmailError::InvalidLocalPart));
        let domain = format!("{}.{}.{}.com", "b".repeat(63), "c".repeat(63), "d".repeat(60));
        let at_limit = format!("{}@{domain}", "a".repeat(MAX_EMAIL_LEN - 1 - domain.len()));
        assert_eq!(at_limit.len(), MAX_EMAIL_LEN);
        assert!(Email::parse(&at_limit).is_ok());
        assert_eq!(Email::parse(&format!("a{at_limit}")), Err(EmailError::TooLong));
        assert_eq!(Email::parse(&format!("a@{}.com", "b".repeat(64))), Err(EmailError::InvalidDomain));
    }

    #[test]
    fn serde_goes_through_parse() {
        let email: Email = serde_json::from_str(r#""Ann@Example.com""#).unwrap();
        assert_eq!(serde_json::to_string(&email).unwrap(), r#""ann@example.com""#);
        assert!(serde_json::from_str::<Email>(r#""nope""#).is_err());
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent(input in "[ A-Za-z0-9._+@-]{0,40}") {
            if let Ok(email) = Email::parse(&input) {
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
                prop_assert!(!email.as_str().chars().any(|c| c.is_ascii_uppercase() || c.is_whitespace()));
            }
        }
    }
}
