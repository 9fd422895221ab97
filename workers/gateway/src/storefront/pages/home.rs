//! `/`: the categories, and what is new.

use maud::html;
use shared::catalog::{CategoryNode, Page as Listing, ProductSummary};

use crate::storefront::errors::PageError;
use crate::storefront::layout;
use crate::storefront::visit::{Caching, Page, Visit};

pub async fn show(visit: &Visit<'_>) -> Result<Page, PageError> {
    let categories: Vec<CategoryNode> = visit.get("/api/v1/categories").await?;
    let newest: Listing<ProductSummary> = visit.get("/api/v1/products?sort=newest&limit=8").await?;
    let body = layout::page(
        visit,
        "Independent shops, one cart",
        html! {
            h1 { "Independent shops, one cart" }
            section aria-labelledby="categories" {
                h2 #categories { "Categories" }
                ul.categories {
                    @for node in &categories {
                        li { a href={ "/c/" (node.category.slug.as_str()) } { (node.category.name.as_str()) } }
                    }
                }
            }
            section aria-labelledby="new" {
                h2 #new { "New in" }
                ul.cards {
                    @for product in &newest.items {
                        li { a href={ "/products/" (product.slug.as_str()) } { (product.title.as_str()) } }
                    }
                }
            }
        },
    );
    Ok(Page::Html { status: 200, body, caching: Caching::Public })
}
