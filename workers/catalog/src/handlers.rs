//! The public catalog endpoints: parse with `shared::catalog`, read through the store, answer.

use shared::catalog::model::category_tree;
use shared::catalog::{ListQuery, Page, ProductId, ProductSummary, SearchPage, Slug, SuggestQuery};

use crate::config::Config;
use crate::respond::{Failure, Outcome, Reply};
use crate::store::Store;

/// `GET /api/v1/products`: active, unmoderated products, filtered, sorted, one keyset page.
pub async fn list(store: &Store, config: &Config, query: &str) -> Outcome {
    let query = ListQuery::parse(query)?;
    let after = query.decode_cursor(&config.cursor_key)?;
    let (items, last) = store.list(&query, after.as_ref()).await?;
    let next_cursor = last.map(|last| query.next_cursor(&config.cursor_key, &last));
    let shown = ids(&items);
    Reply::json(&Page { items, next_cursor }).map(|reply| reply.showing(&shown))
}

/// `GET /api/v1/products/{id}`; an id that is unknown or not public is the same 404 as a malformed
/// one (the router's).
pub async fn product(store: &Store, id: &ProductId) -> Outcome {
    let product = store.product(id).await?.ok_or_else(|| Failure::not_found("product"))?;
    Reply::json(&product)
}

/// `GET /api/v1/vendors/{vendor}/products/{product}`: a product by its readable address, listed
/// in the cache under its product's tag (so the product's writes purge it).
pub async fn product_by_slug(store: &Store, vendor: &Slug, product: &Slug) -> Outcome {
    let product = store.product_by_slug(vendor, product).await?.ok_or_else(|| Failure::not_found("product"))?;
    Reply::json(&product).map(|reply| reply.showing([&product.id]))
}

/// `GET /api/v1/vendors/{vendor}`: a shop's name, address slug and location.
pub async fn vendor(store: &Store, slug: &Slug) -> Outcome {
    let vendor = store.vendor(slug).await?.ok_or_else(|| Failure::not_found("shop"))?;
    Reply::json(&vendor)
}

/// `GET /api/v1/categories`: the whole tree.
pub async fn categories(store: &Store) -> Outcome {
    let tree = category_tree(store.categories().await?).map_err(Failure::internal)?;
    Reply::json(&tree)
}

/// `GET /api/v1/search?q=…`: hits (full text, then typos) with facets over every hit.
pub async fn search(store: &Store, config: &Config, query: &str) -> Outcome {
    let query = ListQuery::parse_search(query)?;
    let after = query.decode_cursor(&config.cursor_key)?;
    let (items, last, facets) = store.search(&query, after.as_ref()).await?;
    let next_cursor = last.map(|last| query.next_cursor(&config.cursor_key, &last));
    let shown = ids(&items);
    Reply::json(&SearchPage { items, next_cursor, facets }).map(|reply| reply.showing(&shown))
}

/// `GET /api/v1/search/suggest?q=`: titles completing what is typed.
pub async fn suggest(store: &Store, query: &str) -> Outcome {
    let query = SuggestQuery::parse(query)?;
    let suggestions = store.suggest(&query).await?;
    Reply::json(&suggestions).map(|reply| reply.showing(suggestions.iter().map(|suggestion| &suggestion.id)))
}

fn ids(items: &[ProductSummary]) -> Vec<ProductId> {
    items.iter().map(|item| item.id.clone()).collect()
}
