//! Profile fields shown to other users.

use crate::newtype::string_newtype;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Long enough for real names, short enough for an order list or a review byline.
pub const MAX_DISPLAY_NAME_CHARS: usize = 80;

/// 1–80 characters after trimming, without control characters or bidirectional overrides (which
/// could make a name render as someone else's, CVE-2021-42574 style).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DisplayNameError {
    #[error("display name is empty")]
    Empty,
    #[error("display name is longer than {MAX_DISPLAY_NAME_CHARS} characters")]
    TooLong,
    #[error("display name contains control or bidirectional formatting characters")]
    ForbiddenCharacter,
}

impl DisplayNameError {
    /// Stable machine-readable reason for `details`.
    pub fn reason(self) -> &'static str {
        match self {
            DisplayNameError::Empty => "empty",
            DisplayNameError::TooLong => "too_long",
            DisplayNameError::ForbiddenCharacter => "forbidden_character",
        }
    }
}

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, DisplayNameError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(DisplayNameError::Empty);
        }
        if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
            return Err(DisplayNameError::TooLong);
        }
        if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(DisplayNameError::ForbiddenCharacter);
        }
        Ok(Self(name.to_owned()))
    }
}

string_newtype!(DisplayName, DisplayNameError);

/// Unicode's explicit directional formatting characters (UAX #9 §2).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_inner_text() {
        assert_eq!(DisplayName::parse("  Zoë  O'Neil ").unwrap().as_str(), "Zoë  O'Neil");
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(DisplayName::parse(&"é".repeat(MAX_DISPLAY_NAME_CHARS)).is_ok());
        assert_eq!(DisplayName::parse(&"é".repeat(MAX_DISPLAY_NAME_CHARS + 1)), Err(DisplayNameError::TooLong));
    }

    #[test]
    fn refuses_empty_control_and_bidi_characters() {
        assert_eq!(DisplayName::parse(" \t "), Err(DisplayNameError::Empty));
        assert_eq!(DisplayName::parse("Ann\nLee"), Err(DisplayNameError::ForbiddenCharacter));
        assert_eq!(DisplayName::parse("Ann\u{202E}eeL"), Err(DisplayNameError::ForbiddenCharacter));
        assert_eq!(DisplayNameError::TooLong.reason(), "too_long");
    }
}
