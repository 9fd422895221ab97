//! Opaque bearer secrets (`rt_…`, `ott_…`): a prefix and 32 random bytes in base64url. Only their
//! SHA-256 is stored, so a database leak yields nothing usable; 256 random bits need no salt or
//! slow hash, since nobody can enumerate them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// 256 bits, the size OWASP's session guidance comfortably exceeds (≥ 64 bits of entropy).
pub(crate) const SECRET_BYTES: usize = 32;
/// base64url of 32 bytes, unpadded.
const ENCODED_LEN: usize = 43;

pub(crate) fn encode(prefix: &str, random: &[u8; SECRET_BYTES]) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random))
}

/// Whether `token` could be one of ours: lets callers skip a database lookup for garbage.
pub(crate) fn has_shape(token: &str, prefix: &str) -> bool {
    token.strip_prefix(prefix).is_some_and(|body| {
        body.len() == ENCODED_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Lower-case hex SHA-256 of the whole token, as stored in `token_hash` columns.
pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_prefix_and_43_chars() {
        let token = encode("rt_", &[0xff; 32]);
        assert_eq!(token, format!("rt_{}", "_".repeat(42) + "8"));
        assert!(has_shape(&token, "rt_"));
        assert!(!has_shape(&token, "ott_"));
        assert!(!has_shape(&format!("{token}A"), "rt_"));
        assert!(!has_shape("rt_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "rt_"));
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
