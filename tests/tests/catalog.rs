//! The public catalog read path through the gateway in workerd, on a 300-product seed: only public
//! products, keyset pagination without skips or repeats, filters, relevance and typo tolerance,
//! facets, product detail and the error envelopes.

use std::collections::BTreeSet;

use e2e::TestStack;
use serde_json::Value;
use shared::catalog::Quantity;
use shared::catalog::list_query::popularity_score;
use xtask::catalog_seed::{self, SeedCatalog, SeedConfig, SeedProduct};

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn catalog_read_path_through_the_gateway() {
    let stack = TestStack::start("catalog", true).await.expect("stack starts");
    let config = SeedConfig { products: 300, ..SeedConfig::default() };
    catalog_seed::run(&stack.stack.urls().neon_sql, &stack.stack.connection_string(), &config)
        .await
        .expect("the seed runs");
    let expected = catalog_seed::generate(&config).expect("the catalog generates");

    pagination_lists_every_public_product_once(&stack, &expected).await;
    a_category_filter_includes_descendants(&stack, &expected).await;
    the_price_range_filter_holds(&stack, &expected).await;
    exact_titles_rank_first_and_typos_still_match(&stack, &expected).await;
    product_detail_lists_variants_with_available(&stack, &expected).await;
    errors_use_the_envelope(&stack).await;
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|item| item["id"].as_str().expect("id").to_owned()).collect()
}

async fn pagination_lists_every_public_product_once(stack: &TestStack, expected: &SeedCatalog) {
    let public: BTreeSet<String> =
        expected.products.iter().filter(|p| p.is_public()).map(|p| p.id.to_string()).collect();
    assert!(public.len() < expected.products.len(), "the seed hides some products");
    for sort in ["newest", "price_asc", "price_desc", "popular"] {
        let items = stack.all_pages("/api/v1/products", &format!("sort={sort}&limit=17")).await;
        assert_eq!(e2e::unique_ids(&items), public, "sort={sort}");
    }
    // Price order holds across page boundaries.
    let items = stack.all_pages("/api/v1/products", "sort=price_asc&limit=13").await;
    let prices: Vec<i64> =
        items.iter().map(|item| item["price_from"]["amount_minor"].as_i64().expect("price")).collect();
    assert!(prices.windows(2).all(|pair| pair[0] <= pair[1]), "{prices:?}");
    // Popular: most ratings first, then the better average, across page boundaries.
    let items = stack.all_pages("/api/v1/products", "sort=popular&limit=11").await;
    let scores: Vec<i64> = items
        .iter()
        .map(|item| {
            let rating = &item["rating"];
            let count = u32::try_from(rating["count"].as_u64().unwrap_or(0)).expect("a count");
            let hundredths = rating["average"].as_f64().map(|average| (average * 100.0).round() as u16);
            popularity_score(count, hundredths)
        })
        .collect();
    assert!(scores.windows(2).all(|pair| pair[0] >= pair[1]), "{scores:?}");
    assert!(scores.first() > scores.last(), "the seed rates some products more than others");
}

async fn a_category_filter_includes_descendants(stack: &TestStack, expected: &SeedCatalog) {
    let root = expected.categories.iter().find(|c| c.parent_id.is_none()).expect("a root");
    let mut subtree = BTreeSet::from([root.id.clone()]);
    // Categories come parents first, and the tree is shallow: a few passes reach every level.
    for _ in 0..4 {
        for category in &expected.categories {
            if category.parent_id.as_ref().is_some_and(|parent| subtree.contains(parent)) {
                subtree.insert(category.id.clone());
            }
        }
    }
    let wanted: BTreeSet<String> = expected
        .products
        .iter()
        .filter(|p| p.is_public() && subtree.contains(&p.category_id))
        .map(|p| p.id.to_string())
        .collect();
    assert!(
        expected
            .products
            .iter()
            .any(|p| p.is_public() && p.category_id != root.id && wanted.contains(&p.id.to_string()))
    );
    let items = stack.all_pages("/api/v1/products", &format!("category={}&limit=50", root.id)).await;
    assert_eq!(e2e::unique_ids(&items), wanted);
    let by_slug = stack.all_pages("/api/v1/products", &format!("category={}&limit=50", root.slug.as_str())).await;
    assert_eq!(e2e::unique_ids(&by_slug), wanted, "by slug");
}

async fn the_price_range_filter_holds(stack: &TestStack, expected: &SeedCatalog) {
    let (min, max) = (2_000, 5_000);
    let cheapest = |p: &SeedProduct| p.variants.iter().map(|v| v.pricing.price.amount_minor).min();
    let wanted: BTreeSet<String> = expected
        .products
        .iter()
        .filter(|p| p.is_public() && cheapest(p).is_some_and(|price| (min..=max).contains(&price)))
        .map(|p| p.id.to_string())
        .collect();
    assert!(!wanted.is_empty());
    let items = stack.all_pages("/api/v1/products", &format!("price_min={min}&price_max={max}&limit=50")).await;
    assert_eq!(e2e::unique_ids(&items), wanted);
}

async fn exact_titles_rank_first_and_typos_still_match(stack: &TestStack, expected: &SeedCatalog) {
    let product = expected.products.iter().find(|p| p.is_public()).expect("a public product");
    let title = product.title.as_str();
    let (status, body) = stack.get_json(&format!("/api/v1/search?q={}", e2e::url_encode(title))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["id"], product.id.to_string(), "{title}: {body}");

    // Facet category counts add up to every hit of the search.
    let hits = stack.all_pages("/api/v1/search", &format!("q={}&limit=50", e2e::url_encode(title))).await;
    e2e::unique_ids(&hits);
    let counted: u64 = body["facets"]["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .map(|c| c["count"].as_u64().expect("n"))
        .sum();
    assert_eq!(counted, hits.len() as u64, "{}", body["facets"]);
    let priced: u64 =
        body["facets"]["price"].as_array().expect("price").iter().map(|b| b["count"].as_u64().expect("n")).sum();
    assert_eq!(priced, hits.len() as u64);
    let vendors: u64 =
        body["facets"]["vendors"].as_array().expect("vendors").iter().map(|v| v["count"].as_u64().expect("n")).sum();
    assert_eq!(vendors, hits.len() as u64);

    // One wrong letter in the middle of a long word.
    let product = expected
        .products
        .iter()
        .find(|p| p.is_public() && e2e::one_letter_typo(p.title.as_str()).is_some())
        .expect("a long word");
    let (word, typo) = e2e::one_letter_typo(product.title.as_str()).expect("chosen for it");
    let hits = stack.all_pages("/api/v1/search", &format!("q={typo}&limit=100")).await;
    assert!(ids(&hits).contains(&product.id.to_string()), "{typo} (for {word})");

    // Autocomplete: the first word and the start of the second.
    let typed: String = title.chars().take(title.find(' ').map_or(3, |space| space + 3)).collect();
    let (status, body) =
        stack.get_json(&format!("/api/v1/search/suggest?q={}&limit=20", e2e::url_encode(&typed))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.as_array().expect("suggestions").iter().any(|s| s["title"] == title), "{typed}: {body}");
}

async fn product_detail_lists_variants_with_available(stack: &TestStack, expected: &SeedCatalog) {
    let product = expected.products.iter().find(|p| p.is_public() && p.variants.len() > 1).expect("variants");
    let (status, body) = stack.get_json(&format!("/api/v1/products/{}", product.id)).await;
    assert_eq!(status, 200, "{body}");
    let variants = body["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), product.variants.len());
    for (got, seeded) in variants.iter().zip(&product.variants) {
        assert_eq!(got["id"], seeded.id.to_string());
        let available: Quantity = serde_json::from_value(got["available"].clone()).expect("available");
        assert_eq!(available, seeded.available);
    }

    // A product shoppers cannot see is as unknown as one that does not exist.
    let hidden = expected.products.iter().find(|p| !p.is_public()).expect("a hidden product");
    for id in [hidden.id.to_string(), "prod_01JC000000000000000000ZZZZ".to_owned()] {
        let (status, body) = stack.get_json(&format!("/api/v1/products/{id}")).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "RES_4004", "{body}");
    }
}

async fn errors_use_the_envelope(stack: &TestStack) {
    let (status, body) = stack.get_json("/api/v1/products?price_min=abc&limit=500").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "VAL_3002");
    assert_eq!(body["error"]["details"]["fields"]["price_min"], "invalid", "{body}");
    assert_eq!(body["error"]["details"]["fields"]["limit"], "out_of_range", "{body}");
    let (status, body) = stack.get_json("/api/v1/search").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"]["fields"]["q"], "required", "{body}");
    let (status, body) = stack.get_json("/api/v1/products?cursor=AAAA").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["fields"]["cursor"].is_string(), "{body}");
}
