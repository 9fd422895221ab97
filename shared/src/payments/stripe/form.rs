//! Stripe's request bodies: `application/x-www-form-urlencoded` with nesting in square brackets
//! (`metadata[order_id]=42`, `transfer_data[destination]=acct_…`, `payment_method_types[0]=card`).
//! Each name segment and value is form-encoded; the brackets stay literal, as stripe-ruby and
//! stripe-python send them (both decode the same on Stripe's side).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Stripe's metadata limits (docs.stripe.com/api/metadata): "up to 50 keys, with key names up to
/// 40 characters long and values up to 500 characters long", and keys "can't contain square brackets".
pub const MAX_METADATA_KEYS: usize = 50;
pub const MAX_METADATA_KEY_LEN: usize = 40;
pub const MAX_METADATA_VALUE_LEN: usize = 500;

/// An ordered list of `name=value` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    /// `path` is the name and its nested keys: `["transfer_data", "destination"]` becomes
    /// `transfer_data[destination]`.
    pub fn field(mut self, path: &[&str], value: impl ToString) -> Self {
        self.pairs.push((name(path), value.to_string()));
        self
    }

    pub fn optional(self, path: &[&str], value: Option<impl ToString>) -> Self {
        match value {
            Some(value) => self.field(path, value),
            None => self,
        }
    }

    /// `name[key]=value` for every entry, in key order.
    pub fn map<'a>(mut self, prefix: &str, entries: impl IntoIterator<Item = (&'a String, &'a String)>) -> Self {
        for (key, value) in entries {
            self = self.field(&[prefix, key], value);
        }
        self
    }

    /// `name[0]=a&name[1]=b`: the indexed form Stripe's libraries send for arrays.
    pub fn list(mut self, prefix: &str, items: &[&str]) -> Self {
        for (index, item) in items.iter().enumerate() {
            self = self.field(&[prefix, &index.to_string()], item);
        }
        self
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn encode(&self) -> String {
        self.pairs.iter().map(|(name, value)| format!("{name}={}", escape(value))).collect::<Vec<_>>().join("&")
    }
}

fn name(path: &[&str]) -> String {
    let mut name = String::new();
    for (depth, segment) in path.iter().enumerate() {
        if depth == 0 {
            name.push_str(&escape(segment));
        } else {
            name.push('[');
            name.push_str(&escape(segment));
            name.push(']');
        }
    }
    name
}

fn escape(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Key-value pairs attached to Stripe objects, checked against Stripe's limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MetadataError {
    #[error("metadata holds at most {MAX_METADATA_KEYS} keys")]
    TooManyKeys,
    #[error("metadata key {0:?} must be 1 to {MAX_METADATA_KEY_LEN} characters without square brackets")]
    BadKey(String),
    #[error("metadata value for {0:?} is longer than {MAX_METADATA_VALUE_LEN} characters")]
    ValueTooLong(String),
}

impl Metadata {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Result<(), MetadataError> {
        let (key, value) = (key.into(), value.into());
        if key.is_empty() || key.chars().count() > MAX_METADATA_KEY_LEN || key.contains(['[', ']']) {
            return Err(MetadataError::BadKey(key));
        }
        if value.chars().count() > MAX_METADATA_VALUE_LEN {
            return Err(MetadataError::ValueTooLong(key));
        }
        if !self.0.contains_key(&key) && self.0.len() >= MAX_METADATA_KEYS {
            return Err(MetadataError::TooManyKeys);
        }
        self.0.insert(key, value);
        Ok(())
    }

    /// Builder form of [`Metadata::insert`].
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Result<Self, MetadataError> {
        self.insert(key, value)?;
        Ok(self)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn nesting_uses_literal_brackets_and_escapes_each_part() {
        let metadata = Metadata::new().with("order_group", "ogrp_1").unwrap().with("note", "a&b=c d").unwrap();
        let form = Form::new()
            .field(&["amount"], 2000)
            .field(&["currency"], "eur")
            .field(&["transfer_data", "destination"], "acct_1")
            .field(&["capabilities", "transfers", "requested"], true)
            .list("payment_method_types", &["card"])
            .map("metadata", metadata.iter());
        assert_eq!(
            form.encode(),
            "amount=2000&currency=eur&transfer_data[destination]=acct_1&capabilities[transfers][requested]=true\
             &payment_method_types[0]=card&metadata[note]=a%26b%3Dc+d&metadata[order_group]=ogrp_1"
        );
        assert_eq!(Form::new().field(&["a b", "c&d"], "é").encode(), "a+b[c%26d]=%C3%A9");
        assert_eq!(Form::new().optional(&["x"], None::<&str>).optional(&["y"], Some(1)).encode(), "y=1");
    }

    #[test]
    fn metadata_enforces_stripes_limits() {
        let mut metadata = Metadata::new();
        assert!(matches!(metadata.insert("a[b]", "v"), Err(MetadataError::BadKey(_))));
        assert!(matches!(metadata.insert("", "v"), Err(MetadataError::BadKey(_))));
        assert!(matches!(metadata.insert("k".repeat(41), "v"), Err(MetadataError::BadKey(_))));
        assert!(matches!(metadata.insert("k", "v".repeat(501)), Err(MetadataError::ValueTooLong(_))));
        for i in 0..MAX_METADATA_KEYS {
            metadata.insert(format!("k{i}"), "v").unwrap();
        }
        assert_eq!(metadata.insert("one_more", "v"), Err(MetadataError::TooManyKeys));
        assert_eq!(metadata.insert("k0", "replaced"), Ok(()));
    }

    proptest! {
        #[test]
        fn any_text_decodes_back_to_the_same_name_and_value(key in "[^\\[\\]]{1,20}", value in ".{0,40}") {
            let form = Form::new().field(&["metadata", &key], &value).encode();
            let decoded: Vec<(String, String)> =
                form_urlencoded::parse(form.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            prop_assert_eq!(decoded, vec![(format!("metadata[{key}]"), value)]);
        }
    }
}
