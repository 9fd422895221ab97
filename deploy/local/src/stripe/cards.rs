//! Test cards: numbers (for `POST /v1/payment_methods`) and `pm_card_*` tokens (usable as a
//! `payment_method` directly), each with what happens when a payment is confirmed with it.
//! All but the last are Stripe's documented test cards (docs.stripe.com/testing); the delayed
//! one is the sandbox's own (Stripe has no card that stays `processing`).

/// What a confirmation with the card does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeds,
    /// Succeeds and the funds land in the available balance at once (Stripe's 4000000000000077,
    /// the card its "insufficient funds" transfer error points to).
    SucceedsAvailable,
    Declined {
        decline_code: &'static str,
        message: &'static str,
    },
    /// Sandbox-only: the PaymentIntent sits in `processing` for the configured delay, then
    /// succeeds (or waits for capture) and `payment_intent.succeeded` is sent.
    Delayed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCard {
    pub number: &'static str,
    pub token: &'static str,
    pub brand: &'static str,
    pub funding: &'static str,
    pub outcome: Outcome,
}

pub const DELAYED_CARD: &str = "4000000000008880";
pub const DELAYED_TOKEN: &str = "pm_card_sandbox_delayed";

pub const CARDS: [TestCard; 6] = [
    TestCard {
        number: "4242424242424242",
        token: "pm_card_visa",
        brand: "visa",
        funding: "credit",
        outcome: Outcome::Succeeds,
    },
    TestCard {
        number: "5555555555554444",
        token: "pm_card_mastercard",
        brand: "mastercard",
        funding: "credit",
        outcome: Outcome::Succeeds,
    },
    TestCard {
        number: "4000000000000077",
        token: "pm_card_bypassPending",
        brand: "visa",
        funding: "credit",
        outcome: Outcome::SucceedsAvailable,
    },
    TestCard {
        number: "4000000000000002",
        token: "pm_card_chargeDeclined",
        brand: "visa",
        funding: "credit",
        outcome: Outcome::Declined { decline_code: "generic_decline", message: "Your card was declined." },
    },
    TestCard {
        number: "4000000000009995",
        token: "pm_card_chargeDeclinedInsufficientFunds",
        brand: "visa",
        funding: "credit",
        outcome: Outcome::Declined { decline_code: "insufficient_funds", message: "Your card has insufficient funds." },
    },
    TestCard {
        number: DELAYED_CARD,
        token: DELAYED_TOKEN,
        brand: "visa",
        funding: "credit",
        outcome: Outcome::Delayed,
    },
];

pub fn by_number(number: &str) -> Option<&'static TestCard> {
    CARDS.iter().find(|card| card.number == number)
}

pub fn by_token(token: &str) -> Option<&'static TestCard> {
    CARDS.iter().find(|card| card.token == token)
}

/// The Luhn check every card number passes.
pub fn luhn_valid(number: &str) -> bool {
    let mut sum = 0;
    for (position, byte) in number.bytes().rev().enumerate() {
        if !byte.is_ascii_digit() {
            return false;
        }
        let mut digit = u32::from(byte - b'0');
        if position % 2 == 1 {
            digit *= 2;
            if digit > 9 {
                digit -= 9;
            }
        }
        sum += digit;
    }
    !number.is_empty() && sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_test_card_passes_luhn_and_typos_do_not() {
        for card in CARDS {
            assert!(luhn_valid(card.number), "{}", card.number);
            assert_eq!(by_token(card.token), Some(&card));
        }
        // Stripe's "incorrect_number" example card.
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid("4242 4242 4242 4242"));
        assert!(!luhn_valid(""));
    }
}
