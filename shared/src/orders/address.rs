//! Where an order group is delivered: the person and the street the carrier needs, besides the
//! country and postcode that priced the cart (`cart::Destination`).

use serde::{Deserialize, Serialize};

use crate::cart::{CountryCode, Destination, Postcode};
use crate::catalog::text::{TextError, clean_line};
use crate::catalog::validation::FieldErrors;
use crate::newtype::string_newtype;

/// Royal Mail's and Deutsche Post's label lines hold about 35–40 characters; 100 leaves room for
/// scripts that need more while keeping a label printable.
pub const MAX_ADDRESS_LINE_CHARS: usize = 100;

/// One line of an address: trimmed, whitespace collapsed, no control or bidi characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AddressLine(String);

impl AddressLine {
    pub fn parse(input: &str) -> Result<Self, TextError> {
        clean_line(input, MAX_ADDRESS_LINE_CHARS).map(Self)
    }
}

string_newtype!(AddressLine, TextError);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    pub name: AddressLine,
    pub street: AddressLine,
    pub city: AddressLine,
    pub postcode: Postcode,
    pub country: CountryCode,
}

/// The address as typed, before validation.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressInput<'a> {
    pub name: &'a str,
    pub street: &'a str,
    pub city: &'a str,
    pub postcode: &'a str,
    pub country: &'a str,
}

impl ShippingAddress {
    /// Every field checked; the errors name each bad field (`name`, `street`, …) with its reason.
    pub fn parse(input: AddressInput<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.check("name", AddressLine::parse(input.name));
        let street = errors.check("street", AddressLine::parse(input.street));
        let city = errors.check("city", AddressLine::parse(input.city));
        let postcode = errors.check("postcode", Postcode::parse(input.postcode));
        let country = errors.check("country", CountryCode::parse(input.country));
        match (name, street, city, postcode, country) {
            (Some(name), Some(street), Some(city), Some(postcode), Some(country)) if errors.is_empty() => {
                Ok(ShippingAddress { name, street, city, postcode, country })
            }
            _ => Err(errors),
        }
    }

    /// Whether the cart was priced for this address: the same country (tax, shipping zones) and,
    /// when the cart has one, the same postcode.
    pub fn matches(&self, destination: &Destination) -> bool {
        self.country == destination.country
            && destination.postcode.as_ref().is_none_or(|postcode| normalised(postcode) == normalised(&self.postcode))
    }
}

/// `1000 001`, `1000-001` and `1000001` are one postcode.
fn normalised(postcode: &Postcode) -> String {
    postcode.as_str().chars().filter(char::is_ascii_alphanumeric).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AddressInput<'static> {
        AddressInput {
            name: " Ana  Silva ",
            street: "Rua Augusta 10",
            city: "Lisboa",
            postcode: "1100-053",
            country: "pt",
        }
    }

    #[test]
    fn a_complete_address_is_cleaned() {
        let address = ShippingAddress::parse(input()).unwrap();
        assert_eq!(address.name.as_str(), "Ana Silva");
        assert_eq!(address.country.as_str(), "PT");
        let json = serde_json::to_value(&address).unwrap();
        assert_eq!(serde_json::from_value::<ShippingAddress>(json).unwrap(), address);
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = AddressInput { name: "", street: "x\u{202E}y", city: "   ", postcode: "!!", country: "Portugal" };
        let errors = ShippingAddress::parse(bad).unwrap_err();
        assert_eq!(errors.reason_for("name"), Some("empty"));
        assert_eq!(errors.reason_for("street"), Some("forbidden_character"));
        assert_eq!(errors.reason_for("city"), Some("empty"));
        assert_eq!(errors.reason_for("postcode"), Some("invalid"));
        assert_eq!(errors.reason_for("country"), Some("invalid"));
        let long = "x".repeat(MAX_ADDRESS_LINE_CHARS + 1);
        let errors = ShippingAddress::parse(AddressInput { city: &long, ..input() }).unwrap_err();
        assert_eq!(errors.reason_for("city"), Some("too_long"));
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn an_address_matches_the_destination_it_was_priced_for() {
        let address = ShippingAddress::parse(input()).unwrap();
        let destination = |country: &str, postcode: Option<&str>| Destination {
            country: CountryCode::parse(country).unwrap(),
            region: None,
            postcode: postcode.map(|p| Postcode::parse(p).unwrap()),
            location: None,
        };
        assert!(address.matches(&destination("PT", None)));
        assert!(address.matches(&destination("PT", Some("1100 053"))));
        assert!(!address.matches(&destination("PT", Some("4000-001"))));
        assert!(!address.matches(&destination("ES", None)));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = serde_json::json!({"name": "A", "street": "B", "city": "C", "postcode": "1", "country": "PT",
            "phone": "123"});
        assert!(serde_json::from_value::<ShippingAddress>(json).is_err());
    }
}
