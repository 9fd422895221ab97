//! Public pages at the edge (issue 7): the same two layers as the catalog's reads (the Workers
//! Cache API, then Upstash) under the catalog's own tags, so the catalog Worker's invalidation
//! after a vendor's write (`cache::invalidate`: bump the tags, delete the edge copy of every key
//! listed under them) removes the pages built from what changed, with no code of ours on that path.
//! That relies on both Workers seeing one Cache API store (one zone in production; one workerd
//! under `wrangler dev`): see docs/adr/0010-storefront-page-cache.md.
//!
//! A warm hit costs no Upstash command and no API call. A fill checks the versions of the page's
//! `checked` tags (read before its API calls), so a page built from data a write replaced is served
//! but never kept, and lists itself only under `members` (a product page under its product alone).
//!
//! Pages must be the same for everyone who gets the copy: the header differs only by whether a
//! session cookie is present, so signed-in visitors get their own copy of each page (`Audience`).

use std::future::Future;

use shared::catalog::cache::{CacheKey, CacheLayer, CatalogCache, EDGE_TTL_SECS, Tag, Versions};
use shared::upstash::UpstashClient;
use worker::{Cache, Headers, Response};
use worker_platform::fetch::FetchTransport;

use super::errors::PageError;
use super::visit::{Caching, Page, Visit};
use crate::config::Config;

/// Stands in a cached page for a value that must be fresh for every visitor (the add-to-cart
/// form's idempotency key): each answer replaces it, so the stored copy is the same for everyone.
pub const FRESH_KEY: &str = "__fresh_idempotency_key__";

/// What a fill built: the page and the tags it is listed under.
pub struct Built {
    pub page: Page,
    pub members: Vec<Tag>,
}

/// Serves the page cached under `key` (a `shared::storefront::browse::page_key`), else builds it
/// with `fill` and keeps it if it is a public 200 and no write raced it.
pub async fn serve<F, Fut>(visit: &Visit<'_>, key: &str, checked: &[Tag], fill: F) -> Result<Page, PageError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Built, PageError>>,
{
    let key = audience_key(visit, key);
    let edge = Cache::default();
    match edge.get(key.edge_url(), false).await {
        Ok(Some(mut hit)) => match hit.text().await {
            Ok(body) => return Ok(stored(body, CacheLayer::Edge)),
            Err(error) => worker::console_warn!("edge copy of {key} unreadable: {error}"),
        },
        Ok(None) => {}
        Err(error) => worker::console_warn!("edge cache read failed for {key}: {error}"),
    }

    let upstash = match Config::from_env(visit.env) {
        Ok(config) => {
            Some(UpstashClient::new(FetchTransport, &config.upstash.url, &config.upstash.token).with_base64(false))
        }
        Err(error) => {
            worker::console_warn!("no Upstash for the page cache: {}", error.message);
            None
        }
    };
    let cache = upstash.as_ref().map(CatalogCache::new);
    let seen = match &cache {
        Some(cache) => match cache.lookup(&key, checked).await {
            Ok(lookup) => match lookup.body {
                Some(body) => {
                    put_and_confirm(&edge, cache, &key, &body, checked, &lookup.versions).await;
                    return Ok(stored(body, CacheLayer::Upstash));
                }
                None => Some(lookup.versions),
            },
            Err(error) => {
                worker::console_warn!("Upstash lookup failed for page {key}: {error}");
                None
            }
        },
        None => None,
    };

    let Built { page, members } = fill().await?;
    let Page::Html { status: 200, body, caching: Caching::Public } = page else { return Ok(page) };
    let body = body.into_string();
    if let (Some(cache), Some(seen)) = (&cache, seen) {
        match cache.store_listed(&key, &body, checked, &seen, &members).await {
            Ok(true) => put_and_confirm(&edge, cache, &key, &body, checked, &seen).await,
            // A write landed while the page was built: served now, not kept.
            Ok(false) => {}
            Err(error) => worker::console_warn!("Upstash store failed for page {key}: {error}"),
        }
    }
    Ok(stored(body, CacheLayer::Miss))
}

fn stored(body: String, layer: CacheLayer) -> Page {
    let body =
        if body.contains(FRESH_KEY) { body.replace(FRESH_KEY, &worker_platform::random::new_id("idem")) } else { body };
    Page::Stored { body, layer }
}

/// Signed-in visitors' header links differ (Orders, Account instead of Sign in): their copy of a
/// page lives under its own key, which no page path can spell (`~`).
fn audience_key(visit: &Visit, key: &str) -> CacheKey {
    if visit.signed_in() { CacheKey::page(&format!("/~member{key}")) } else { CacheKey::page(key) }
}

/// As the catalog's: put the edge copy, then re-read the versions and drop the copy if a writer's
/// invalidation ran in between (it found no copy to delete).
async fn put_and_confirm(
    edge: &Cache,
    cache: &CatalogCache<'_, FetchTransport>,
    key: &CacheKey,
    body: &str,
    checked: &[Tag],
    seen: &Versions,
) {
    let put = match edge_copy(body) {
        Ok(copy) => edge.put(key.edge_url(), copy).await,
        Err(error) => Err(error),
    };
    if let Err(error) = put {
        worker::console_warn!("edge cache put failed for page {key}: {error}");
        return;
    }
    let keep = match cache.versions(checked).await {
        Ok(now) => !now.moved_since(seen),
        Err(error) => {
            worker::console_warn!("could not confirm the edge copy of page {key}, dropping it: {error}");
            false
        }
    };
    if !keep && let Err(error) = edge.delete(key.edge_url(), false).await {
        worker::console_error!("a stale edge copy of page {key} may stay up to {EDGE_TTL_SECS} s: {error}");
    }
}

/// The copy the Cache API keeps (it needs a max-age to store anything); never a cookie.
fn edge_copy(body: &str) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "text/html; charset=utf-8")?;
    headers.set("cache-control", &format!("public, max-age={EDGE_TTL_SECS}"))?;
    Ok(Response::ok(body.to_owned())?.with_headers(headers))
}
