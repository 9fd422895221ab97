//! Public API calls the gateway hands to a Spin component (docs/adr/0006). The `Upstash-Signature`
//! covers only the URL and the body, so everything the component must believe travels in the body:
//! one JSON envelope with the client's method, path, query, body, `Idempotency-Key` and the caller
//! the gateway verified. Headers carry nothing the component trusts. Both sides use this module.
//!
//! The gateway always `POST`s the envelope to `/{component}{public path}`; the component checks that
//! the URL and the envelope agree and routes on the envelope's method and path.

use serde::{Deserialize, Serialize};

use crate::api::{ApiError, ErrorCode};
use crate::idempotency::IdempotencyKey;
use crate::identity::principal::Principal;

/// Every forwarded path starts here (DESIGN §8).
pub const API_PREFIX: &str = "/api/v1/";
/// The largest client body the gateway forwards; API bodies are small JSON documents, and the
/// envelope (escaped) must stay under what the component reads (`spin_platform::MAX_BODY_BYTES`).
pub const MAX_FORWARDED_BODY_BYTES: usize = 256 * 1024;

/// The client's method; the HTTP method on the Spin hop is always `POST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApiMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl ApiMethod {
    /// `None` for methods the API does not use (HEAD, OPTIONS are answered by the gateway).
    pub fn parse(method: &str) -> Option<Self> {
        match method.to_ascii_uppercase().as_str() {
            "GET" => Some(Self::Get),
            "POST" => Some(Self::Post),
            "PUT" => Some(Self::Put),
            "PATCH" => Some(Self::Patch),
            "DELETE" => Some(Self::Delete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// The signed body of one forwarded call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forwarded {
    pub method: ApiMethod,
    /// The public path, e.g. `/api/v1/vendor/stock/var_…`.
    pub path: String,
    /// The raw query string without `?`; empty when there was none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// The verified caller; absent on public routes called without a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<IdempotencyKey>,
    /// The client's body as text; absent when it sent none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl Forwarded {
    /// The path on the component: `/{component}{public path}`. `None` for a path outside the API.
    pub fn spin_path(component: &str, public_path: &str) -> Option<String> {
        let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
        (plain(component) && public_path.starts_with(API_PREFIX)).then(|| format!("/{component}{public_path}"))
    }

    /// The envelope as sent: the exact bytes the signature covers.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain strings, enums and validated newtypes: serialising them cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads an envelope that arrived at `received_path` for `component`. Call only after the
    /// signature passed: a well-signed envelope that is malformed or names another path is a
    /// gateway bug or a forgery with the key, and is refused either way.
    pub fn parse(bytes: &[u8], component: &str, received_path: &str) -> Result<Self, ApiError> {
        let envelope: Forwarded = serde_json::from_slice(bytes)
            .map_err(|error| ApiError::new(ErrorCode::InvalidRequest, format!("not a forwarded call: {error}")))?;
        if Self::spin_path(component, &envelope.path).as_deref() != Some(received_path) {
            return Err(ApiError::new(ErrorCode::SignatureInvalid, "the forwarded call names another path"));
        }
        Ok(envelope)
    }

    /// The signed-in caller, or `AUTH_1004` (the gateway's table should not have let it through).
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal.as_ref().ok_or_else(|| ApiError::new(ErrorCode::TokenMissing, "an access token is required"))
    }

    /// The client's body as JSON of type `T`; missing or malformed is `VAL_3001`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body =
            self.body.as_deref().ok_or_else(|| ApiError::new(ErrorCode::InvalidRequest, "a JSON body is required"))?;
        serde_json::from_str(body)
            .map_err(|error| ApiError::new(ErrorCode::InvalidRequest, format!("invalid JSON body: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::identity::role::Role;

    const PATH: &str = "/api/v1/vendor/stock/var_01JC0000000000000000000001";

    fn vendor() -> Principal {
        Principal::new(
            "usr_01JC0000000000000000000001",
            Role::VendorAdmin,
            Some("ven_01JC0000000000000000000001".into()),
            vec![Role::Customer, Role::VendorAdmin],
        )
        .unwrap()
    }

    fn call() -> Forwarded {
        Forwarded {
            method: ApiMethod::Put,
            path: PATH.into(),
            query: String::new(),
            principal: Some(vendor()),
            idempotency_key: Some(IdempotencyKey::parse("count-7").unwrap()),
            body: Some(r#"{"on_hand":5}"#.into()),
        }
    }

    #[test]
    fn the_envelope_round_trips_through_its_bytes() {
        let bytes = call().to_json();
        let received = Forwarded::parse(&bytes, "inventory", &format!("/inventory{PATH}")).unwrap();
        assert_eq!(received, call());
        assert_eq!(received.json::<serde_json::Value>().unwrap(), json!({"on_hand": 5}));
        assert_eq!(received.principal().unwrap().acting_vendor(), Ok("ven_01JC0000000000000000000001"));
    }

    #[test]
    fn an_envelope_for_another_path_or_component_is_refused() {
        let bytes = call().to_json();
        for path in ["/inventory/api/v1/vendor/stock/var_01JC0000000000000000000002", &format!("/orders{PATH}")] {
            let error = Forwarded::parse(&bytes, "inventory", path).unwrap_err();
            assert_eq!(error.code, ErrorCode::SignatureInvalid, "{path}");
        }
    }

    #[test]
    fn broken_envelopes_and_bodies_are_client_errors() {
        let path = format!("/inventory{PATH}");
        for bad in [
            json!({"method": "TRACE", "path": PATH}),
            json!({"method": "GET", "path": PATH, "idempotency_key": "has space"}),
            json!({"method": "GET", "path": PATH, "principal": {"user_id": "root", "role": "customer", "roles": ["customer"]}}),
            json!({"method": "GET", "path": PATH, "x-auth-user-id": "usr_1"}),
        ] {
            let error = Forwarded::parse(bad.to_string().as_bytes(), "inventory", &path).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRequest, "{bad}");
        }
        let anonymous = Forwarded { principal: None, body: None, ..call() };
        assert_eq!(anonymous.principal().unwrap_err().code, ErrorCode::TokenMissing);
        assert_eq!(anonymous.json::<serde_json::Value>().unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn only_api_paths_of_plain_components_are_forwarded() {
        assert_eq!(Forwarded::spin_path("inventory", PATH), Some(format!("/inventory{PATH}")));
        assert_eq!(Forwarded::spin_path("inventory", "/internal/x"), None);
        assert_eq!(Forwarded::spin_path("../x", PATH), None);
        assert_eq!(ApiMethod::parse("put"), Some(ApiMethod::Put));
        assert_eq!(ApiMethod::parse("HEAD"), None);
    }

    proptest! {
        /// Whatever the client sent, the component reads back exactly it, and the bytes the gateway
        /// signs change with every part of it (so no part can be swapped under one signature).
        #[test]
        fn any_call_round_trips_and_every_part_is_in_the_signed_bytes(
            body in proptest::option::of(".{0,200}"),
            query in "[a-z0-9=&%]{0,40}",
            key in proptest::option::of("[!-~]{1,40}"),
            vendor in 0u8..2,
        ) {
            let vendor = format!("ven_01JC000000000000000000000{vendor}");
            let principal = Principal::new("usr_01JC0000000000000000000001", Role::VendorStaff, Some(vendor), vec![Role::VendorStaff]).unwrap();
            let call = Forwarded {
                method: ApiMethod::Put,
                path: PATH.into(),
                query,
                principal: Some(principal),
                idempotency_key: key.map(|key| IdempotencyKey::parse(&key).unwrap()),
                body,
            };
            let bytes = call.to_json();
            prop_assert_eq!(&Forwarded::parse(&bytes, "inventory", &format!("/inventory{PATH}")).unwrap(), &call);
            let other_vendor = Principal::new(
                "usr_01JC0000000000000000000001", Role::VendorStaff, Some("ven_01JC0000000000000000000009".into()), vec![Role::VendorStaff],
            ).unwrap();
            let swapped = Forwarded { principal: Some(other_vendor), ..call.clone() };
            prop_assert_ne!(swapped.to_json(), bytes.clone());
            let deleted = Forwarded { method: ApiMethod::Delete, ..call };
            prop_assert_ne!(deleted.to_json(), bytes);
        }
    }
}
