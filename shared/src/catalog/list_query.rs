//! The query strings of `GET /api/v1/products`, `/search` and `/search/suggest`: parsed once into
//! typed filters, with every invalid parameter named in one `VAL_3002`. Unknown parameters
//! (`utm_source`) are ignored; empty ones (an HTML form's blank field) count as absent.
//!
//! `canonical()` writes a query back in one fixed form, so equal queries share a cache entry, and
//! `fingerprint()` ties a pagination cursor to the query that issued it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::cursor::{CursorError, CursorKey, MAX_CURSOR_CHARS, Position, query_fingerprint};
use super::geo::{DEFAULT_RADIUS_KM, GeoPoint, Near, parse_radius_km};
use super::ids::{CategoryId, VendorId};
use super::rating::Rating;
use super::search::SearchQuery;
use super::slug::Slug;
use super::validation::{FieldErrors, Reason};

/// 24 fills grids of 2, 3, 4 and 6 columns.
pub const DEFAULT_LIMIT: u8 = 24;
/// Bounds one page's query and response (DESIGN §10 budgets are per request).
pub const MAX_LIMIT: u8 = 100;
/// A suggestion dropdown shows a handful.
pub const DEFAULT_SUGGEST_LIMIT: u8 = 8;
pub const MAX_SUGGEST_LIMIT: u8 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best full-text match first; needs a search (`q`), otherwise it means `newest`.
    Relevance,
    /// Cheapest variant's price, low to high.
    PriceAsc,
    /// Cheapest variant's price, high to low.
    PriceDesc,
    Newest,
    /// Most rated first, then best rated (`popularity_score`): how many shoppers bought and
    /// judged it is the one popularity signal the catalog owns.
    Popular,
    /// Shops nearest to `near` first (local search); needs `near`, otherwise it means `newest`.
    Nearest,
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("sort must be relevance, price_asc, price_desc, newest, popular or nearest")]
pub struct SortError;

impl Reason for SortError {
    fn reason(&self) -> &'static str {
        "invalid"
    }
}

impl Sort {
    pub const ALL: [Sort; 6] =
        [Sort::Relevance, Sort::PriceAsc, Sort::PriceDesc, Sort::Newest, Sort::Popular, Sort::Nearest];

    pub fn parse(input: &str) -> Result<Self, SortError> {
        Self::ALL.into_iter().find(|sort| sort.as_str() == input).ok_or(SortError)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::PriceAsc => "price_asc",
            Sort::PriceDesc => "price_desc",
            Sort::Newest => "newest",
            Sort::Popular => "popular",
            Sort::Nearest => "nearest",
        }
    }

    /// What a list sorts by when the client does not say.
    pub fn default_for(has_search: bool) -> Self {
        if has_search { Sort::Relevance } else { Sort::Newest }
    }
}

/// Ratings weigh a thousand times the average's hundredths (at most 500), so the count decides
/// and the average only breaks ties; one integer keeps the keyset cursor a single sort value.
pub const POPULARITY_COUNT_WEIGHT: i64 = 1_000;

/// The `popular` sort's value: rating count first, then the average in hundredths. The catalog's
/// SQL computes the same expression (`workers/catalog/src/store.rs`).
pub fn popularity_score(rating_count: u32, average_hundredths: Option<u16>) -> i64 {
    i64::from(rating_count) * POPULARITY_COUNT_WEIGHT + i64::from(average_hundredths.unwrap_or(0))
}

/// Why a query parameter was refused: the `reason` in `details.fields` (`invalid`,
/// `wrong_prefix`, `out_of_range`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamError(pub &'static str);

impl Reason for ParamError {
    fn reason(&self) -> &'static str {
        self.0
    }
}

/// `category=cat_01J…` or `category=cookware`: an id, or the slug storefront URLs use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CategoryRef {
    Id(CategoryId),
    Slug(Slug),
}

impl CategoryRef {
    pub fn parse(input: &str) -> Result<Self, ParamError> {
        if input.starts_with("cat_") {
            CategoryId::parse(input).map(CategoryRef::Id).map_err(|error| ParamError(error.reason()))
        } else {
            Slug::parse(input).map(CategoryRef::Slug).map_err(|error| ParamError(error.reason()))
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            CategoryRef::Id(id) => id.as_str(),
            CategoryRef::Slug(slug) => slug.as_str(),
        }
    }
}

/// `vendor=ven_01J…` or `vendor=north-ceramics`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VendorRef {
    Id(VendorId),
    Slug(Slug),
}

impl VendorRef {
    pub fn parse(input: &str) -> Result<Self, ParamError> {
        if input.starts_with("ven_") {
            VendorId::parse(input).map(VendorRef::Id).map_err(|error| ParamError(error.reason()))
        } else {
            Slug::parse(input).map(VendorRef::Slug).map_err(|error| ParamError(error.reason()))
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            VendorRef::Id(id) => id.as_str(),
            VendorRef::Slug(slug) => slug.as_str(),
        }
    }
}

/// `price_min` / `price_max` in minor units, both inclusive, against a product's cheapest variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PriceRange {
    pub min_minor: Option<i64>,
    pub max_minor: Option<i64>,
}

impl PriceRange {
    pub fn contains(&self, price_minor: i64) -> bool {
        self.min_minor.is_none_or(|min| price_minor >= min) && self.max_minor.is_none_or(|max| price_minor <= max)
    }

    pub fn is_unbounded(&self) -> bool {
        self.min_minor.is_none() && self.max_minor.is_none()
    }
}

/// Whole minor units, `0` or more (no sign, no decimals: `1999` is €19.99).
fn parse_minor(input: &str) -> Result<i64, ParamError> {
    if input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParamError("invalid"));
    }
    input.parse().map_err(|_| ParamError("out_of_range"))
}

fn parse_bool(input: &str) -> Result<bool, ParamError> {
    match input {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ParamError("invalid")),
    }
}

pub(super) fn parse_limit(input: &str, max: u8) -> Result<u8, ParamError> {
    let value = parse_minor(input)?;
    u8::try_from(value).ok().filter(|limit| (1..=max).contains(limit)).ok_or(ParamError("out_of_range"))
}

pub(super) fn parse_cursor(input: &str) -> Result<String, CursorError> {
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if input.len() > MAX_CURSOR_CHARS || !input.bytes().all(base64url) {
        return Err(CursorError::Malformed);
    }
    Ok(input.to_owned())
}

/// Known parameters with a non-empty value; a repeated one is an error (which would win is
/// ambiguous, and caches would see two spellings of one query).
pub(super) fn known_params(
    query: &str,
    known: &[&'static str],
    errors: &mut FieldErrors,
) -> BTreeMap<&'static str, String> {
    let mut params = BTreeMap::new();
    let mut seen = Vec::new();
    for (name, value) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
        let Some(name) = known.iter().copied().find(|known| *known == name) else { continue };
        if seen.contains(&name) {
            errors.push(name, "repeated");
            continue;
        }
        seen.push(name);
        if !value.trim().is_empty() {
            params.insert(name, value.into_owned());
        }
    }
    params
}

/// The parameters lists and searches read; every other one is ignored.
pub const LIST_PARAMS: [&str; 12] = [
    "q",
    "category",
    "vendor",
    "price_min",
    "price_max",
    "in_stock",
    "min_rating",
    "near",
    "radius_km",
    "sort",
    "limit",
    "cursor",
];

/// Filters, sort and page of a product list or search.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Full-text search; required by `/search`, optional on `/products`.
    pub q: Option<SearchQuery>,
    /// The category and all its descendants.
    pub category: Option<CategoryRef>,
    pub vendor: Option<VendorRef>,
    pub price: PriceRange,
    /// Only products with a variant in stock; `false` filters nothing.
    pub in_stock: bool,
    pub min_rating: Option<Rating>,
    /// Shops within a radius.
    pub near: Option<Near>,
    /// The effective sort: `relevance` without a search is `newest`.
    pub sort: Sort,
    pub limit: u8,
    /// As sent; `decode_cursor` checks it against this query.
    pub cursor: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            q: None,
            category: None,
            vendor: None,
            price: PriceRange::default(),
            in_stock: false,
            min_rating: None,
            near: None,
            sort: Sort::Newest,
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl ListQuery {
    /// `GET /api/v1/products?…` (the part after `?`).
    pub fn parse(query: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let params = known_params(query, &LIST_PARAMS, &mut errors);
        let param = |name: &str| params.get(name).map(String::as_str);

        let q = param("q").and_then(|q| errors.check("q", SearchQuery::parse(q)));
        let category = param("category").and_then(|c| errors.check("category", CategoryRef::parse(c)));
        let vendor = param("vendor").and_then(|v| errors.check("vendor", VendorRef::parse(v)));
        let price = PriceRange {
            min_minor: param("price_min").and_then(|p| errors.check("price_min", parse_minor(p))),
            max_minor: param("price_max").and_then(|p| errors.check("price_max", parse_minor(p))),
        };
        if let (Some(min), Some(max)) = (price.min_minor, price.max_minor)
            && max < min
        {
            errors.push("price_max", "less_than_price_min");
        }
        let in_stock = param("in_stock").and_then(|b| errors.check("in_stock", parse_bool(b))).unwrap_or(false);
        let min_rating = param("min_rating").and_then(|r| errors.check("min_rating", Rating::parse(r)));

        let center = param("near").and_then(|n| errors.check("near", GeoPoint::parse(n)));
        let radius = param("radius_km").and_then(|r| errors.check("radius_km", parse_radius_km(r)));
        let near = center.map(|center| Near { center, radius_km: radius.unwrap_or(DEFAULT_RADIUS_KM) });
        if param("near").is_none() && radius.is_some() {
            errors.push("radius_km", "needs_near");
        }

        let sort = match param("sort").and_then(|s| errors.check("sort", Sort::parse(s))) {
            Some(Sort::Relevance) if q.is_none() => Sort::Newest,
            Some(Sort::Nearest) if near.is_none() => Sort::Newest,
            Some(sort) => sort,
            None => Sort::default_for(q.is_some()),
        };
        let limit =
            param("limit").and_then(|l| errors.check("limit", parse_limit(l, MAX_LIMIT))).unwrap_or(DEFAULT_LIMIT);
        let cursor = param("cursor").and_then(|c| errors.check("cursor", parse_cursor(c)));
        let parsed = ListQuery { q, category, vendor, price, in_stock, min_rating, near, sort, limit, cursor };
        errors.into_result(parsed)
    }

    /// `GET /api/v1/search?q=…`: as `parse`, and `q` is required.
    pub fn parse_search(query: &str) -> Result<Self, FieldErrors> {
        let result = Self::parse(query);
        let has_q = match &result {
            Ok(parsed) => parsed.q.is_some(),
            Err(_) => query_has_q(query),
        };
        if has_q {
            return result;
        }
        let mut errors = result.err().unwrap_or_default();
        errors.push("q", "required");
        Err(errors)
    }

    /// The query in one fixed form: known parameters in a fixed order, defaults left out.
    pub fn canonical(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        self.append_filters(&mut out);
        if self.limit != DEFAULT_LIMIT {
            out.append_pair("limit", &self.limit.to_string());
        }
        if let Some(cursor) = &self.cursor {
            out.append_pair("cursor", cursor);
        }
        out.finish()
    }

    /// Names what the results are (filters, search and sort, not the page): a cursor is only valid
    /// for the query that issued it. The first 8 bytes of SHA-256 of the canonical filters.
    pub fn fingerprint(&self) -> u64 {
        let mut out = form_urlencoded::Serializer::new(String::new());
        self.append_filters(&mut out);
        query_fingerprint(&out.finish())
    }

    /// Where the previous page ended, if the request continues one. A cursor that is not ours,
    /// was altered, or belongs to another query is `VAL_3002` on `cursor`.
    pub fn decode_cursor(&self, key: &CursorKey) -> Result<Option<Position>, FieldErrors> {
        let Some(cursor) = &self.cursor else { return Ok(None) };
        key.decode(cursor, self.sort, self.fingerprint())
            .map(Some)
            .map_err(|error| FieldErrors::single("cursor", error.reason()))
    }

    /// The `next_cursor` for a page whose last product is `last` (its key must be of this sort).
    pub fn next_cursor(&self, key: &CursorKey, last: &Position) -> String {
        key.encode(self.fingerprint(), last)
    }

    fn append_filters(&self, out: &mut form_urlencoded::Serializer<'_, String>) {
        if let Some(q) = &self.q {
            out.append_pair("q", q.as_str());
        }
        if let Some(category) = &self.category {
            out.append_pair("category", category.as_str());
        }
        if let Some(vendor) = &self.vendor {
            out.append_pair("vendor", vendor.as_str());
        }
        if let Some(min) = self.price.min_minor {
            out.append_pair("price_min", &min.to_string());
        }
        if let Some(max) = self.price.max_minor {
            out.append_pair("price_max", &max.to_string());
        }
        if self.in_stock {
            out.append_pair("in_stock", "true");
        }
        if let Some(rating) = self.min_rating {
            out.append_pair("min_rating", &rating.stars().to_string());
        }
        if let Some(near) = &self.near {
            out.append_pair("near", &format!("{},{}", near.center.lat(), near.center.lng()));
            out.append_pair("radius_km", &near.radius_km.to_string());
        }
        if self.sort != Sort::default_for(self.q.is_some()) {
            out.append_pair("sort", self.sort.as_str());
        }
    }
}

fn query_has_q(query: &str) -> bool {
    form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .any(|(name, value)| name == "q" && !value.trim().is_empty())
}

/// The parameters suggestions read.
pub const SUGGEST_PARAMS: [&str; 2] = ["q", "limit"];

/// `GET /api/v1/search/suggest?q=…&limit=…`: prefix autocomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestQuery {
    pub q: SearchQuery,
    pub limit: u8,
}

impl SuggestQuery {
    pub fn parse(query: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let params = known_params(query, &SUGGEST_PARAMS, &mut errors);
        let q = match params.get("q") {
            Some(q) => errors.check("q", SearchQuery::parse_suggest(q)),
            None => {
                errors.push("q", "required");
                None
            }
        };
        let limit = params
            .get("limit")
            .and_then(|l| errors.check("limit", parse_limit(l, MAX_SUGGEST_LIMIT)))
            .unwrap_or(DEFAULT_SUGGEST_LIMIT);
        match q {
            Some(q) if errors.is_empty() => Ok(Self { q, limit }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests;
