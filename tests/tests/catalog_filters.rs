//! The public list's filters, relevance on `/products?q=`, and keyset pagination while products
//! are being inserted, through the gateway in workerd on a 400-product seed. What each filter
//! should return is computed from the seed's in-memory model (`catalog_seed::generate`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use e2e::TestStack;
use serde_json::Value;
use shared::catalog::{GeoPoint, Near, ProductId, VariantId};
use shared::neon::{BatchOptions, NeonClient, Query};
use shared::transport::ReqwestTransport;
use xtask::catalog_seed::{self, SeedCatalog, SeedConfig, SeedProduct};

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn catalog_filters_relevance_and_pagination_under_inserts() {
    let stack = TestStack::start("catalog-filters", true).await.expect("stack starts");
    let config = SeedConfig { products: 400, ..SeedConfig::default() };
    catalog_seed::run(&stack.stack.urls().neon_sql, &stack.stack.connection_string(), &config)
        .await
        .expect("the seed runs");
    let expected = catalog_seed::generate(&config).expect("the catalog generates");

    the_vendor_filter_matches_exactly(&stack, &expected).await;
    the_in_stock_filter_matches_exactly(&stack, &expected).await;
    the_min_rating_filter_matches_exactly(&stack, &expected).await;
    the_near_filter_matches_exactly(&stack, &expected).await;
    products_with_q_rank_like_search(&stack, &expected).await;
    // Last: it adds products.
    pages_neither_repeat_nor_skip_while_products_are_inserted(&stack, &expected).await;
}

/// Ids of the public products `keep` selects; fails when that is none or all of them, since a
/// filter checked against either could not tell a working filter from a broken one.
fn public_where(expected: &SeedCatalog, what: &str, keep: impl Fn(&SeedProduct) -> bool) -> BTreeSet<String> {
    let public: Vec<&SeedProduct> = expected.products.iter().filter(|p| p.is_public()).collect();
    let wanted: BTreeSet<String> = public.iter().filter(|p| keep(p)).map(|p| p.id.to_string()).collect();
    assert!(!wanted.is_empty() && wanted.len() < public.len(), "{what}: {} of {}", wanted.len(), public.len());
    wanted
}

/// `name=value&…`, percent-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    let url = reqwest::Url::parse_with_params("http://localhost/", pairs).expect("a valid query");
    url.query().unwrap_or_default().to_owned()
}

async fn the_vendor_filter_matches_exactly(stack: &TestStack, expected: &SeedCatalog) {
    let vendor = &expected.vendors[1];
    let wanted = public_where(expected, "vendor", |p| p.vendor_id == vendor.id);
    for reference in [vendor.id.to_string(), vendor.slug.as_str().to_owned()] {
        let items = stack.all_pages("/api/v1/products", &query(&[("vendor", &reference), ("limit", "9")])).await;
        assert_eq!(e2e::unique_ids(&items), wanted, "vendor={reference}");
    }
}

async fn the_in_stock_filter_matches_exactly(stack: &TestStack, expected: &SeedCatalog) {
    let wanted = public_where(expected, "in stock", |p| p.variants.iter().any(|variant| !variant.available.is_zero()));
    let items = stack.all_pages("/api/v1/products", "in_stock=true&limit=50").await;
    assert_eq!(e2e::unique_ids(&items), wanted);
    assert!(items.iter().all(|item| item["in_stock"] == true), "every listed product says it is in stock");
}

async fn the_min_rating_filter_matches_exactly(stack: &TestStack, expected: &SeedCatalog) {
    for stars in [3, 4] {
        let wanted = public_where(expected, "min_rating", |p| {
            p.rating.is_some_and(|(average, _)| average.as_f64() >= f64::from(stars))
        });
        let items = stack.all_pages("/api/v1/products", &format!("min_rating={stars}&limit=50")).await;
        assert_eq!(e2e::unique_ids(&items), wanted, "min_rating={stars}");
    }
}

async fn the_near_filter_matches_exactly(stack: &TestStack, expected: &SeedCatalog) {
    let center = expected.vendors[0].location;
    let distances: Vec<f64> = expected.vendors.iter().map(|vendor| center.distance_km(vendor.location)).collect();
    // Radii with no shop within 0.5 km of the edge, so rounding in SQL cannot decide the result.
    let radii: Vec<f64> = [2.0, 5.0, 50.0, 300.0, 500.0]
        .into_iter()
        .filter(|radius| distances.iter().all(|distance| (distance - radius).abs() > 0.5))
        .collect();
    let (mut checked, mut spread) = (0, 0);
    for radius_km in radii {
        let near = Near { center, radius_km };
        let inside: BTreeSet<_> = expected
            .vendors
            .iter()
            .filter(|vendor| near.contains(vendor.location))
            .map(|vendor| vendor.id.clone())
            .collect();
        if inside.len() == expected.vendors.len() {
            continue;
        }
        let wanted = public_where(expected, "near", |p| inside.contains(&p.vendor_id));
        let point = format!("{},{}", center.lat(), center.lng());
        assert_eq!(GeoPoint::parse(&point).expect("a point"), center, "the centre survives the query string");
        let radius = radius_km.to_string();
        let items = stack
            .all_pages("/api/v1/products", &query(&[("near", &point), ("radius_km", &radius), ("limit", "50")]))
            .await;
        assert_eq!(e2e::unique_ids(&items), wanted, "near={point} radius_km={radius}");
        // Nearest shops first, across page boundaries, and the same products.
        let nearest = stack
            .all_pages(
                "/api/v1/products",
                &query(&[("near", &point), ("radius_km", &radius), ("sort", "nearest"), ("limit", "7")]),
            )
            .await;
        assert_eq!(e2e::unique_ids(&nearest), wanted, "sort=nearest near={point} radius_km={radius}");
        let from_center: Vec<f64> = nearest
            .iter()
            .map(|item| {
                let at = &item["vendor"]["location"];
                let shop = GeoPoint::new(at["lat"].as_f64().expect("lat"), at["lng"].as_f64().expect("lng"));
                center.distance_km(shop.expect("a shop's location"))
            })
            .collect();
        assert!(
            from_center.windows(2).all(|pair| pair[0] <= pair[1] + 0.001),
            "nearest first near={point}: {from_center:?}"
        );
        if from_center.first() < from_center.last() {
            spread += 1;
        }
        checked += 1;
    }
    assert!(checked >= 1, "no radius split the shops: {distances:?}");
    assert!(spread >= 1, "some radius holds shops at different distances: {distances:?}");
}

async fn products_with_q_rank_like_search(stack: &TestStack, expected: &SeedCatalog) {
    // Far from the first id, which `relevance` without a rank would also put first; a title no
    // other product has, so an exact match has one right answer.
    let public: Vec<&SeedProduct> = expected.products.iter().filter(|p| p.is_public()).collect();
    let product = public
        .iter()
        .skip(public.len() / 2)
        .find(|p| public.iter().filter(|other| other.title.as_str() == p.title.as_str()).count() == 1)
        .expect("a public product with a title of its own");
    let title = product.title.as_str();
    for sort in [None, Some("relevance")] {
        let mut pairs = vec![("q", title)];
        pairs.extend(sort.map(|sort| ("sort", sort)));
        let (status, body) = stack.get_json(&format!("/api/v1/products?{}", query(&pairs))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["items"][0]["id"], product.id.to_string(), "exact title first, sort={sort:?}: {body}");
    }
    // The same hits in the same order as /search, across keyset pages: the commonest title word.
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for p in expected.products.iter().filter(|p| p.is_public()) {
        for word in p.title.as_str().split(' ').filter(|w| w.len() >= 4 && w.bytes().all(|b| b.is_ascii_alphabetic())) {
            *counts.entry(word.to_lowercase()).or_default() += 1;
        }
    }
    let (word, _) = counts.iter().max_by_key(|(_, count)| **count).expect("title words");
    let word = word.as_str();
    let listed = stack.all_pages("/api/v1/products", &query(&[("q", word), ("limit", "7")])).await;
    let searched = stack.all_pages("/api/v1/search", &query(&[("q", word), ("limit", "7")])).await;
    e2e::unique_ids(&listed);
    assert!(listed.len() > 7, "{word}: more than one page: {}", listed.len());
    let order = |items: &[Value]| items.iter().map(|item| item["id"].clone()).collect::<Vec<_>>();
    assert_eq!(order(&listed), order(&searched));
    assert!(listed.len() < expected.products.len(), "q filters");
    // Filters still apply beside q.
    let other_vendor = expected.vendors.iter().find(|vendor| vendor.id != product.vendor_id).expect("two vendors");
    let items = stack
        .all_pages("/api/v1/products", &query(&[("q", title), ("vendor", other_vendor.id.as_str()), ("limit", "50")]))
        .await;
    assert!(!e2e::unique_ids(&items).contains(&product.id.to_string()), "another vendor's list");
}

/// New active products arrive while a shopper pages through newest and price-sorted lists: no
/// product is listed twice, and every product that existed before the walk is listed exactly once.
async fn pages_neither_repeat_nor_skip_while_products_are_inserted(stack: &TestStack, expected: &SeedCatalog) {
    let neon = Arc::new(stack.neon());
    let inserted = Arc::new(AtomicUsize::new(0));
    for sort in ["newest", "price_asc"] {
        let before = stack.all_pages("/api/v1/products", &format!("sort={sort}&limit=100")).await;
        let before = e2e::unique_ids(&before);
        let walking = Arc::new(AtomicBool::new(true));
        let inserter =
            tokio::spawn(insert_until_stopped(neon.clone(), templates(expected), walking.clone(), inserted.clone()));
        let count_at_start = inserted.load(Ordering::SeqCst);
        let walked = stack.all_pages("/api/v1/products", &format!("sort={sort}&limit=10")).await;
        let during = inserted.load(Ordering::SeqCst) - count_at_start;
        walking.store(false, Ordering::SeqCst);
        inserter.await.expect("the inserter ran").expect("inserts succeed");
        assert!(during > 0, "sort={sort}: nothing was inserted during the walk");
        let seen = e2e::unique_ids(&walked);
        let missing: Vec<_> = before.difference(&seen).collect();
        assert!(missing.is_empty(), "sort={sort}: skipped {missing:?} ({during} inserted meanwhile)");
        if sort == "price_asc" {
            let prices: Vec<i64> =
                walked.iter().map(|item| item["price_from"]["amount_minor"].as_i64().expect("a price")).collect();
            assert!(prices.windows(2).all(|pair| pair[0] <= pair[1]), "price order holds: {prices:?}");
        }
    }
}

/// What an inserted product copies from a seeded one: vendor, category, currency, creation time
/// and price, so new products land among the existing ones in both sorts, ties included.
#[derive(Clone)]
struct Template {
    vendor_id: String,
    category_id: String,
    currency: String,
    created_at: String,
    price_minor: i64,
}

fn templates(expected: &SeedCatalog) -> Vec<Template> {
    expected
        .products
        .iter()
        .filter(|p| p.is_public() && !p.variants.is_empty())
        .step_by(7)
        .map(|p| Template {
            vendor_id: p.vendor_id.to_string(),
            category_id: p.category_id.to_string(),
            currency: p.currency.to_string(),
            created_at: p.created_at.to_rfc3339(),
            price_minor: p.variants[0].pricing.price.amount_minor,
        })
        .collect()
}

/// Inserts one active product with one variant per transaction until `running` turns false.
async fn insert_until_stopped(
    neon: Arc<NeonClient<ReqwestTransport>>,
    templates: Vec<Template>,
    running: Arc<AtomicBool>,
    inserted: Arc<AtomicUsize>,
) -> anyhow::Result<()> {
    while running.load(Ordering::SeqCst) {
        let index = inserted.load(Ordering::SeqCst);
        // Scattered over the templates, so inserts land both behind and ahead of the walk.
        let template = &templates[index.wrapping_mul(7_919) % templates.len()];
        let mut entropy = [0xA5u8; 10];
        entropy[..8].copy_from_slice(&(index as u64).to_be_bytes());
        let product_id = ProductId::generate(1_800_000_000_000, entropy).to_string();
        let variant_id = VariantId::generate(1_800_000_000_000, entropy).to_string();
        let title = format!("Inserted during a walk {index}");
        let slug = format!("inserted-during-a-walk-{index}");
        let sku = format!("INSERTED-{index}");
        let price = template.price_minor.to_string();
        let queries = [
            Query::new(
                "INSERT INTO catalog.products (id, vendor_id, category_id, title, slug, status, currency, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7::timestamptz, $7::timestamptz)",
                &[
                    &product_id,
                    &template.vendor_id,
                    &template.category_id,
                    &title,
                    &slug,
                    &template.currency,
                    &template.created_at,
                ],
            ),
            Query::new(
                "INSERT INTO catalog.variants (id, product_id, vendor_id, sku, price_minor, currency) \
                 VALUES ($1, $2, $3, $4, $5::bigint, $6)",
                &[&variant_id, &product_id, &template.vendor_id, &sku, &price, &template.currency],
            ),
        ];
        neon.batch(&queries, BatchOptions::default()).await?;
        inserted.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}
