//! Money as DESIGN §3 has it: integer minor units and an ISO 4217 code, never floats. Arithmetic is
//! checked: a currency mismatch or an overflow is an error, not a wrong total.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validation::Reason;
use crate::neon::{Param, ToSql};

/// An ISO 4217 alphabetic code (`EUR`). Shape-checked (three ASCII letters, upper-cased), not
/// checked against the list, which changes; unknown codes format with two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("currency must be a three-letter ISO 4217 code")]
pub struct CurrencyError;

impl Reason for CurrencyError {
    fn reason(&self) -> &'static str {
        "invalid_currency"
    }
}

/// ISO 4217 currencies whose minor unit is not 1/100 (the standard's list, 2024 amendments).
const MINOR_UNIT_DIGITS: [(&[u8; 3], u8); 26] = [
    (b"BIF", 0),
    (b"CLP", 0),
    (b"DJF", 0),
    (b"GNF", 0),
    (b"ISK", 0),
    (b"JPY", 0),
    (b"KMF", 0),
    (b"KRW", 0),
    (b"PYG", 0),
    (b"RWF", 0),
    (b"UGX", 0),
    (b"UYI", 0),
    (b"VND", 0),
    (b"VUV", 0),
    (b"XAF", 0),
    (b"XOF", 0),
    (b"XPF", 0),
    (b"BHD", 3),
    (b"IQD", 3),
    (b"JOD", 3),
    (b"KWD", 3),
    (b"LYD", 3),
    (b"OMR", 3),
    (b"TND", 3),
    (b"CLF", 4),
    (b"UYW", 4),
];

impl Currency {
    pub const EUR: Currency = Currency(*b"EUR");

    pub fn parse(input: &str) -> Result<Self, CurrencyError> {
        let code: [u8; 3] = input.trim().as_bytes().try_into().map_err(|_| CurrencyError)?;
        if !code.iter().all(u8::is_ascii_alphabetic) {
            return Err(CurrencyError);
        }
        Ok(Self(code.map(|b| b.to_ascii_uppercase())))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters get in, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Decimal places of the minor unit: 2 for EUR (cents), 0 for JPY, 3 for KWD.
    pub fn minor_unit_digits(self) -> u8 {
        MINOR_UNIT_DIGITS.iter().find(|(code, _)| **code == self.0).map_or(2, |(_, digits)| *digits)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.as_str().to_owned()
    }
}

impl ToSql for Currency {
    fn to_param(&self) -> Param {
        Param::text(self.as_str())
    }
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount overflows")]
    Overflow,
}

/// `{"amount_minor":1299,"currency":"EUR"}` is €12.99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self { amount_minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    pub fn is_negative(self) -> bool {
        self.amount_minor < 0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_add(other.amount_minor)
            .map(|sum| Money::new(sum, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_sub(other.amount_minor)
            .map(|difference| Money::new(difference, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// A line total: unit price × quantity.
    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        self.amount_minor
            .checked_mul(i64::from(quantity))
            .map(|product| Money::new(product, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// Sum of amounts in one currency; `Ok(None)` for none.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Money>) -> Result<Option<Money>, MoneyError> {
        amounts.into_iter().try_fold(None, |total: Option<Money>, amount| match total {
            None => Ok(Some(amount)),
            Some(total) => total.checked_add(amount).map(Some),
        })
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }
}

/// `12.99 EUR`, `-0.50 EUR`, `1500 JPY`: exact, for logs and plain-text emails.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = u32::from(self.currency.minor_unit_digits());
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let magnitude = self.amount_minor.unsigned_abs();
        if digits == 0 {
            return write!(f, "{sign}{magnitude} {}", self.currency);
        }
        let scale = 10u64.pow(digits);
        let width = digits as usize;
        write!(f, "{sign}{}.{:0width$} {}", magnitude / scale, magnitude % scale, self.currency)
    }
}

/// Product decision: €1,000,000 for one variant is beyond anything sold here; the cap catches
/// extra zeros and keeps a cart of 1,000 such lines nine orders of magnitude from `i64` overflow.
pub const MAX_PRICE_MINOR: i64 = 100_000_000;

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum PriceError {
    #[error("price must be between 0 and {MAX_PRICE_MINOR} minor units")]
    OutOfRange,
    #[error("compare-at price must be higher than the price")]
    CompareAtNotHigher,
    #[error("compare-at price is in another currency")]
    CurrencyMismatch,
}

impl Reason for PriceError {
    fn reason(&self) -> &'static str {
        match self {
            PriceError::OutOfRange => "out_of_range",
            PriceError::CompareAtNotHigher => "compare_at_not_higher",
            PriceError::CurrencyMismatch => "currency_mismatch",
        }
    }
}

/// A variant's price and its optional compare-at ("was") price. The compare-at price must be
/// higher: a "was €10, now €12" label misleads (and the EU Omnibus Directive regulates
/// reductions shown to consumers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantPricing {
    pub price: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_at: Option<Money>,
}

impl VariantPricing {
    pub fn new(price: Money, compare_at: Option<Money>) -> Result<Self, PriceError> {
        let in_range = |money: Money| (0..=MAX_PRICE_MINOR).contains(&money.amount_minor);
        if !in_range(price) || compare_at.is_some_and(|was| !in_range(was)) {
            return Err(PriceError::OutOfRange);
        }
        if let Some(was) = compare_at {
            if was.currency != price.currency {
                return Err(PriceError::CurrencyMismatch);
            }
            if was.amount_minor <= price.amount_minor {
                return Err(PriceError::CompareAtNotHigher);
            }
        }
        Ok(Self { price, compare_at })
    }

    /// Whole percent off the compare-at price, rounded down (never overstates a discount).
    pub fn discount_percent(&self) -> Option<u8> {
        let was = self.compare_at?.amount_minor;
        let off = (was - self.price.amount_minor).checked_mul(100)? / was;
        u8::try_from(off).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::EUR)
    }

    #[test]
    fn currencies_are_three_letters_upper_cased() {
        assert_eq!(Currency::parse("eur"), Ok(Currency::EUR));
        assert_eq!(Currency::parse(" EUR "), Ok(Currency::EUR));
        for bad in ["EU", "EURO", "E1R", "", "ÉUR"] {
            assert_eq!(Currency::parse(bad), Err(CurrencyError), "{bad}");
        }
        assert_eq!(serde_json::to_value(Currency::EUR).unwrap(), serde_json::json!("EUR"));
    }

    #[test]
    fn formats_with_the_currency_minor_unit() {
        assert_eq!(eur(1299).to_string(), "12.99 EUR");
        assert_eq!(eur(-50).to_string(), "-0.50 EUR");
        assert_eq!(eur(i64::MIN).to_string(), "-92233720368547758.08 EUR");
        assert_eq!(Money::new(1500, Currency::parse("JPY").unwrap()).to_string(), "1500 JPY");
        assert_eq!(Money::new(1500, Currency::parse("KWD").unwrap()).to_string(), "1.500 KWD");
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let usd = Money::new(100, Currency::parse("USD").unwrap());
        assert!(matches!(eur(100).checked_add(usd), Err(MoneyError::CurrencyMismatch(..))));
        assert_eq!(eur(i64::MAX).checked_add(eur(1)), Err(MoneyError::Overflow));
        assert_eq!(eur(i64::MIN).checked_sub(eur(1)), Err(MoneyError::Overflow));
        assert_eq!(eur(i64::MAX / 2 + 1).checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(eur(1299).checked_mul(3), Ok(eur(3897)));
        assert_eq!(Money::checked_sum([eur(1), eur(2), eur(3)]), Ok(Some(eur(6))));
        assert_eq!(Money::checked_sum([]), Ok(None));
    }

    #[test]
    fn serialises_as_minor_units_and_code() {
        assert_eq!(
            serde_json::to_value(eur(1299)).unwrap(),
            serde_json::json!({"amount_minor": 1299, "currency": "EUR"})
        );
        assert!(serde_json::from_value::<Money>(serde_json::json!({"amount_minor": 1.5, "currency": "EUR"})).is_err());
    }

    #[test]
    fn compare_at_must_be_higher_and_in_the_same_currency() {
        assert_eq!(VariantPricing::new(eur(1000), Some(eur(1000))), Err(PriceError::CompareAtNotHigher));
        assert_eq!(VariantPricing::new(eur(-1), None), Err(PriceError::OutOfRange));
        assert_eq!(VariantPricing::new(eur(MAX_PRICE_MINOR + 1), None), Err(PriceError::OutOfRange));
        let usd = Money::new(2000, Currency::parse("USD").unwrap());
        assert_eq!(VariantPricing::new(eur(1000), Some(usd)), Err(PriceError::CurrencyMismatch));
        let pricing = VariantPricing::new(eur(1999), Some(eur(2999))).unwrap();
        assert_eq!(pricing.discount_percent(), Some(33));
        assert_eq!(VariantPricing::new(eur(0), None).unwrap().discount_percent(), None);
    }

    proptest! {
        #[test]
        fn add_then_sub_is_identity_when_nothing_overflows(a: i64, b: i64) {
            match eur(a).checked_add(eur(b)) {
                Ok(sum) => prop_assert_eq!(sum.checked_sub(eur(b)), Ok(eur(a))),
                Err(error) => prop_assert_eq!(error, MoneyError::Overflow),
            }
        }

        #[test]
        fn display_round_trips_through_the_minor_units(amount: i64) {
            let text = eur(amount).to_string();
            let digits: String = text.trim_end_matches(" EUR").chars().filter(|c| *c != '.').collect();
            prop_assert_eq!(digits.parse::<i128>().ok(), Some(i128::from(amount)));
        }
    }
}
