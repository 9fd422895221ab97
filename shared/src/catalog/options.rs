//! A variant's option values (`{"size":"M","colour":"Blue"}`), stored as a jsonb object so that
//! filtering by an option is a containment query (`options @> '{"colour":"Blue"}'`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::text::{TextError, clean_line};
use super::validation::Reason;
use crate::neon::{Param, ToSql};
use crate::newtype::string_newtype;

/// Shopify allows three options per product (size, colour, material); more makes a variant
/// picker nobody can use.
pub const MAX_OPTIONS: usize = 3;
/// `Size`, `Colour`, `Material`, `Pack size`.
pub const MAX_OPTION_NAME_CHARS: usize = 30;
/// `Navy blue`, `EU 42 / UK 8`.
pub const MAX_OPTION_VALUE_CHARS: usize = 50;

/// An option's name, one line (compared case-insensitively within a variant).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptionName(String);

impl OptionName {
    pub fn parse(input: &str) -> Result<Self, TextError> {
        clean_line(input, MAX_OPTION_NAME_CHARS).map(Self)
    }
}

string_newtype!(OptionName, TextError);

/// An option's value, one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptionValue(String);

impl OptionValue {
    pub fn parse(input: &str) -> Result<Self, TextError> {
        clean_line(input, MAX_OPTION_VALUE_CHARS).map(Self)
    }
}

string_newtype!(OptionValue, TextError);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum OptionsError {
    #[error("a variant has at most {MAX_OPTIONS} options")]
    TooMany,
    #[error("two options have the same name")]
    DuplicateName,
    #[error("an option name is invalid: {0}")]
    Name(TextError),
    #[error("an option value is invalid: {0}")]
    Value(TextError),
}

impl Reason for OptionsError {
    fn reason(&self) -> &'static str {
        match self {
            OptionsError::TooMany => "too_many_options",
            OptionsError::DuplicateName => "duplicate_option",
            OptionsError::Name(_) => "invalid_option_name",
            OptionsError::Value(_) => "invalid_option_value",
        }
    }
}

/// Up to three name → value pairs with distinct names (ignoring case). Empty for a product sold
/// in one form only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, String>", into = "BTreeMap<String, String>")]
pub struct VariantOptions(BTreeMap<OptionName, OptionValue>);

impl VariantOptions {
    pub fn new(pairs: impl IntoIterator<Item = (OptionName, OptionValue)>) -> Result<Self, OptionsError> {
        let mut options = BTreeMap::new();
        for (name, value) in pairs {
            if options.keys().any(|known: &OptionName| known.as_str().to_lowercase() == name.as_str().to_lowercase()) {
                return Err(OptionsError::DuplicateName);
            }
            options.insert(name, value);
            if options.len() > MAX_OPTIONS {
                return Err(OptionsError::TooMany);
            }
        }
        Ok(Self(options))
    }

    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, OptionsError> {
        let parsed: Vec<(OptionName, OptionValue)> = pairs
            .into_iter()
            .map(|(name, value)| {
                Ok((
                    OptionName::parse(name).map_err(OptionsError::Name)?,
                    OptionValue::parse(value).map_err(OptionsError::Value)?,
                ))
            })
            .collect::<Result<_, OptionsError>>()?;
        Self::new(parsed)
    }

    /// The value of an option, its name compared ignoring case.
    pub fn get(&self, name: &str) -> Option<&OptionValue> {
        let name = name.to_lowercase();
        self.0.iter().find(|(known, _)| known.as_str().to_lowercase() == name).map(|(_, value)| value)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&OptionName, &OptionValue)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Blue / M`: how a cart line or an order names the variant.
    pub fn label(&self) -> String {
        self.0.values().map(OptionValue::as_str).collect::<Vec<_>>().join(" / ")
    }

    /// `Colour: Blue, Size: M`: each option named, as the storefront shows a variant; "" for none.
    pub fn described(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{}: {}", name.as_str(), value.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn to_json(&self) -> serde_json::Value {
        let object = self.0.iter().map(|(name, value)| (name.to_string(), value.to_string().into())).collect();
        serde_json::Value::Object(object)
    }
}

impl TryFrom<BTreeMap<String, String>> for VariantOptions {
    type Error = OptionsError;

    fn try_from(map: BTreeMap<String, String>) -> Result<Self, Self::Error> {
        Self::parse(map.iter().map(|(name, value)| (name.as_str(), value.as_str())))
    }
}

impl From<VariantOptions> for BTreeMap<String, String> {
    fn from(options: VariantOptions) -> Self {
        options.0.into_iter().map(|(name, value)| (name.into_inner(), value.into_inner())).collect()
    }
}

/// Bound as the jsonb column's JSON text.
impl ToSql for VariantOptions {
    fn to_param(&self) -> Param {
        Param::text(self.to_json().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_from_pairs_and_labels_in_name_order() {
        let options = VariantOptions::parse([("Size", " M "), ("Colour", "Navy  blue")]).unwrap();
        assert_eq!(options.get("colour").map(OptionValue::as_str), Some("Navy blue"));
        assert_eq!(options.label(), "Navy blue / M");
        assert_eq!(options.to_param().as_text(), Some(r#"{"Colour":"Navy blue","Size":"M"}"#));
    }

    #[test]
    fn refuses_duplicates_too_many_and_bad_text() {
        assert_eq!(VariantOptions::parse([("Size", "M"), ("size", "L")]), Err(OptionsError::DuplicateName));
        let four = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")];
        assert_eq!(VariantOptions::parse(four), Err(OptionsError::TooMany));
        assert_eq!(VariantOptions::parse([("", "M")]), Err(OptionsError::Name(TextError::Empty)));
        let long = "x".repeat(MAX_OPTION_VALUE_CHARS + 1);
        assert_eq!(VariantOptions::parse([("Size", long.as_str())]), Err(OptionsError::Value(TextError::TooLong)));
        assert_eq!(OptionsError::TooMany.reason(), "too_many_options");
    }

    #[test]
    fn serde_is_a_plain_object_validated_on_the_way_in() {
        let options: VariantOptions = serde_json::from_str(r#"{"Size":"M"}"#).unwrap();
        assert_eq!(serde_json::to_string(&options).unwrap(), r#"{"Size":"M"}"#);
        assert!(serde_json::from_str::<VariantOptions>(r#"{"Size":""}"#).is_err());
        assert!(VariantOptions::default().is_empty());
    }
}
