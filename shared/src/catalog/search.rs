//! What a shopper typed into the search box, normalised so that equal searches are equal strings
//! (one cache entry, one cursor fingerprint), and turned into Postgres full-text queries safely.
//!
//! The `search` column uses the `simple` configuration (see migrations/0005_catalog.sql), so
//! lexemes are the lower-cased words themselves; the tsquery text built here matches that.

use crate::newtype::string_newtype;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validation::Reason;

/// Product decision: a search is a few words; 100 characters is a pasted paragraph's start.
/// Also bounds the work one tsquery can ask of the GIN index.
pub const MAX_QUERY_CHARS: usize = 100;
/// At most this many words reach the tsquery; the rest only add cost, not precision.
pub const MAX_TERMS: usize = 8;
/// Autocomplete waits for two characters: one letter prefixes most of the catalog.
pub const MIN_SUGGEST_CHARS: usize = 2;
/// `pg_trgm.word_similarity_threshold` for typo-tolerant matching (`$1 <% title`), set per
/// transaction with `set_config(…, true)`. Measured on the seeded catalog: one wrong letter in the
/// middle of an 8–9 letter word (`cardxgan`, `stonexare`) scores 0.50–0.54, so pg_trgm's default of
/// 0.6 misses it; 0.45 finds it. Short words stay out of reach (`liren` for `linen` scores 0.33):
/// trigrams cannot tell a slip in five letters from another word.
pub const TYPO_WORD_SIMILARITY: f32 = 0.45;

/// Trimmed, lower-cased, control characters removed, whitespace runs collapsed to one space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SearchQuery(String);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum SearchQueryError {
    #[error("the search is empty")]
    Empty,
    #[error("the search is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
    #[error("the search needs at least {MIN_SUGGEST_CHARS} characters")]
    TooShort,
}

impl Reason for SearchQueryError {
    fn reason(&self) -> &'static str {
        match self {
            SearchQueryError::Empty => "empty",
            SearchQueryError::TooLong => "too_long",
            SearchQueryError::TooShort => "too_short",
        }
    }
}

impl SearchQuery {
    pub fn parse(input: &str) -> Result<Self, SearchQueryError> {
        let cleaned: String = input.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let normalised = cleaned.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        if normalised.is_empty() {
            return Err(SearchQueryError::Empty);
        }
        if normalised.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchQueryError::TooLong);
        }
        Ok(Self(normalised))
    }

    /// As `parse`, and long enough to autocomplete.
    pub fn parse_suggest(input: &str) -> Result<Self, SearchQueryError> {
        let query = Self::parse(input)?;
        if query.0.chars().count() < MIN_SUGGEST_CHARS {
            return Err(SearchQueryError::TooShort);
        }
        Ok(query)
    }

    /// The words: runs of letters and digits (`t-shirt` gives `t` and `shirt`, as the `simple`
    /// parser also indexes a hyphenated word's parts), at most `MAX_TERMS`.
    pub fn terms(&self) -> impl Iterator<Item = &str> {
        self.0.split(|c: char| !c.is_alphanumeric()).filter(|term| !term.is_empty()).take(MAX_TERMS)
    }

    /// `'cast' & 'iron' & 'skil':*` for `to_tsquery('simple', $1)`: every word must match, the last
    /// one as a prefix (the shopper may still be typing). `None` when no word is left (`"!!"`).
    /// Terms hold only letters and digits, so nothing in them is tsquery syntax.
    pub fn prefix_tsquery(&self) -> Option<String> {
        self.prefix_tsquery_weighted("")
    }

    /// `'cast':A & 'skil':*A`: as `prefix_tsquery`, every word in the title (weight A in the
    /// `search` column, migrations/0005_catalog.sql), for autocomplete.
    pub fn title_prefix_tsquery(&self) -> Option<String> {
        self.prefix_tsquery_weighted("A")
    }

    fn prefix_tsquery_weighted(&self, weights: &str) -> Option<String> {
        let terms: Vec<&str> = self.terms().collect();
        let (last, rest) = terms.split_last()?;
        let label = if weights.is_empty() { String::new() } else { format!(":{weights}") };
        let mut query: Vec<String> = rest.iter().map(|term| format!("'{term}'{label}")).collect();
        query.push(format!("'{last}':*{weights}"));
        Some(query.join(" & "))
    }

    /// `'cast' & 'iron' & 'skillet'`: every word must match exactly.
    pub fn all_terms_tsquery(&self) -> Option<String> {
        let terms: Vec<String> = self.terms().map(|term| format!("'{term}'")).collect();
        (!terms.is_empty()).then(|| terms.join(" & "))
    }
}

string_newtype!(SearchQuery, SearchQueryError);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_case_space_and_control_characters() {
        let query = SearchQuery::parse("  Cast\tIRON \n\u{0} Skillet ").unwrap();
        assert_eq!(query.as_str(), "cast iron skillet");
        assert_eq!(SearchQuery::parse(" \u{3000} "), Err(SearchQueryError::Empty));
        assert_eq!(SearchQuery::parse(&"a".repeat(MAX_QUERY_CHARS + 1)), Err(SearchQueryError::TooLong));
        assert!(SearchQuery::parse(&"é".repeat(MAX_QUERY_CHARS)).is_ok());
    }

    #[test]
    fn builds_prefix_and_exact_tsqueries() {
        let query = SearchQuery::parse("Cast-iron skil").unwrap();
        assert_eq!(query.prefix_tsquery().as_deref(), Some("'cast' & 'iron' & 'skil':*"));
        assert_eq!(query.all_terms_tsquery().as_deref(), Some("'cast' & 'iron' & 'skil'"));
        let syntax = SearchQuery::parse("a' | b:* & !(c)").unwrap();
        assert_eq!(syntax.prefix_tsquery().as_deref(), Some("'a' & 'b' & 'c':*"));
        assert_eq!(query.title_prefix_tsquery().as_deref(), Some("'cast':A & 'iron':A & 'skil':*A"));
        assert_eq!(SearchQuery::parse("mu").unwrap().title_prefix_tsquery().as_deref(), Some("'mu':*A"));
        assert_eq!(SearchQuery::parse("!!").unwrap().title_prefix_tsquery(), None);
        assert_eq!(SearchQuery::parse("!!").unwrap().prefix_tsquery(), None);
        assert_eq!(
            SearchQuery::parse("crème brûlée").unwrap().all_terms_tsquery().as_deref(),
            Some("'crème' & 'brûlée'")
        );
    }

    #[test]
    fn suggest_needs_two_characters() {
        assert_eq!(SearchQuery::parse_suggest(" m "), Err(SearchQueryError::TooShort));
        assert!(SearchQuery::parse_suggest("mu").is_ok());
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent_and_tsqueries_hold_no_syntax(input in "\\PC{0,80}") {
            if let Ok(query) = SearchQuery::parse(&input) {
                prop_assert_eq!(SearchQuery::parse(query.as_str()), Ok(query.clone()));
                for tsquery in [query.prefix_tsquery(), query.title_prefix_tsquery()].into_iter().flatten() {
                    for term in tsquery.split(" & ") {
                        let inner = term.strip_suffix(":*A").or_else(|| term.strip_suffix(":A")).unwrap_or(term);
                        let inner = inner.strip_suffix(":*").unwrap_or(inner);
                        let inner = inner.strip_prefix('\'').and_then(|t| t.strip_suffix('\''));
                        prop_assert!(inner.is_some_and(|t| !t.is_empty() && t.chars().all(char::is_alphanumeric)), "{tsquery}");
                    }
                }
            }
        }
    }
}
