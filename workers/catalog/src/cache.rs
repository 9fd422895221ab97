//! The two cache layers in front of Neon (DESIGN §3, §10): the Workers Cache API, then Upstash
//! (`shared::catalog::cache` holds keys, tags and scripts). A warm edge hit costs no Upstash command
//! and no query; a hit in Upstash costs two commands, a miss three. A cache that fails is logged
//! and skipped: the read goes on to Neon. Only 200s are cached; failures pass through untouched.

use std::future::Future;

use shared::catalog::ProductId;
use shared::catalog::cache::{CacheKey, CacheLayer, CachedRead, CatalogCache, EDGE_TTL_SECS, Tag, Versions, X_CACHE};
use shared::upstash::{UpstashClient, UpstashError};
use worker::{Cache, Headers, Response};
use worker_platform::fetch::FetchTransport;
use worker_platform::respond;

use crate::config::Config;
use crate::respond::{Failure, Outcome};

type Upstash = UpstashClient<FetchTransport>;

/// Answers `read` from the edge, else from Upstash, else from `fill` (Neon), filling both layers.
pub(crate) async fn read_through<F, Fut>(
    config: &Config,
    read: &CachedRead,
    query: &str,
    fill: F,
) -> Result<Response, Failure>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Outcome>,
{
    let key = read.key(query);
    let edge = Cache::default();
    match edge.get(key.edge_url(), false).await {
        Ok(Some(hit)) => return from_edge(hit).map_err(Failure::internal),
        Ok(None) => {}
        Err(error) => worker::console_warn!("edge cache read failed for {key}: {error}"),
    }

    let upstash = client(config);
    let cache = CatalogCache::new(&upstash);
    let route_tags = read.tags();
    // The versions are read before Neon, so a writer's invalidation during the read is seen.
    let seen = match cache.lookup(&key, &route_tags).await {
        Ok(lookup) => match lookup.body {
            Some(body) => {
                put_and_confirm(&edge, &cache, &key, &body, &route_tags, &lookup.versions).await;
                return answer(body, CacheLayer::Upstash).map_err(Failure::internal);
            }
            None => Some(lookup.versions),
        },
        Err(error) => {
            worker::console_warn!("Upstash lookup failed for {key}, reading Neon: {error}");
            None
        }
    };

    let reply = fill().await?;
    if let Some(seen) = seen {
        let members: Vec<Tag> = read.member_tags().into_iter().chain(reply.tags().iter().cloned()).collect();
        match cache.store_listed(&key, reply.body(), &route_tags, &seen, &members).await {
            Ok(true) => put_and_confirm(&edge, &cache, &key, reply.body(), &route_tags, &seen).await,
            // A writer invalidated mid-read: this answer may predate the write, so it is served, not kept.
            Ok(false) => {}
            Err(error) => worker::console_warn!("Upstash store failed for {key}: {error}"),
        }
    }
    answer(reply.into_body(), CacheLayer::Miss).map_err(Failure::internal)
}

/// Puts an edge copy, then re-reads the route's versions (the one extra command of a fill) and
/// deletes the copy if they moved: a writer whose invalidation ran after `seen` was read but before
/// this put found no edge copy to delete, and nothing else would remove it before its TTL.
async fn put_and_confirm(
    edge: &Cache,
    cache: &CatalogCache<'_, FetchTransport>,
    key: &CacheKey,
    body: &str,
    route_tags: &[Tag],
    seen: &Versions,
) {
    let put = match edge_copy(body) {
        Ok(copy) => edge.put(key.edge_url(), copy).await,
        Err(error) => Err(error),
    };
    if let Err(error) = put {
        worker::console_warn!("edge cache put failed for {key}: {error}");
        return;
    }
    let keep = match cache.versions(route_tags).await {
        Ok(now) => !now.moved_since(seen),
        Err(error) => {
            worker::console_warn!("could not confirm the edge copy of {key}, dropping it: {error}");
            false
        }
    };
    if !keep && let Err(error) = edge.delete(key.edge_url(), false).await {
        worker::console_error!("a stale edge copy of {key} may stay up to {EDGE_TTL_SECS} s: {error}");
    }
}

/// The copy the Cache API keeps: it needs a max-age to store anything at all.
fn edge_copy(body: &str) -> worker::Result<Response> {
    let mut response = respond::json(200, body.to_owned())?;
    response.headers_mut().set("cache-control", &format!("public, max-age={EDGE_TTL_SECS}"))?;
    Ok(response)
}

/// Shoppers' browsers keep nothing, so the next read after a change sees it.
fn answer(body: String, layer: CacheLayer) -> worker::Result<Response> {
    let mut response = respond::json(200, body)?;
    let headers = response.headers_mut();
    headers.set("cache-control", "no-store")?;
    headers.set(X_CACHE, layer.header_value())?;
    Ok(response)
}

/// An edge hit with the client's headers (a cached response's own headers are immutable).
fn from_edge(hit: Response) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    headers.set(X_CACHE, CacheLayer::Edge.header_value())?;
    Ok(hit.with_headers(headers))
}

fn client(config: &Config) -> Upstash {
    UpstashClient::new(FetchTransport, &config.upstash.url, &config.upstash.token).with_base64(false)
}

/// Why an invalidation did not complete; the writer decides what to do (its write is committed).
#[derive(Debug, thiserror::Error)]
pub enum InvalidationError {
    #[error("Upstash did not invalidate: {0}")]
    Upstash(#[from] UpstashError),
    #[error("{failed} of {total} edge copies could not be deleted: {last}")]
    Edge { failed: usize, total: usize, last: String },
}

/// Makes every cached view carrying one of `tags` stale (one atomic Upstash script), then deletes
/// their edge copies in this data centre. Answers how many cached views were purged.
pub async fn invalidate(config: &Config, tags: &[Tag]) -> Result<usize, InvalidationError> {
    let upstash = client(config);
    let keys = CatalogCache::new(&upstash).invalidate(tags).await?;
    let edge = Cache::default();
    let mut failed = 0;
    let mut last = String::new();
    for key in &keys {
        if let Err(error) = edge.delete(key.edge_url(), false).await {
            failed += 1;
            last = error.to_string();
        }
    }
    if failed > 0 {
        return Err(InvalidationError::Edge { failed, total: keys.len(), last });
    }
    Ok(keys.len())
}

/// After every successful write that changed `products`: their pages and every list go stale.
/// The write is committed whatever happens here, so a failure is logged as an error, not answered:
/// the views it missed expire with their TTLs (`shared::catalog::cache`).
pub async fn products_changed(config: &Config, products: &[ProductId]) {
    if products.is_empty() {
        return;
    }
    let mut tags: Vec<Tag> = products.iter().flat_map(Tag::product_change).collect();
    tags.sort();
    tags.dedup();
    if let Err(error) = invalidate(config, &tags).await {
        let ids: Vec<&str> = products.iter().map(ProductId::as_str).collect();
        worker::console_error!("cache invalidation after a write to {} failed: {error}", ids.join(" "));
    }
}
