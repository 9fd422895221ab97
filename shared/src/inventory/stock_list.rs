//! `GET /api/v1/vendor/stock?cursor=&limit=`: a vendor's stock rows in (variant, location) order,
//! one keyset page at a time (DESIGN §8).
//!
//! The cursor is the last row's key, base64url-encoded and not signed: the query always filters by
//! the vendor from the token, so a forged cursor can only move within the caller's own rows.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::ids::LocationId;
use crate::catalog::VariantId;
use crate::catalog::validation::FieldErrors;

pub const DEFAULT_LIMIT: u16 = 50;
pub const MAX_LIMIT: u16 = 200;
/// Two prefixed ULIDs and a space, encoded, are about 80 characters.
const MAX_CURSOR_CHARS: usize = 128;

/// Where a page ended: rows after this key come next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockCursor {
    pub variant_id: VariantId,
    pub location_id: LocationId,
}

impl StockCursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{} {}", self.variant_id, self.location_id))
    }

    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > MAX_CURSOR_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (variant, location) = text.split_once(' ')?;
        Some(Self { variant_id: VariantId::parse(variant).ok()?, location_id: LocationId::parse(location).ok()? })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockListQuery {
    pub limit: u16,
    pub after: Option<StockCursor>,
}

impl StockListQuery {
    /// Unknown parameters are ignored; a bad `limit` or `cursor` is `VAL_3002` naming it.
    pub fn parse(query: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut list = Self { limit: DEFAULT_LIMIT, after: None };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "limit" => match value.parse::<u16>() {
                    Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => list.limit = limit,
                    _ => errors.push("limit", "out_of_range"),
                },
                "cursor" if !value.is_empty() => match StockCursor::decode(&value) {
                    Some(cursor) => list.after = Some(cursor),
                    None => errors.push("cursor", "invalid"),
                },
                _ => {}
            }
        }
        errors.into_result(list)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn defaults_bounds_and_bad_cursors() {
        assert_eq!(StockListQuery::parse("").unwrap(), StockListQuery { limit: DEFAULT_LIMIT, after: None });
        assert_eq!(StockListQuery::parse("limit=5&cursor=").unwrap().limit, 5);
        for (query, field) in
            [("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"), ("cursor=%%%", "cursor")]
        {
            assert!(StockListQuery::parse(query).unwrap_err().reason_for(field).is_some(), "{query}");
        }
        let not_ids = URL_SAFE_NO_PAD.encode("var_1 loc_1");
        assert!(StockListQuery::parse(&format!("cursor={not_ids}")).is_err());
    }

    proptest! {
        #[test]
        fn a_cursor_reads_back_as_the_key_it_was_made_from(variant in 0u128..(1 << 100), location in 0u128..(1 << 100)) {
            let cursor = StockCursor {
                variant_id: VariantId::generate((variant >> 80) as u64, variant.to_be_bytes()[6..].try_into().unwrap()),
                location_id: LocationId::generate((location >> 80) as u64, location.to_be_bytes()[6..].try_into().unwrap()),
            };
            let query = format!("cursor={}&limit=10", cursor.encode());
            prop_assert_eq!(StockListQuery::parse(&query).unwrap().after, Some(cursor));
        }
    }
}
