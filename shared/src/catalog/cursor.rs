//! Keyset pagination cursors (DESIGN §8 `?cursor=`): where the last page ended — its sort value
//! and product id — as opaque base64url, signed so a client can neither forge a position nor reuse
//! a cursor with other filters or another sort (both would silently skip or repeat products).
//!
//! Layout before base64url: version (1) | sort (1) | query fingerprint (8) | sort value (8) |
//! product id (ASCII) | HMAC-SHA256 tag over all of that, truncated (16).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::ids::ProductId;
use super::list_query::Sort;
use super::validation::Reason;

type HmacSha256 = Hmac<Sha256>;

/// RFC 2104 §3: keys shorter than the hash output (32 bytes for SHA-256) weaken the MAC.
pub const MIN_KEY_BYTES: usize = 32;
/// RFC 2104 §5: a truncated tag keeps at least half the hash output (and at least 80 bits).
const TAG_BYTES: usize = 16;
/// Longer than any cursor we issue (about 90 characters); refused before decoding.
pub const MAX_CURSOR_CHARS: usize = 256;
const VERSION: u8 = 1;
const HEADER_BYTES: usize = 1 + 1 + 8 + 8;

/// The sort value of the last product on a page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortKey {
    /// `ts_rank_cd`'s `real`; ordered by rank descending, then id ascending.
    Relevance(f32),
    /// `price_min_minor`, ascending, then id ascending.
    PriceAsc(i64),
    /// `price_min_minor`, descending, then id descending.
    PriceDesc(i64),
    /// `created_at` in microseconds since the Unix epoch (Postgres' precision), descending, then id descending.
    Newest(i64),
    /// `list_query::popularity_score`, descending, then id descending.
    Popular(i64),
    /// The shop's distance from `near` in whole metres, ascending, then id ascending.
    Nearest(i64),
}

impl SortKey {
    pub fn newest(created_at: DateTime<Utc>) -> Self {
        SortKey::Newest(created_at.timestamp_micros())
    }

    pub fn sort(self) -> Sort {
        match self {
            SortKey::Relevance(_) => Sort::Relevance,
            SortKey::PriceAsc(_) => Sort::PriceAsc,
            SortKey::PriceDesc(_) => Sort::PriceDesc,
            SortKey::Newest(_) => Sort::Newest,
            SortKey::Popular(_) => Sort::Popular,
            SortKey::Nearest(_) => Sort::Nearest,
        }
    }

    fn to_bits(self) -> u64 {
        match self {
            SortKey::Relevance(rank) => u64::from(rank.to_bits()),
            SortKey::PriceAsc(value)
            | SortKey::PriceDesc(value)
            | SortKey::Newest(value)
            | SortKey::Popular(value)
            | SortKey::Nearest(value) => u64::from_be_bytes(value.to_be_bytes()),
        }
    }

    fn from_bits(sort: Sort, bits: u64) -> Option<Self> {
        let signed = i64::from_be_bytes(bits.to_be_bytes());
        match sort {
            Sort::Relevance => {
                let rank = f32::from_bits(u32::try_from(bits).ok()?);
                rank.is_finite().then_some(SortKey::Relevance(rank))
            }
            Sort::PriceAsc => Some(SortKey::PriceAsc(signed)),
            Sort::PriceDesc => Some(SortKey::PriceDesc(signed)),
            Sort::Newest => Some(SortKey::Newest(signed)),
            Sort::Popular => Some(SortKey::Popular(signed)),
            Sort::Nearest => Some(SortKey::Nearest(signed)),
        }
    }
}

/// Where a page ended: the next page starts strictly after this product in the sort order.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub key: SortKey,
    pub id: ProductId,
}

impl Position {
    pub fn price_minor(&self) -> Option<i64> {
        match self.key {
            SortKey::PriceAsc(price) | SortKey::PriceDesc(price) => Some(price),
            _ => None,
        }
    }

    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        match self.key {
            SortKey::Newest(micros) => DateTime::from_timestamp_micros(micros),
            _ => None,
        }
    }

    pub fn rank(&self) -> Option<f32> {
        match self.key {
            SortKey::Relevance(rank) => Some(rank),
            _ => None,
        }
    }
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum CursorError {
    #[error("the cursor is not one we issued")]
    Malformed,
    #[error("the cursor's signature does not verify")]
    Forged,
    #[error("the cursor belongs to another search, filter or sort")]
    OtherQuery,
}

/// The client learns only that the cursor is unusable (and starts over); logs get the detail.
impl Reason for CursorError {
    fn reason(&self) -> &'static str {
        "invalid"
    }
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("the cursor key must be at least {MIN_KEY_BYTES} bytes")]
pub struct CursorKeyError;

/// Signs and verifies cursors. Every instance that serves one catalog must share the key (a Worker
/// secret); rotating it invalidates outstanding cursors, which clients survive by starting over.
#[derive(Clone)]
pub struct CursorKey(HmacSha256);

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(…)")
    }
}

impl CursorKey {
    pub fn new(secret: &[u8]) -> Result<Self, CursorKeyError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(CursorKeyError);
        }
        HmacSha256::new_from_slice(secret).map(Self).map_err(|_| CursorKeyError)
    }

    /// `fingerprint` names the query the cursor belongs to (`ListQuery::fingerprint`).
    pub fn encode(&self, fingerprint: u64, position: &Position) -> String {
        let mut bytes = Vec::with_capacity(HEADER_BYTES + position.id.as_str().len() + TAG_BYTES);
        bytes.push(VERSION);
        bytes.push(sort_byte(position.key.sort()));
        bytes.extend_from_slice(&fingerprint.to_be_bytes());
        bytes.extend_from_slice(&position.key.to_bits().to_be_bytes());
        bytes.extend_from_slice(position.id.as_str().as_bytes());
        let tag = self.mac(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position, if the cursor is ours, untouched, and for this sort and query.
    pub fn decode(&self, cursor: &str, sort: Sort, fingerprint: u64) -> Result<Position, CursorError> {
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(CursorError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| CursorError::Malformed)?;
        if bytes.len() <= HEADER_BYTES + TAG_BYTES {
            return Err(CursorError::Malformed);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        self.mac(payload).verify_truncated_left(tag).map_err(|_| CursorError::Forged)?;
        let (header, id) = payload.split_at(HEADER_BYTES);
        if header[0] != VERSION {
            return Err(CursorError::Malformed);
        }
        if header[1] != sort_byte(sort) || read_u64(&header[2..10]) != Some(fingerprint) {
            return Err(CursorError::OtherQuery);
        }
        let key =
            read_u64(&header[10..18]).and_then(|bits| SortKey::from_bits(sort, bits)).ok_or(CursorError::Malformed)?;
        let id = std::str::from_utf8(id).ok().and_then(|id| ProductId::parse(id).ok()).ok_or(CursorError::Malformed)?;
        Ok(Position { key, id })
    }

    /// The keyed state is computed once in `new`; each use starts from a copy.
    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(payload);
        mac
    }
}

fn sort_byte(sort: Sort) -> u8 {
    match sort {
        Sort::Relevance => 1,
        Sort::PriceAsc => 2,
        Sort::PriceDesc => 3,
        Sort::Newest => 4,
        Sort::Popular => 5,
        Sort::Nearest => 6,
    }
}

/// A query's fingerprint for the cursor header: the first 8 bytes of SHA-256 of a text naming
/// what the results are (never the page), so a cursor only continues the list that issued it.
pub fn query_fingerprint(names_the_results: &str) -> u64 {
    let digest = Sha256::digest(names_the_results.as_bytes());
    digest.get(..8).and_then(read_u64).unwrap_or_default()
}

fn read_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> CursorKey {
        CursorKey::new(&[7; 32]).unwrap()
    }

    fn product(n: u8) -> ProductId {
        ProductId::generate(1_763_700_000_000, [n; 10])
    }

    #[test]
    fn keys_must_be_long_enough() {
        assert_eq!(CursorKey::new(&[1; 31]).unwrap_err(), CursorKeyError);
        assert_eq!(format!("{:?}", key()), "CursorKey(…)");
    }

    #[test]
    fn a_cursor_is_short_url_safe_and_opaque() {
        let cursor = key().encode(42, &Position { key: SortKey::PriceAsc(1_999), id: product(1) });
        assert!(cursor.len() < 100, "{}", cursor.len());
        assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(!cursor.contains("prod_"));
    }

    #[test]
    fn refuses_other_sorts_queries_and_keys() {
        let position = Position { key: SortKey::Newest(1_763_700_000_000_123), id: product(2) };
        let cursor = key().encode(42, &position);
        assert_eq!(key().decode(&cursor, Sort::Newest, 42), Ok(position.clone()));
        assert_eq!(key().decode(&cursor, Sort::PriceAsc, 42), Err(CursorError::OtherQuery));
        assert_eq!(key().decode(&cursor, Sort::Newest, 43), Err(CursorError::OtherQuery));
        let other = CursorKey::new(&[8; 32]).unwrap();
        assert_eq!(other.decode(&cursor, Sort::Newest, 42), Err(CursorError::Forged));
        assert_eq!(key().decode("", Sort::Newest, 42), Err(CursorError::Malformed));
        assert_eq!(key().decode("not base64!", Sort::Newest, 42), Err(CursorError::Malformed));
        assert_eq!(key().decode(&"A".repeat(MAX_CURSOR_CHARS + 1), Sort::Newest, 42), Err(CursorError::Malformed));
        assert_eq!(CursorError::Forged.reason(), "invalid");
    }

    #[test]
    fn newest_keeps_microseconds() {
        let created_at = DateTime::from_timestamp_micros(1_763_700_000_123_456).unwrap();
        let position = Position { key: SortKey::newest(created_at), id: product(3) };
        let decoded = key().decode(&key().encode(1, &position), Sort::Newest, 1).unwrap();
        assert_eq!(decoded.created_at(), Some(created_at));
        assert_eq!(decoded.price_minor(), None);
    }

    fn any_key() -> impl Strategy<Value = SortKey> {
        prop_oneof![
            (-1.0e6f32..1.0e6).prop_map(SortKey::Relevance),
            any::<i64>().prop_map(SortKey::PriceAsc),
            any::<i64>().prop_map(SortKey::PriceDesc),
            any::<i64>().prop_map(SortKey::Newest),
            any::<i64>().prop_map(SortKey::Popular),
            any::<i64>().prop_map(SortKey::Nearest),
        ]
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(sort_key in any_key(), fingerprint: u64, t in 0u64..(1 << 48), entropy: [u8; 10]) {
            let position = Position { key: sort_key, id: ProductId::generate(t, entropy) };
            let cursor = key().encode(fingerprint, &position);
            prop_assert!(cursor.len() <= MAX_CURSOR_CHARS);
            prop_assert_eq!(key().decode(&cursor, sort_key.sort(), fingerprint), Ok(position));
        }

        #[test]
        fn any_changed_byte_is_detected(sort_key in any_key(), fingerprint: u64, index: prop::sample::Index, flip in 1u8..=255) {
            let cursor = key().encode(fingerprint, &Position { key: sort_key, id: product(4) });
            let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
            let at = index.index(bytes.len());
            bytes[at] ^= flip;
            let tampered = URL_SAFE_NO_PAD.encode(bytes);
            prop_assert!(key().decode(&tampered, sort_key.sort(), fingerprint).is_err());
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = key().decode(&text, Sort::Newest, 0);
        }
    }
}
