//! The catalog's typed ids: a prefix and a ULID (`prod_01J…`, DESIGN §3). Parsing canonicalises
//! the ULID to upper case, so an id pasted in lower case still names the same row.

use thiserror::Error;
use ulid::Ulid;

use super::validation::Reason;

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    #[error("the id has another type's prefix")]
    WrongPrefix,
    #[error("the id is not a prefixed ULID")]
    Invalid,
}

impl Reason for IdError {
    fn reason(&self) -> &'static str {
        match self {
            IdError::WrongPrefix => "wrong_prefix",
            IdError::Invalid => "invalid",
        }
    }
}

/// Crockford base32 of 128 bits.
const ULID_CHARS: usize = 26;

pub(crate) fn parse_prefixed(prefix: &str, input: &str) -> Result<String, IdError> {
    let (found, ulid) = input.split_once('_').ok_or(IdError::Invalid)?;
    if found != prefix {
        return Err(if found.bytes().all(|b| b.is_ascii_lowercase()) {
            IdError::WrongPrefix
        } else {
            IdError::Invalid
        });
    }
    // A ULID is 128 bits, so its first base32 digit is at most 7; the decoder would wrap larger ones.
    if ulid.len() != ULID_CHARS || !ulid.bytes().all(|b| b.is_ascii_alphanumeric()) || ulid.as_bytes()[0] > b'7' {
        return Err(IdError::Invalid);
    }
    let ulid = Ulid::from_string(ulid).map_err(|_| IdError::Invalid)?;
    Ok(format!("{prefix}_{ulid}"))
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn parse(input: &str) -> Result<Self, $crate::catalog::IdError> {
                $crate::catalog::ids::parse_prefixed($prefix, input).map(Self)
            }

            /// A new id; time and randomness come from the caller (no clock or RNG in `shared`).
            pub fn generate(unix_ms: u64, entropy: $crate::ids::Entropy) -> Self {
                Self($crate::ids::new_id($prefix, unix_ms, entropy))
            }

            /// When the id was made (ULIDs lead with their creation time).
            pub fn timestamp_ms(&self) -> u64 {
                self.0
                    .get($prefix.len() + 1..)
                    .and_then(|ulid| ::ulid::Ulid::from_string(ulid).ok())
                    .map_or(0, |ulid| ulid.timestamp_ms())
            }
        }

        $crate::newtype::string_newtype!($name, $crate::catalog::IdError);
    };
}

/// For other modules' ids (the cart's line ids), so every prefixed id parses the same way.
pub(crate) use prefixed_id;

prefixed_id!(
    /// `prod_…`
    ProductId,
    "prod"
);
prefixed_id!(
    /// `var_…`: one purchasable variant (a size/colour combination) of a product.
    VariantId,
    "var"
);
prefixed_id!(
    /// `cat_…`
    CategoryId,
    "cat"
);
prefixed_id!(
    /// `ven_…`: the shop; the same id as in access tokens' `vendor_id` claim.
    VendorId,
    "ven"
);
prefixed_id!(
    /// `img_…`
    ImageId,
    "img"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_demo_vendor_ids() {
        let id = VendorId::parse("ven_01JC00000000000000000000A1").unwrap();
        assert_eq!(id.as_str(), "ven_01JC00000000000000000000A1");
    }

    #[test]
    fn lower_case_ulids_are_canonicalised() {
        let id = ProductId::parse("prod_01jc00000000000000000000a1").unwrap();
        assert_eq!(id.as_str(), "prod_01JC00000000000000000000A1");
    }

    #[test]
    fn refuses_other_prefixes_and_malformed_ulids() {
        assert_eq!(ProductId::parse("var_01JC00000000000000000000A1"), Err(IdError::WrongPrefix));
        assert_eq!(ProductId::parse("01JC00000000000000000000A1"), Err(IdError::Invalid));
        assert_eq!(ProductId::parse("prod_01JC0000000000000000000A1"), Err(IdError::Invalid));
        // The first character of a ULID is at most 7 (128 bits).
        assert_eq!(ProductId::parse("prod_81JC00000000000000000000A1"), Err(IdError::Invalid));
        assert_eq!(ProductId::parse("prod_01JC0000000000000000000 A1"), Err(IdError::Invalid));
        assert_eq!(ProductId::parse("PROD_01JC00000000000000000000A1"), Err(IdError::Invalid));
        assert_eq!(IdError::WrongPrefix.reason(), "wrong_prefix");
    }

    #[test]
    fn serde_validates() {
        let id: CategoryId = serde_json::from_str(r#""cat_01JC00000000000000000000A1""#).unwrap();
        assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!("cat_01JC00000000000000000000A1"));
        assert!(serde_json::from_str::<CategoryId>(r#""ven_01JC00000000000000000000A1""#).is_err());
    }

    proptest! {
        #[test]
        fn generated_ids_parse_back_with_their_time(t in 0u64..(1 << 48), entropy: [u8; 10]) {
            let id = VariantId::generate(t, entropy);
            prop_assert_eq!(VariantId::parse(id.as_str()), Ok(id.clone()));
            prop_assert_eq!(id.timestamp_ms(), t);
        }
    }
}
