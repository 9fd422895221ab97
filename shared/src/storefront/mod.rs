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

/// `path` when it is a path on this site (`/orders?x=1`), else `None`: where a form may send the
/// shopper back to (`return_to`, `next`). `//host` and `/\host` are other sites to a browser, and
/// a control character could split the `Location` header.
pub fn local_path(path: &str) -> Option<&str> {
    let local = path.starts_with('/') && !path.starts_with("//");
    let clean = !path.chars().any(|c| c.is_control() || c == '\\');
    (local && clean && path.len() <= 2048).then_some(path)
}

/// `value` encoded for a query string or form body (spaces as `+`).
pub fn query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::{cookie, local_path, query_value};
    use proptest::prelude::*;

    #[test]
    fn only_paths_on_this_site_are_followed() {
        assert_eq!(local_path("/orders"), Some("/orders"));
        assert_eq!(local_path("/orders/grp_1?placed=1"), Some("/orders/grp_1?placed=1"));
        assert_eq!(local_path("/search?q=mug"), Some("/search?q=mug"));
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example/", "evil", "", "/a\r\nSet-Cookie: x"] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn a_followed_path_never_leaves_the_site(path in "\\PC{0,40}") {
            if let Some(path) = local_path(&path) {
                prop_assert!(path.starts_with('/'));
                prop_assert!(!path.starts_with("//"));
                prop_assert!(!path.contains('\\'));
            }
        }
    }

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
