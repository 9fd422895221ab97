//! The checkout's card form in test mode: the number a shopper types becomes the payment
//! provider's test PaymentMethod token for that card (Stripe's `pm_card_*`), so the number itself
//! goes no further than this function: not to the API, not into any log or stored request.

use crate::catalog::validation::FieldErrors;
use crate::payments::api::PaymentMethodInput;
use crate::payments::stripe::PaymentMethodId;

/// The test cards the sandbox (and Stripe's test mode) know, with their tokens
/// (deploy/local/src/stripe/cards.rs, docs.stripe.com/testing).
const TEST_CARDS: [(&str, &str); 6] = [
    ("4242424242424242", "pm_card_visa"),
    ("5555555555554444", "pm_card_mastercard"),
    ("4000000000000077", "pm_card_bypassPending"),
    ("4000000000000002", "pm_card_chargeDeclined"),
    ("4000000000009995", "pm_card_chargeDeclinedInsufficientFunds"),
    // The sandbox's own: the payment stays `processing` for a moment, then succeeds.
    ("4000000000008880", "pm_card_sandbox_delayed"),
];

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

/// The payment method for the typed card, checked as a real form would (the Luhn digit, an expiry
/// not in the past, a 3–4 digit CVC). `today` is `(year, month)`. Errors are per field
/// (`card_number`, `card_expiry`, `card_cvc`) with a reason the page words.
pub fn test_payment_method(card: CardInput<'_>, today: (u16, u8)) -> Result<PaymentMethodInput, FieldErrors> {
    let mut errors = FieldErrors::new();
    let digits: String = card.number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let token = if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        errors.push("card_number", "invalid");
        None
    } else if !luhn_valid(&digits) {
        errors.push("card_number", "luhn");
        None
    } else {
        let token = TEST_CARDS.iter().find(|(number, _)| *number == digits).map(|(_, token)| *token);
        if token.is_none() {
            errors.push("card_number", "not_a_test_card");
        }
        token
    };
    match parse_expiry(card.expiry) {
        None => errors.push("card_expiry", "invalid"),
        Some(expiry) if expiry < today => errors.push("card_expiry", "expired"),
        Some(_) => {}
    }
    let cvc = card.cvc.trim();
    if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        errors.push("card_cvc", "invalid");
    }
    match token.map(PaymentMethodId::parse) {
        Some(Ok(method)) if errors.is_empty() => Ok(PaymentMethodInput::PaymentMethod(method)),
        _ => Err(errors),
    }
}

/// What to tell the shopper about a card field's reason.
pub fn card_error_message(reason: &str) -> &'static str {
    match reason {
        "luhn" => "That card number has a typo: check the digits.",
        "not_a_test_card" => "This shop is in test mode: pay with a test card such as 4242 4242 4242 4242.",
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

    fn token(input: CardInput<'_>) -> String {
        match test_payment_method(input, TODAY).unwrap() {
            PaymentMethodInput::PaymentMethod(id) => id.to_string(),
            PaymentMethodInput::TestCard(_) => panic!("a token, never the number"),
        }
    }

    #[test]
    fn each_test_card_becomes_its_token() {
        assert_eq!(token(card("4242 4242 4242 4242")), "pm_card_visa");
        assert_eq!(token(card("4000-0000-0000-0002")), "pm_card_chargeDeclined");
        assert_eq!(token(card("4000000000008880")), "pm_card_sandbox_delayed");
        for (number, _) in TEST_CARDS {
            assert!(luhn_valid(number), "{number}");
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let reason = |input: CardInput<'_>, field: &str| {
            test_payment_method(input, TODAY).unwrap_err().reason_for(field).map(str::to_owned)
        };
        assert_eq!(reason(card("4242 4242 4242 4241"), "card_number").as_deref(), Some("luhn"));
        assert_eq!(reason(card("4242"), "card_number").as_deref(), Some("invalid"));
        assert_eq!(reason(card("4242abcd42424242"), "card_number").as_deref(), Some("invalid"));
        // A real card number (Luhn-valid) is not a test card: refused before it goes anywhere.
        assert_eq!(reason(card("4012888888881881"), "card_number").as_deref(), Some("not_a_test_card"));
        let expired = CardInput { expiry: "04/26", ..card("4242424242424242") };
        assert_eq!(reason(expired, "card_expiry").as_deref(), Some("expired"));
        let this_month = CardInput { expiry: "05 / 2026", ..card("4242424242424242") };
        assert!(test_payment_method(this_month, TODAY).is_ok());
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
