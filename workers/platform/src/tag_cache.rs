//! The read-through half of `shared::catalog::cache`'s protocol over its two layers, the Workers
//! Cache API then Upstash, written once for the catalog's public reads and the storefront's pages
//! (docs/adr/0010). A warm edge hit costs no Upstash command and no fill; a hit in Upstash costs two
//! commands, a miss three. A layer that fails is logged and skipped: the read goes on to the fill.
//!
//! A fill reads the versions of the `checked` tags first, so a write's invalidation during the fill
//! is seen: the body is stored (listed under its member tags) only if none moved, and after the
//! edge put the versions are read again and the edge copy dropped if they moved meanwhile.

use std::fmt;
use std::future::Future;

use shared::catalog::cache::{CacheKey, CacheLayer, CatalogCache, EDGE_TTL_SECS, Tag, Versions};
use shared::upstash::UpstashClient;
use worker::{Cache, Headers, Response};

use crate::fetch::FetchTransport;

pub type Upstash = UpstashClient<FetchTransport>;

/// One cached read: where it lives, what guards it, how its edge copy is typed.
pub struct CachedView<'a> {
    pub key: &'a CacheKey,
    /// The tags whose versions a fill must see unmoved to keep its body.
    pub checked: &'a [Tag],
    /// The edge copy's `content-type`.
    pub content_type: &'static str,
    /// How log lines name what the key is (`page`), if the key alone does not say.
    pub noun: Option<&'static str>,
}

/// What a fill built.
pub enum Filled<P> {
    /// Cacheable: kept in both layers unless a write raced the fill, listed under `members`.
    Keep { body: String, members: Vec<Tag> },
    /// Handed back as is and never stored (a failure, a page that is not public).
    Pass(P),
}

/// What a read answers.
pub enum Served<P> {
    /// A body, from the layer that had it or from the fill (`CacheLayer::Miss`).
    Body { body: String, layer: CacheLayer },
    /// The fill's `Filled::Pass`.
    Passed(P),
}

/// Answers `view` from the edge, else from Upstash, else from `fill`, filling both layers.
/// `upstash` is asked only after an edge miss; without a client the fill is served, never kept.
pub async fn read_through<P, U, F, Fut>(view: &CachedView<'_>, upstash: U, fill: F) -> Served<P>
where
    U: FnOnce() -> Option<Upstash>,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Filled<P>>,
{
    let edge = Cache::default();
    match edge.get(view.key.edge_url(), false).await {
        Ok(Some(mut hit)) => match hit.text().await {
            Ok(body) => return Served::Body { body, layer: CacheLayer::Edge },
            Err(error) => worker::console_warn!("edge copy of {view} unreadable: {error}"),
        },
        Ok(None) => {}
        Err(error) => worker::console_warn!("edge cache read failed for {view}: {error}"),
    }

    let upstash = upstash();
    let cache = upstash.as_ref().map(CatalogCache::new);
    // The versions are read before the fill, so a writer's invalidation during it is seen.
    let seen = match &cache {
        Some(cache) => match cache.lookup(view.key, view.checked).await {
            Ok(lookup) => match lookup.body {
                Some(body) => {
                    put_and_confirm(&edge, cache, view, &body, &lookup.versions).await;
                    return Served::Body { body, layer: CacheLayer::Upstash };
                }
                None => Some(lookup.versions),
            },
            Err(error) => {
                worker::console_warn!("Upstash lookup failed for {view}, filling without storing: {error}");
                None
            }
        },
        None => None,
    };

    let (body, members) = match fill().await {
        Filled::Keep { body, members } => (body, members),
        Filled::Pass(passed) => return Served::Passed(passed),
    };
    if let (Some(cache), Some(seen)) = (&cache, seen) {
        match cache.store_listed(view.key, &body, view.checked, &seen, &members).await {
            Ok(true) => put_and_confirm(&edge, cache, view, &body, &seen).await,
            // A writer invalidated mid-fill: this body may predate the write, so it is served, not kept.
            Ok(false) => {}
            Err(error) => worker::console_warn!("Upstash store failed for {view}: {error}"),
        }
    }
    Served::Body { body, layer: CacheLayer::Miss }
}

/// Puts an edge copy, then re-reads the checked versions (the one extra command of a fill) and
/// deletes the copy if they moved: a writer whose invalidation ran after `seen` was read but before
/// this put found no edge copy to delete, and nothing else would remove it before its TTL.
async fn put_and_confirm(
    edge: &Cache,
    cache: &CatalogCache<'_, FetchTransport>,
    view: &CachedView<'_>,
    body: &str,
    seen: &Versions,
) {
    let put = match edge_copy(body, view.content_type) {
        Ok(copy) => edge.put(view.key.edge_url(), copy).await,
        Err(error) => Err(error),
    };
    if let Err(error) = put {
        worker::console_warn!("edge cache put failed for {view}: {error}");
        return;
    }
    let keep = match cache.versions(view.checked).await {
        Ok(now) => !now.moved_since(seen),
        Err(error) => {
            worker::console_warn!("could not confirm the edge copy of {view}, dropping it: {error}");
            false
        }
    };
    if !keep && let Err(error) = edge.delete(view.key.edge_url(), false).await {
        worker::console_error!("a stale edge copy of {view} may stay up to {EDGE_TTL_SECS} s: {error}");
    }
}

/// The copy the Cache API keeps: it needs a max-age to store anything at all; never a cookie.
fn edge_copy(body: &str, content_type: &str) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", content_type)?;
    headers.set("cache-control", &format!("public, max-age={EDGE_TTL_SECS}"))?;
    Ok(Response::ok(body.to_owned())?.with_headers(headers))
}

/// `page /c/mugs` or `/api/v1/categories` in log lines.
impl fmt::Display for CachedView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.noun {
            Some(noun) => write!(f, "{noun} {}", self.key),
            None => write!(f, "{}", self.key),
        }
    }
}
