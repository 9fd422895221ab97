//! Prefixed ULIDs (`req_01J…`, `prod_01J…`): sortable by creation time, typed at a glance.
//! Time and randomness come from the caller, because each runtime gets them differently.

use sha2::{Digest, Sha256};
use ulid::Ulid;

/// The ULID's 80 random bits.
pub type Entropy = [u8; 10];

/// Entropy that is a function of `parts`: an id derived from another (an order from its group and
/// vendor) comes out the same on every retry, so writing it again is a no-op, not a duplicate.
pub fn derived_entropy(parts: &[&str]) -> Entropy {
    let mut hash = Sha256::new();
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut entropy = [0u8; 10];
    entropy.copy_from_slice(&digest[..10]);
    entropy
}

pub fn new_id(prefix: &str, unix_ms: u64, entropy: Entropy) -> String {
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&entropy);
    let ulid = Ulid::from_parts(unix_ms, u128::from_be_bytes(random));
    format!("{prefix}_{ulid}")
}

/// Longest `x-request-id` we echo back from a caller; longer or odd ones are replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A caller-supplied request id is kept only if it is short and plain, so it is safe in logs and headers.
pub fn is_acceptable_request_id(candidate: &str) -> bool {
    !candidate.is_empty()
        && candidate.len() <= MAX_REQUEST_ID_LEN
        && candidate.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn id_has_prefix_and_26_char_ulid() {
        let id = new_id("req", 1_763_700_000_000, [7; 10]);
        let (prefix, ulid) = id.split_once('_').unwrap();
        assert_eq!(prefix, "req");
        assert_eq!(ulid.len(), 26);
        assert_eq!(Ulid::from_string(ulid).unwrap().timestamp_ms(), 1_763_700_000_000);
    }

    proptest! {
        #[test]
        fn later_ids_sort_after_earlier_ones(t in 0u64..(1 << 47), dt in 1u64..1_000_000, a: [u8; 10], b: [u8; 10]) {
            prop_assert!(new_id("x", t, a) < new_id("x", t + dt, b));
        }

        #[test]
        fn generated_ids_are_acceptable_request_ids(t in 0u64..(1 << 47), e: [u8; 10]) {
            prop_assert!(is_acceptable_request_id(&new_id("req", t, e)));
        }
    }

    #[test]
    fn derived_entropy_is_stable_and_separates_its_parts() {
        assert_eq!(derived_entropy(&["grp_1", "ven_1"]), derived_entropy(&["grp_1", "ven_1"]));
        assert_ne!(derived_entropy(&["grp_1", "ven_1"]), derived_entropy(&["grp_1", "ven_2"]));
        assert_ne!(derived_entropy(&["ab", "c"]), derived_entropy(&["a", "bc"]));
    }

    #[test]
    fn header_injection_and_oversized_ids_are_rejected() {
        assert!(!is_acceptable_request_id("abc\r\nset-cookie: x"));
        assert!(!is_acceptable_request_id(""));
        assert!(!is_acceptable_request_id(&"a".repeat(MAX_REQUEST_ID_LEN + 1)));
        assert!(is_acceptable_request_id("2f1c-aa_b.c:1"));
    }
}
