//! EdDSA (Ed25519, RFC 8032) for jwt-compact, over `ed25519-compact` without its `random` feature.
//!
//! jwt-compact's own `ed25519-compact` backend turns that feature on and then mixes OS randomness
//! into every signature (hedged signing). Shared code takes no OS entropy (Workers'
//! wasm32-unknown-unknown has none without JS glue), so this signs deterministically, exactly as
//! RFC 8032 §5.1.6 specifies; any Ed25519 verifier accepts the result.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroUsize;

use ed25519_compact::{KeyPair, PublicKey, Seed, Signature};
use jwt_compact::{Algorithm, AlgorithmSignature};

/// Ed25519 under its JOSE name `EdDSA` (RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EdDsa;

/// A key pair derived from a 32-byte seed (the RFC 8032 private key).
#[derive(Clone)]
pub(crate) struct EdSigningKey(KeyPair);

impl EdSigningKey {
    pub(crate) fn from_seed(seed: [u8; Seed::BYTES]) -> Self {
        Self(KeyPair::from_seed(Seed::new(seed)))
    }

    pub(crate) fn verifying_key(&self) -> EdVerifyingKey {
        EdVerifyingKey(self.0.pk)
    }
}

/// Hand-written so the secret never reaches a log.
impl fmt::Debug for EdSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EdSigningKey(…)")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct EdVerifyingKey(PublicKey);

impl EdVerifyingKey {
    /// 32 bytes that canonically encode a curve point of large order; anything else could never
    /// verify a signature, so it is refused when the JWKS is loaded rather than per token.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let key = PublicKey::from_slice(bytes).ok()?;
        key.validate().ok()?;
        Some(Self(key))
    }

    pub(crate) fn to_bytes(self) -> [u8; PublicKey::BYTES] {
        *self.0
    }
}

impl fmt::Debug for EdVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: String = self.0.iter().map(|byte| format!("{byte:02x}")).collect();
        write!(f, "EdVerifyingKey({hex})")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EdSignature(Signature);

impl AlgorithmSignature for EdSignature {
    const LENGTH: Option<NonZeroUsize> = NonZeroUsize::new(Signature::BYTES);

    fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
        let bytes: [u8; Signature::BYTES] = slice.try_into()?;
        Ok(Self(Signature::new(bytes)))
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.0.as_ref())
    }
}

impl Algorithm for EdDsa {
    type SigningKey = EdSigningKey;
    type VerifyingKey = EdVerifyingKey;
    type Signature = EdSignature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("EdDSA")
    }

    fn sign(&self, signing_key: &EdSigningKey, message: &[u8]) -> EdSignature {
        // No noise: deterministic RFC 8032 signing (see module docs).
        EdSignature(signing_key.0.sk.sign(message, None))
    }

    fn verify_signature(&self, signature: &EdSignature, verifying_key: &EdVerifyingKey, message: &[u8]) -> bool {
        verifying_key.0.verify(message, &signature.0).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn signs_rfc_8032_test_1_exactly() {
        // RFC 8032 §7.1, TEST 1 (empty message).
        let seed: [u8; 32] =
            hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").try_into().unwrap();
        let key = EdSigningKey::from_seed(seed);
        assert_eq!(
            key.verifying_key().to_bytes().to_vec(),
            hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        let signature = EdDsa.sign(&key, b"");
        assert_eq!(
            signature.as_bytes().to_vec(),
            hex(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            )
        );
        assert!(EdDsa.verify_signature(&signature, &key.verifying_key(), b""));
        assert!(!EdDsa.verify_signature(&signature, &key.verifying_key(), b"x"));
    }

    #[test]
    fn small_order_and_short_public_keys_are_refused() {
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        assert!(EdVerifyingKey::from_bytes(&identity_point).is_none());
        assert!(EdVerifyingKey::from_bytes(&[1; 31]).is_none());
        let real = EdSigningKey::from_seed([7; 32]).verifying_key();
        assert_eq!(EdVerifyingKey::from_bytes(&real.to_bytes()), Some(real));
    }

    #[test]
    fn debug_never_prints_the_seed() {
        assert_eq!(format!("{:?}", EdSigningKey::from_seed([7; 32])), "EdSigningKey(…)");
    }
}
