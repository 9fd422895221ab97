//! `Idempotency-Key` (DESIGN §8): the same key with the same body replays the first answer; the same
//! key with another body is a client mistake (422). Used by the catalog's writes, the cart's adds and
//! checkout.

use sha2::{Digest, Sha256};

use crate::api::ApiError;
use crate::catalog::validation::FieldErrors;
use crate::newtype::string_newtype;

/// Stripe's limit for `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// An `Idempotency-Key` header: printable ASCII (Stripe's rule), 1 to 255 characters. In JSON
/// bodies of internal calls too (the saga's step key names each call to `payments`), checked alike.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const HEADER: &'static str = "idempotency-key";

    pub fn parse(input: &str) -> Result<Self, FieldErrors> {
        let printable = input.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if input.is_empty() || input.len() > MAX_IDEMPOTENCY_KEY_CHARS || !printable {
            return Err(FieldErrors::single(Self::HEADER, "invalid"));
        }
        Ok(Self(input.to_owned()))
    }
}

string_newtype!(IdempotencyKey, FieldErrors);

/// Names a request body independently of key order and spacing: hex SHA-256 of its JSON with keys
/// sorted (serde_json's default map), so a client re-serialising the same body still replays.
pub fn request_fingerprint(body: &serde_json::Value) -> String {
    let digest = Sha256::digest(body.to_string().as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A key seen before with another body: the client reused a key by mistake (DESIGN §8).
pub fn idempotency_key_reused() -> ApiError {
    FieldErrors::single(IdempotencyKey::HEADER, "reused_with_another_body").to_api_error()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn idempotency_keys_are_printable_and_bounded() {
        assert!(IdempotencyKey::parse("order-7f3a").is_ok());
        for bad in ["", "has space", "é", &"k".repeat(MAX_IDEMPOTENCY_KEY_CHARS + 1)] {
            assert_eq!(IdempotencyKey::parse(bad).unwrap_err().reason_for("idempotency-key"), Some("invalid"), "{bad}");
        }
        assert_eq!(idempotency_key_reused().status(), 422);
    }

    #[test]
    fn keys_in_json_are_checked_like_headers() {
        let key: IdempotencyKey = serde_json::from_str("\"sga_1:create_payment\"").unwrap();
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"sga_1:create_payment\"");
        assert!(serde_json::from_str::<IdempotencyKey>("\"has space\"").is_err());
    }

    proptest! {
        #[test]
        fn the_fingerprint_ignores_key_order_and_spacing(a in 0i64..1_000_000, title in "[a-z ]{1,20}") {
            let one: serde_json::Value =
                serde_json::from_str(&format!(r#"{{"title":"{title}","n":{a}}}"#)).unwrap();
            let two: serde_json::Value =
                serde_json::from_str(&format!(r#"{{ "n" : {a},  "title" : "{title}" }}"#)).unwrap();
            prop_assert_eq!(request_fingerprint(&one), request_fingerprint(&two));
            let other: serde_json::Value = serde_json::from_str(&format!(r#"{{"title":"{title}","n":{}}}"#, a + 1)).unwrap();
            prop_assert_ne!(request_fingerprint(&one), request_fingerprint(&other));
        }
    }
}
