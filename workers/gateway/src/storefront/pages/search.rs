//! `/search?q=`: hits (full text, or close spellings when a word has a typo: the catalog's
//! trigram fallback) with the search's facets as links and the filter form.

use futures_util::future::join;
use maud::html;
use shared::catalog::cache::Tag;
use shared::catalog::{CategoryNode, SearchPage};
use shared::storefront::browse::{
    Filters, LISTING_PARAMS, category_trail, find_category, format_price, page_key, price_bucket_filters,
};

use super::catalog_view::{active_filters, cards, category_list, filter_form, pager};
use super::category::PAGE_SIZE;
use crate::storefront::errors::PageError;
use crate::storefront::layout;
use crate::storefront::page_cache::{self, Built};
use crate::storefront::visit::{Caching, Page, Visit};

const PATH: &str = "/search";

pub async fn show(visit: &Visit<'_>, query: &str) -> Result<Page, PageError> {
    let tags = [Tag::Listings, Tag::Categories];
    page_cache::serve(visit, &page_key(PATH, query, &LISTING_PARAMS), &tags, || async {
        let filters = Filters { near: None, radius_km: None, ..Filters::parse(query) };
        let Some(q) = filters.q.clone() else {
            let tree = visit.get::<Vec<CategoryNode>>("/api/v1/categories").await?;
            let body = layout::page(
                visit,
                "Search",
                html! {
                    h1 { "Search" }
                    p { "Type what you are looking for in the search box above, or browse a category." }
                    (category_list(&tree, 0))
                },
            );
            return Ok(Built { page: Page::Html { status: 200, body, caching: Caching::Public }, members: tags.to_vec() });
        };
        let api = format!("/api/v1/search?{}", filters.api_query(&[("limit", PAGE_SIZE)]));
        let (tree, results) = join(visit.get::<Vec<CategoryNode>>("/api/v1/categories"), visit.get::<SearchPage>(&api)).await;
        let (tree, results) = (tree?, results?);
        let facets = &results.facets;
        let vendor_name = filters.vendor.as_ref().and_then(|vendor| {
            facets.vendor_labels.iter().find(|shop| shop.slug.as_str() == vendor.as_str() || shop.id.as_str() == vendor.as_str())
        });
        let category_name = filters.category.as_ref().and_then(|slug| {
            category_trail(&tree, slug.as_str()).and_then(|trail| trail.last().map(|node| node.category.name.as_str()))
        });
        let title = format!("Search results for “{q}”");
        let body = layout::page_with(
            visit,
            &title,
            &q,
            html! {
                h1 { (title) }
                div.listing {
                    div.facets {
                        (filter_form(PATH, &filters, &facets.vendor_labels, true))
                        @if !facets.categories.is_empty() {
                            section aria-labelledby="facet-categories" {
                                h2 #facet-categories { "Categories" }
                                ul {
                                    @for facet in &facets.categories {
                                        @if let Some(node) = find_category(&tree, &facet.value) {
                                            li {
                                                a href=(Filters { category: Some(node.category.slug.clone()), cursor: None, ..filters.clone() }.href(PATH)) {
                                                    (node.category.name.as_str()) " (" (facet.count) ")"
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @if !facets.price.is_empty() {
                            section aria-labelledby="facet-prices" {
                                h2 #facet-prices { "Price" }
                                ul {
                                    @for bucket in &facets.price {
                                        li {
                                            a href=(price_bucket_filters(&filters, bucket).href(PATH)) {
                                                @match bucket.max_minor {
                                                    Some(max) => { (format_price(bucket.min_minor)) "–" (format_price(max)) " EUR" },
                                                    None => { (format_price(bucket.min_minor)) " EUR and up" },
                                                }
                                                " (" (bucket.count) ")"
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    section.results aria-labelledby="results" {
                        h2 #results { "Products" }
                        (active_filters(PATH, &filters, vendor_name.map(|shop| shop.name.as_str()), category_name))
                        @if results.items.is_empty() {
                            p.notice { "Nothing matches “" (q) "”. Check the spelling, use fewer words, or browse a category." }
                            (category_list(&tree, 0))
                        } @else {
                            (cards(&results.items, 2, None))
                        }
                        (pager(PATH, &filters, results.next_cursor.as_deref()))
                    }
                }
            },
        );
        Ok(Built { page: Page::Html { status: 200, body, caching: Caching::Public }, members: tags.to_vec() })
    })
    .await
}
