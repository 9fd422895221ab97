//! The public keys verifiers load (RFC 7517), Ed25519 ones as RFC 8037 §2 writes them:
//! `{"kty":"OKP","crv":"Ed25519","x":"<base64url public key>","kid":"…","alg":"EdDSA","use":"sig"}`.
//! Served by the identity Worker at `/.well-known/jwks.json`; listing the next key before signing
//! with it lets keys rotate without rejecting live tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::eddsa::EdVerifyingKey;

pub const KEY_TYPE_OKP: &str = "OKP";
pub const CURVE_ED25519: &str = "Ed25519";
pub const ALG_EDDSA: &str = "EdDSA";
pub const USE_SIGNATURE: &str = "sig";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    pub kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum JwkError {
    #[error("malformed JWKS: {0}")]
    Json(String),
    #[error("key {kid:?}: {field} is {actual:?}, expected {expected:?}")]
    Unsupported { kid: String, field: &'static str, expected: &'static str, actual: String },
    #[error("key {kid:?}: x is not a base64url Ed25519 public key")]
    BadPublicKey { kid: String },
    #[error("kid {0:?} appears twice")]
    DuplicateKid(String),
    #[error("the JWKS has no keys")]
    NoKeys,
}

impl Jwks {
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self { keys }
    }

    pub fn parse(json: &str) -> Result<Self, JwkError> {
        serde_json::from_str(json).map_err(|error| JwkError::Json(error.to_string()))
    }

    pub fn to_json(&self) -> String {
        // Plain strings only; serialising cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"keys":[]}"#.to_owned())
    }

    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.kid == kid)
    }
}

impl Jwk {
    pub fn ed25519(kid: impl Into<String>, public_key: [u8; 32]) -> Self {
        Self {
            kty: KEY_TYPE_OKP.to_owned(),
            crv: CURVE_ED25519.to_owned(),
            x: URL_SAFE_NO_PAD.encode(public_key),
            kid: kid.into(),
            alg: Some(ALG_EDDSA.to_owned()),
            key_use: Some(USE_SIGNATURE.to_owned()),
        }
    }

    /// The 32-byte public key, once `kty`, `crv`, `alg` and `use` say it is an Ed25519 signing key.
    pub fn public_key(&self) -> Result<[u8; 32], JwkError> {
        self.verifying_key().map(EdVerifyingKey::to_bytes)
    }

    pub(crate) fn verifying_key(&self) -> Result<EdVerifyingKey, JwkError> {
        self.require("kty", KEY_TYPE_OKP, Some(&self.kty))?;
        self.require("crv", CURVE_ED25519, Some(&self.crv))?;
        self.require("alg", ALG_EDDSA, self.alg.as_ref())?;
        self.require("use", USE_SIGNATURE, self.key_use.as_ref())?;
        let bad_key = || JwkError::BadPublicKey { kid: self.kid.clone() };
        let bytes = URL_SAFE_NO_PAD.decode(&self.x).map_err(|_| bad_key())?;
        EdVerifyingKey::from_bytes(&bytes).ok_or_else(bad_key)
    }

    /// Absent optional members (`alg`, `use`) are fine; present ones must match.
    fn require(&self, field: &'static str, expected: &'static str, actual: Option<&String>) -> Result<(), JwkError> {
        match actual {
            Some(actual) if actual != expected => {
                Err(JwkError::Unsupported { kid: self.kid.clone(), field, expected, actual: actual.clone() })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::eddsa::EdSigningKey;
    use serde_json::json;

    fn public_key(seed: u8) -> [u8; 32] {
        EdSigningKey::from_seed([seed; 32]).verifying_key().to_bytes()
    }

    #[test]
    fn serialises_as_rfc_8037_okp_key() {
        // RFC 8037 Appendix A.2: the public key of the A.1 example.
        let x = URL_SAFE_NO_PAD.decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        let jwk = Jwk::ed25519("key-1", x.try_into().unwrap());
        assert_eq!(
            serde_json::to_value(Jwks::new(vec![jwk])).unwrap(),
            json!({"keys": [{
                "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                "kid": "key-1", "alg": "EdDSA", "use": "sig"
            }]})
        );
    }

    #[test]
    fn parses_and_round_trips() {
        let jwks = Jwks::new(vec![Jwk::ed25519("a", public_key(9)), Jwk::ed25519("b", public_key(3))]);
        let parsed = Jwks::parse(&jwks.to_json()).unwrap();
        assert_eq!(parsed, jwks);
        assert_eq!(parsed.find("b").map(|key| key.kid.as_str()), Some("b"));
    }

    #[test]
    fn optional_members_may_be_absent_but_not_wrong() {
        let mut jwk = Jwk::ed25519("a", public_key(9));
        jwk.alg = None;
        jwk.key_use = None;
        assert_eq!(jwk.public_key(), Ok(public_key(9)));
        jwk.alg = Some("ES256".into());
        assert!(matches!(jwk.public_key(), Err(JwkError::Unsupported { field: "alg", .. })));
    }

    #[test]
    fn refuses_other_key_types_and_bad_lengths() {
        let mut jwk = Jwk::ed25519("a", public_key(9));
        jwk.crv = "X25519".into();
        assert!(matches!(jwk.public_key(), Err(JwkError::Unsupported { field: "crv", .. })));
        let mut short = Jwk::ed25519("a", public_key(9));
        short.x = URL_SAFE_NO_PAD.encode([1; 31]);
        assert_eq!(short.public_key(), Err(JwkError::BadPublicKey { kid: "a".into() }));
        let mut not_a_point = Jwk::ed25519("a", public_key(9));
        not_a_point.x = URL_SAFE_NO_PAD.encode([0xff; 32]);
        assert_eq!(not_a_point.public_key(), Err(JwkError::BadPublicKey { kid: "a".into() }));
        assert!(Jwks::parse(r#"{"keys":[{"kty":"RSA","n":"…"}]}"#).is_err());
    }
}
