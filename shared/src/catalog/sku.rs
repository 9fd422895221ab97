//! Stock-keeping units: the vendor's own code for a variant, unique per vendor.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validation::Reason;
use crate::newtype::string_newtype;

/// Amazon caps seller SKUs at 40 characters; 64 leaves room for a vendor's own prefixes.
pub const MAX_SKU_LEN: usize = 64;

/// Upper-case ASCII letters, digits, `-`, `_` and `.`, starting with a letter or digit, so it
/// prints on labels and scans from Code 128 barcodes unchanged. Input is trimmed and upper-cased:
/// `nc-mug-01` and `NC-MUG-01` are the same SKU.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum SkuError {
    #[error("SKU is empty")]
    Empty,
    #[error("SKU is longer than {MAX_SKU_LEN} characters")]
    TooLong,
    #[error("SKU may only contain A-Z, 0-9, '-', '_' and '.', starting with a letter or digit")]
    InvalidCharacter,
}

impl Reason for SkuError {
    fn reason(&self) -> &'static str {
        match self {
            SkuError::Empty => "empty",
            SkuError::TooLong => "too_long",
            SkuError::InvalidCharacter => "invalid_character",
        }
    }
}

impl Sku {
    pub fn parse(input: &str) -> Result<Self, SkuError> {
        let sku = input.trim().to_ascii_uppercase();
        let Some(first) = sku.bytes().next() else {
            return Err(SkuError::Empty);
        };
        if sku.len() > MAX_SKU_LEN {
            return Err(SkuError::TooLong);
        }
        let allowed = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.');
        if !first.is_ascii_alphanumeric() || !sku.bytes().all(allowed) {
            return Err(SkuError::InvalidCharacter);
        }
        Ok(Self(sku))
    }
}

string_newtype!(Sku, SkuError);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_case_and_space() {
        assert_eq!(Sku::parse(" nc-mug_01.blue ").unwrap().as_str(), "NC-MUG_01.BLUE");
    }

    #[test]
    fn refuses_odd_characters_and_lengths() {
        assert_eq!(Sku::parse("  "), Err(SkuError::Empty));
        assert_eq!(Sku::parse("-MUG"), Err(SkuError::InvalidCharacter));
        assert_eq!(Sku::parse("MUG 01"), Err(SkuError::InvalidCharacter));
        assert_eq!(Sku::parse("MÜG"), Err(SkuError::InvalidCharacter));
        assert!(Sku::parse(&"A".repeat(MAX_SKU_LEN)).is_ok());
        assert_eq!(Sku::parse(&"A".repeat(MAX_SKU_LEN + 1)), Err(SkuError::TooLong));
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent(input in "[ a-zA-Z0-9._-]{0,70}") {
            if let Ok(sku) = Sku::parse(&input) {
                prop_assert_eq!(Sku::parse(sku.as_str()), Ok(sku.clone()));
            }
        }
    }
}
