//! Refresh tokens (DESIGN §6): opaque, stored hashed, rotated on every use. Presenting a token that
//! was already rotated means two parties hold it (one of them a thief), so its whole family — every
//! token descended from one login — is revoked and both must sign in again (OAuth 2.0 Security
//! BCP, RFC 9700 §4.14.2).
//!
//! The decision is pure; the identity Worker applies it atomically with
//! `identity.rotate_refresh_token` (migration 0004), which makes the same choices in SQL.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::opaque::{self, SECRET_BYTES};
use crate::api::{ApiError, ErrorCode};
use crate::ids::{Entropy, new_id};

pub const REFRESH_TOKEN_PREFIX: &str = "rt_";
/// Family ids are `rtf_<ULID>`.
pub const FAMILY_ID_PREFIX: &str = "rtf";
/// What `POST /api/v1/auth/login` and `/refresh` answer: a new access token, and the refresh token
/// that replaces the one presented (the storefront keeps both in cookies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: String,
}

impl TokenPair {
    pub fn bearer(access_token: String, refresh_token: String, expires_in: i64) -> Self {
        TokenPair { access_token, refresh_token, expires_in, token_type: "Bearer".to_owned() }
    }
}

/// 30 days of inactivity signs a user out; each rotation starts a new 30 days.
pub const REFRESH_TOKEN_TTL_SECS: i64 = 30 * 24 * 60 * 60;

/// The secret handed to the client once; only `hash()` is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// `random` must come from a CSPRNG (`crypto.getRandomValues` in Workers).
    pub fn from_random(random: [u8; SECRET_BYTES]) -> Self {
        Self(opaque::encode(REFRESH_TOKEN_PREFIX, &random))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `token_hash` to store.
    pub fn hash(&self) -> String {
        opaque::sha256_hex(&self.0)
    }
}

/// Hand-written so the token never reaches a log.
impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(…)")
    }
}

/// The hash to look a presented token up by, or `None` when it cannot be one of ours (→ `Unknown`
/// without a database round trip).
pub fn hash_presented(presented: &str) -> Option<String> {
    opaque::has_shape(presented, REFRESH_TOKEN_PREFIX).then(|| opaque::sha256_hex(presented))
}

/// A new family, at login.
pub fn new_family_id(unix_ms: u64, entropy: Entropy) -> String {
    new_id(FAMILY_ID_PREFIX, unix_ms, entropy)
}

/// When a token issued at `now` stops working.
pub fn expires_at(now: i64) -> i64 {
    now.saturating_add(REFRESH_TOKEN_TTL_SECS)
}

/// `identity.refresh_tokens.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshStatus {
    /// The family's current token.
    Active,
    /// Already exchanged for a newer one; presenting it again is reuse.
    Rotated,
    /// Logged out, or its family was revoked.
    Revoked,
}

impl RefreshStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshStatus::Active => "active",
            RefreshStatus::Rotated => "rotated",
            RefreshStatus::Revoked => "revoked",
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown refresh token status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for RefreshStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [RefreshStatus::Active, RefreshStatus::Rotated, RefreshStatus::Revoked]
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

/// The stored row for a presented token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub family_id: String,
    pub user_id: String,
    pub status: RefreshStatus,
    /// Unix seconds; the token works while `now < expires_at`.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationDecision {
    /// Mark the token rotated, store a new active one in the same family, issue both tokens.
    Rotate {
        family_id: String,
        user_id: String,
    },
    /// Revoke every token in the family; the caller gets `AUTH_1010`.
    ReuseDetected {
        family_id: String,
    },
    Expired,
    Revoked,
    Unknown,
}

impl RotationDecision {
    /// What a refresh request answers when it is not `Rotate`. One code for every failure: telling
    /// a thief that reuse was detected helps only the thief.
    pub fn to_api_error(&self) -> Option<ApiError> {
        match self {
            RotationDecision::Rotate { .. } => None,
            _ => Some(ApiError::new(ErrorCode::RefreshTokenInvalid, "the refresh token is invalid; sign in again")),
        }
    }
}

/// What to do with a presented token, given its stored record (`None` if no row has its hash).
/// Reuse is checked before expiry: a rotated token is evidence of theft however old it is.
pub fn decide_rotation(record: Option<&RefreshRecord>, now: i64) -> RotationDecision {
    let Some(record) = record else {
        return RotationDecision::Unknown;
    };
    let decision = decide(record.status, now >= record.expires_at, &record.family_id);
    match decision {
        RotationDecision::Rotate { family_id, .. } => {
            RotationDecision::Rotate { family_id, user_id: record.user_id.clone() }
        }
        other => other,
    }
}

/// The same decision from what `identity.rotate_refresh_token` returns (`prior_status`, `expired`,
/// `family_id`); `user_id` is left empty for the caller, who has it from the same row.
pub fn decide(status: RefreshStatus, expired: bool, family_id: &str) -> RotationDecision {
    match status {
        RefreshStatus::Revoked => RotationDecision::Revoked,
        RefreshStatus::Rotated => RotationDecision::ReuseDetected { family_id: family_id.to_owned() },
        RefreshStatus::Active if expired => RotationDecision::Expired,
        RefreshStatus::Active => RotationDecision::Rotate { family_id: family_id.to_owned(), user_id: String::new() },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    const NOW: i64 = 1_795_000_000;

    fn record(status: RefreshStatus, expires_at: i64) -> RefreshRecord {
        RefreshRecord { family_id: "rtf_1".into(), user_id: "usr_1".into(), status, expires_at }
    }

    #[test]
    fn token_is_prefixed_base64url_and_stored_as_sha256_hex() {
        let token = RefreshToken::from_random([0; 32]);
        assert_eq!(token.as_str(), format!("rt_{}", "A".repeat(43)));
        assert_eq!(token.hash().len(), 64);
        assert_eq!(hash_presented(token.as_str()), Some(token.hash()));
        assert_eq!(hash_presented("rt_short"), None);
        assert_eq!(hash_presented(&format!("ott_{}", "A".repeat(43))), None);
        assert_eq!(format!("{token:?}"), "RefreshToken(…)");
    }

    #[test]
    fn family_ids_are_prefixed_ulids() {
        let id = new_family_id(1_795_000_000_000, [1; 10]);
        assert!(id.starts_with("rtf_") && id.len() == 30, "{id}");
    }

    #[test]
    fn decisions_for_each_state() {
        let rotate = RotationDecision::Rotate { family_id: "rtf_1".into(), user_id: "usr_1".into() };
        assert_eq!(decide_rotation(None, NOW), RotationDecision::Unknown);
        assert_eq!(decide_rotation(Some(&record(RefreshStatus::Active, NOW + 1)), NOW), rotate);
        assert_eq!(decide_rotation(Some(&record(RefreshStatus::Active, NOW)), NOW), RotationDecision::Expired);
        assert_eq!(
            decide_rotation(Some(&record(RefreshStatus::Rotated, NOW + 1)), NOW),
            RotationDecision::ReuseDetected { family_id: "rtf_1".into() }
        );
        assert_eq!(
            decide_rotation(Some(&record(RefreshStatus::Rotated, NOW - 1)), NOW),
            RotationDecision::ReuseDetected { family_id: "rtf_1".into() }
        );
        assert_eq!(decide_rotation(Some(&record(RefreshStatus::Revoked, NOW + 1)), NOW), RotationDecision::Revoked);
    }

    #[test]
    fn every_failure_is_the_same_api_error() {
        assert!(decide(RefreshStatus::Active, false, "f").to_api_error().is_none());
        for decision in [RotationDecision::Unknown, RotationDecision::Expired, RotationDecision::Revoked] {
            assert_eq!(decision.to_api_error().unwrap().code, ErrorCode::RefreshTokenInvalid);
        }
        let reuse = decide(RefreshStatus::Rotated, true, "f").to_api_error().unwrap();
        assert_eq!((reuse.code, reuse.status()), (ErrorCode::RefreshTokenInvalid, 401));
    }

    #[test]
    fn statuses_match_the_database_names() {
        for status in [RefreshStatus::Active, RefreshStatus::Rotated, RefreshStatus::Revoked] {
            assert_eq!(status.as_str().parse(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), serde_json::json!(status.as_str()));
        }
        assert!("used".parse::<RefreshStatus>().is_err());
    }

    /// A store applying decisions the way `identity.rotate_refresh_token` does.
    #[derive(Default)]
    struct Store {
        rows: HashMap<String, RefreshRecord>,
        minted: u32,
    }

    impl Store {
        fn mint(&mut self, family_id: &str, now: i64) -> RefreshToken {
            self.minted += 1;
            let mut random = [0u8; 32];
            random[..4].copy_from_slice(&self.minted.to_be_bytes());
            let token = RefreshToken::from_random(random);
            let row = RefreshRecord {
                family_id: family_id.into(),
                user_id: "usr_1".into(),
                status: RefreshStatus::Active,
                expires_at: expires_at(now),
            };
            self.rows.insert(token.hash(), row);
            token
        }

        fn present(&mut self, token: &str, now: i64) -> (RotationDecision, Option<RefreshToken>) {
            let hash = hash_presented(token).unwrap();
            let decision = decide_rotation(self.rows.get(&hash), now);
            let mut next = None;
            match &decision {
                RotationDecision::Rotate { family_id, .. } => {
                    let family_id = family_id.clone();
                    if let Some(row) = self.rows.get_mut(&hash) {
                        row.status = RefreshStatus::Rotated;
                    }
                    next = Some(self.mint(&family_id, now));
                }
                RotationDecision::ReuseDetected { family_id } => {
                    for row in self.rows.values_mut().filter(|row| &row.family_id == family_id) {
                        row.status = RefreshStatus::Revoked;
                    }
                }
                _ => {}
            }
            (decision, next)
        }

        fn active_in(&self, family_id: &str) -> usize {
            self.rows.values().filter(|row| row.family_id == family_id && row.status == RefreshStatus::Active).count()
        }
    }

    #[test]
    fn replaying_an_old_token_revokes_the_family_including_the_newest() {
        let mut store = Store::default();
        let first = store.mint("rtf_a", NOW);
        let (_, second) = store.present(first.as_str(), NOW + 10);
        let second = second.unwrap();
        let (decision, _) = store.present(first.as_str(), NOW + 20);
        assert_eq!(decision, RotationDecision::ReuseDetected { family_id: "rtf_a".into() });
        assert_eq!(store.present(second.as_str(), NOW + 30).0, RotationDecision::Revoked);
        assert_eq!(store.active_in("rtf_a"), 0);
    }

    proptest! {
        /// Random sequences of presentations across two families: the second presentation of any
        /// token is never honoured, a family never has two active tokens, and once reuse is seen
        /// the family is dead.
        #[test]
        fn rotation_state_machine(picks in prop::collection::vec((0usize..64, 0i64..3_000_000), 1..60)) {
            let mut store = Store::default();
            let mut issued: Vec<(String, String)> =
                ["rtf_a", "rtf_b"].iter().map(|f| (store.mint(f, NOW).as_str().to_owned(), (*f).to_owned())).collect();
            let mut presented_before: HashMap<String, RotationDecision> = HashMap::new();
            let mut dead_families: Vec<String> = Vec::new();
            let mut now = NOW;
            for (pick, advance) in picks {
                now += advance;
                let (token, family) = issued[pick % issued.len()].clone();
                let (decision, next) = store.present(&token, now);
                if dead_families.contains(&family) {
                    prop_assert_eq!(&decision, &RotationDecision::Revoked);
                }
                if let Some(RotationDecision::Rotate { .. }) = presented_before.get(&token) {
                    let refused = matches!(decision, RotationDecision::ReuseDetected { .. } | RotationDecision::Revoked);
                    prop_assert!(refused, "second presentation gave {:?}", decision);
                }
                if let RotationDecision::ReuseDetected { family_id } = &decision {
                    prop_assert_eq!(family_id, &family);
                    dead_families.push(family.clone());
                }
                if let Some(next) = next {
                    issued.push((next.as_str().to_owned(), family.clone()));
                }
                prop_assert!(store.active_in(&family) <= 1);
                presented_before.entry(token).or_insert(decision);
            }
        }

        #[test]
        fn any_token_presented_twice_in_a_row_is_reuse(random: [u8; 32], now in 0i64..4_000_000_000) {
            let mut store = Store::default();
            let token = RefreshToken::from_random(random);
            store.rows.insert(token.hash(), RefreshRecord {
                family_id: "rtf_x".into(), user_id: "usr_1".into(), status: RefreshStatus::Active, expires_at: expires_at(now),
            });
            let first = store.present(token.as_str(), now).0;
            prop_assert!(matches!(first, RotationDecision::Rotate { .. }), "first presentation gave {:?}", first);
            prop_assert_eq!(store.present(token.as_str(), now).0, RotationDecision::ReuseDetected { family_id: "rtf_x".into() });
        }
    }
}
