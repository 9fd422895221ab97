//! `/`: the categories, what is new and what is popular. Cached at the edge (`page_cache`) and
//! purged with any product or category change.

use futures_util::future::join3;
use maud::html;
use shared::catalog::cache::Tag;
use shared::catalog::{CategoryNode, Page as Listing, ProductSummary};

use super::catalog_view::{cards, category_list};
use crate::storefront::errors::PageError;
use crate::storefront::layout;
use crate::storefront::page_cache::{self, Built};
use crate::storefront::visit::{Caching, Page, Visit};

/// Children shown under each top-level category.
const CHILDREN_SHOWN: usize = 4;
/// Cards per home section: two rows of four on a desktop.
const SECTION_CARDS: &str = "8";

pub async fn show(visit: &Visit<'_>) -> Result<Page, PageError> {
    let tags = [Tag::Listings, Tag::Categories];
    page_cache::serve(visit, "/", &tags, || async {
        let (categories, newest, popular) = join3(
            visit.get::<Vec<CategoryNode>>("/api/v1/categories"),
            visit.get::<Listing<ProductSummary>>(&format!("/api/v1/products?sort=newest&limit={SECTION_CARDS}")),
            visit.get::<Listing<ProductSummary>>(&format!("/api/v1/products?sort=popular&limit={SECTION_CARDS}")),
        )
        .await;
        let (categories, newest, popular) = (categories?, newest?, popular?);
        let body = layout::page(
            visit,
            "Independent shops, one cart",
            html! {
                h1 { "Independent shops, one cart" }
                section aria-labelledby="categories" {
                    h2 #categories { "Shop by category" }
                    (category_list(&categories, CHILDREN_SHOWN))
                }
                section aria-labelledby="new" {
                    h2 #new { "New in" }
                    (cards(&newest.items, 2, None))
                }
                section aria-labelledby="popular" {
                    h2 #popular { "Popular" }
                    (cards(&popular.items, 0, None))
                }
                p { a href="/local" { "Find shops near you" } }
            },
        );
        Ok(Built { page: Page::Html { status: 200, body, caching: Caching::Public }, members: tags.to_vec() })
    })
    .await
}
