//! The checkout's card form in test mode. The typed card goes to payments as a
//! `PaymentMethodInput::TestCard`, which has the provider turn it into a PaymentMethod (refused
//! with a live key: in production the browser's Stripe.js makes the PaymentMethod and card numbers
//! never reach our servers). The provider decides what a number does (paid, declined, delayed, or
//! "not a test card"); this checks the fields first as any card form would, so a typo is named
//! beside its field instead of coming back as a decline. The number is never logged (`CardInput`'s
//! and `TestCard`'s Debug hide it) nor shown back.

use crate::catalog::validation::FieldErrors;
use crate::payments::api::{PaymentMethodInput, TestCard};

/// The card fields as typed.
#[derive(Clone, Copy)]
pub struct CardInput<'a> {
    pub number: &'a str,
    /// `MM/YY`, `MM / YY`, `MM/YYYY` or `MMYY`.
    pub expiry: &'a str,
    pub cvc: &'a str,
}

/// Never prints the number.
impl std::fmt::Debug for CardInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardInput { .. }")
    }
}

/// The typed card as payments takes it, checked as a real form would (the Luhn digit, an expiry
/// not in the past, a 3–4 digit CVC). `today` is `(year, month)`. Errors are per field
/// (`card_number`, `card_expiry`, `card_cvc`) with a reason the page words.
pub fn card_payment(card: CardInput<'_>, today: (u16, u8)) -> Result<PaymentMethodInput, FieldErrors> {
    let mut errors = FieldErrors::new();
    let number: String = card.number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !(12..=19).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        errors.push("card_number", "invalid");
    } else if !luhn_valid(&number) {
        errors.push("card_number", "luhn");
    }
    let expiry = parse_expiry(card.expiry);
    match expiry {
        None => errors.push("card_expiry", "invalid"),
        Some(expiry) if expiry < today => errors.push("card_expiry", "expired"),
        Some(_) => {}
    }
    let cvc = card.cvc.trim();
    if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        errors.push("card_cvc", "invalid");
    }
    match expiry {
        Some((exp_year, exp_month)) if errors.is_empty() => {
            Ok(PaymentMethodInput::TestCard(TestCard { number, exp_month, exp_year, cvc: Some(cvc.to_owned()) }))
        }
        _ => Err(errors),
    }
}

/// What to tell the shopper about a card field's reason.
pub fn card_error_message(reason: &str) -> &'static str {
    match reason {
        "luhn" => "That card number has a typo: check the digits.",
        "expired" => "That card has expired.",
        _ => "Check this field.",
    }
}

/// `(year, month)` of the last month the card is valid.
fn parse_expiry(input: &str) -> Option<(u16, u8)> {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '/' | '-')).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 4 | 6) {
        return None;
    }
    let month: u8 = digits.get(..2)?.parse().ok()?;
    let year: u16 = digits.get(2..)?.parse().ok()?;
    let year = if digits.len() == 4 { 2000 + year } else { year };
    (1..=12).contains(&month).then_some((year, month))
}

/// Every card number's last digit is a Luhn check digit over the others.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (position, byte) in digits.bytes().rev().enumerate() {
        let Some(digit) = char::from(byte).to_digit(10) else { return false };
        sum += if !position.is_multiple_of(2) {
            let doubled = digit * 2;
            if doubled > 9 { doubled - 9 } else { doubled }
        } else {
            digit
        };
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TODAY: (u16, u8) = (2026, 5);

    fn card(number: &str) -> CardInput<'_> {
        CardInput { number, expiry: "12/34", cvc: "123" }
    }

    #[test]
    fn a_well_formed_card_goes_to_payments_as_typed_without_spaces() {
        let PaymentMethodInput::TestCard(sent) = card_payment(card("4242 4242-4242 4242"), TODAY).unwrap() else {
            panic!("a test card")
        };
        assert_eq!(
            (sent.number.as_str(), sent.exp_month, sent.exp_year, sent.cvc.as_deref()),
            ("4242424242424242", 12, 2034, Some("123"))
        );
        assert!(!format!("{sent:?}").contains("42424242"), "a log shows the last four at most");
    }

    #[test]
    fn each_bad_field_is_named() {
        let reason = |input: CardInput<'_>, field: &str| {
            card_payment(input, TODAY).unwrap_err().reason_for(field).map(str::to_owned)
        };
        assert_eq!(reason(card("4242 4242 4242 4241"), "card_number").as_deref(), Some("luhn"));
        assert_eq!(reason(card("4242"), "card_number").as_deref(), Some("invalid"));
        assert_eq!(reason(card("4242abcd42424242"), "card_number").as_deref(), Some("invalid"));
        // Any well-formed number goes on: the provider decides what it does.
        assert!(card_payment(card("4012888888881881"), TODAY).is_ok());
        let expired = CardInput { expiry: "04/26", ..card("4242424242424242") };
        assert_eq!(reason(expired, "card_expiry").as_deref(), Some("expired"));
        let this_month = CardInput { expiry: "05 / 2026", ..card("4242424242424242") };
        assert!(card_payment(this_month, TODAY).is_ok());
        for bad in ["13/30", "1/30", "ab/cd", ""] {
            assert_eq!(
                reason(CardInput { expiry: bad, ..card("4242424242424242") }, "card_expiry").as_deref(),
                Some("invalid")
            );
        }
        for bad in ["12", "12345", "1a3", ""] {
            assert_eq!(
                reason(CardInput { cvc: bad, ..card("4242424242424242") }, "card_cvc").as_deref(),
                Some("invalid")
            );
        }
    }

    #[test]
    fn debug_output_hides_the_number() {
        assert!(!format!("{:?}", card("4242424242424242")).contains("4242"));
    }

    proptest! {
        /// Changing any one digit of a valid number breaks its check digit.
        #[test]
        fn one_changed_digit_fails_the_luhn_check(position in 0usize..16, bump in 1u8..10) {
            let mut digits = b"4242424242424242".to_vec();
            digits[position] = b'0' + (digits[position] - b'0' + bump) % 10;
            let changed = String::from_utf8(digits).unwrap();
            prop_assert!(!luhn_valid(&changed));
        }
    }
}
