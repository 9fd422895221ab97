//! `/c/{category}`: one category and its descendants, filtered by query parameters (a plain GET
//! form), one keyset page at a time, with the filters in use shown and removable.

use futures_util::future::join;
use maud::html;
use shared::catalog::cache::Tag;
use shared::catalog::{CategoryNode, Page as Listing, ProductSummary};
use shared::storefront::browse::{Filters, LISTING_PARAMS, category_trail, page_key};

use super::catalog_view::{active_filters, breadcrumbs, cards, filter_form, pager, shops_of};
use crate::storefront::errors::PageError;
use crate::storefront::layout;
use crate::storefront::page_cache::{self, Built};
use crate::storefront::visit::{Caching, Page, Visit};

/// Cards per page: fills grids of 2, 3 and 4 columns.
pub const PAGE_SIZE: &str = "24";

pub async fn show(visit: &Visit<'_>, slug: &str, query: &str) -> Result<Page, PageError> {
    let path = format!("/c/{slug}");
    let tags = [Tag::Listings, Tag::Categories];
    page_cache::serve(visit, &page_key(&path, query, &LISTING_PARAMS), &tags, || async {
        let filters = Filters { q: None, category: None, near: None, radius_km: None, ..Filters::parse(query) };
        let api = format!("/api/v1/products?{}", filters.api_query(&[("category", slug), ("limit", PAGE_SIZE)]));
        let (tree, listing) =
            join(visit.get::<Vec<CategoryNode>>("/api/v1/categories"), visit.get::<Listing<ProductSummary>>(&api)).await;
        let tree = tree?;
        let trail = category_trail(&tree, slug).ok_or(PageError::NotFound)?;
        let listing = listing?;
        let Some(category) = trail.last() else { return Err(PageError::NotFound) };
        let name = category.category.name.as_str();
        let shops = shops_of(&listing.items);
        let vendor_name = filters.vendor.as_ref().and_then(|vendor| {
            shops.iter().find(|shop| shop.slug.as_str() == vendor.as_str() || shop.id.as_str() == vendor.as_str())
        });
        let body = layout::page(
            visit,
            name,
            html! {
                (breadcrumbs(&trail, None))
                h1 { (name) }
                @if !category.children.is_empty() {
                    nav.subcategories aria-label="Subcategories" {
                        ul {
                            @for child in &category.children {
                                li { a href={ "/c/" (child.category.slug.as_str()) } { (child.category.name.as_str()) } }
                            }
                        }
                    }
                }
                div.listing {
                    (filter_form(&path, &filters, &shops, false))
                    section.results aria-labelledby="results" {
                        h2 #results { "Products" }
                        (active_filters(&path, &filters, vendor_name.map(|shop| shop.name.as_str()), None))
                        @if listing.items.is_empty() {
                            p.notice { "No products match these filters. Try removing one." }
                        } @else {
                            (cards(&listing.items, 2, None))
                        }
                        (pager(&path, &filters, listing.next_cursor.as_deref()))
                    }
                }
            },
        );
        Ok(Built { page: Page::Html { status: 200, body, caching: Caching::Public }, members: tags.to_vec() })
    })
    .await
}
