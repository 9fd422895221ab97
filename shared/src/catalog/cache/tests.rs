use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::test_support::{FakeTransport, block_on, json_body};

const PRODUCT: &str = "prod_01JC0000000000000000000001";

fn product() -> ProductId {
    ProductId::parse(PRODUCT).unwrap()
}

fn client(transport: FakeTransport) -> UpstashClient<FakeTransport> {
    UpstashClient::new(transport, "https://redis.example", "token").with_base64(false)
}

#[test]
fn query_parameters_are_sorted_so_one_query_has_one_key() {
    let a = CachedRead::Products.key("sort=price_asc&limit=5&category=mugs");
    let b = CachedRead::Products.key("?category=mugs&sort=price_asc&limit=5");
    assert_eq!(a, b);
    assert_eq!(a.as_str(), "/api/v1/products?category=mugs&limit=5&sort=price_asc");
    assert_eq!(a.edge_url(), "https://catalog-cache.internal/api/v1/products?category=mugs&limit=5&sort=price_asc");
}

#[test]
fn unknown_and_empty_parameters_cannot_make_a_new_entry() {
    let plain = CachedRead::Search.key("q=mug");
    assert_eq!(CachedRead::Search.key("q=mug&utm_source=mail&price_min=&_=123"), plain);
    // Only `q` and `limit` mean something to suggestions.
    assert_eq!(CachedRead::Suggest.key("q=mu&sort=newest").as_str(), "/api/v1/search/suggest?q=mu");
    // A product or the tree reads no parameters at all.
    assert_eq!(CachedRead::Product(product()).key("x=1").as_str(), format!("/api/v1/products/{PRODUCT}"));
    assert_eq!(CachedRead::Categories.key("").as_str(), "/api/v1/categories");
}

#[test]
fn encodings_of_one_value_share_a_key_and_a_cursor_is_kept_as_sent() {
    assert_eq!(CachedRead::Search.key("q=blue+mug"), CachedRead::Search.key("q=blue%20mug"));
    let cursor = "AAAAAQ_-abcXYZ09";
    assert_eq!(
        CachedRead::Products.key(&format!("cursor={cursor}&limit=5")).as_str(),
        format!("/api/v1/products?cursor={cursor}&limit=5")
    );
    assert_ne!(CachedRead::Products.key("limit=5"), CachedRead::Search.key("limit=5"));
}

#[test]
fn tags_name_what_a_change_makes_stale() {
    assert_eq!(Tag::Listings.to_string(), "listings");
    assert_eq!(Tag::Categories.to_string(), "categories");
    assert_eq!(Tag::Product(product()).to_string(), format!("product:{PRODUCT}"));
    assert_eq!(Tag::product_change(&product()), [Tag::Product(product()), Tag::Listings]);
    assert_eq!(CachedRead::Search.tags(), [Tag::Listings]);
    assert_eq!(CachedRead::Product(product()).tags(), [Tag::Product(product())]);
    assert_eq!(CachedRead::Categories.tags(), [Tag::Categories]);
}

#[test]
fn x_cache_names_the_layer() {
    let names: Vec<&str> =
        [CacheLayer::Edge, CacheLayer::Upstash, CacheLayer::Miss].map(CacheLayer::header_value).to_vec();
    assert_eq!(names, ["hit-edge", "hit-upstash", "miss"]);
}

#[test]
fn edge_copies_never_outlive_the_sets_that_list_them() {
    const { assert!(EDGE_TTL_SECS <= STORE_TTL_SECS && STORE_TTL_SECS + EDGE_TTL_SECS <= TAG_SET_TTL_SECS) };
    const { assert!(TAG_SET_TTL_SECS < VERSION_TTL_SECS) };
}

#[test]
fn versions_moved_only_when_a_counter_differs() {
    let seen = Versions(vec![0, 4]);
    assert!(!seen.moved_since(&Versions(vec![0, 4])));
    assert!(Versions(vec![1, 4]).moved_since(&seen));
    // A reply of the wrong length counts as moved: the safe side is not to cache.
    assert!(Versions(vec![0]).moved_since(&seen));
}

#[test]
fn lookup_is_one_mget_of_the_body_and_the_route_versions() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": ["{\"items\":[]}", null]})));
    let lookup =
        block_on(CatalogCache::new(&redis).lookup(&CachedRead::Search.key("q=mug"), &[Tag::Listings])).unwrap();
    assert_eq!(
        json_body(&redis.transport().only_request()),
        json!(["MGET", "catalog:cache:v1:body:/api/v1/search?q=mug", "catalog:cache:v1:version:listings"])
    );
    assert_eq!(lookup, Lookup { body: Some("{\"items\":[]}".into()), versions: Versions(vec![0]) });

    let redis = client(FakeTransport::new().respond_json(200, json!({"result": [null, "7"]})));
    let lookup =
        block_on(CatalogCache::new(&redis).lookup(&CachedRead::Categories.key(""), &[Tag::Categories])).unwrap();
    assert_eq!(lookup, Lookup { body: None, versions: Versions(vec![7]) });
}

#[test]
fn store_sends_the_seen_versions_and_every_tag_set_once() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": 1})));
    let key = CachedRead::Products.key("limit=2");
    let shown = [Tag::Product(product()), Tag::Listings];
    let stored =
        block_on(CatalogCache::new(&redis).store(&key, "{}", &[Tag::Listings], &Versions(vec![3]), &shown)).unwrap();
    assert!(stored);
    let body = json_body(&redis.transport().only_request());
    assert_eq!(body[0], "EVALSHA");
    assert_eq!(body[1], Script::new(STORE_SCRIPT).sha1());
    assert_eq!(
        body.as_array().unwrap()[2..].to_vec(),
        json!([
            4,
            "catalog:cache:v1:body:/api/v1/products?limit=2",
            "catalog:cache:v1:version:listings",
            "catalog:cache:v1:tag:listings",
            format!("catalog:cache:v1:tag:product:{PRODUCT}"),
            "{}",
            "/api/v1/products?limit=2",
            "300",
            "360",
            "604800",
            "3"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
}

#[test]
fn a_refused_store_reads_as_false() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": 0})));
    let key = CachedRead::Categories.key("");
    let stored =
        block_on(CatalogCache::new(&redis).store(&key, "[]", &[Tag::Categories], &Versions(vec![0]), &[])).unwrap();
    assert!(!stored);
}

#[test]
fn invalidate_answers_the_purged_keys() {
    let redis = client(
        FakeTransport::new().respond_json(200, json!({"result": ["/api/v1/categories", "/api/v1/products?limit=2"]})),
    );
    let keys = block_on(CatalogCache::new(&redis).invalidate(&[Tag::Categories, Tag::Listings])).unwrap();
    assert_eq!(keys, [CachedRead::Categories.key(""), CachedRead::Products.key("limit=2")]);
    let body = json_body(&redis.transport().only_request());
    assert_eq!(
        body.as_array().unwrap()[2..].to_vec(),
        json!([
            4,
            "catalog:cache:v1:version:categories",
            "catalog:cache:v1:tag:categories",
            "catalog:cache:v1:version:listings",
            "catalog:cache:v1:tag:listings",
            "604800",
            "catalog:cache:v1:body:"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    // Nothing to invalidate costs no command.
    let idle = client(FakeTransport::new());
    assert!(block_on(CatalogCache::new(&idle).invalidate(&[])).unwrap().is_empty());
    assert!(idle.transport().requests().is_empty());
}

fn param() -> impl Strategy<Value = (String, String)> {
    (prop::sample::select(LIST_PARAMS.to_vec()), "[a-z0-9 _-]{1,8}").prop_map(|(name, value)| (name.to_owned(), value))
}

proptest! {
    #[test]
    fn the_key_ignores_parameter_order(params in prop::collection::vec(param(), 0..6), seed in any::<u64>()) {
        let encode = |pairs: &[(String, String)]| {
            form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter().cloned()).finish()
        };
        let mut shuffled = params.clone();
        // A deterministic permutation from the seed.
        shuffled.sort_by_key(|(name, value)| {
            let mut hash = seed;
            for byte in name.bytes().chain(value.bytes()) {
                hash = hash.wrapping_mul(31).wrapping_add(u64::from(byte));
            }
            hash
        });
        prop_assert_eq!(CachedRead::Products.key(&encode(&params)), CachedRead::Products.key(&encode(&shuffled)));
    }
}

#[test]
fn a_product_by_slug_checks_listings_but_is_listed_only_under_its_product() {
    let read = CachedRead::VendorProduct {
        vendor: crate::catalog::Slug::parse("north-ceramics").unwrap(),
        product: crate::catalog::Slug::parse("blue-mug").unwrap(),
    };
    assert_eq!(read.key("x=1").as_str(), "/api/v1/vendors/north-ceramics/products/blue-mug");
    assert_eq!(read.tags(), [Tag::Listings]);
    assert_eq!(read.member_tags(), []);
    assert_eq!(CachedRead::Search.member_tags(), CachedRead::Search.tags());

    let redis = client(FakeTransport::new().respond_json(200, json!({"result": 1})));
    let stored = block_on(CatalogCache::new(&redis).store_listed(
        &read.key(""),
        "{}",
        &read.tags(),
        &Versions(vec![5]),
        &[Tag::Product(product())],
    ))
    .unwrap();
    assert!(stored);
    let body = json_body(&redis.transport().only_request());
    // The body, the version checked, and one member set: the product's, not `listings`.
    assert_eq!(body[2], 3);
    assert_eq!(body[4], "catalog:cache:v1:version:listings");
    assert_eq!(body[5], format!("catalog:cache:v1:tag:product:{PRODUCT}"));
    assert_eq!(body[body.as_array().unwrap().len() - 1], "5");
}

#[test]
fn page_keys_share_the_edge_origin_and_never_an_api_path() {
    let page = CacheKey::page("/c/tableware?in_stock=true");
    assert_eq!(page.edge_url(), "https://catalog-cache.internal/c/tableware?in_stock=true");
    assert_ne!(page, CachedRead::Products.key("category=tableware&in_stock=true"));
}
