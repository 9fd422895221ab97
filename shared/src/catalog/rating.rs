//! Star ratings: one review's 1–5 stars, and a product's average over its reviews.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validation::Reason;
use crate::neon::{Param, ToSql};

/// One review's stars, 1–5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct Rating(u8);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RatingError {
    #[error("rating is not a whole number")]
    Invalid,
    #[error("rating must be between 1 and 5")]
    OutOfRange,
}

impl Reason for RatingError {
    fn reason(&self) -> &'static str {
        match self {
            RatingError::Invalid => "invalid",
            RatingError::OutOfRange => "out_of_range",
        }
    }
}

impl Rating {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 5;

    pub fn new(stars: i64) -> Result<Self, RatingError> {
        u8::try_from(stars)
            .ok()
            .filter(|stars| (Self::MIN..=Self::MAX).contains(stars))
            .map(Self)
            .ok_or(RatingError::OutOfRange)
    }

    pub fn parse(input: &str) -> Result<Self, RatingError> {
        let input = input.trim();
        if input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RatingError::Invalid);
        }
        input.parse::<i64>().map_or(Err(RatingError::OutOfRange), Self::new)
    }

    pub fn stars(self) -> u8 {
        self.0
    }

    /// The same threshold as an average, for `rating_avg >= $1`.
    pub fn as_average(self) -> RatingAverage {
        RatingAverage(u16::from(self.0) * 100)
    }
}

impl TryFrom<i64> for Rating {
    type Error = RatingError;

    fn try_from(stars: i64) -> Result<Self, Self::Error> {
        Self::new(stars)
    }
}

impl From<Rating> for u8 {
    fn from(rating: Rating) -> Self {
        rating.0
    }
}

impl ToSql for Rating {
    fn to_param(&self) -> Param {
        u16::from(self.0).to_param()
    }
}

/// An average of ratings to two decimals, held exactly as hundredths (100–500), like
/// `catalog.products.rating_avg numeric(3,2)`. JSON shows it as a number (`4.25`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RatingAverage(u16);

impl RatingAverage {
    /// The rounded mean (half away from zero) of `count` ratings summing to `sum`; `None` for no
    /// ratings or a sum no set of 1–5 star ratings can have.
    pub fn of(sum: u64, count: u64) -> Option<Self> {
        if count == 0 || sum < count || sum > count.checked_mul(5)? {
            return None;
        }
        let hundredths = (sum.checked_mul(200)? + count) / (2 * count);
        u16::try_from(hundredths).ok().map(Self)
    }

    pub fn from_hundredths(hundredths: u16) -> Option<Self> {
        (100..=500).contains(&hundredths).then_some(Self(hundredths))
    }

    /// Postgres' numeric text (`4.25`, `4.2`, `4`); `None` outside 1–5 or with more than two decimals.
    pub fn parse_numeric(text: &str) -> Option<Self> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty()
            || fraction.len() > 2
            || !(whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let whole: u16 = whole.parse().ok().filter(|whole| *whole <= 5)?;
        let fraction: u16 = format!("{fraction:0<2}").parse().ok()?;
        Self::from_hundredths(whole * 100 + fraction)
    }

    pub fn hundredths(self) -> u16 {
        self.0
    }

    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

impl fmt::Display for RatingAverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// Bound as numeric text, exactly.
impl ToSql for RatingAverage {
    fn to_param(&self) -> Param {
        Param::text(self.to_string())
    }
}

impl Serialize for RatingAverage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for RatingAverage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        let hundredths = (value * 100.0).round();
        // In range after the check, so the cast cannot truncate.
        let average = (100.0..=500.0).contains(&hundredths).then_some(Self(hundredths as u16));
        average.ok_or_else(|| serde::de::Error::custom("rating average must be between 1 and 5"))
    }
}

/// What a product shows next to its stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingSummary {
    pub average: RatingAverage,
    pub count: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ratings_are_one_to_five() {
        assert_eq!(Rating::parse("4").map(Rating::stars), Ok(4));
        assert_eq!(Rating::parse("0"), Err(RatingError::OutOfRange));
        assert_eq!(Rating::parse("6"), Err(RatingError::OutOfRange));
        assert_eq!(Rating::parse("4.5"), Err(RatingError::Invalid));
        assert_eq!(Rating::parse("x"), Err(RatingError::Invalid));
        assert_eq!(Rating::parse("99999999999999999999"), Err(RatingError::OutOfRange));
        assert!(serde_json::from_str::<Rating>("9").is_err());
        assert_eq!(Rating::new(3).unwrap().as_average().to_string(), "3.00");
    }

    #[test]
    fn averages_round_half_up_to_hundredths() {
        assert_eq!(RatingAverage::of(13, 3).map(|a| a.to_string()), Some("4.33".into()));
        assert_eq!(RatingAverage::of(29, 6).map(|a| a.to_string()), Some("4.83".into()));
        // 4.125 → 4.13
        assert_eq!(RatingAverage::of(33, 8).map(|a| a.to_string()), Some("4.13".into()));
        assert_eq!(RatingAverage::of(0, 0), None);
        assert_eq!(RatingAverage::of(2, 3), None);
        assert_eq!(RatingAverage::of(16, 3), None);
    }

    #[test]
    fn reads_postgres_numeric_text() {
        assert_eq!(RatingAverage::parse_numeric("4.25").map(RatingAverage::hundredths), Some(425));
        assert_eq!(RatingAverage::parse_numeric("4.2").map(RatingAverage::hundredths), Some(420));
        assert_eq!(RatingAverage::parse_numeric("5").map(RatingAverage::hundredths), Some(500));
        for bad in ["5.01", "0.99", "4.255", "-4", "", ".5", "NaN"] {
            assert_eq!(RatingAverage::parse_numeric(bad), None, "{bad}");
        }
    }

    #[test]
    fn serialises_as_a_json_number() {
        let summary = RatingSummary { average: RatingAverage::of(17, 4).unwrap(), count: 4 };
        assert_eq!(serde_json::to_value(summary).unwrap(), serde_json::json!({"average": 4.25, "count": 4}));
        assert_eq!(
            serde_json::from_value::<RatingSummary>(serde_json::json!({"average": 4.25, "count": 4})).unwrap(),
            summary
        );
    }

    proptest! {
        #[test]
        fn the_average_lies_between_the_extremes(count in 1u64..10_000, seed: u64) {
            let sum = count + seed % (4 * count + 1);
            let average = RatingAverage::of(sum, count).unwrap();
            prop_assert!((100..=500).contains(&average.hundredths()));
            prop_assert_eq!(RatingAverage::parse_numeric(&average.to_string()), Some(average));
        }
    }
}
