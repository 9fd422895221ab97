//! URL slugs (`cast-iron-skillet`): the readable part of storefront URLs for products, categories
//! and shops. `parse` is strict (a slug is already canonical); `slugify` makes one from a title.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validation::Reason;
use crate::newtype::string_newtype;

/// Long enough for a title's first words; short URLs are what slugs are for.
pub const MAX_SLUG_LEN: usize = 80;

/// Lower-case ASCII letters and digits in runs joined by single hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum SlugError {
    #[error("slug is empty")]
    Empty,
    #[error("slug is longer than {MAX_SLUG_LEN} characters")]
    TooLong,
    #[error("slug may only contain a-z, 0-9 and single inner hyphens")]
    InvalidCharacter,
}

impl Reason for SlugError {
    fn reason(&self) -> &'static str {
        match self {
            SlugError::Empty => "empty",
            SlugError::TooLong => "too_long",
            SlugError::InvalidCharacter => "invalid_character",
        }
    }
}

impl Slug {
    pub fn parse(input: &str) -> Result<Self, SlugError> {
        if input.is_empty() {
            return Err(SlugError::Empty);
        }
        if input.len() > MAX_SLUG_LEN {
            return Err(SlugError::TooLong);
        }
        let runs_ok = input
            .split('-')
            .all(|run| !run.is_empty() && run.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if !runs_ok {
            return Err(SlugError::InvalidCharacter);
        }
        Ok(Self(input.to_owned()))
    }

    /// A slug from free text: Latin letters lose their accents (`Crème brûlée` → `creme-brulee`),
    /// anything else separates words; cut at a word boundary to fit. `None` when nothing is left
    /// (a title in a non-Latin script): the caller falls back to the id.
    pub fn slugify(text: &str) -> Option<Self> {
        let mut slug = String::new();
        let mut pending_hyphen = false;
        for c in text.chars().flat_map(char::to_lowercase) {
            match fold_latin(c) {
                Some(folded) => {
                    if pending_hyphen && !slug.is_empty() {
                        slug.push('-');
                    }
                    pending_hyphen = false;
                    slug.push_str(folded);
                }
                None => pending_hyphen = true,
            }
        }
        if slug.len() > MAX_SLUG_LEN {
            let cut = slug[..=MAX_SLUG_LEN].rfind('-').unwrap_or(MAX_SLUG_LEN);
            slug.truncate(cut);
        }
        Slug::parse(slug.trim_end_matches('-')).ok()
    }
}

/// ASCII letters and digits as they are, common Latin-1 / Latin Extended-A letters without their
/// marks, everything else `None` (a word separator).
fn fold_latin(c: char) -> Option<&'static str> {
    const ASCII: [&str; 36] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v",
        "w", "x", "y", "z", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    ];
    match c {
        'a'..='z' => ASCII.get(usize::from(c as u8 - b'a')).copied(),
        '0'..='9' => ASCII.get(26 + usize::from(c as u8 - b'0')).copied(),
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => Some("a"),
        'æ' => Some("ae"),
        'ç' | 'ć' | 'č' => Some("c"),
        'ď' | 'đ' | 'ð' => Some("d"),
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => Some("e"),
        'ğ' => Some("g"),
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => Some("i"),
        'ł' | 'ľ' | 'ĺ' => Some("l"),
        'ñ' | 'ń' | 'ň' => Some("n"),
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => Some("o"),
        'œ' => Some("oe"),
        'ŕ' | 'ř' => Some("r"),
        'ś' | 'š' | 'ş' | 'ș' => Some("s"),
        'ß' => Some("ss"),
        'ť' | 'ţ' | 'ț' => Some("t"),
        'þ' => Some("th"),
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => Some("u"),
        'ý' | 'ÿ' => Some("y"),
        'ź' | 'ż' | 'ž' => Some("z"),
        _ => None,
    }
}

string_newtype!(Slug, SlugError);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_accepts_only_canonical_slugs() {
        assert!(Slug::parse("cast-iron-skillet-26cm").is_ok());
        for bad in ["Cast-iron", "cast--iron", "-cast", "cast-", "cast iron", "caf\u{e9}"] {
            assert_eq!(Slug::parse(bad), Err(SlugError::InvalidCharacter), "{bad}");
        }
        assert_eq!(Slug::parse(""), Err(SlugError::Empty));
        assert_eq!(Slug::parse(&"a".repeat(MAX_SLUG_LEN + 1)), Err(SlugError::TooLong));
    }

    #[test]
    fn slugify_folds_accents_and_separates_words() {
        assert_eq!(Slug::slugify("  Crème Brûlée — Set of 2!").unwrap().as_str(), "creme-brulee-set-of-2");
        assert_eq!(Slug::slugify("Straße & Smørrebrød").unwrap().as_str(), "strasse-smorrebrod");
        assert_eq!(Slug::slugify("T-Shirt (XL)").unwrap().as_str(), "t-shirt-xl");
        assert_eq!(Slug::slugify("茶碗"), None);
        assert_eq!(Slug::slugify("  --  "), None);
    }

    #[test]
    fn slugify_cuts_long_titles_at_a_word_boundary() {
        let title = "word ".repeat(40);
        let slug = Slug::slugify(&title).unwrap();
        assert!(slug.as_str().len() <= MAX_SLUG_LEN);
        assert!(slug.as_str().ends_with("word"));
    }

    proptest! {
        #[test]
        fn slugify_always_yields_a_valid_slug(text in "\\PC{0,120}") {
            if let Some(slug) = Slug::slugify(&text) {
                prop_assert_eq!(Slug::parse(slug.as_str()), Ok(slug.clone()));
            }
        }
    }
}
