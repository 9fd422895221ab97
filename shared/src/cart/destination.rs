//! Where the cart ships to: country, region and postcode pick the tax rate; coordinates, when the
//! shopper gives them, price local delivery by distance.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::geo::GeoPoint;
use crate::catalog::validation::Reason;
use crate::newtype::string_newtype;

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DestinationError {
    #[error("country must be an ISO 3166-1 alpha-2 code")]
    Country,
    #[error("region must be the 1–3 letters or digits after the hyphen of an ISO 3166-2 code")]
    Region,
    #[error("postcode must be 1–10 letters, digits, spaces or hyphens")]
    Postcode,
}

impl Reason for DestinationError {
    fn reason(&self) -> &'static str {
        "invalid"
    }
}

/// Upper-cased ASCII of `min..=max` characters from `allowed`, or `error`.
fn code(
    input: &str,
    min: usize,
    max: usize,
    allowed: fn(u8) -> bool,
    error: DestinationError,
) -> Result<String, DestinationError> {
    let input = input.trim();
    if (min..=max).contains(&input.len()) && input.bytes().all(allowed) {
        Ok(input.to_ascii_uppercase())
    } else {
        Err(error)
    }
}

/// `PT`, `US`: shape-checked, not checked against the list (which changes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(input: &str) -> Result<Self, DestinationError> {
        code(input, 2, 2, |b| b.is_ascii_alphabetic(), DestinationError::Country).map(Self)
    }
}

string_newtype!(CountryCode, DestinationError);

/// The subdivision part of ISO 3166-2 (`CA` of `US-CA`, `11` of `PT-11`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    pub fn parse(input: &str) -> Result<Self, DestinationError> {
        code(input, 1, 3, |b| b.is_ascii_alphanumeric(), DestinationError::Region).map(Self)
    }
}

string_newtype!(Region, DestinationError);

/// Longest postcodes in use are 10 characters (`12345-6789`, Brazil's and Iran's formats).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Postcode(String);

impl Postcode {
    pub fn parse(input: &str) -> Result<Self, DestinationError> {
        code(input, 1, 10, |b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-', DestinationError::Postcode)
            .map(Self)
    }
}

string_newtype!(Postcode, DestinationError);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    pub country: CountryCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<Postcode>,
    /// Needed only for local delivery, which is priced by distance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_trimmed_and_upper_cased() {
        assert_eq!(CountryCode::parse(" pt ").unwrap().as_str(), "PT");
        assert_eq!(Region::parse("ca").unwrap().as_str(), "CA");
        assert_eq!(Postcode::parse("1000-001").unwrap().as_str(), "1000-001");
        for bad in ["P", "PRT", "P1", ""] {
            assert_eq!(CountryCode::parse(bad), Err(DestinationError::Country), "{bad}");
        }
        assert_eq!(Region::parse("US-CA"), Err(DestinationError::Region));
        assert_eq!(Postcode::parse("12345-67890"), Err(DestinationError::Postcode));
    }

    #[test]
    fn serde_validates_and_coordinates_are_optional() {
        let destination: Destination =
            serde_json::from_value(serde_json::json!({"country": "pt", "region": "11", "postcode": "1000-001"}))
                .unwrap();
        assert_eq!(destination.country.as_str(), "PT");
        assert_eq!(destination.location, None);
        assert!(serde_json::from_value::<Destination>(serde_json::json!({"country": "PRT"})).is_err());
        assert!(
            serde_json::from_value::<Destination>(
                serde_json::json!({"country": "PT", "location": {"lat": 91.0, "lng": 0.0}})
            )
            .is_err()
        );
    }
}
