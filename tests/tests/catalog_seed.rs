//! The catalog seed through the Neon gateway into the migrated `catalog` schema (no Worker needed):
//! exact counts, a second run that changes nothing, a well-formed category tree, and the search
//! indexes answering for seeded titles, exactly, by prefix and with a typo.

use std::collections::BTreeSet;

use e2e::TestStack;
use e2e::sql_fixtures::{Neon, one_i64, sql};
use shared::catalog::search::TYPO_WORD_SIMILARITY;
use shared::catalog::{ProductStatus, SearchQuery};
use shared::neon::{BatchOptions, Query, ToSql};
use xtask::catalog_seed::{self, SeedCatalog, SeedConfig, SeedProduct, SeedReport};

const TABLES: [&str; 7] =
    ["vendors", "categories", "category_closure", "products", "variants", "variant_stock", "product_images"];

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn catalog_seed_through_the_neon_gateway() {
    let stack = TestStack::start("catalog_seed", false).await.expect("stack starts");
    let (neon_url, connection_string) = (stack.stack.urls().neon_sql, stack.stack.connection_string());
    let neon = stack.neon();
    let config = SeedConfig { products: 300, ..SeedConfig::default() };
    let expected = catalog_seed::generate(&config).expect("the catalog generates");

    let first = catalog_seed::run(&neon_url, &connection_string, &config).await.expect("the seed runs");
    seeding_writes_exactly_the_generated_rows(&neon, &expected, &first).await;
    every_shop_has_its_seeded_city(&neon, &expected).await;
    let before = snapshot(&neon).await;
    let second = catalog_seed::run(&neon_url, &connection_string, &config).await.expect("the seed runs again");
    assert_eq!(second.inserted, 0, "{second}");
    assert_eq!(snapshot(&neon).await, before, "a second run changed the catalog");
    a_shop_seeded_without_a_city_gets_its_own_back(&neon, &neon_url, &connection_string, &config, &expected).await;
    assert_eq!(snapshot(&neon).await, before, "restoring the city changed something else");

    every_product_has_a_variant_and_its_price_bounds(&neon).await;
    categories_form_one_tree_of_40(&neon, &expected).await;
    a_seeded_title_is_found_by_full_text_and_by_prefix(&neon, &expected).await;
    a_one_letter_typo_still_matches_through_trigram_similarity(&neon, &expected).await;
}

async fn seeding_writes_exactly_the_generated_rows(neon: &Neon, expected: &SeedCatalog, report: &SeedReport) {
    println!("seeded {report}");
    assert_eq!(report.inserted, expected.row_count() as u64, "{report}");
    let counts = [
        ("vendors", 25),
        ("categories", 40),
        ("products", 300),
        ("variants", expected.variant_count()),
        ("variant_stock", expected.variant_count()),
        ("category_closure", expected.closure_count()),
        ("product_images", 0),
    ];
    for (table, rows) in counts {
        assert_eq!(one_i64(neon, &format!("SELECT count(*) FROM catalog.{table}"), &[]).await, rows as i64, "{table}");
    }
    let active = expected.products.iter().filter(|p| p.status == ProductStatus::Active).count();
    let sql = "SELECT count(*) FROM catalog.products WHERE status = $1";
    assert_eq!(one_i64(neon, sql, &[&ProductStatus::Active]).await, active as i64);
    // The demo vendors own products, so their admins have something to manage.
    let sql = "SELECT count(*) FROM catalog.products WHERE vendor_id = $1";
    assert!(one_i64(neon, sql, &[&"ven_01JC00000000000000000000A1"]).await > 0);
}

/// Every shop is stored with the city it was generated in (the storefront's "Based in").
async fn every_shop_has_its_seeded_city(neon: &Neon, expected: &SeedCatalog) {
    let rows = sql(neon, "SELECT id, city FROM catalog.vendors ORDER BY id", &[]).await;
    let stored: BTreeSet<(String, Option<String>)> =
        rows.iter().map(|row| (row.get(0).expect("id"), row.get(1).expect("city"))).collect();
    let seeded: BTreeSet<(String, Option<String>)> =
        expected.vendors.iter().map(|v| (v.id.to_string(), Some(v.city.to_string()))).collect();
    assert_eq!(stored, seeded);
}

/// A database seeded before shops had a city (migration 0020) gets each shop's city from the next
/// run, and only where none is stored.
async fn a_shop_seeded_without_a_city_gets_its_own_back(
    neon: &Neon,
    neon_url: &str,
    connection_string: &str,
    config: &SeedConfig,
    expected: &SeedCatalog,
) {
    let north_ceramics = catalog_seed::NORTH_CERAMICS;
    sql(neon, "UPDATE catalog.vendors SET city = NULL WHERE id = $1", &[&north_ceramics]).await;
    let report = catalog_seed::run(neon_url, connection_string, config).await.expect("the seed runs again");
    assert_eq!(report.inserted, 1, "one city restored: {report}");
    let city = sql(neon, "SELECT city FROM catalog.vendors WHERE id = $1", &[&north_ceramics]).await;
    assert_eq!(city.one().and_then(|row| row.get::<String>(0)).expect("a city"), "Lisbon");
    every_shop_has_its_seeded_city(neon, expected).await;
}

/// Each table's rows in a stable order, hashed: equal snapshots, equal data.
async fn snapshot(neon: &Neon) -> Vec<(String, i64, String)> {
    let mut tables = Vec::new();
    for table in TABLES {
        let sql = format!(
            "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM catalog.{table} t"
        );
        let result = neon.query(&sql, &[]).await.expect("snapshot query");
        let row = result.one().expect("one row");
        tables.push((table.to_owned(), row.get::<i64>(0).expect("count"), row.get::<String>(1).expect("md5")));
    }
    tables
}

async fn every_product_has_a_variant_and_its_price_bounds(neon: &Neon) {
    let without_variants = "SELECT count(*) FROM catalog.products p \
        WHERE NOT EXISTS (SELECT 1 FROM catalog.variants v WHERE v.product_id = p.id)";
    assert_eq!(one_i64(neon, without_variants, &[]).await, 0);
    // The variants trigger's denormalised bounds agree with the variants.
    let wrong_bounds = "SELECT count(*) FROM catalog.products p \
        JOIN (SELECT product_id, min(price_minor) AS low, max(price_minor) AS high FROM catalog.variants GROUP BY 1) v \
          ON v.product_id = p.id \
        WHERE p.price_min_minor IS DISTINCT FROM v.low OR p.price_max_minor IS DISTINCT FROM v.high";
    assert_eq!(one_i64(neon, wrong_bounds, &[]).await, 0);
}

async fn categories_form_one_tree_of_40(neon: &Neon, expected: &SeedCatalog) {
    // Walk down from the roots, refusing to revisit: a cycle or an orphan would leave some unreached.
    let walk = "WITH RECURSIVE walk (id, depth, path) AS ( \
            SELECT id, 0, ARRAY[id] FROM catalog.categories WHERE parent_id IS NULL \
            UNION ALL \
            SELECT c.id, w.depth + 1, w.path || c.id FROM catalog.categories c JOIN walk w ON c.parent_id = w.id \
            WHERE c.id <> ALL (w.path)) \
        SELECT count(*), count(DISTINCT id), max(depth), count(*) FILTER (WHERE depth = 0) FROM walk";
    let result = neon.query(walk, &[]).await.expect("walk");
    let row = result.one().expect("one row");
    let numbers: Vec<i64> = (0..4).map(|i| row.get::<i64>(i).expect("number")).collect();
    assert_eq!(numbers, [40, 40, 2, 6], "reached, distinct, deepest, roots");
    assert_eq!(one_i64(neon, "SELECT count(*) FROM catalog.categories", &[]).await, 40);

    // The closure holds exactly each category's chain of ancestors.
    let result = neon
        .query("SELECT ancestor_id, descendant_id, depth FROM catalog.category_closure", &[])
        .await
        .expect("closure");
    let stored: BTreeSet<(String, String, i64)> = result
        .iter()
        .map(|row| (row.get(0).expect("ancestor"), row.get(1).expect("descendant"), row.get(2).expect("depth")))
        .collect();
    let mut chains = BTreeSet::new();
    for category in &expected.categories {
        let (mut ancestor, mut depth) = (Some(category), 0);
        while let Some(current) = ancestor {
            chains.insert((current.id.to_string(), category.id.to_string(), depth));
            ancestor = current.parent_id.as_ref().and_then(|id| expected.categories.iter().find(|c| &c.id == id));
            depth += 1;
        }
    }
    assert_eq!(stored, chains);
}

/// A product shoppers can see, chosen by `pick`.
fn public_product(expected: &SeedCatalog, pick: impl Fn(&SeedProduct) -> bool) -> &SeedProduct {
    expected.products.iter().find(|p| p.is_public() && pick(p)).expect("the seed has such a product")
}

async fn a_seeded_title_is_found_by_full_text_and_by_prefix(neon: &Neon, expected: &SeedCatalog) {
    let product = public_product(expected, |_| true);
    let title = product.title.as_str();

    let ranked = "SELECT id FROM catalog.products \
        WHERE status = 'active' AND NOT moderation_hidden AND search @@ plainto_tsquery('simple', $1) \
        ORDER BY ts_rank_cd(search, plainto_tsquery('simple', $1)) DESC, id";
    assert!(ids(neon, ranked, &[&title]).await.contains(&product.id.to_string()), "{title}");

    // The tsquery text shared::catalog builds is valid Postgres and matches the same way.
    let query = SearchQuery::parse(title).expect("a title is a valid search");
    let exact = query.all_terms_tsquery().expect("a title has words");
    let by_terms = "SELECT id FROM catalog.products WHERE search @@ to_tsquery('simple', $1)";
    assert!(ids(neon, by_terms, &[&exact]).await.contains(&product.id.to_string()), "{exact}");

    // What a shopper has typed so far: every word, the last one cut short.
    let typed: String = title.chars().take(title.rfind(' ').map_or(3, |space| space + 4)).collect();
    let prefix = SearchQuery::parse(&typed).expect("valid").prefix_tsquery().expect("has words");
    assert!(ids(neon, by_terms, &[&prefix]).await.contains(&product.id.to_string()), "{typed:?} → {prefix}");
}

async fn a_one_letter_typo_still_matches_through_trigram_similarity(neon: &Neon, expected: &SeedCatalog) {
    let product = public_product(expected, |p| e2e::one_letter_typo(p.title.as_str()).is_some());
    let (word, typo) = e2e::one_letter_typo(product.title.as_str()).expect("chosen for it");

    // Full text needs the exact word, so the typo finds nothing there…
    let full_text = "SELECT id FROM catalog.products WHERE search @@ plainto_tsquery('simple', $1)";
    assert!(!ids(neon, full_text, &[&typo]).await.contains(&product.id.to_string()), "{typo}");
    // …and word similarity (`<%`, served by the trigram index) does, at the catalog's threshold.
    let similar = "SELECT id FROM catalog.products WHERE $1 <% title ORDER BY word_similarity($1, title) DESC, id";
    let threshold = TYPO_WORD_SIMILARITY.to_string();
    let with_threshold = |query: Query| {
        vec![Query::new("SELECT set_config('pg_trgm.word_similarity_threshold', $1, true)", &[&threshold]), query]
    };
    let results = neon
        .batch(&with_threshold(Query::new(similar, &[&typo])), BatchOptions::default())
        .await
        .expect("similarity query");
    let found: Vec<String> = results[1].iter().map(|row| row.get::<String>(0).expect("id")).collect();
    assert!(found.contains(&product.id.to_string()), "{typo} (for {word}) found {} products", found.len());

    // The planner serves that operator from products_title_trgm_idx.
    let mut explain = with_threshold(Query::new(format!("EXPLAIN {similar}"), &[&typo]));
    explain.insert(0, Query::new("SET LOCAL enable_seqscan = off", &[]));
    let plan = neon.batch(&explain, BatchOptions::default()).await.expect("explain");
    let plan: Vec<String> = plan[2].iter().map(|row| row.get::<String>(0).expect("plan line")).collect();
    assert!(plan.iter().any(|line| line.contains("products_title_trgm_idx")), "{plan:#?}");
}

async fn ids(neon: &Neon, query: &str, params: &[&dyn ToSql]) -> Vec<String> {
    sql(neon, query, params).await.iter().map(|row| row.get::<String>(0).expect("id")).collect()
}
