//! The shopper's journeys in a real browser (issue 7): Debian's Chromium, driven by playwright-core
//! (`tests/browser/journeys.mjs`), against the whole stack in workerd with the demo data. The
//! screenshots of the main pages land in this test's output directory.

use std::path::PathBuf;
use std::process::Command;

use e2e::{TestStack, one_letter_typo};
use serde_json::json;
use shared::storefront::browse::product_path;
use xtask::catalog_seed::{self, BRIGHT_TEXTILES, NORTH_CERAMICS, SeedCatalog, SeedConfig, SeedProduct};

#[tokio::test]
#[ignore = "needs the Wasm builds and Chromium: run through `cargo xtask test`"]
async fn the_shoppers_journeys_work_in_chromium() {
    let stack = TestStack::start("storefront-browser", true).await.expect("stack starts");
    let config = SeedConfig { products: 60, vendors: 3, ..SeedConfig::default() };
    let urls = stack.stack.urls();
    catalog_seed::run(&urls.neon_sql, &stack.stack.connection_string(), &config).await.expect("the seed runs");
    xtask::cart_seed::run(&urls.neon_sql, &stack.stack.connection_string()).await.expect("cart seed");
    let catalog = catalog_seed::generate(&config).expect("the catalog generates");

    let ceramics = buyable(&catalog, NORTH_CERAMICS, true);
    let textiles = buyable(&catalog, BRIGHT_TEXTILES, false);
    let (word, typo) = one_letter_typo(ceramics.title.as_str()).expect("a long word in the title");
    // The home page links the top-level categories.
    let mut category = catalog
        .categories
        .iter()
        .find(|category| category.id == ceramics.category_id)
        .expect("the product's category is seeded");
    while let Some(parent) = &category.parent_id {
        category = catalog.categories.iter().find(|candidate| &candidate.id == parent).expect("the parent is seeded");
    }
    let fixture = json!({
        "ceramics": { "title": ceramics.title.as_str(), "path": address(&catalog, ceramics), "vendor": "North Ceramics" },
        "textiles": { "title": textiles.title.as_str(), "path": address(&catalog, textiles), "vendor": "Bright Textiles" },
        "search": { "word": word, "typo": typo },
        "category": { "slug": category.slug.as_str(), "name": category.name.as_str() },
        "coupon": "WELCOME10",
        "inbox": urls.email_inbox,
    });

    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("storefront-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    std::fs::create_dir_all(&screenshots).expect("the screenshot directory");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new("node")
        .arg(repo.join("tests/browser/journeys.mjs"))
        .current_dir(&repo)
        .env("BASE_URL", &urls.worker)
        .env("SCREENSHOTS", &screenshots)
        .env("FIXTURE", fixture.to_string())
        .status()
        .expect("node runs");
    if !status.success() {
        stack.print_logs();
    }
    assert!(status.success(), "a browser journey failed (its steps are printed above)");
    let taken = std::fs::read_dir(&screenshots).expect("screenshots were saved").count();
    assert!(taken >= 8, "only {taken} screenshots in {}", screenshots.display());
    println!("screenshots: {}", screenshots.display());
}

/// The product page's address: `/products/{product}--{shop}`.
fn address(catalog: &SeedCatalog, product: &SeedProduct) -> String {
    let vendor = catalog.vendors.iter().find(|vendor| vendor.id == product.vendor_id).expect("the product's shop");
    product_path(&product.slug, &vendor.slug)
}

/// A public product of `vendor` with every variant in stock, priced so two of them pass the
/// coupon's minimum; `first` picks from the start of the seed, otherwise from its end.
fn buyable<'c>(catalog: &'c SeedCatalog, vendor: &str, first: bool) -> &'c SeedProduct {
    let mut candidates = catalog.products.iter().filter(|product| {
        product.is_public()
            && product.vendor_id.as_str() == vendor
            && product.variants.iter().all(|variant| variant.available.get() >= 5)
            && product.variants.iter().all(|variant| variant.pricing.price.amount_minor >= 1500)
            && one_letter_typo(product.title.as_str()).is_some()
    });
    let found = if first { candidates.next() } else { candidates.next_back() };
    found.unwrap_or_else(|| panic!("the seed has a buyable product of {vendor}"))
}
