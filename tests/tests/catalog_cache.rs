//! Caching of the public catalog reads: the Upstash scripts against the real Redis behind the
//! local Upstash gateway, and the two layers through the gateway in workerd (a miss, then an edge
//! hit with the old data after the row changed, an Upstash hit once the edge copy expired, errors
//! never cached, reads surviving Redis going away).

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::TestStack;
use serde_json::Value;
use shared::catalog::ProductId;
use shared::catalog::cache::{CacheKey, CachedRead, CatalogCache, EDGE_TTL_SECS, STORE_TTL_SECS, Tag, X_CACHE};
use shared::transport::ReqwestTransport;
use shared::upstash::{RedisValue, UpstashClient};
use xtask::catalog_seed::{self, SeedConfig, SeedProduct};

type Upstash = UpstashClient<ReqwestTransport>;

fn upstash(stack: &TestStack) -> Upstash {
    UpstashClient::new(
        ReqwestTransport::default(),
        stack.stack.urls().upstash,
        stack.stack.secrets.upstash_token.clone(),
    )
    .with_base64(false)
}

/// Every cache key in Redis with its TTL in seconds (-1: none).
async fn cache_keys(redis: &Upstash) -> Vec<(String, i64)> {
    let keys = redis.command(&["KEYS", "catalog:cache:*"]).await.expect("KEYS").into_array().expect("an array");
    let mut out = Vec::new();
    for key in keys {
        let key = key.into_string().expect("a key");
        let ttl = redis.command(&["TTL", key.as_str()]).await.expect("TTL").as_i64().expect("seconds");
        out.push((key, ttl));
    }
    out
}

async fn members(redis: &Upstash, tag: &Tag) -> BTreeSet<String> {
    let set = format!("catalog:cache:v1:tag:{tag}");
    let reply = redis.command(&["SMEMBERS", set.as_str()]).await.expect("SMEMBERS");
    reply.into_array().unwrap_or_default().into_iter().filter_map(RedisValue::into_string).collect()
}

fn keys(keys: &[&CacheKey]) -> BTreeSet<String> {
    keys.iter().map(|key| key.as_str().to_owned()).collect()
}

#[tokio::test]
#[ignore = "needs the native builds of the local gateways: run through `cargo xtask test`"]
async fn cache_scripts_against_redis() {
    let stack = TestStack::start("catalog-cache-scripts", false).await.expect("stack starts");
    let redis = upstash(&stack);
    let cache = CatalogCache::new(&redis);
    let product = ProductId::parse("prod_01JC00000000000000000000P1").expect("an id");
    let detail = CachedRead::Product(product.clone());
    let (detail_key, list_key) = (detail.key(""), CachedRead::Products.key("limit=5"));
    let list_tags = [Tag::Product(product.clone())];

    // A first read finds nothing and versions that were never bumped.
    let first = cache.lookup(&detail_key, &detail.tags()).await.expect("lookup");
    assert_eq!(first.body, None);
    let detail_body = r#"{"title":"Théière «bleue»"}"#;
    assert!(cache.store(&detail_key, detail_body, &detail.tags(), &first.versions, &[]).await.expect("store"));
    let seen = cache.lookup(&list_key, &[Tag::Listings]).await.expect("lookup");
    assert!(cache.store(&list_key, "{}", &[Tag::Listings], &seen.versions, &list_tags).await.expect("store"));

    // Stored verbatim, found by the next lookup with unchanged versions.
    let again = cache.lookup(&detail_key, &detail.tags()).await.expect("lookup");
    assert_eq!(again.body.as_deref(), Some(detail_body));
    assert!(!again.versions.moved_since(&first.versions));
    assert_eq!(members(&redis, &Tag::Product(product.clone())).await, keys(&[&detail_key, &list_key]));
    assert_eq!(members(&redis, &Tag::Listings).await, keys(&[&list_key]));

    // A writer's invalidation between the lookup and the store: the store refuses, nothing is kept.
    let categories = CachedRead::Categories.key("");
    let before = cache.lookup(&categories, &[Tag::Categories]).await.expect("lookup");
    assert_eq!(cache.invalidate(&[Tag::Categories]).await.expect("invalidate"), []);
    assert!(!cache.store(&categories, "[]", &[Tag::Categories], &before.versions, &[]).await.expect("store"));
    let after = cache.lookup(&categories, &[Tag::Categories]).await.expect("lookup");
    assert_eq!(after.body, None, "a refused store wrote the body");
    assert!(after.versions.moved_since(&before.versions));

    // Every key the cache wrote expires, within the TTLs it names.
    let written = cache_keys(&redis).await;
    assert!(written.len() >= 5, "{written:?}");
    for (key, ttl) in &written {
        assert!(*ttl > 0 && *ttl <= 7 * 24 * 3600, "{key} has TTL {ttl}");
        if key.contains(":body:") {
            assert!(*ttl <= i64::from(STORE_TTL_SECS), "{key} has TTL {ttl}");
        }
    }

    // A product change purges every view that showed it, bodies and sets, and names them for the edge.
    let seen_by_list = cache.versions(&[Tag::Listings]).await.expect("versions");
    let purged = cache.invalidate(&Tag::product_change(&product)).await.expect("invalidate");
    assert_eq!(
        purged.iter().map(|key| key.as_str().to_owned()).collect::<BTreeSet<_>>(),
        keys(&[&detail_key, &list_key])
    );
    assert_eq!(purged.len(), 2, "a key listed under two tags is named once: {purged:?}");
    assert_eq!(cache.lookup(&detail_key, &detail.tags()).await.expect("lookup").body, None);
    assert_eq!(cache.lookup(&list_key, &[Tag::Listings]).await.expect("lookup").body, None);
    assert!(members(&redis, &Tag::Product(product.clone())).await.is_empty());
    // What the Worker re-reads after an edge put: an invalidation since shows as moved versions.
    assert!(cache.versions(&[Tag::Listings]).await.expect("versions").moved_since(&seen_by_list));
    assert_eq!(cache.invalidate(&Tag::product_change(&product)).await.expect("invalidate"), []);
}

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn catalog_reads_through_both_cache_layers() {
    let mut stack = TestStack::start("catalog-cache", true).await.expect("stack starts");
    let config = SeedConfig { products: 300, ..SeedConfig::default() };
    catalog_seed::run(&stack.stack.urls().neon_sql, &stack.stack.connection_string(), &config)
        .await
        .expect("the seed runs");
    let expected = catalog_seed::generate(&config).expect("the catalog generates");
    let product = expected
        .products
        .iter()
        .find(|p| p.is_public() && p.title.as_str().contains(' '))
        .expect("a public product")
        .clone();
    let client = Client { stack: &stack };
    let views = Views::of(&product);

    let old_title = product.title.as_str().to_owned();
    for path in views.all() {
        a_second_read_is_an_edge_hit_with_the_same_body(&client, &path, &old_title).await;
    }
    parameter_order_does_not_make_a_new_entry(&client).await;
    errors_are_never_cached(&client).await;
    upstash_lists_every_view_under_its_tags(&client, &product, &views).await;

    let new_title = "Zephyrine Cache Teapot";
    change_the_title_in_postgres(&stack, &product.id, new_title).await;
    for path in views.showing_product() {
        let (layer, body) = client.get(&path).await;
        assert_eq!(layer, "hit-edge", "{path}");
        assert!(body.to_string().contains(&old_title), "{path} was cached, so it still shows the old title: {body}");
    }

    purging_upstash_leaves_only_the_edge_copies_until_they_expire(&client, &product, &views, new_title).await;
    reads_survive_redis_going_away(&mut stack, &views).await;
}

struct Client<'a> {
    stack: &'a TestStack,
}

impl Client<'_> {
    /// `(x-cache, body)` of a 200.
    async fn get(&self, path: &str) -> (String, Value) {
        let (status, layer, body) = self.get_any(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        (layer.unwrap_or_else(|| panic!("{path} says nothing of the cache")), body)
    }

    async fn get_any(&self, path: &str) -> (u16, Option<String>, Value) {
        let response = self.stack.http.get(self.stack.worker_url(path)).send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let layer = response.headers().get(X_CACHE).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let body = response.json().await.unwrap_or(Value::Null);
        if status >= 500 {
            self.stack.print_logs();
        }
        (status, layer, body)
    }
}

/// The public reads that show one product, and one that does not.
struct Views {
    detail: String,
    list: String,
    search: String,
    suggest: String,
    categories: String,
}

impl Views {
    fn of(product: &SeedProduct) -> Self {
        let title = product.title.as_str();
        let typed: String = title.chars().take(title.find(' ').map_or(3, |space| space + 3)).collect();
        Self {
            detail: format!("/api/v1/products/{}", product.id),
            // A vendor has about a dozen of the 300 products: one page holds them all.
            list: format!("/api/v1/products?vendor={}&limit=100", product.vendor_id),
            search: format!("/api/v1/search?q={}&limit=50", e2e::url_encode(title)),
            suggest: format!("/api/v1/search/suggest?q={}&limit=20", e2e::url_encode(&typed)),
            categories: "/api/v1/categories".to_owned(),
        }
    }

    fn showing_product(&self) -> [String; 4] {
        [self.detail.clone(), self.list.clone(), self.search.clone(), self.suggest.clone()]
    }

    fn all(&self) -> [String; 5] {
        [self.detail.clone(), self.list.clone(), self.search.clone(), self.suggest.clone(), self.categories.clone()]
    }

    /// Cache keys as the Worker normalises them.
    fn key(path: &str) -> String {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let read = match path {
            "/api/v1/products" => CachedRead::Products,
            "/api/v1/search" => CachedRead::Search,
            "/api/v1/search/suggest" => CachedRead::Suggest,
            "/api/v1/categories" => CachedRead::Categories,
            _ => CachedRead::Product(ProductId::parse(path.rsplit('/').next().expect("an id")).expect("a product id")),
        };
        read.key(query).as_str().to_owned()
    }
}

async fn a_second_read_is_an_edge_hit_with_the_same_body(client: &Client<'_>, path: &str, title: &str) {
    let (layer, first) = client.get(path).await;
    assert_eq!(layer, "miss", "{path}");
    let (layer, second) = client.get(path).await;
    assert_eq!(layer, "hit-edge", "{path}");
    assert_eq!(first, second, "{path}");
    if !path.ends_with("/categories") {
        assert!(first.to_string().contains(title), "{path} shows the product: {first}");
    }
}

async fn parameter_order_does_not_make_a_new_entry(client: &Client<'_>) {
    let (layer, first) = client.get("/api/v1/products?sort=price_asc&limit=7").await;
    assert_eq!(layer, "miss");
    let (layer, second) = client.get("/api/v1/products?limit=7&utm_source=mail&sort=price_asc").await;
    assert_eq!(layer, "hit-edge", "the same query in another order is the same entry");
    assert_eq!(first, second);
}

async fn errors_are_never_cached(client: &Client<'_>) {
    for _ in 0..2 {
        let (status, layer, body) = client.get_any("/api/v1/products?limit=abc&sort=cheapest").await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "VAL_3002", "{body}");
        assert_eq!(layer, None, "an error is not a cache answer");
        let (status, layer, _) = client.get_any("/api/v1/products/prod_01JC000000000000000000ZZZZ").await;
        assert_eq!((status, layer), (404, None));
    }
    let redis = upstash(client.stack);
    let stored: Vec<String> = cache_keys(&redis).await.into_iter().map(|(key, _)| key).collect();
    assert!(!stored.iter().any(|key| key.contains("limit=abc") || key.contains("ZZZZ")), "{stored:?}");
}

async fn upstash_lists_every_view_under_its_tags(client: &Client<'_>, product: &SeedProduct, views: &Views) {
    let redis = upstash(client.stack);
    let showing: BTreeSet<String> = views.showing_product().iter().map(|path| Views::key(path)).collect();
    assert_eq!(members(&redis, &Tag::Product(product.id.clone())).await, showing);
    let listings = members(&redis, &Tag::Listings).await;
    for path in [&views.list, &views.search, &views.suggest] {
        assert!(listings.contains(&Views::key(path)), "{path} is not under listings: {listings:?}");
    }
    assert!(!listings.contains(&Views::key(&views.detail)));
    assert_eq!(members(&redis, &Tag::Categories).await, BTreeSet::from([Views::key(&views.categories)]));
    for (key, ttl) in cache_keys(&redis).await {
        assert!(ttl > 0, "{key} never expires");
    }
}

async fn change_the_title_in_postgres(stack: &TestStack, product: &ProductId, title: &str) {
    let result = stack
        .neon()
        .query("UPDATE catalog.products SET title = $2, updated_at = now() WHERE id = $1", &[product, &title])
        .await
        .expect("the update runs");
    assert_eq!(result.row_count, Some(1));
}

/// The Upstash half of an invalidation on its own (the write path's whole invalidation, edge copies
/// included, is tested through the vendor API in catalog_vendor.rs): the script purges every view
/// that showed the product and nothing else; once the edge copies expire, each view reads afresh.
async fn purging_upstash_leaves_only_the_edge_copies_until_they_expire(
    client: &Client<'_>,
    product: &SeedProduct,
    views: &Views,
    new_title: &str,
) {
    let redis = upstash(client.stack);
    let purged: BTreeSet<String> = CatalogCache::new(&redis)
        .invalidate(&Tag::product_change(&product.id))
        .await
        .expect("the invalidation runs")
        .iter()
        .map(|key| key.as_str().to_owned())
        .collect();
    let showing: BTreeSet<String> = views.showing_product().iter().map(|path| Views::key(path)).collect();
    assert!(purged.is_superset(&showing), "every view that showed the product is purged: {purged:?}");
    assert!(!purged.contains(&Views::key(&views.categories)), "the tree did not show it");
    tokio::time::sleep(Duration::from_secs(u64::from(EDGE_TTL_SECS) + 2)).await;

    let id = product.id.to_string();
    for path in views.showing_product() {
        let (layer, body) = client.get(&path).await;
        assert_eq!(layer, "miss", "{path} was purged from Upstash");
        let items = match &body {
            Value::Array(items) => items.clone(),
            Value::Object(_) if body.get("items").is_some() => body["items"].as_array().cloned().unwrap_or_default(),
            _ => vec![body.clone()],
        };
        let shown: Vec<&Value> = items.iter().filter(|item| item["id"] == id.as_str()).collect();
        // The page, the vendor's list and the search (the description still matches the old
        // words) show the new title; the suggestion, which completes titles, no longer offers it.
        if path == views.suggest {
            assert!(shown.is_empty(), "{path} still suggests the old title: {body}");
        } else {
            assert_eq!(shown.len(), 1, "{path}: {body}");
            assert_eq!(shown[0]["title"], new_title, "{path}: {body}");
        }
    }
    let (layer, body) = client.get(&views.detail).await;
    assert_eq!((layer.as_str(), body["title"].as_str()), ("hit-edge", Some(new_title)));

    // The tree was not invalidated: its edge copy expired, Upstash still had it, and it is back at the edge.
    let (layer, _) = client.get(&views.categories).await;
    assert_eq!(layer, "hit-upstash");
    let (layer, _) = client.get(&views.categories).await;
    assert_eq!(layer, "hit-edge");
}

/// Upstash is a cache: without it, reads still answer from the edge or from Neon.
async fn reads_survive_redis_going_away(stack: &mut TestStack, views: &Views) {
    stack.stack.stop_redis();
    let client = Client { stack };
    let (layer, _) = client.get(&views.categories).await;
    assert_eq!(layer, "hit-edge", "an edge hit needs no Upstash command");
    let (layer, first) = client.get("/api/v1/products?limit=3&sort=price_desc").await;
    assert_eq!(layer, "miss");
    let (layer, second) = client.get("/api/v1/products?limit=3&sort=price_desc").await;
    assert_eq!(layer, "miss", "without Upstash's versions nothing can be cached safely");
    assert_eq!(first, second);
}
