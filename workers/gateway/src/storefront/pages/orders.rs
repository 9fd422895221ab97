//! `/orders` (the buyer's order history) and `/orders/{group_id}` (one checkout: an order per
//! shop with its lines, shipping, totals, tracking and timeline; with `?placed=1` also the
//! confirmation after checkout, refreshing itself while the payment is being confirmed).

use maud::{Markup, html};
use shared::api::ErrorCode;
use shared::orders::api::{GroupDetail, GroupSummary, OrderDetail, Page as Listing};
use shared::storefront::form::Form;
use shared::storefront::orders::{
    actor_label, event_text, format_date, format_time, group_awaits_payment, group_status_label, options_text,
    shops_count, status_label,
};
use shared::storefront::query_value;

use crate::storefront::errors::PageError;
use crate::storefront::layout;
use crate::storefront::visit::{Page, Visit};

/// Seconds between reloads of a confirmation whose payment is still pending.
const PENDING_REFRESH_SECS: u32 = 3;

/// `GET /orders?cursor=…`
pub async fn list(visit: &Visit<'_>, query: &str) -> Result<Page, PageError> {
    let cursor = Form::parse_query(query).get("cursor").map(str::to_owned);
    let path = match &cursor {
        Some(cursor) => format!("/api/v1/orders?cursor={}", query_value(cursor)),
        None => "/api/v1/orders".to_owned(),
    };
    let page: Listing<GroupSummary> = match visit.get(&path).await {
        // A stale or edited cursor: start from the newest.
        Err(PageError::Api(error)) if error.code == ErrorCode::ValidationFailed && cursor.is_some() => {
            return Ok(Page::Redirect("/orders".to_owned()));
        }
        answer => answer?,
    };
    let body = layout::page(
        visit,
        "Your orders",
        html! {
            h1 { "Your orders" }
            @if page.items.is_empty() {
                @if cursor.is_some() { p { "No older orders." } } @else { p { "You have not ordered anything yet." } }
                p { a href="/" { "Browse the shop" } }
            } @else {
                ol.orders {
                    @for group in &page.items { li { (summary(group)) } }
                }
            }
            nav.pager aria-label="More orders" {
                @if cursor.is_some() { a href="/orders" { "Newest orders" } }
                @if let Some(next) = &page.next_cursor {
                    " " a rel="next" href={ "/orders?cursor=" (query_value(next)) } { "Older orders" }
                }
            }
        },
    );
    Ok(Page::html(body))
}

fn summary(group: &GroupSummary) -> Markup {
    let date = format_date(&group.created_at);
    html! {
        article.order-summary aria-labelledby={ "g-" (group.id) } {
            h2 id={ "g-" (group.id) } { a href={ "/orders/" (group.id) } { "Order of " (date) } }
            dl {
                dt { "Placed" } dd { time datetime=(group.created_at.to_rfc3339()) { (format_time(&group.created_at)) } }
                dt { "Status" } dd { (group_status_label(&group.status)) }
                dt { "Total" } dd { (group.totals.total) }
                dt { "Shops" } dd { (shops_count(group.orders.len())) }
            }
        }
    }
}

/// `GET /orders/{group_id}` (`?placed=1` right after checkout).
pub async fn show(visit: &Visit<'_>, group_id: &str, query: &str) -> Result<Page, PageError> {
    let valid = !group_id.is_empty() && group_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(PageError::NotFound);
    }
    let group: GroupDetail = match visit.get(&format!("/api/v1/orders/{group_id}")).await {
        // Another buyer's group, or an id that is not one: the API's 404 (or 422), a friendly 404 here.
        Err(PageError::Api(error)) if error.status() == 404 || error.code == ErrorCode::ValidationFailed => {
            return Err(PageError::NotFound);
        }
        answer => answer?,
    };
    let placed = Form::parse_query(query).get("placed").is_some();
    let awaiting = group_awaits_payment(&group.status);
    if placed && awaiting {
        visit.refresh_page_after(PENDING_REFRESH_SECS);
    }
    let title = if placed { "Thank you — your order is placed" } else { "Your order" };
    let body = layout::page(
        visit,
        title,
        html! {
            @if placed {
                h1 { "Thank you — your order is placed" }
                @if awaiting {
                    p role="status" { "We are confirming your payment. This page updates by itself." }
                } @else if group.status == "confirmed" {
                    // The order bought what was in the cart: the header's count (kept by the
                    // script between pages) starts again from nothing.
                    p role="status" data-cart-count="0" { "Your payment is confirmed. Each shop will send its part." }
                }
            } @else {
                h1 { "Order of " (format_date(&group.created_at)) }
            }
            dl.order-group {
                dt { "Placed" } dd { time datetime=(group.created_at.to_rfc3339()) { (format_time(&group.created_at)) } }
                dt { "Status" } dd { (group_status_label(&group.status)) }
                dt { "Subtotal" } dd { (group.totals.subtotal) }
                @if group.totals.discount.amount_minor != 0 { dt { "Discount" } dd { "−" (group.totals.discount) } }
                dt { "Shipping" } dd { (group.totals.shipping) }
                dt { "Tax" } dd { (group.totals.tax) }
                dt { "Total" } dd { strong { (group.totals.total) } }
            }
            @if let Some(address) = &group.shipping_address {
                section aria-labelledby="delivery" {
                    h2 #delivery { "Delivering to" }
                    address {
                        (address.name) br; (address.street) br; (address.postcode) " " (address.city) br; (address.country)
                    }
                }
            }
            @for order in &group.orders { (vendor_order(order)) }
            p { a href="/orders" { "All your orders" } }
        },
    );
    Ok(Page::html(body))
}

fn vendor_order(order: &OrderDetail) -> Markup {
    let heading_id = format!("o-{}", order.id);
    let shop = order.vendor_name.clone().unwrap_or_else(|| "A shop".to_owned());
    html! {
        section.vendor-order aria-labelledby=(heading_id) {
            h2 id=(heading_id) { "From " (shop) }
            p { "Status: " strong { (status_label(order.status)) } }
            @if let (Some(carrier), Some(tracking)) = (&order.carrier, &order.tracking_number) {
                p { "Shipped with " (carrier.as_str()) ", tracking number " code { (tracking.as_str()) } }
            }
            table {
                caption.visually-hidden { "Items from " (shop) }
                thead { tr { th scope="col" { "Item" } th scope="col" { "Quantity" } th scope="col" { "Price" } th scope="col" { "Total" } } }
                tbody {
                    @for line in &order.lines {
                        @let options = options_text(&line.options);
                        tr {
                            td { (line.title) @if !options.is_empty() { br; small.muted { (options) } } }
                            td { (line.quantity) }
                            td { (line.unit_price) }
                            td { (line.line_total) }
                        }
                    }
                }
            }
            dl.order-totals {
                dt { "Subtotal" } dd { (order.totals.subtotal) }
                @if order.totals.discount.amount_minor != 0 { dt { "Discount" } dd { "−" (order.totals.discount) } }
                dt { "Shipping" } dd { (order.totals.shipping) }
                dt { "Tax" } dd { (order.totals.tax) }
                dt { "Total" } dd { (order.totals.total) }
                @if order.refunded.amount_minor != 0 { dt { "Refunded" } dd { (order.refunded) } }
            }
            h3 { "History" }
            ol.timeline {
                @for event in &order.timeline {
                    li {
                        time datetime=(event.at.to_rfc3339()) { (format_time(&event.at)) }
                        " — " (event_text(event)) " "
                        span.muted { "(" (actor_label(&event.actor)) ")" }
                    }
                }
            }
        }
    }
}
