//! The two cache layers in front of Neon (DESIGN §3, §10): the Workers Cache API, then Upstash
//! (`shared::catalog::cache` holds keys, tags and scripts; `worker_platform::tag_cache` the
//! read-through protocol, shared with the storefront's page cache). A warm edge hit costs no Upstash
//! command and no query; a hit in Upstash costs two commands, a miss three. A cache that fails is
//! logged and skipped: the read goes on to Neon. Only 200s are cached; failures pass through untouched.

use std::future::Future;

use shared::catalog::ProductId;
use shared::catalog::cache::{CacheLayer, CachedRead, CatalogCache, Tag, X_CACHE};
use shared::upstash::{UpstashClient, UpstashError};
use worker::{Cache, Response};
use worker_platform::fetch::FetchTransport;
use worker_platform::respond;
use worker_platform::tag_cache::{self, CachedView, Filled, Served, Upstash};

use crate::config::Config;
use crate::respond::{Failure, Outcome};

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
    let checked = read.tags();
    let view = CachedView { key: &key, checked: &checked, content_type: "application/json", noun: None };
    let served = tag_cache::read_through(
        &view,
        || Some(client(config)),
        || async {
            match fill().await {
                Ok(reply) => {
                    let members = read.member_tags().into_iter().chain(reply.tags().iter().cloned()).collect();
                    Filled::Keep { body: reply.into_body(), members }
                }
                Err(failure) => Filled::Pass(failure),
            }
        },
    )
    .await;
    match served {
        Served::Body { body, layer } => answer(body, layer).map_err(Failure::internal),
        Served::Passed(failure) => Err(failure),
    }
}

/// Shoppers' browsers keep nothing, so the next read after a change sees it.
fn answer(body: String, layer: CacheLayer) -> worker::Result<Response> {
    let mut response = respond::json(200, body)?;
    let headers = response.headers_mut();
    headers.set("cache-control", "no-store")?;
    headers.set(X_CACHE, layer.header_value())?;
    Ok(response)
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
