//! Stripe's object ids (`pi_3MtwBw…`, `acct_1Mt…`) and the credentials sent with requests
//! (`Idempotency-Key` is [`crate::idempotency::IdempotencyKey`], whose rule is Stripe's).
//! Ids go into URL paths, so `parse` admits only letters, digits and `_`: nothing can smuggle a
//! `/`, `?` or `..` into a request line. Each converts to the provider-neutral
//! [`PspReference`] the payments tables keep.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::newtype::string_newtype;
use crate::payments::ids::PspReference;

/// Stripe documents no id length; this bounds hostile input (real ids are under 70 characters).
pub const MAX_ID_LEN: usize = 255;

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("{what} id is `{prefix}` followed by letters, digits or `_` (at most {MAX_ID_LEN} characters)")]
pub struct IdError {
    pub what: &'static str,
    pub prefix: &'static str,
}

macro_rules! stripe_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn parse(input: &str) -> Result<Self, IdError> {
                let valid = input.len() <= MAX_ID_LEN
                    && input.strip_prefix($prefix).is_some_and(|rest| {
                        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    });
                if valid { Ok(Self(input.to_owned())) } else { Err(IdError { what: $what, prefix: $prefix }) }
            }
        }

        string_newtype!($name, IdError);

        impl From<&$name> for PspReference {
            fn from(id: &$name) -> Self {
                // Our rule (letters, digits, `_`, ≤ 255) is narrower than PspReference's.
                PspReference::parse(id.as_str()).unwrap_or_else(|_| unreachable!("Stripe ids are valid references"))
            }
        }
    };
}

stripe_id!(PaymentIntentId, "pi_", "a PaymentIntent");
stripe_id!(ChargeId, "ch_", "a Charge");
stripe_id!(RefundId, "re_", "a Refund");
stripe_id!(
    /// A connected account (`acct_…`).
    AccountId,
    "acct_",
    "an Account"
);
stripe_id!(TransferId, "tr_", "a Transfer");
stripe_id!(
    /// `pm_…`, including Stripe's test tokens such as `pm_card_visa`.
    PaymentMethodId,
    "pm_",
    "a PaymentMethod"
);
stripe_id!(EventId, "evt_", "an Event");

/// A secret or restricted API key (`sk_test_…`, `sk_live_…`, `rk_…`). A publishable key (`pk_…`)
/// or a webhook secret here is a configuration mistake caught at start-up, not at the first call.
/// No `Display`: the key reaches the wire through [`SecretKey::expose`] only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("a Stripe secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_ and has no spaces")]
pub struct SecretKeyError;

impl SecretKey {
    const PREFIXES: [&'static str; 4] = ["sk_test_", "sk_live_", "rk_test_", "rk_live_"];

    pub fn parse(input: &str) -> Result<Self, SecretKeyError> {
        let valid = Self::PREFIXES.iter().any(|prefix| input.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty()))
            && input.bytes().all(|b| b.is_ascii_graphic());
        if valid { Ok(Self(input.to_owned())) } else { Err(SecretKeyError) }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Test-mode keys cannot move real money; handy for guarding sandboxes and tests.
    pub fn is_test_mode(&self) -> bool {
        self.0.starts_with("sk_test_") || self.0.starts_with("rk_test_")
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

/// A webhook endpoint's signing secret (`whsec_…`). Used as its UTF-8 bytes for HMAC, as
/// Stripe's libraries do.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("a Stripe webhook signing secret starts with whsec_ and has no spaces")]
pub struct WebhookSecretError;

impl WebhookSecret {
    pub fn parse(input: &str) -> Result<Self, WebhookSecretError> {
        let valid = input.strip_prefix("whsec_").is_some_and(|rest| !rest.is_empty())
            && input.bytes().all(|b| b.is_ascii_graphic());
        if valid { Ok(Self(input.to_owned())) } else { Err(WebhookSecretError) }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_need_their_prefix_and_a_path_safe_rest() {
        assert!(PaymentIntentId::parse("pi_3MtwBwLkdIwHu7ix28a3tqPa").is_ok());
        assert!(PaymentMethodId::parse("pm_card_visa").is_ok());
        assert!(AccountId::parse("acct_1032D82eZvKYlo2C").is_ok());
        for bad in ["", "pi_", "ch_123", "pi_../../v1/charges", "pi_a/b", "pi_a?b=c", "pi_a b", "pi_é"] {
            assert!(PaymentIntentId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(EventId::parse(&format!("evt_{}", "a".repeat(MAX_ID_LEN))).is_err());
        let error = ChargeId::parse("pi_1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "a Charge id is `ch_` followed by letters, digits or `_` (at most 255 characters)"
        );
    }

    #[test]
    fn ids_become_provider_references_unchanged() {
        let id = PaymentIntentId::parse("pi_3MtwBwLkdIwHu7ix28a3tqPa").unwrap();
        assert_eq!(PspReference::from(&id).as_str(), "pi_3MtwBwLkdIwHu7ix28a3tqPa");
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        let id: TransferId = serde_json::from_str("\"tr_1MiN3gLkdIwHu7ixNCZvFdgA\"").unwrap();
        assert_eq!(id.as_str(), "tr_1MiN3gLkdIwHu7ixNCZvFdgA");
        assert!(serde_json::from_str::<TransferId>("\"acct_1\"").is_err());
    }

    #[test]
    fn secret_keys_refuse_publishable_keys_and_never_print() {
        let key = SecretKey::parse("sk_test_4eC39HqLyjWDarjtT1zdp7dc").unwrap();
        assert!(key.is_test_mode());
        assert!(!format!("{key:?}").contains("4eC39"));
        assert!(!SecretKey::parse("sk_live_x").unwrap().is_test_mode());
        for bad in ["pk_test_abc", "whsec_abc", "sk_test_", "sk_test_a b", ""] {
            assert!(SecretKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(WebhookSecret::parse("whsec_abc").is_ok());
        assert!(WebhookSecret::parse("sk_test_abc").is_err());
        assert!(!format!("{:?}", WebhookSecret::parse("whsec_hidden").unwrap()).contains("hidden"));
    }
}
