//! The HMAC-SHA256 key of a value a service signs and later checks itself (guest cart cookies;
//! catalog cursors keep their own `CursorKey` for now): long enough, read from a base64url secret,
//! keyed once, never printed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

pub type HmacSha256 = Hmac<Sha256>;

/// RFC 2104 §3: keys shorter than the hash output (32 bytes for SHA-256) weaken the MAC.
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("an HMAC key must be at least {MIN_KEY_BYTES} bytes (base64url in a secret)")]
pub struct HmacKeyError;

#[derive(Clone)]
pub struct HmacKey(HmacSha256);

impl HmacKey {
    pub fn new(secret: &[u8]) -> Result<Self, HmacKeyError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(HmacKeyError);
        }
        HmacSha256::new_from_slice(secret).map(Self).map_err(|_| HmacKeyError)
    }

    /// base64url, padded or not, surrounding whitespace ignored: how the Workers' key secrets are written.
    pub fn from_base64url(text: &str) -> Result<Self, HmacKeyError> {
        let text = text.trim();
        let bytes = URL_SAFE_NO_PAD.decode(text).or_else(|_| URL_SAFE.decode(text)).map_err(|_| HmacKeyError)?;
        Self::new(&bytes)
    }

    /// The MAC state over `payload`, to finalize or verify; the keyed state is computed once in `new`.
    pub fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(payload);
        mac
    }
}

/// Hand-written so the key never reaches a log.
impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_enough_base64url_and_never_printed() {
        assert_eq!(HmacKey::new(&[1; MIN_KEY_BYTES - 1]).map(|_| ()), Err(HmacKeyError));
        let key = HmacKey::new(&[1; MIN_KEY_BYTES]).unwrap();
        assert_eq!(format!("{key:?}"), "HmacKey(…)");
        let text = URL_SAFE_NO_PAD.encode([1; MIN_KEY_BYTES]);
        for written in [text.clone(), format!(" {text}\n"), URL_SAFE.encode([1; MIN_KEY_BYTES])] {
            let read = HmacKey::from_base64url(&written).unwrap();
            assert_eq!(read.mac(b"x").finalize().into_bytes(), key.mac(b"x").finalize().into_bytes(), "{written}");
        }
        assert_eq!(HmacKey::from_base64url("not base64!").map(|_| ()), Err(HmacKeyError));
        assert_eq!(HmacKey::from_base64url(&URL_SAFE_NO_PAD.encode([1; 16])).map(|_| ()), Err(HmacKeyError));
    }

    #[test]
    fn each_use_starts_from_the_key_alone() {
        let secret = [0x0b; MIN_KEY_BYTES];
        let fresh = |payload: &[u8]| {
            let mut mac = HmacSha256::new_from_slice(&secret).unwrap();
            mac.update(payload);
            mac.finalize().into_bytes()
        };
        let key = HmacKey::new(&secret).unwrap();
        assert_eq!(key.mac(b"first").finalize().into_bytes(), fresh(b"first"));
        assert_eq!(key.mac(b"second").finalize().into_bytes(), fresh(b"second"), "nothing left from the first");
    }
}
