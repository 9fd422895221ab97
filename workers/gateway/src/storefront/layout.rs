//! The frame every page shares: landmarks (banner, search, navigation, main, contentinfo), a skip
//! link first in the focus order, the search box, and the one stylesheet and script.

use maud::{DOCTYPE, Markup, html};

use super::assets::{SCRIPT, STYLESHEET};
use super::visit::Visit;

const SHOP_NAME: &str = "Marketplace";

pub fn page(visit: &Visit, title: &str, main: Markup) -> Markup {
    page_with(visit, title, "", main)
}

/// `search`: what the search box shows (the query on search pages).
pub fn page_with(visit: &Visit, title: &str, search: &str, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (SHOP_NAME) }
                meta name="description" content={ (title) " — independent shops, one cart, on " (SHOP_NAME) "." };
                @if let Some(seconds) = visit.page_refresh() { meta http-equiv="refresh" content=(seconds); }
                link rel="stylesheet" href=(STYLESHEET.url());
                // No favicon yet: an empty one saves every page a 404 round trip.
                link rel="icon" href="data:,";
                script defer src=(SCRIPT.url()) {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    a.brand href="/" { (SHOP_NAME) }
                    form.search role="search" action="/search" method="get" {
                        label.visually-hidden for="q" { "Search products" }
                        input #q type="search" name="q" value=(search) placeholder="Search products"
                            autocomplete="off" data-suggest="/api/v1/search/suggest" aria-autocomplete="list"
                            aria-controls="suggestions";
                        button type="submit" { "Search" }
                        ul #suggestions.suggestions role="listbox" aria-label="Suggestions" hidden {}
                    }
                    nav aria-label="Account and cart" {
                        ul {
                            li { a href="/cart" data-cart-link { "Cart" } }
                            @if visit.signed_in() {
                                li { a href="/orders" { "Orders" } }
                                li { a href="/account" { "Account" } }
                            } @else {
                                li { a href="/account/login" { "Sign in" } }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (main) }
                footer.site {
                    p { (SHOP_NAME) " — independent shops, one cart. Tax and shipping are added at checkout, by where you deliver." }
                }
            }
        }
    }
}
