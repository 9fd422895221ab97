//! Amounts on Stripe's wire versus our `Money`. Both are integer minor units, but Stripe's minor
//! unit is not always ISO 4217's (docs.stripe.com/currencies): ISK and UGX are zero-decimal in ISO
//! yet two-decimal on Stripe ("to charge 5 ISK, provide an amount value of 500"), MGA the reverse,
//! and Stripe lists no three-decimal currency (BHD, KWD, …) at all.

use thiserror::Error;

use crate::catalog::money::{Currency, Money};

/// Stripe's zero-decimal currencies ("Zero-decimal currencies" on docs.stripe.com/currencies).
pub const ZERO_DECIMAL: [&str; 16] =
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"];

/// UGX is listed as zero-decimal but "backwards compatibility requires you to represent it as a
/// two-decimal value" (same page, "Special cases"); ISK likewise.
const TWO_DECIMAL_ON_THE_WIRE: [&str; 2] = ["ISK", "UGX"];

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum AmountError {
    #[error("Stripe has no {0} amounts with more than two decimals")]
    UnsupportedCurrency(Currency),
    #[error("{amount} minor units of {currency} have no exact equivalent on the other side")]
    Inexact { amount: i64, currency: Currency },
    #[error("amount overflows")]
    Overflow,
}

/// Decimal places of `currency` in Stripe's `amount` fields.
pub fn stripe_decimals(currency: Currency) -> u8 {
    let code = currency.as_str();
    if TWO_DECIMAL_ON_THE_WIRE.contains(&code) {
        2
    } else if ZERO_DECIMAL.contains(&code) {
        0
    } else {
        2
    }
}

/// Our money as Stripe's `amount` (same currency).
pub fn to_stripe_amount(money: Money) -> Result<i64, AmountError> {
    rescale(money.amount_minor, money.currency, iso_decimals(money.currency)?, stripe_decimals(money.currency))
}

/// A Stripe `amount` as our money.
pub fn from_stripe_amount(amount: i64, currency: Currency) -> Result<Money, AmountError> {
    let minor = rescale(amount, currency, stripe_decimals(currency), iso_decimals(currency)?)?;
    Ok(Money::new(minor, currency))
}

fn iso_decimals(currency: Currency) -> Result<u8, AmountError> {
    match currency.minor_unit_digits() {
        digits @ 0..=2 => Ok(digits),
        _ => Err(AmountError::UnsupportedCurrency(currency)),
    }
}

fn rescale(amount: i64, currency: Currency, from: u8, to: u8) -> Result<i64, AmountError> {
    let factor = 10i64.pow(u32::from(from.abs_diff(to)));
    if to >= from {
        amount.checked_mul(factor).ok_or(AmountError::Overflow)
    } else if amount % factor == 0 {
        Ok(amount / factor)
    } else {
        Err(AmountError::Inexact { amount, currency })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn the_documented_examples_hold() {
        // "1000 to charge 10 USD", "10 to charge 10 JPY", "to charge 5 ISK, provide … 500".
        assert_eq!(to_stripe_amount(Money::new(1000, currency("USD"))), Ok(1000));
        assert_eq!(to_stripe_amount(Money::new(10, currency("JPY"))), Ok(10));
        assert_eq!(to_stripe_amount(Money::new(5, currency("ISK"))), Ok(500));
        assert_eq!(to_stripe_amount(Money::new(5, currency("UGX"))), Ok(500));
        assert_eq!(from_stripe_amount(500, currency("ISK")), Ok(Money::new(5, currency("ISK"))));
        assert_eq!(
            from_stripe_amount(550, currency("ISK")),
            Err(AmountError::Inexact { amount: 550, currency: currency("ISK") })
        );
        // MGA: two ISO decimals, none on Stripe.
        assert_eq!(to_stripe_amount(Money::new(1200, currency("MGA"))), Ok(12));
        assert!(to_stripe_amount(Money::new(1250, currency("MGA"))).is_err());
        assert_eq!(
            to_stripe_amount(Money::new(1000, currency("KWD"))),
            Err(AmountError::UnsupportedCurrency(currency("KWD")))
        );
    }

    proptest! {
        #[test]
        fn amounts_survive_the_round_trip(
            amount in -1_000_000_000_000i64..1_000_000_000_000,
            code in prop::sample::select(vec!["EUR", "USD", "JPY", "ISK", "UGX", "KRW", "GBP", "HUF"]),
        ) {
            let money = Money::new(amount, currency(code));
            let wire = to_stripe_amount(money).unwrap();
            prop_assert_eq!(from_stripe_amount(wire, money.currency), Ok(money));
        }
    }
}
