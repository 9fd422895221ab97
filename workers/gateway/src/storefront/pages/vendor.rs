//! `/v/{shop}`: a shop's page: its name, where it is, and its products, newest first, paged.

use futures_util::future::join;
use maud::html;
use shared::catalog::cache::Tag;
use shared::catalog::{Page as Listing, ProductSummary, Slug, Vendor};
use shared::storefront::browse::{Filters, page_key};

use super::catalog_view::{cards, pager};
use super::category::PAGE_SIZE;
use crate::storefront::errors::PageError;
use crate::storefront::layout;
use crate::storefront::page_cache::{self, Built};
use crate::storefront::visit::{Caching, Page, Visit};

pub async fn show(visit: &Visit<'_>, slug: &str, query: &str) -> Result<Page, PageError> {
    let slug = Slug::parse(slug).map_err(|_| PageError::NotFound)?;
    let path = format!("/v/{slug}");
    let tags = [Tag::Listings];
    page_cache::serve(visit, &page_key(&path, query, &["cursor"]), &tags, || async {
        let filters = Filters { cursor: Filters::parse(query).cursor, ..Filters::default() };
        let api = format!("/api/v1/products?{}", filters.api_query(&[("vendor", slug.as_str()), ("limit", PAGE_SIZE)]));
        let (vendor, listing) =
            join(visit.get::<Vendor>(&format!("/api/v1/vendors/{slug}")), visit.get::<Listing<ProductSummary>>(&api))
                .await;
        let (vendor, listing) = (vendor?, listing?);
        let name = vendor.name.as_str();
        let body = layout::page(
            visit,
            name,
            html! {
                h1 { (name) }
                // The city as the shop gave it; a shop without one names none (coordinates are no address).
                @if vendor.city.is_some() || vendor.location.is_some() {
                    p.location {
                        @if let Some(city) = &vendor.city { "Based in " (city.as_str()) }
                        @if vendor.city.is_some() && vendor.location.is_some() { " · " }
                        @if let Some(at) = vendor.location {
                            a href={ "/local?near=" (at.lat()) "," (at.lng()) } { "Other shops nearby" }
                        }
                    }
                }
                section aria-labelledby="products" {
                    h2 #products { "Products from " (name) }
                    @if listing.items.is_empty() {
                        p.notice { "This shop has nothing for sale right now." }
                    } @else {
                        (cards(&listing.items, 2, None))
                    }
                    (pager(&path, &filters, listing.next_cursor.as_deref()))
                }
            },
        );
        Ok(Built { page: Page::Html { status: 200, body, caching: Caching::Public }, members: tags.to_vec() })
    })
    .await
}
