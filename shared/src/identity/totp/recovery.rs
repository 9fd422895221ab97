//! Recovery codes: ten single-use codes like `7k3m-q9xd-2hfp`, shown once at 2FA enrolment and
//! stored as SHA-256 hashes (`identity.recovery_codes`). Each is 12 characters from a 32-letter
//! alphabet (60 bits), far beyond what the 2FA rate limit lets anyone guess.

use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::identity::opaque::sha256_hex;

pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters per code, printed in groups of four.
pub const RECOVERY_CODE_CHARS: usize = 12;
const GROUP: usize = 4;
/// One random byte per character.
pub const RECOVERY_RANDOM_BYTES: usize = RECOVERY_CODE_COUNT * RECOVERY_CODE_CHARS;
/// Crockford's base32 alphabet in lower case: no `i`, `l`, `o`, `u`, so codes read back unambiguously.
/// 32 letters divide 256, so `byte % 32` is unbiased.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Ten formatted codes from `random` (CSPRNG bytes), to show the user once.
pub fn generate(random: &[u8; RECOVERY_RANDOM_BYTES]) -> Vec<String> {
    random
        .chunks_exact(RECOVERY_CODE_CHARS)
        .map(|chunk| {
            let chars: Vec<char> = chunk.iter().map(|byte| char::from(ALPHABET[usize::from(byte % 32)])).collect();
            chars.chunks(GROUP).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// The stored hash of a code, or `None` if it is not shaped like one.
pub fn hash(code: &str) -> Option<String> {
    normalise(code).map(|code| sha256_hex(&code))
}

/// Finds which stored hash `input` matches, comparing against every entry in constant time, and
/// returns its index for the caller to mark used (or delete). Used codes must not be passed in.
pub fn verify(input: &str, stored_hashes: &[impl AsRef<str>]) -> Option<usize> {
    let candidate = hash(input)?;
    let mut found = subtle::Choice::from(0);
    let mut index = 0u64;
    for (position, stored) in stored_hashes.iter().enumerate() {
        let equal = stored.as_ref().as_bytes().ct_eq(candidate.as_bytes());
        index = u64::conditional_select(&index, &(position as u64), equal);
        found |= equal;
    }
    bool::from(found).then(|| usize::try_from(index).ok()).flatten()
}

/// Lower case without dashes or spaces; `i`/`l` read as `1` and `o` as `0`, as Crockford intends.
fn normalise(code: &str) -> Option<String> {
    let normalised: String = code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect();
    let valid = normalised.len() == RECOVERY_CODE_CHARS && normalised.bytes().all(|b| ALPHABET.contains(&b));
    valid.then_some(normalised)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Deterministic stand-in for CSPRNG bytes.
    fn random() -> [u8; RECOVERY_RANDOM_BYTES] {
        use sha2::{Digest, Sha256};
        std::array::from_fn(|i| Sha256::digest(i.to_be_bytes())[0])
    }

    #[test]
    fn generates_ten_grouped_codes() {
        let codes = generate(&random());
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        let mut distinct = codes.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), RECOVERY_CODE_COUNT);
        for code in &codes {
            assert_eq!(code.len(), 14, "{code}");
            assert_eq!(code.matches('-').count(), 2);
        }
        assert_eq!(generate(&[0; RECOVERY_RANDOM_BYTES])[0], "0000-0000-0000");
        assert_eq!(generate(&[31; RECOVERY_RANDOM_BYTES])[0], "zzzz-zzzz-zzzz");
    }

    #[test]
    fn verify_finds_the_code_whatever_its_case_and_dashes() {
        let codes = generate(&random());
        let hashes: Vec<String> = codes.iter().map(|code| hash(code).unwrap()).collect();
        let typed = codes[3].to_uppercase().replace('-', " ");
        assert_eq!(verify(&typed, &hashes), Some(3));
        assert_eq!(verify(&codes[3].replace('-', ""), &hashes), Some(3));
        assert_eq!(verify("0000-0000-0000", &hashes), None);
        assert_eq!(verify("short", &hashes), None);
    }

    #[test]
    fn confusable_letters_read_as_digits() {
        let stored = [hash("1010-0000-0000").unwrap()];
        assert_eq!(verify("IoLO-oooo-OOOO", &stored), Some(0));
        assert_eq!(hash("uuuu-uuuu-uuuu"), None);
    }

    #[test]
    fn consumed_codes_no_longer_match() {
        let codes = generate(&random());
        let mut hashes: Vec<String> = codes.iter().map(|code| hash(code).unwrap()).collect();
        let index = verify(&codes[0], &hashes).unwrap();
        hashes.remove(index);
        assert_eq!(verify(&codes[0], &hashes), None);
        assert_eq!(verify(&codes[1], &hashes), Some(0));
    }

    proptest! {
        #[test]
        fn every_generated_code_verifies_to_its_own_index(bytes in prop::collection::vec(any::<u8>(), RECOVERY_RANDOM_BYTES)) {
            let random: [u8; RECOVERY_RANDOM_BYTES] = bytes.try_into().unwrap();
            let codes = generate(&random);
            let hashes: Vec<String> = codes.iter().map(|code| hash(code).unwrap()).collect();
            for (index, code) in codes.iter().enumerate() {
                // Duplicates (60-bit collisions) would match the later copy; vanishingly rare.
                let first = codes.iter().position(|other| other == code).unwrap();
                let last = codes.iter().rposition(|other| other == code).unwrap();
                let found = verify(code, &hashes).unwrap();
                prop_assert!(found == index || (first..=last).contains(&found));
            }
        }
    }
}
