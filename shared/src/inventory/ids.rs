//! Inventory's ids. Locations and reservation rows are minted by SQL (`public.new_ulid_id`, or
//! `loc_<vendor ULID>` for a vendor's default location); a reservation reference is the caller's.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::ids::prefixed_id;
use crate::catalog::validation::Reason;
use crate::newtype::string_newtype;

prefixed_id!(
    /// `loc_…`: where a vendor keeps stock.
    LocationId,
    "loc"
);
prefixed_id!(
    /// `rsv_…`: one variant's share of a reservation, at one location.
    ReservationId,
    "rsv"
);

/// The same bound as `inventory.reservations.reference`.
pub const MAX_REFERENCE_LEN: usize = 128;

/// Names one checkout's hold on stock (the saga passes its order group id, `grp_…`). Every call
/// with the same reference acts on the same reservation, which makes retries safe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReservationReference(String);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("a reservation reference is 1 to {MAX_REFERENCE_LEN} of A-Z a-z 0-9 _ - . :")]
pub struct ReferenceError;

impl Reason for ReferenceError {
    fn reason(&self) -> &'static str {
        "invalid"
    }
}

impl ReservationReference {
    /// A checkout's reservation is named by its order group.
    pub fn for_group(group: &crate::orders::OrderGroupId) -> Self {
        Self(group.as_str().to_owned())
    }

    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':');
        if input.is_empty() || input.len() > MAX_REFERENCE_LEN || !input.bytes().all(plain) {
            return Err(ReferenceError);
        }
        Ok(Self(input.to_owned()))
    }
}

string_newtype!(ReservationReference, ReferenceError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_plain_and_bounded() {
        assert!(ReservationReference::parse("grp_01JC0000000000000000000001").is_ok());
        for bad in ["", "has space", "a'b", &"r".repeat(MAX_REFERENCE_LEN + 1)] {
            assert!(ReservationReference::parse(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<ReservationReference>("\"x;drop\"").is_err());
    }

    #[test]
    fn a_default_location_is_loc_and_the_vendors_ulid() {
        assert!(LocationId::parse("loc_01JC00000000000000000000A1").is_ok());
        assert!(LocationId::parse("ven_01JC00000000000000000000A1").is_err());
    }
}
