//! A verifier that remembers the tokens it has accepted, for a long-lived holder such as a Worker
//! isolate: a client sends the same token with every request for up to 15 minutes, and checking its
//! Ed25519 signature again costs the gateway about 0.4 ms of CPU each time (`cargo xtask bench cart`).

use std::collections::BTreeMap;

use super::{AccessTokenVerifier, CLOCK_LEEWAY_SECS, TokenError, VerifiedIdentity};

/// Only tokens that passed every check are remembered, by their exact text, so another token, even
/// one differing in a single byte, is checked in full; expiry is checked on every use. The memory
/// goes with the verifier: a verifier built from a newer JWKS (which may have dropped a key) starts
/// empty.
#[derive(Debug)]
pub struct RememberingVerifier {
    verifier: AccessTokenVerifier,
    accepted: BTreeMap<String, VerifiedIdentity>,
    capacity: usize,
}

impl RememberingVerifier {
    /// Remembers at most `capacity` tokens (each about 1 KB with its identity).
    pub fn new(verifier: AccessTokenVerifier, capacity: usize) -> Self {
        Self { verifier, accepted: BTreeMap::new(), capacity }
    }

    /// What `AccessTokenVerifier::verify` answers for `token` at `now`.
    pub fn verify(&mut self, token: &str, now: i64) -> Result<VerifiedIdentity, TokenError> {
        if let Some(identity) = self.accepted.get(token) {
            if still_valid(identity, now) {
                return Ok(identity.clone());
            }
            let expires_at = identity.expires_at;
            self.accepted.remove(token);
            return Err(TokenError::Expired { expires_at, now });
        }
        let identity = self.verifier.verify(token, now)?;
        if self.capacity == 0 {
            return Ok(identity);
        }
        if self.accepted.len() >= self.capacity {
            self.accepted.retain(|_, known| still_valid(known, now));
        }
        if self.accepted.len() >= self.capacity {
            // All still valid: any one may go (it is verified again if it comes back).
            self.accepted.pop_first();
        }
        self.accepted.insert(token.to_owned(), identity.clone());
        Ok(identity)
    }

    /// How many tokens it remembers now.
    pub fn remembered(&self) -> usize {
        self.accepted.len()
    }
}

/// The expiry test of `AccessTokenVerifier::verify`; a token that passed its issue-time test
/// passes it forever after.
fn still_valid(identity: &VerifiedIdentity, now: i64) -> bool {
    now <= identity.expires_at.saturating_add(CLOCK_LEEWAY_SECS)
}

#[cfg(test)]
mod tests {
    use super::super::{ACCESS_TOKEN_TTL_SECS, AccessTokenIssuer, Identity, RoleGrant};
    use super::*;
    use crate::identity::jwks::Jwks;
    use proptest::prelude::*;

    const NOW: i64 = 1_795_000_000;

    fn issuer() -> AccessTokenIssuer {
        AccessTokenIssuer::from_seed([7; 32], "id-2026-01")
    }

    fn remembering(capacity: usize) -> RememberingVerifier {
        let verifier = AccessTokenVerifier::from_jwks(&Jwks::new(vec![issuer().jwk()])).unwrap();
        RememberingVerifier::new(verifier, capacity)
    }

    fn token(user: usize, issued_at: i64) -> String {
        let identity = Identity::new(format!("usr_{user:026}"), vec![RoleGrant::customer()]).unwrap();
        issuer().issue(&identity, issued_at, &format!("atk_{user}")).unwrap()
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let mut verifier = remembering(8);
        let token = token(1, NOW);
        assert_eq!(verifier.verify(&token, NOW).unwrap().user_id, format!("usr_{:026}", 1));
        assert_eq!(verifier.remembered(), 1);
        let expiry = NOW + ACCESS_TOKEN_TTL_SECS;
        assert!(verifier.verify(&token, expiry + CLOCK_LEEWAY_SECS).is_ok());
        assert_eq!(
            verifier.verify(&token, expiry + CLOCK_LEEWAY_SECS + 1),
            Err(TokenError::Expired { expires_at: expiry, now: expiry + CLOCK_LEEWAY_SECS + 1 })
        );
        assert_eq!(verifier.remembered(), 0);
    }

    #[test]
    fn a_remembered_token_with_another_signature_is_refused() {
        let mut verifier = remembering(8);
        let token = token(1, NOW);
        verifier.verify(&token, NOW).unwrap();
        let mut forged = token.clone();
        let last = if forged.ends_with('A') { 'B' } else { 'A' };
        forged.pop();
        forged.push(last);
        assert_eq!(verifier.verify(&forged, NOW), Err(TokenError::BadSignature));
        assert_eq!(verifier.remembered(), 1, "a refused token is not remembered");
    }

    #[test]
    fn nothing_is_remembered_with_no_capacity() {
        let mut verifier = remembering(0);
        assert!(verifier.verify(&token(1, NOW), NOW).is_ok());
        assert_eq!(verifier.remembered(), 0);
    }

    /// Six users' tokens, each issued at three times half a lifetime apart (signing is slow
    /// unoptimised, so once).
    fn tokens() -> &'static Vec<Vec<String>> {
        static TOKENS: std::sync::OnceLock<Vec<Vec<String>>> = std::sync::OnceLock::new();
        TOKENS.get_or_init(|| {
            (0..6)
                .map(|user| (0..3).map(|half| token(user, NOW + half * ACCESS_TOKEN_TTL_SECS / 2)).collect())
                .collect()
        })
    }

    proptest! {
        /// Whatever the order of use, the answers are the plain verifier's, and memory stays bounded.
        #[test]
        fn answers_as_the_plain_verifier_does(
            uses in prop::collection::vec((0usize..6, 0usize..3, 0i64..ACCESS_TOKEN_TTL_SECS), 1..30),
            capacity in 0usize..4,
        ) {
            let plain = AccessTokenVerifier::from_jwks(&Jwks::new(vec![issuer().jwk()])).unwrap();
            let mut verifier = remembering(capacity);
            let mut now = NOW;
            for (user, issued, wait) in uses {
                now += wait;
                let token = &tokens()[user][issued];
                prop_assert_eq!(verifier.verify(token, now), plain.verify(token, now));
                prop_assert!(verifier.remembered() <= capacity);
            }
        }
    }
}
