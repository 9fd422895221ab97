//! Rates in basis points (1 bp = 0.01 %), and the one rounding rule for every rate applied to money.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::money::{Money, MoneyError};
use crate::catalog::validation::Reason;

/// 10,000 bp = 100 %.
pub const FULL: u32 = 10_000;

/// A rate from 0 to 100 %, in basis points (`2300` = 23 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct BasisPoints(u32);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("a rate must be between 0 and {FULL} basis points")]
pub struct BasisPointsError;

impl Reason for BasisPointsError {
    fn reason(&self) -> &'static str {
        "out_of_range"
    }
}

impl BasisPoints {
    pub fn new(bp: u32) -> Result<Self, BasisPointsError> {
        if bp <= FULL { Ok(Self(bp)) } else { Err(BasisPointsError) }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// `amount × rate`, rounded half-to-even on the minor unit ("banker's rounding": exact halves go
    /// to the even neighbour, so over many lines the rounding does not drift in one direction).
    /// The only place a rate meets money: coupons and tax both call it.
    pub fn of(self, amount: Money) -> Result<Money, MoneyError> {
        let exact = i128::from(amount.amount_minor) * i128::from(self.0);
        let divisor = i128::from(FULL);
        let (quotient, remainder) = (exact.div_euclid(divisor), exact.rem_euclid(divisor));
        let rounded = match (2 * remainder).cmp(&divisor) {
            std::cmp::Ordering::Less => quotient,
            std::cmp::Ordering::Greater => quotient + 1,
            std::cmp::Ordering::Equal => quotient + (quotient & 1),
        };
        // |rate| ≤ 1, so the result fits whenever the amount does; checked all the same.
        i64::try_from(rounded).map(|minor| Money::new(minor, amount.currency)).map_err(|_| MoneyError::Overflow)
    }
}

impl TryFrom<u32> for BasisPoints {
    type Error = BasisPointsError;

    fn try_from(bp: u32) -> Result<Self, Self::Error> {
        Self::new(bp)
    }
}

impl From<BasisPoints> for u32 {
    fn from(bp: BasisPoints) -> Self {
        bp.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::fixtures::eur;
    use proptest::prelude::*;

    fn bp(bp: u32) -> BasisPoints {
        BasisPoints::new(bp).unwrap()
    }

    #[test]
    fn exact_halves_round_to_the_even_minor_unit() {
        // 10 % of 5 = 0.5 → 0; of 15 = 1.5 → 2; of 25 = 2.5 → 2; of -25 = -2.5 → -2.
        assert_eq!(bp(1000).of(eur(5)), Ok(eur(0)));
        assert_eq!(bp(1000).of(eur(15)), Ok(eur(2)));
        assert_eq!(bp(1000).of(eur(25)), Ok(eur(2)));
        assert_eq!(bp(1000).of(eur(-25)), Ok(eur(-2)));
        // 23 % of 1299 = 298.77 → 299; of 1001 = 230.23 → 230.
        assert_eq!(bp(2300).of(eur(1299)), Ok(eur(299)));
        assert_eq!(bp(2300).of(eur(1001)), Ok(eur(230)));
        assert_eq!(bp(FULL).of(eur(i64::MAX)), Ok(eur(i64::MAX)));
        assert_eq!(BasisPoints::new(FULL + 1), Err(BasisPointsError));
        assert!(serde_json::from_str::<BasisPoints>("10001").is_err());
    }

    proptest! {
        #[test]
        fn rounding_is_within_half_a_minor_unit(amount in 0i64..=i64::MAX, rate in 0u32..=FULL) {
            let rounded = bp(rate).of(eur(amount)).unwrap().amount_minor;
            let exact = i128::from(amount) * i128::from(rate);
            prop_assert!((i128::from(rounded) * i128::from(FULL) - exact).abs() * 2 <= i128::from(FULL));
            prop_assert!(rounded <= amount);
        }

        #[test]
        fn a_larger_base_never_gives_less(a in 0i64..1_000_000_000_000, extra in 0i64..1_000_000, rate in 0u32..=FULL) {
            prop_assert!(bp(rate).of(eur(a)).unwrap().amount_minor <= bp(rate).of(eur(a + extra)).unwrap().amount_minor);
        }
    }
}
