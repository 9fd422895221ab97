//! Public pages at the edge (issue 7): the same two layers as the catalog's reads (the Workers
//! Cache API, then Upstash), through the same code (`worker_platform::tag_cache`), under the
//! catalog's own tags, so the catalog Worker's invalidation after a vendor's write
//! (`cache::invalidate`: bump the tags, delete the edge copy of every key listed under them)
//! removes the pages built from what changed, with no code of ours on that path.
//! That relies on both Workers seeing one Cache API store (one zone in production; one workerd
//! under `wrangler dev`): see docs/adr/0010-storefront-page-cache.md.
//!
//! A warm hit costs no Upstash command and no API call. A fill checks the versions of the page's
//! `checked` tags (read before its API calls), so a page built from data a write replaced is served
//! but never kept, and lists itself only under `members` (a product page under its product alone).
//!
//! Pages must be the same for everyone who gets the copy: the header differs only by whether a
//! session cookie is present, so signed-in visitors get their own copy of each page (`audience_key`).

use std::future::Future;

use shared::catalog::cache::{CacheKey, Tag};
use shared::upstash::UpstashClient;
use worker_platform::fetch::FetchTransport;
use worker_platform::tag_cache::{self, CachedView, Filled, Served};

use super::errors::PageError;
use super::visit::{Caching, Page, Visit};
use crate::config::Config;

/// Stands in a cached page for a value that must be fresh for every visitor (the add-to-cart
/// form's idempotency key): each answer replaces it (`with_fresh_keys`), so the stored copy is the
/// same for everyone.
pub const FRESH_KEY: &str = "__fresh_idempotency_key__";

/// What a fill built: the page and the tags it is listed under.
pub struct Built {
    pub page: Page,
    pub members: Vec<Tag>,
}

/// Serves the page cached under `key` (a `shared::storefront::browse::page_key`), else builds it
/// with `fill` and keeps it if it is a public 200 and no write raced it (`worker_platform::tag_cache`,
/// the protocol the catalog's reads use too). Without Upstash's config pages are built, never kept.
pub async fn serve<F, Fut>(visit: &Visit<'_>, key: &str, checked: &[Tag], fill: F) -> Result<Page, PageError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Built, PageError>>,
{
    let key = audience_key(visit, key);
    let view = CachedView { key: &key, checked, content_type: "text/html; charset=utf-8", noun: Some("page") };
    let upstash = || match Config::from_env(visit.env) {
        Ok(config) => {
            Some(UpstashClient::new(FetchTransport, &config.upstash.url, &config.upstash.token).with_base64(false))
        }
        Err(error) => {
            worker::console_warn!("no Upstash for the page cache: {}", error.message);
            None
        }
    };
    let served = tag_cache::read_through(&view, upstash, || async {
        match fill().await {
            Ok(Built { page: Page::Html { status: 200, body, caching: Caching::Public }, members }) => {
                Filled::Keep { body: body.into_string(), members }
            }
            // Not a public 200: served as built, never kept.
            Ok(Built { page, .. }) => Filled::Pass(Ok(page)),
            Err(error) => Filled::Pass(Err(error)),
        }
    })
    .await;
    match served {
        Served::Body { body, layer } => Ok(Page::Stored { body: with_fresh_keys(body), layer }),
        Served::Passed(page) => page,
    }
}

/// `body` with every `FRESH_KEY` replaced by a new idempotency key, for one visitor's answer.
pub fn with_fresh_keys(body: String) -> String {
    if body.contains(FRESH_KEY) { body.replace(FRESH_KEY, &worker_platform::random::new_id("idem")) } else { body }
}

/// Signed-in visitors' header links differ (Orders, Account instead of Sign in): their copy of a
/// page lives under its own key, which no page path can spell (`~`).
fn audience_key(visit: &Visit, key: &str) -> CacheKey {
    if visit.signed_in() { CacheKey::page(&format!("/~member{key}")) } else { CacheKey::page(key) }
}
