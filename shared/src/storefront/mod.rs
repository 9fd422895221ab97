//! What the gateway's storefront pages need that is plain logic (cookies, forms, links), kept
//! here so it is unit-tested natively; the pages themselves are rendered in `workers/gateway`.

pub mod account;
pub mod browse;
pub mod cart;
pub mod form;
pub mod orders;
pub mod payment;
pub mod refusal;

/// The value of cookie `name` in a `Cookie` header (the first, as browsers send the most
/// specific path first).
pub fn cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

/// `value` encoded for a query string or form body (spaces as `+`).
pub fn query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::{cookie, query_value};

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query_value("/cart?x=1&y"), "%2Fcart%3Fx%3D1%26y");
        assert_eq!(query_value("blue mug"), "blue+mug");
    }

    #[test]
    fn cookie_finds_its_value_among_others() {
        let header = "cart=abc.def; sf_access=tok; other=";
        assert_eq!(cookie(header, "sf_access"), Some("tok"));
        assert_eq!(cookie(header, "cart"), Some("abc.def"));
        assert_eq!(cookie(header, "other"), None);
        assert_eq!(cookie(header, "missing"), None);
        assert_eq!(cookie("", "cart"), None);
    }
}
