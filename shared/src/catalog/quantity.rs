//! Whole units of one variant: stock available, or a line's quantity.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validation::Reason;
use crate::neon::{Param, ToSql};

/// Product decision: a million units of one variant is beyond any vendor on the platform; the cap
/// turns a typo (an extra six zeros) into an error and keeps `available` in a Postgres `integer`.
pub const MAX_QUANTITY: u32 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum QuantityError {
    #[error("quantity is not a whole number")]
    Invalid,
    #[error("quantity must be between 0 and {MAX_QUANTITY}")]
    OutOfRange,
}

impl Reason for QuantityError {
    fn reason(&self) -> &'static str {
        match self {
            QuantityError::Invalid => "invalid",
            QuantityError::OutOfRange => "out_of_range",
        }
    }
}

impl Quantity {
    pub const ZERO: Quantity = Quantity(0);

    pub fn new(units: i64) -> Result<Self, QuantityError> {
        u32::try_from(units).ok().filter(|units| *units <= MAX_QUANTITY).map(Self).ok_or(QuantityError::OutOfRange)
    }

    /// Plain decimal digits (what a query string or a form sends).
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        let input = input.trim();
        if input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err(QuantityError::Invalid);
        }
        input.parse::<i64>().map_or(Err(QuantityError::OutOfRange), Self::new)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.0.checked_add(other.0).and_then(|sum| Self::new(i64::from(sum)).ok())
    }

    pub fn checked_sub(self, other: Quantity) -> Option<Quantity> {
        self.0.checked_sub(other.0).map(Self)
    }
}

impl TryFrom<i64> for Quantity {
    type Error = QuantityError;

    fn try_from(units: i64) -> Result<Self, Self::Error> {
        Self::new(units)
    }
}

impl From<Quantity> for u32 {
    fn from(quantity: Quantity) -> Self {
        quantity.0
    }
}

impl ToSql for Quantity {
    fn to_param(&self) -> Param {
        self.0.to_param()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_digits_within_bounds() {
        assert_eq!(Quantity::parse(" 12 ").map(Quantity::get), Ok(12));
        assert_eq!(Quantity::parse("0"), Ok(Quantity::ZERO));
        assert_eq!(Quantity::parse("-1"), Err(QuantityError::Invalid));
        assert_eq!(Quantity::parse("1.5"), Err(QuantityError::Invalid));
        assert_eq!(Quantity::parse("1000001"), Err(QuantityError::OutOfRange));
        assert_eq!(Quantity::parse("99999999999999999999999"), Err(QuantityError::OutOfRange));
        assert_eq!(Quantity::new(-3), Err(QuantityError::OutOfRange));
    }

    #[test]
    fn serde_refuses_negative_and_huge_values() {
        assert_eq!(serde_json::from_str::<Quantity>("7").unwrap().get(), 7);
        assert!(serde_json::from_str::<Quantity>("-7").is_err());
        assert!(serde_json::from_str::<Quantity>("2000000").is_err());
    }

    proptest! {
        #[test]
        fn arithmetic_stays_in_bounds(a in 0i64..=1_000_000, b in 0i64..=1_000_000) {
            let (qa, qb) = (Quantity::new(a).unwrap(), Quantity::new(b).unwrap());
            prop_assert_eq!(qa.checked_add(qb).map(Quantity::get), (a + b <= 1_000_000).then(|| (a + b) as u32));
            prop_assert_eq!(qa.checked_sub(qb).map(Quantity::get), (a >= b).then(|| (a - b) as u32));
        }
    }
}
