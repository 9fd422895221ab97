//! `/cart` and its forms (`/cart/…`): lines per shop, quantities, shipping per shop, the delivery
//! destination, coupons and totals. Every form posts here, calls the cart API and answers 303
//! back to `/cart`; a refusal re-renders the cart with the reason next to the form (4xx).

use std::collections::BTreeMap;

use maud::{Markup, html};
use serde::Serialize;
use serde::de::IgnoredAny;
use shared::cart::CartView;
use shared::catalog::{Product, ProductId};
use shared::storefront::cart::{
    ProductInfo, VendorGroup, checkout_blockers, coupon_lines, item_count, parse_quantity, vendor_groups, with_query,
};
use shared::storefront::form::Form;
use shared::storefront::local_path;
use shared::storefront::refusal::refusal_text;
use worker::Method;
use worker_platform::random::new_id;

use crate::storefront::errors::PageError;
use crate::storefront::layout;
use crate::storefront::visit::{Caching, Page, Visit};

/// Which form a message belongs next to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spot {
    Line(String),
    Shipping(String),
    Destination,
    Coupon,
    /// Above the cart (an add from elsewhere, a failure without a form).
    Top,
}

pub struct Notice {
    pub spot: Spot,
    pub text: String,
}

pub async fn show(visit: &Visit<'_>) -> Result<Page, PageError> {
    let view: CartView = visit.get("/api/v1/cart").await?;
    render(visit, &view, None).await
}

/// The cart with `notice` beside its form: 200 when there is none, else the refusal's status.
async fn render(visit: &Visit<'_>, view: &CartView, notice: Option<(u16, Notice)>) -> Result<Page, PageError> {
    let products = products(visit, view).await?;
    let (status, notice) = match notice {
        Some((status, notice)) => (status, Some(notice)),
        None => (200, None),
    };
    let body = layout::page(visit, "Your cart", main(view, &products, notice.as_ref()));
    Ok(Page::Html { status, body, caching: Caching::Private })
}

/// Titles, variants and shop names of the cart's products, one catalog read per product (the
/// catalog caches them at the edge). A product the catalog no longer has is left out.
pub async fn products(visit: &Visit<'_>, view: &CartView) -> Result<BTreeMap<ProductId, ProductInfo>, PageError> {
    let mut ids: Vec<&ProductId> = view.vendors.iter().flat_map(|v| &v.lines).map(|line| &line.product_id).collect();
    ids.sort();
    ids.dedup();
    let reads = ids.iter().map(|id| async move {
        let read = visit.send::<(), Product>(Method::Get, &format!("/api/v1/products/{id}"), None, None).await;
        (*id, read)
    });
    let mut products = BTreeMap::new();
    for (id, read) in futures_util::future::join_all(reads).await {
        if let Ok(product) = read? {
            products.insert(id.clone(), ProductInfo::from(&product));
        }
    }
    Ok(products)
}

fn main(view: &CartView, products: &BTreeMap<ProductId, ProductInfo>, notice: Option<&Notice>) -> Markup {
    let alert = |spot: Spot| -> Markup {
        html! {
            @if let Some(notice) = notice.filter(|notice| notice.spot == spot) {
                p.field-error role="alert" { (notice.text) }
            }
        }
    };
    if view.vendors.is_empty() {
        return html! {
            h1 { "Your cart" }
            (alert(Spot::Top))
            section.notice data-cart-count="0" {
                p { "Your cart is empty. Find something you like and it will wait for you here." }
                p { a.button href="/" { "Continue shopping" } }
            }
        };
    }
    let groups = vendor_groups(view, products);
    let coupons = coupon_lines(view);
    let blockers = checkout_blockers(view, &groups);
    let destination = view.destination.as_ref();
    html! {
        h1 { "Your cart" }
        (alert(Spot::Top))
        div.cart data-cart-count=(item_count(view)) {
            @for group in &groups {
                section.cart-vendor aria-labelledby={ "shop-" (group.vendor_id) } {
                    h2 #{ "shop-" (group.vendor_id) } { (group.vendor_name) }
                    ul.cart-lines {
                        @for line in &group.lines {
                            li.cart-line #{ "line-" (line.line_id) } {
                                div.cart-item {
                                    @if let Some(href) = &line.href {
                                        a href=(href) { (line.title) }
                                    } @else {
                                        span { (line.title) }
                                    }
                                    @if let Some(variant) = &line.variant { " " span.muted { "(" (variant) ")" } }
                                    p.muted { "Unit price " (line.unit_price) }
                                    @for note in &line.notes { p.error { (note) } }
                                }
                                form.cart-quantity method="post" action="/cart/update" data-enhance {
                                    input type="hidden" name="line_id" value=(line.line_id);
                                    label for={ "qty-" (line.line_id) } { "Quantity" span.visually-hidden { " of " (line.title) } }
                                    input #{ "qty-" (line.line_id) } type="number" name="quantity" min="1" max="99"
                                        inputmode="numeric" value=(line.quantity.get()) required;
                                    button.secondary type="submit" { "Update" span.visually-hidden { " " (line.title) } }
                                }
                                form.cart-remove method="post" action="/cart/remove" data-enhance {
                                    input type="hidden" name="line_id" value=(line.line_id);
                                    button.secondary type="submit" { "Remove" span.visually-hidden { " " (line.title) } }
                                }
                                p.cart-line-total {
                                    @match line.line_total {
                                        Some(total) => { "Line total " strong { (total) } },
                                        None => { "Not counted" },
                                    }
                                }
                                (alert(Spot::Line(line.line_id.to_string())))
                            }
                        }
                    }
                    form.cart-shipping method="post" action="/cart/shipping" data-enhance {
                        input type="hidden" name="vendor_id" value=(group.vendor_id);
                        (shipping_choices(group))
                        button.secondary type="submit" { "Use this shipping" }
                        (alert(Spot::Shipping(group.vendor_id.to_string())))
                    }
                    p.cart-vendor-total { "From " (group.vendor_name) ": " strong { (group.totals.total) } }
                }
            }
            section aria-labelledby="delivery" {
                h2 #delivery { "Delivery destination" }
                p.muted { "Where the order goes decides its tax and which shipping options fit." }
                form.cart-destination method="post" action="/cart/destination" data-enhance {
                    div.field {
                        label for="country" { "Country (two-letter code, e.g. PT)" }
                        input #country name="country" required maxlength="2" autocomplete="country"
                            value=(destination.map(|d| d.country.as_str()).unwrap_or_default());
                    }
                    div.field {
                        label for="region" { "Region code (optional)" }
                        input #region name="region" maxlength="3"
                            value=(destination.and_then(|d| d.region.as_ref()).map(|r| r.as_str()).unwrap_or_default());
                    }
                    div.field {
                        label for="postcode" { "Postcode (optional)" }
                        input #postcode name="postcode" maxlength="10" autocomplete="postal-code"
                            value=(destination.and_then(|d| d.postcode.as_ref()).map(|p| p.as_str()).unwrap_or_default());
                    }
                    button.secondary type="submit" { "Save destination" }
                    (alert(Spot::Destination))
                }
            }
            section aria-labelledby="coupons" {
                h2 #coupons { "Coupon" }
                @if !coupons.is_empty() {
                    ul.cart-coupons {
                        @for coupon in &coupons {
                            li {
                                strong { (coupon.code) }
                                @if let Some(discount) = coupon.discount { " — saves " (discount) }
                                @if let Some(refused) = &coupon.refused { " — " span.error { (refused) } }
                                form.inline method="post" action="/cart/coupon/remove" data-enhance {
                                    input type="hidden" name="code" value=(coupon.code);
                                    button.secondary type="submit" { "Remove coupon" span.visually-hidden { " " (coupon.code) } }
                                }
                            }
                        }
                    }
                }
                form.cart-coupon method="post" action="/cart/coupon" data-enhance {
                    input type="hidden" name="idempotency_key" value=(new_id("sfc"));
                    label for="coupon-code" { "Coupon code" }
                    input #coupon-code name="code" required maxlength="32" autocomplete="off";
                    button.secondary type="submit" { "Apply coupon" }
                    (alert(Spot::Coupon))
                }
            }
            @if let Some(totals) = &view.totals {
                section aria-labelledby="summary" {
                    h2 #summary { "Summary" }
                    (totals_list(totals))
                    @if !blockers.is_empty() {
                        ul.cart-blockers {
                            @for blocker in &blockers { li { (blocker) } }
                        }
                    }
                    p { a.button href="/checkout" { "Checkout" } }
                }
            }
        }
    }
}

pub fn totals_list(totals: &shared::cart::Totals) -> Markup {
    html! {
        dl.totals {
            dt { "Subtotal" } dd { (totals.subtotal) }
            dt { "Discount" } dd { "−" (totals.discount) }
            dt { "Shipping" } dd { (totals.shipping) }
            dt { "Tax" } dd { (totals.tax) }
            dt.total { "Total" } dd.total { (totals.total) }
        }
    }
}

/// A cart API call from a form: 303 to `/cart` when it went through, the cart again with the
/// reason beside the form when refused.
async fn act<B: Serialize>(
    visit: &Visit<'_>,
    method: Method,
    path: &str,
    body: Option<&B>,
    key: Option<&str>,
    spot: Spot,
) -> Result<Page, PageError> {
    act_then(visit, method, path, body, key, spot, "/cart").await
}

/// As [`act`], going on to `next` (a local path) when it went through.
async fn act_then<B: Serialize>(
    visit: &Visit<'_>,
    method: Method,
    path: &str,
    body: Option<&B>,
    key: Option<&str>,
    spot: Spot,
    next: &str,
) -> Result<Page, PageError> {
    match visit.send::<B, IgnoredAny>(method, path, body, key).await? {
        Ok(_) => Ok(Page::Redirect(next.to_owned())),
        Err(error) => refused(visit, spot, error.status(), refusal_text(&error)).await,
    }
}

async fn refused(visit: &Visit<'_>, spot: Spot, status: u16, text: String) -> Result<Page, PageError> {
    let view: CartView = visit.get("/api/v1/cart").await?;
    // A line or shop that is gone from the cart has no form to stand next to.
    render(visit, &view, Some((status, Notice { spot, text }))).await
}

/// `POST /cart/add` (contract 1): back to `return_to?added=1`, or `?cart_error=…` when refused.
pub async fn add(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let return_to = form.get("return_to").and_then(local_path).map(str::to_owned);
    let outcome = match (form.get("variant_id"), parse_quantity(form.get("quantity").unwrap_or("1"))) {
        (None, _) => Err("Choose a variant first.".to_owned()),
        (_, Err(message)) => Err(message.to_owned()),
        (Some(variant_id), Ok(quantity)) => {
            let body = serde_json::json!({ "variant_id": variant_id, "quantity": quantity.get() });
            let key = form.get("idempotency_key");
            match visit.send::<_, IgnoredAny>(Method::Post, "/api/v1/cart/lines", Some(&body), key).await? {
                Ok(_) => Ok(()),
                Err(error) => Err(refusal_text(&error)),
            }
        }
    };
    match (outcome, return_to) {
        (Ok(()), Some(path)) => Ok(Page::Redirect(with_query(&path, "added", "1"))),
        (Ok(()), None) => Ok(Page::Redirect("/cart".to_owned())),
        (Err(message), Some(path)) => Ok(Page::Redirect(with_query(&path, "cart_error", &message))),
        (Err(message), None) => refused(visit, Spot::Top, 422, message).await,
    }
}

/// `POST /cart/update`: a line's new quantity.
pub async fn update(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let line_id = form.get("line_id").unwrap_or_default();
    let spot = Spot::Line(line_id.to_owned());
    let quantity = match parse_quantity(form.get("quantity").unwrap_or_default()) {
        Ok(quantity) => quantity,
        Err(message) => return refused(visit, spot, 422, message.to_owned()).await,
    };
    let path = format!("/api/v1/cart/lines/{}", shared::storefront::query_value(line_id));
    let body = serde_json::json!({ "quantity": quantity.get() });
    act(visit, Method::Patch, &path, Some(&body), None, spot).await
}

/// `POST /cart/remove`.
pub async fn remove(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let line_id = form.get("line_id").unwrap_or_default();
    let path = format!("/api/v1/cart/lines/{}", shared::storefront::query_value(line_id));
    act(visit, Method::Delete, &path, None::<&()>, None, Spot::Line(line_id.to_owned())).await
}

/// `POST /cart/shipping`: one shop's option.
pub async fn shipping(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let vendor_id = form.get("vendor_id").unwrap_or_default();
    let spot = Spot::Shipping(vendor_id.to_owned());
    let Some(option_id) = form.get("option_id") else {
        return refused(visit, spot, 422, "Choose one of the shipping options.".to_owned()).await;
    };
    let path = format!("/api/v1/cart/shipping/{}", shared::storefront::query_value(vendor_id));
    // The checkout page changes shipping here too, and goes back there.
    let next = form.get("return_to").and_then(local_path).unwrap_or("/cart");
    let body = serde_json::json!({ "option_id": option_id });
    act_then(visit, Method::Put, &path, Some(&body), None, spot, next).await
}

/// `POST /cart/destination`: country, and region and postcode when given.
pub async fn destination(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let body = serde_json::json!({
        "country": form.get("country").unwrap_or_default(),
        "region": form.get("region"),
        "postcode": form.get("postcode"),
    });
    act(visit, Method::Put, "/api/v1/cart/destination", Some(&body), None, Spot::Destination).await
}

/// `POST /cart/coupon`.
pub async fn apply_coupon(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let Some(code) = form.get("code") else {
        return refused(visit, Spot::Coupon, 422, "Enter a coupon code.".to_owned()).await;
    };
    let body = serde_json::json!({ "code": code });
    let key = form.get("idempotency_key");
    act(visit, Method::Post, "/api/v1/cart/coupons", Some(&body), key, Spot::Coupon).await
}

/// `POST /cart/coupon/remove`.
pub async fn remove_coupon(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let code = form.get("code").unwrap_or_default();
    let path = format!("/api/v1/cart/coupons/{}", shared::storefront::query_value(code));
    act(visit, Method::Delete, &path, None::<&()>, None, Spot::Coupon).await
}

/// One shop's shipping options as radio buttons (the cart and the checkout post them alike).
pub(super) fn shipping_choices(group: &VendorGroup) -> Markup {
    html! {
        fieldset {
            legend { "Shipping from " (group.vendor_name) }
            @if group.shipping.is_empty() {
                p.error { "This shop has no shipping options yet." }
            }
            @for choice in &group.shipping {
                div.choice {
                    input type="radio" name="option_id" value=(choice.id) #{ "ship-" (choice.id) }
                        checked[choice.selected] disabled[choice.unavailable.is_some()];
                    label for={ "ship-" (choice.id) } {
                        (choice.label)
                        @if let Some(price) = choice.price { " — " (price) }
                        @if let Some(reason) = choice.unavailable { " (unavailable: " (reason) ")" }
                    }
                }
            }
        }
    }
}
