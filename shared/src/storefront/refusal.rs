//! A refused cart or checkout call in the shopper's words. The API's envelope says what went wrong
//! for a program (code, `details`); these say it for a person, with what to do next.

use crate::api::{ApiError, ErrorCode};
use crate::catalog::{Money, VariantId};
use crate::idempotency::IdempotencyKey;

/// A cart write's refusal: stock in numbers, the fields to check, otherwise the API's own words.
pub fn refusal_text(error: &ApiError) -> String {
    let details = error.details.as_ref();
    if let Some(available) = details.and_then(|details| details["available"].as_u64()) {
        return if available == 0 {
            "Sorry, that is out of stock.".to_owned()
        } else {
            format!("Sorry, only {available} left in stock.")
        };
    }
    if let Some(fields) = details.and_then(|details| details["fields"].as_object()) {
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        return format!("Please check: {}.", names.join(", "));
    }
    let mut text = capitalised(&error.message);
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// The variant a checkout refused as out of stock, so the page can name its product.
pub fn out_of_stock_variant(error: &ApiError) -> Option<VariantId> {
    if error.code != ErrorCode::OutOfStock {
        return None;
    }
    VariantId::parse(error.details.as_ref()?["variant_id"].as_str()?).ok()
}

/// A checkout's refusal; `item` is the title of the product [`out_of_stock_variant`] names.
pub fn checkout_refusal(error: &ApiError, item: Option<&str>) -> String {
    let details = error.details.clone().unwrap_or_default();
    let reason = details["reason"].as_str().unwrap_or_default();
    let money = |value: &serde_json::Value| serde_json::from_value::<Money>(value.clone()).ok();
    match (error.code, reason) {
        (ErrorCode::PaymentDeclined, _) => "Your card was declined. Nothing was charged: try another card.".to_owned(),
        (_, "total_changed") => match (money(&details["actual"]), money(&details["expected"])) {
            (Some(actual), Some(expected)) => format!(
                "The total changed from {expected} to {actual} (prices, stock or a coupon changed). \
                 Check the summary and pay again to confirm the new total."
            ),
            _ => "The total changed. Check the summary and pay again to confirm the new total.".to_owned(),
        },
        (ErrorCode::OutOfStock, _) => {
            let what = item.map_or_else(|| "An item".to_owned(), |title| format!("“{title}”"));
            match details["flag"]["available"].as_u64() {
                Some(available) if available > 0 => {
                    format!("{what} has only {available} left. Lower the quantity in your cart and try again.")
                }
                _ => format!("{what} is out of stock. Remove it from your cart and try again."),
            }
        }
        (ErrorCode::CouponRejected, _) => {
            let code = details["code"].as_str().unwrap_or("in your cart");
            format!("The coupon {code} is no longer valid. Remove it in your cart and pay again.")
        }
        (_, "shipping_not_chosen") => "Choose a shipping option for every shop first.".to_owned(),
        (_, "no_destination" | "address_not_destination") => {
            "We could not price delivery to that address. Check the country and postcode.".to_owned()
        }
        (_, "line_needs_attention") => "An item in your cart cannot be bought as it is: check your cart.".to_owned(),
        (_, "empty_cart") => "Your cart is empty.".to_owned(),
        (_, "in_progress") => "Your payment is already being processed: check your orders in a moment.".to_owned(),
        (ErrorCode::ValidationFailed, _) if details["fields"].get(IdempotencyKey::HEADER).is_some() => {
            "Your details changed since you pressed Pay: check them and pay again.".to_owned()
        }
        _ => refusal_text(error),
    }
}

pub(super) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::LineFlag;
    use crate::cart::fixtures::{eur, variant};
    use crate::catalog::{Quantity, VendorId};
    use crate::orders::CheckoutRefusal;
    use crate::saga::{Failure, FailureKind, Step};

    #[test]
    fn checkout_refusals_as_the_api_makes_them_read_as_what_to_do() {
        let short = CheckoutRefusal::LineNeedsAttention {
            variant_id: variant(1),
            flag: LineFlag::InsufficientStock { available: Quantity::new(2).unwrap() },
        }
        .to_api_error();
        assert_eq!(out_of_stock_variant(&short), Some(variant(1)));
        assert_eq!(
            checkout_refusal(&short, Some("Blue Mug")),
            "“Blue Mug” has only 2 left. Lower the quantity in your cart and try again."
        );
        let gone =
            CheckoutRefusal::LineNeedsAttention { variant_id: variant(1), flag: LineFlag::OutOfStock }.to_api_error();
        assert_eq!(checkout_refusal(&gone, None), "An item is out of stock. Remove it from your cart and try again.");

        let changed = CheckoutRefusal::TotalChanged { expected: eur(1000), actual: eur(1250) }.to_api_error();
        assert_eq!(out_of_stock_variant(&changed), None);
        let text = checkout_refusal(&changed, None);
        assert!(text.starts_with("The total changed from 10.00 EUR to 12.50 EUR"), "{text}");

        let shipping = CheckoutRefusal::ShippingNotChosen {
            vendor_id: VendorId::parse("ven_01JC00000000000000000000A1").unwrap(),
        }
        .to_api_error();
        assert_eq!(checkout_refusal(&shipping, None), "Choose a shipping option for every shop first.");
        let elsewhere = CheckoutRefusal::AddressNotDestination.to_api_error();
        assert!(checkout_refusal(&elsewhere, None).contains("Check the country and postcode"));
        assert_eq!(checkout_refusal(&CheckoutRefusal::EmptyCart.to_api_error(), None), "Your cart is empty.");
    }

    #[test]
    fn refusals_from_the_saga_say_nothing_was_charged_or_name_the_coupon() {
        let failed = |reason: ErrorCode| Failure {
            step: Step::CreatePayment,
            kind: FailureKind::Refused { reason: reason.wire_name() },
            at_ms: 0,
        };
        let declined = failed(ErrorCode::PaymentDeclined).to_api_error();
        assert_eq!(checkout_refusal(&declined, None), "Your card was declined. Nothing was charged: try another card.");
        let coupon = failed(ErrorCode::CouponRejected).to_api_error();
        assert!(checkout_refusal(&coupon, None).contains("is no longer valid"));
        // The saga's own out-of-stock names no variant: the page cannot name the item.
        let stock = failed(ErrorCode::OutOfStock).to_api_error();
        assert_eq!(out_of_stock_variant(&stock), None);
        assert!(checkout_refusal(&stock, None).starts_with("An item is out of stock"));
    }

    #[test]
    fn cart_refusals_give_numbers_fields_or_the_api_words_as_a_sentence() {
        let short =
            ApiError::new(ErrorCode::OutOfStock, "not enough").with_details(serde_json::json!({"available": 3}));
        assert_eq!(refusal_text(&short), "Sorry, only 3 left in stock.");
        let none = ApiError::new(ErrorCode::OutOfStock, "none").with_details(serde_json::json!({"available": 0}));
        assert_eq!(refusal_text(&none), "Sorry, that is out of stock.");
        let fields = ApiError::new(ErrorCode::ValidationFailed, "bad")
            .with_details(serde_json::json!({"fields": {"country": "invalid"}}));
        assert_eq!(refusal_text(&fields), "Please check: country.");
        assert_eq!(refusal_text(&ApiError::new(ErrorCode::Conflict, "the cart changed")), "The cart changed.");
        assert_eq!(capitalised("élan"), "Élan");
    }
}
