//! Free text a vendor types: product titles and descriptions, category, vendor and option names,
//! the city a shop is in.
//! Counted in characters, not bytes; control characters and bidirectional overrides are refused
//! (they could make a title render as another, CVE-2021-42574 style).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validation::Reason;
use crate::newtype::string_newtype;

/// Amazon's listing title limit is 200 characters; longer titles are keyword stuffing.
pub const MAX_TITLE_CHARS: usize = 200;
/// Product decision: about two screens of text. Keeps the `search` tsvector far below Postgres'
/// 1 MB tsvector limit and a product detail response small.
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;
/// Fits a menu entry and a breadcrumb.
pub const MAX_CATEGORY_NAME_CHARS: usize = 80;
/// As `identity::profile::MAX_DISPLAY_NAME_CHARS`: a shop name in an order list.
pub const MAX_VENDOR_NAME_CHARS: usize = 80;
/// As a shop's name; migration 0020 checks the same bound in `catalog.vendors`.
pub const MAX_VENDOR_CITY_CHARS: usize = 80;

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    #[error("text is empty")]
    Empty,
    #[error("text is too long")]
    TooLong,
    #[error("text contains control or bidirectional formatting characters")]
    ForbiddenCharacter,
}

impl Reason for TextError {
    fn reason(&self) -> &'static str {
        match self {
            TextError::Empty => "empty",
            TextError::TooLong => "too_long",
            TextError::ForbiddenCharacter => "forbidden_character",
        }
    }
}

/// One line: trimmed, inner whitespace runs collapsed to one space (so `"Mug  set"` and
/// `"Mug set"` are the same title), 1–`max` characters.
pub(crate) fn clean_line(input: &str, max_chars: usize) -> Result<String, TextError> {
    if input.chars().any(|c| is_forbidden(c) && !c.is_whitespace()) {
        return Err(TextError::ForbiddenCharacter);
    }
    let line = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return Err(TextError::Empty);
    }
    if line.chars().count() > max_chars {
        return Err(TextError::TooLong);
    }
    Ok(line)
}

fn is_forbidden(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Unicode's explicit directional formatting characters (UAX #9 §2).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

macro_rules! line_newtype {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(input: &str) -> Result<Self, TextError> {
                clean_line(input, $max).map(Self)
            }
        }

        string_newtype!($name, TextError);
    };
}

line_newtype!(
    /// A product's title: one line, 1–200 characters.
    ProductTitle,
    MAX_TITLE_CHARS
);
line_newtype!(
    /// A category's display name (`Cookware`).
    CategoryName,
    MAX_CATEGORY_NAME_CHARS
);
line_newtype!(
    /// A shop's name as shoppers see it.
    VendorName,
    MAX_VENDOR_NAME_CHARS
);
line_newtype!(
    /// Where a shop is, as shoppers read it ("Based in Lisbon"): display text, not a geocoded place.
    VendorCity,
    MAX_VENDOR_CITY_CHARS
);

/// A product's description: may be empty, keeps its line breaks (`\r\n` becomes `\n`) and tabs,
/// trimmed at both ends, at most 5,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    pub fn parse(input: &str) -> Result<Self, TextError> {
        let text = input.replace("\r\n", "\n");
        if text.chars().any(|c| is_forbidden(c) && c != '\n' && c != '\t') {
            return Err(TextError::ForbiddenCharacter);
        }
        let text = text.trim();
        if text.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(TextError::TooLong);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

string_newtype!(Description, TextError);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn titles_are_trimmed_and_whitespace_collapsed() {
        let title = ProductTitle::parse("  Stoneware \t Mug   Set ").unwrap();
        assert_eq!(title.as_str(), "Stoneware Mug Set");
    }

    #[test]
    fn titles_count_characters_and_refuse_control_and_bidi() {
        assert!(ProductTitle::parse(&"é".repeat(MAX_TITLE_CHARS)).is_ok());
        assert_eq!(ProductTitle::parse(&"é".repeat(MAX_TITLE_CHARS + 1)), Err(TextError::TooLong));
        assert_eq!(ProductTitle::parse(" \n "), Err(TextError::Empty));
        assert_eq!(ProductTitle::parse("Mug\u{7}"), Err(TextError::ForbiddenCharacter));
        assert_eq!(ProductTitle::parse("Mug \u{202E}puc"), Err(TextError::ForbiddenCharacter));
        assert_eq!(TextError::TooLong.reason(), "too_long");
    }

    #[test]
    fn descriptions_keep_paragraphs_and_may_be_empty() {
        let description = Description::parse("First line.\r\n\r\n\tSecond paragraph.\n").unwrap();
        assert_eq!(description.as_str(), "First line.\n\n\tSecond paragraph.");
        assert!(Description::parse("   ").unwrap().is_empty());
        assert_eq!(Description::parse("a\u{0}b"), Err(TextError::ForbiddenCharacter));
        assert_eq!(Description::parse(&"x".repeat(MAX_DESCRIPTION_CHARS + 1)), Err(TextError::TooLong));
    }

    #[test]
    fn serde_goes_through_parse() {
        let name: CategoryName = serde_json::from_str(r#"" Cookware ""#).unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), r#""Cookware""#);
        assert!(serde_json::from_str::<VendorName>(r#""""#).is_err());
    }

    #[test]
    fn a_city_is_one_clean_line_of_at_most_80_characters() {
        assert_eq!(VendorCity::parse("  São   Paulo ").unwrap().as_str(), "São Paulo");
        assert!(VendorCity::parse(&"ü".repeat(MAX_VENDOR_CITY_CHARS)).is_ok());
        assert_eq!(VendorCity::parse(&"ü".repeat(MAX_VENDOR_CITY_CHARS + 1)), Err(TextError::TooLong));
        assert_eq!(VendorCity::parse("\t "), Err(TextError::Empty));
        assert_eq!(VendorCity::parse("Lisbon\u{202E}"), Err(TextError::ForbiddenCharacter));
        assert_eq!(VendorCity::parse("Lis\nbon").unwrap().as_str(), "Lis bon", "one line");
        assert!(serde_json::from_str::<VendorCity>(r#"" ""#).is_err());
        assert_eq!(serde_json::from_str::<VendorCity>(r#""Porto ""#).unwrap().as_str(), "Porto");
    }

    proptest! {
        #[test]
        fn a_parsed_title_parses_to_itself(input in "\\PC{0,60}") {
            if let Ok(title) = ProductTitle::parse(&input) {
                prop_assert_eq!(ProductTitle::parse(title.as_str()), Ok(title.clone()));
                prop_assert!(!title.as_str().contains("  "));
            }
        }

        #[test]
        fn a_parsed_city_parses_to_itself_and_fits_the_column(input in "\\PC{0,100}") {
            if let Ok(city) = VendorCity::parse(&input) {
                prop_assert_eq!(VendorCity::parse(city.as_str()), Ok(city.clone()));
                prop_assert!((1..=MAX_VENDOR_CITY_CHARS).contains(&city.as_str().chars().count()));
            }
        }
    }
}
