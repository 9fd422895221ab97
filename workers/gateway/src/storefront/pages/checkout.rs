//! `/checkout` (signed-in shoppers): the delivery address, shipping per shop, the order summary and
//! the card. "Pay" posts to `/checkout/pay` with an Idempotency-Key rendered into the form (a
//! double click or a reload of the post orders once) and the total the shopper saw; success goes
//! to the order page (contract 3), a refusal comes back here with what to do about it.

use std::collections::BTreeMap;

use chrono::Datelike;
use maud::{Markup, html};
use shared::api::ApiError;
use shared::cart::CartView;
use shared::catalog::validation::FieldErrors;
use shared::catalog::{Currency, Money, ProductId, VariantId};
use shared::orders::checkout::{CheckoutAnswer, CheckoutRequest};
use shared::orders::{AddressInput, ShippingAddress};
use shared::storefront::cart::{ProductInfo, checkout_blockers, vendor_groups};
use shared::storefront::form::Form;
use shared::storefront::payment::{CardInput, card_error_message, card_payment};
use shared::storefront::refusal::{checkout_refusal, out_of_stock_variant, refusal_text};
use worker::Method;
use worker_platform::clock;
use worker_platform::random::new_id;

use super::cart::{products, shipping_choices, totals_list};
use crate::storefront::errors::PageError;
use crate::storefront::field::Field;
use crate::storefront::layout;
use crate::storefront::visit::{Caching, Page, Visit};

const PATH: &str = "/checkout";

/// What the form shows again after a refusal: the address as typed (never the card), each bad
/// field's message, and the message above the form.
#[derive(Default)]
struct Typed {
    name: String,
    street: String,
    city: String,
    postcode: String,
    country: String,
    fields: BTreeMap<&'static str, String>,
    alert: Option<String>,
}

impl Typed {
    fn from_form(form: &Form) -> Self {
        let field = |name: &str| form.get(name).unwrap_or_default().to_owned();
        Typed {
            name: field("name"),
            street: field("street"),
            city: field("city"),
            postcode: field("postcode"),
            country: field("country"),
            ..Typed::default()
        }
    }

    fn address(&self) -> AddressInput<'_> {
        AddressInput {
            name: &self.name,
            street: &self.street,
            city: &self.city,
            postcode: &self.postcode,
            country: &self.country,
        }
    }
}

/// Only a signed-in shopper checks out; a guest signs in and comes back (to `/checkout` itself,
/// or to the page a refused pay form was posted from, which is `/checkout` too).
fn require_sign_in(visit: &Visit<'_>) -> Result<(), PageError> {
    if visit.signed_in() { Ok(()) } else { Err(visit.sign_in_required()) }
}

pub async fn show(visit: &Visit<'_>) -> Result<Page, PageError> {
    require_sign_in(visit)?;
    render(visit, Typed::default(), 200).await
}

async fn render(visit: &Visit<'_>, mut typed: Typed, status: u16) -> Result<Page, PageError> {
    let view: CartView = visit.get("/api/v1/cart").await?;
    let products = products(visit, &view).await?;
    if let Some(destination) = &view.destination {
        // What the cart was priced for is where most shoppers deliver.
        if typed.country.is_empty() {
            typed.country = destination.country.as_str().to_owned();
        }
        if typed.postcode.is_empty() {
            typed.postcode = destination.postcode.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default();
        }
    }
    let body = layout::page(visit, "Checkout", main(&view, &products, &typed));
    Ok(Page::Html { status, body, caching: Caching::Private })
}

fn main(view: &CartView, products: &BTreeMap<ProductId, ProductInfo>, typed: &Typed) -> Markup {
    let Some(totals) = view.totals.filter(|_| !view.vendors.is_empty()) else {
        return html! {
            h1 { "Checkout" }
            @if let Some(alert) = &typed.alert { p.field-error role="alert" { (alert) } }
            p { "Your cart is empty, so there is nothing to pay for." }
            p { a.button href="/" { "Continue shopping" } }
        };
    };
    let groups = vendor_groups(view, products);
    let blockers = checkout_blockers(view, &groups);
    let error = |name: &str| typed.fields.get(name).map(String::as_str);
    html! {
        h1 { "Checkout" }
        @if let Some(alert) = &typed.alert { p.field-error.checkout-alert role="alert" { (alert) } }
        section aria-labelledby="shipping" {
            h2 #shipping { "Shipping" }
            @for group in &groups {
                form.cart-shipping method="post" action="/cart/shipping" {
                    input type="hidden" name="vendor_id" value=(group.vendor_id);
                    input type="hidden" name="return_to" value=(PATH);
                    (shipping_choices(group))
                    button.secondary type="submit" { "Use this shipping" }
                }
            }
        }
        section aria-labelledby="summary" {
            h2 #summary { "Order summary" }
            @for group in &groups {
                h3 { (group.vendor_name) }
                ul.checkout-lines {
                    @for line in &group.lines {
                        li {
                            (line.title)
                            @if let Some(variant) = &line.variant { " (" (variant) ")" }
                            " × " (line.quantity.get())
                            @if let Some(total) = line.line_total { " — " (total) }
                            @for note in &line.notes { " " span.error { (note) } }
                        }
                    }
                }
                p.muted { "Shipping " (group.totals.shipping) ", tax " (group.totals.tax) }
            }
            (totals_list(&totals))
            @if !blockers.is_empty() {
                ul.cart-blockers {
                    @for blocker in &blockers { li { (blocker) } }
                }
                p { a href="/cart" { "Back to your cart" } }
            }
        }
        form.checkout method="post" action="/checkout/pay" {
            input type="hidden" name="idempotency_key" value=(new_id("sfo"));
            input type="hidden" name="expected_total" value=(totals.total.amount_minor);
            input type="hidden" name="currency" value=(totals.total.currency.as_str());
            fieldset {
                legend { "Delivery address" }
                (Field::new("Full name", "name", "name").value(&typed.name).error(error("name")).render())
                (Field::new("Street and number", "street", "street-address").value(&typed.street).error(error("street")).render())
                (Field::new("City", "city", "address-level2").value(&typed.city).error(error("city")).render())
                (Field::new("Postcode", "postcode", "postal-code").value(&typed.postcode).error(error("postcode")).render())
                (Field::new("Country (two-letter code, e.g. PT)", "country", "country").max_length(2).value(&typed.country).error(error("country")).render())
            }
            fieldset {
                legend { "Payment" }
                p.muted { "Test mode: pay with 4242 4242 4242 4242, any future expiry and any CVC. 4000 0000 0000 0002 is declined." }
                // The card is never shown back: a refused form asks for it again.
                (Field::new("Card number", "card_number", "cc-number").error(error("card_number")).render())
                (Field::new("Expiry (MM/YY)", "card_expiry", "cc-exp").placeholder("MM/YY").error(error("card_expiry")).render())
                (Field::new("Security code (CVC)", "card_cvc", "cc-csc").max_length(4).error(error("card_cvc")).render())
            }
            button type="submit" { "Pay " (totals.total) }
        }
    }
}

/// `POST /checkout/pay`.
pub async fn pay(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    require_sign_in(visit)?;
    let mut typed = Typed::from_form(form);
    let address = ShippingAddress::parse(typed.address());
    let now = clock::now();
    let today = (u16::try_from(now.year()).unwrap_or(u16::MAX), u8::try_from(now.month()).unwrap_or(12));
    let card =
        CardInput { number: form.raw("card_number"), expiry: form.raw("card_expiry"), cvc: form.raw("card_cvc") };
    let method = card_payment(card, today);
    let expected_total = expected_total(form);
    let mut errors = FieldErrors::new();
    if let Err(address_errors) = &address {
        for error in address_errors.iter() {
            errors.push(error.field.clone(), error.reason);
        }
    }
    if let Err(card_errors) = &method {
        for error in card_errors.iter() {
            errors.push(error.field.clone(), error.reason);
        }
    }
    let (Ok(address), Ok(method), Some(expected_total), Some(key)) =
        (address, method, expected_total, form.get("idempotency_key"))
    else {
        typed.fields = field_messages(&errors);
        typed.alert = Some("Please check the highlighted fields.".to_owned());
        return render(visit, typed, 422).await;
    };
    if let Err(message) = deliver_to(visit, &address).await? {
        typed.alert = Some(message);
        return render(visit, typed, 422).await;
    }
    let request = CheckoutRequest { expected_total, payment_method: method, shipping_address: Some(address) };
    match visit.send::<_, CheckoutAnswer>(Method::Post, "/api/v1/checkout", Some(&request), Some(key)).await? {
        Ok(placed) => Ok(Page::Redirect(format!("/orders/{}?placed=1", placed.group_id))),
        Err(error) => {
            let status = error.status();
            typed.alert = Some(refusal(visit, &error).await?);
            render(visit, typed, status).await
        }
    }
}

fn expected_total(form: &Form) -> Option<Money> {
    let amount: i64 = form.get("expected_total")?.parse().ok()?;
    let currency = Currency::parse(form.get("currency")?).ok()?;
    Some(Money::new(amount, currency))
}

/// The cart priced for where the address is: its destination set to the address's country and
/// postcode unless it already matches (the region is kept within the same country).
async fn deliver_to(visit: &Visit<'_>, address: &ShippingAddress) -> Result<Result<(), String>, PageError> {
    let view: CartView = visit.get("/api/v1/cart").await?;
    if view.destination.as_ref().is_some_and(|destination| address.matches(destination)) {
        return Ok(Ok(()));
    }
    let region = view
        .destination
        .as_ref()
        .filter(|destination| destination.country == address.country)
        .and_then(|destination| destination.region.as_ref().map(|region| region.as_str().to_owned()));
    let body = serde_json::json!({
        "country": address.country.as_str(),
        "region": region,
        "postcode": address.postcode.as_str(),
    });
    match visit.send::<_, serde::de::IgnoredAny>(Method::Put, "/api/v1/cart/destination", Some(&body), None).await? {
        Ok(_) => Ok(Ok(())),
        Err(error) => Ok(Err(refusal_text(&error))),
    }
}

/// The checkout's refusal in the shopper's words, naming the item when stock ran short.
async fn refusal(visit: &Visit<'_>, error: &ApiError) -> Result<String, PageError> {
    let item = match out_of_stock_variant(error) {
        Some(variant_id) => item_title(visit, &variant_id).await?,
        None => None,
    };
    Ok(checkout_refusal(error, item.as_deref()))
}

async fn item_title(visit: &Visit<'_>, variant_id: &VariantId) -> Result<Option<String>, PageError> {
    let view: CartView = visit.get("/api/v1/cart").await?;
    let products = products(visit, &view).await?;
    Ok(view
        .vendors
        .iter()
        .flat_map(|vendor| &vendor.lines)
        .find(|line| &line.variant_id == variant_id)
        .and_then(|line| products.get(&line.product_id))
        .map(|product| product.title.clone()))
}

fn field_messages(errors: &FieldErrors) -> BTreeMap<&'static str, String> {
    const FIELDS: [(&str, &str); 8] = [
        ("name", "Enter the name to deliver to."),
        ("street", "Enter the street and number."),
        ("city", "Enter the city."),
        ("postcode", "Enter a postcode (letters, digits, spaces or hyphens)."),
        ("country", "Enter the two-letter country code, e.g. PT."),
        ("card_number", ""),
        ("card_expiry", "Enter the expiry as MM/YY."),
        ("card_cvc", "Enter the 3 or 4 digit security code."),
    ];
    FIELDS
        .iter()
        .filter_map(|(field, message)| {
            let reason = errors.reason_for(field)?;
            let text = match (*field, reason) {
                ("card_number", "invalid") => "Enter the card number.".to_owned(),
                ("card_number" | "card_expiry", reason) if reason != "invalid" => card_error_message(reason).to_owned(),
                (_, "too_long") => "That is too long.".to_owned(),
                (_, "forbidden_character") => "Please remove special control characters.".to_owned(),
                _ => (*message).to_owned(),
            };
            Some((*field, text))
        })
        .collect()
}
