//! HTML form posts (`application/x-www-form-urlencoded`): the storefront's forms work without
//! JavaScript, so every write a shopper makes arrives this way first.

use std::collections::BTreeMap;

/// The fields of a posted form; a field sent twice keeps every value, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: BTreeMap<String, Vec<String>>,
}

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(body) {
            fields.entry(name.into_owned()).or_default().push(value.into_owned());
        }
        Form { fields }
    }

    /// A URL's query string (`a=1&b=2`, with or without its `?`), read like a form.
    pub fn parse_query(query: &str) -> Self {
        Self::parse(query.trim_start_matches('?').as_bytes())
    }

    /// The field's first value, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .and_then(|values| values.first())
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// The field's first value exactly as sent (passwords are not trimmed), or "".
    pub fn raw(&self, name: &str) -> &str {
        self.fields.get(name).and_then(|values| values.first()).map_or("", String::as_str)
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.fields.get(name).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::Form;

    #[test]
    fn fields_are_decoded_and_trimmed_except_raw() {
        let form = Form::parse(b"email=a%40b.example&password=+two+words+&q=&tag=x&tag=y");
        assert_eq!(form.get("email"), Some("a@b.example"));
        assert_eq!(form.get("password"), Some("two words"));
        assert_eq!(form.raw("password"), " two words ");
        assert_eq!(form.get("q"), None);
        assert_eq!(form.get("missing"), None);
        assert_eq!(form.all("tag"), ["x", "y"]);
    }
}
