//! The storefront's browsing pages through the gateway in workerd, as a shopper's browser gets
//! them: home, a category with filters, search with a typo, a product by its readable address, a
//! shop, local search, a friendly 404, and the edge page cache: an unchanged page is an edge hit,
//! and a vendor's price change is on the product's page and in the listing at the next load.

use e2e::TestStack;
use reqwest::Method;
use serde_json::{Value, json};
use shared::catalog::cache::X_CACHE;
use shared::storefront::browse::LOCAL_QUICK_PLACES;
use xtask::catalog_seed::{self, SeedCatalog, SeedConfig};
use xtask::seed::DEMO_ACCOUNTS;

/// Unlike any seeded title (the seed has no "ceramic" in its titles), so searches find only ours.
const MUG: &str = "Zephyr Speckled Ceramic Mug";
const MUG_PATH: &str = "/products/zephyr-speckled-ceramic-mug--north-ceramics";
const JUG: &str = "Zephyr Sold-out Jug";

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn shoppers_browse_the_catalog_through_cached_pages() {
    let stack = TestStack::start("storefront-catalog", true).await.expect("stack starts");
    let config = SeedConfig { products: 200, ..SeedConfig::default() };
    catalog_seed::run(&stack.stack.urls().neon_sql, &stack.stack.connection_string(), &config)
        .await
        .expect("the seed runs");
    xtask::seed::demo_accounts(&stack.stack).await.expect("demo accounts");
    let catalog = catalog_seed::generate(&config).expect("the catalog generates");
    let tableware = catalog
        .categories
        .iter()
        .find(|category| category.slug.as_str() == "tableware")
        .expect("the taxonomy has tableware");
    let alice = DEMO_ACCOUNTS.iter().find(|account| account.email.contains("north-ceramics")).expect("alice");
    let vendor = stack.login(alice.email, alice.password).await;
    let shop = Shop { stack: &stack, token: vendor };
    let mug = shop.create(MUG, "zephyr-mug", tableware.id.as_str(), [(2300, 7), (2500, 3)]).await;
    shop.create(JUG, "zephyr-jug", tableware.id.as_str(), [(4100, 0), (4300, 0)]).await;
    let browser = Browser { stack: &stack };

    the_home_page_lists_categories_and_products(&browser).await;
    filters_change_a_category_listing(&browser).await;
    a_search_with_a_typo_still_finds_the_product(&browser).await;
    the_product_page_shows_variants_price_stock_and_shop(&browser).await;
    unknown_addresses_get_a_friendly_404(&browser).await;
    the_shop_page_lists_its_products(&browser).await;
    a_shop_page_names_the_city_the_shop_was_seeded_with(&browser, &catalog).await;
    local_search_orders_shops_by_distance(&browser).await;
    a_price_change_purges_only_the_pages_that_show_it(&browser, &shop, &mug).await;
}

struct Browser<'a> {
    stack: &'a TestStack,
}

struct Loaded {
    status: u16,
    cache: String,
    html: String,
}

impl Browser<'_> {
    async fn load(&self, path: &str) -> Loaded {
        let response = self.stack.http.get(self.stack.worker_url(path)).send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let cache = response.headers().get(X_CACHE).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
        let html = response.text().await.expect("a body");
        if status >= 500 {
            self.stack.print_logs();
        }
        Loaded { status, cache, html }
    }

    async fn ok(&self, path: &str) -> Loaded {
        let page = self.load(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.html);
        page
    }
}

struct Shop<'a> {
    stack: &'a TestStack,
    token: String,
}

struct Created {
    id: String,
    variant: String,
}

impl Shop<'_> {
    async fn send(&self, method: Method, path: &str, body: Value) -> Value {
        let request = self.stack.http.request(method, self.stack.worker_url(path)).json(&body);
        let (status, body) = self.stack.send(request, Some(&self.token)).await;
        assert!((200..300).contains(&status), "{path}: {status} {body}");
        body
    }

    /// An active product with two variants, (price in cents, stock) each.
    async fn create(&self, title: &str, sku: &str, category: &str, variants: [(i64, i64); 2]) -> Created {
        let variant = |index: usize, colour: &str| {
            let (price, stock) = variants[index];
            json!({"sku": format!("{sku}-{colour}"), "options": {"Glaze": colour},
                   "price": {"amount_minor": price, "currency": "EUR"}, "weight_grams": 400, "stock": stock})
        };
        let body = json!({
            "title": title,
            "description": "Thrown on the wheel.\n\nDishwasher safe.",
            "category_id": category,
            "options": ["Glaze"],
            "variants": [variant(0, "Sea"), variant(1, "Sand")],
        });
        let created = self.send(Method::POST, "/api/v1/vendor/products", body).await;
        let id = created["id"].as_str().expect("an id").to_owned();
        // Two images: the product page loads the first at once and the second lazily.
        for (width, height) in [(4, 3), (3, 3)] {
            let request = self
                .stack
                .http
                .post(self.stack.worker_url(&format!("/api/v1/vendor/products/{id}/images")))
                .header("content-type", "image/png")
                .body(e2e::png(width, height));
            let (status, body) = self.stack.send(request, Some(&self.token)).await;
            assert_eq!(status, 201, "image upload: {body}");
        }
        self.send(Method::PATCH, &format!("/api/v1/vendor/products/{id}"), json!({"status": "active"})).await;
        Created { id, variant: created["variants"][0]["id"].as_str().expect("a variant").to_owned() }
    }
}

async fn the_home_page_lists_categories_and_products(browser: &Browser<'_>) {
    let home = browser.ok("/").await;
    // Top-level categories with their first children (Tableware is a grandchild, under Kitchen).
    for text in ["Shop by category", "href=\"/c/home\"", "href=\"/c/kitchen\"", "New in", "Popular", MUG] {
        assert!(home.html.contains(text), "the home page shows {text}: {}", home.html);
    }
    assert!(home.html.contains("width=\"4\" height=\"3\""), "card images have their dimensions");
    assert_eq!(browser.ok("/").await.cache, "hit-edge", "the second load is the edge copy");
}

async fn filters_change_a_category_listing(browser: &Browser<'_>) {
    let all = browser.ok("/c/tableware").await;
    assert!(all.html.contains(MUG) && all.html.contains(JUG), "both are the newest tableware");
    assert!(all.html.contains("Out of stock"), "the jug's card says it is sold out");

    let in_stock = browser.ok("/c/tableware?in_stock=1").await;
    assert!(in_stock.html.contains(MUG) && !in_stock.html.contains(JUG), "in stock only drops the jug");
    let remove = "<a href=\"/c/tableware\" aria-label=\"Remove filter: In stock only\">";
    assert!(in_stock.html.contains(remove), "the filter is shown, and removable: {}", in_stock.html);

    let cheap = browser.ok("/c/tableware?price_max=22.99").await;
    assert!(!cheap.html.contains(MUG), "23.00 is above the range");
    let around = browser.ok("/c/tableware?price_min=22&price_max=24&in_stock=1").await;
    assert!(around.html.contains(MUG) && !around.html.contains(JUG));
    assert!(around.html.contains("Price 22–24"), "{}", around.html);

    let home = browser.ok("/c/home").await;
    assert!(home.html.contains(MUG), "a parent category lists its descendants' products");
    assert!(home.html.contains("aria-label=\"Subcategories\""));
    let first = browser.ok("/c/home?sort=price_asc").await;
    let next = first.html.split("rel=\"next\" href=\"").nth(1).and_then(|rest| rest.split('"').next());
    let next = next.expect("a category of the seed has more than one page").replace("&amp;", "&");
    assert!(next.contains("cursor="), "{next}");
    let second = browser.ok(&next).await;
    assert_ne!(first.html, second.html, "the next page shows other products");
    assert_eq!(browser.load("/c/no-such-category").await.status, 404);
}

async fn a_search_with_a_typo_still_finds_the_product(browser: &Browser<'_>) {
    let exact = browser.ok("/search?q=ceramic+mug").await;
    assert!(exact.html.contains(MUG));
    let typo = browser.ok("/search?q=ceramc+mug").await;
    assert!(typo.html.contains(MUG), "a one-letter typo still finds it: {}", typo.html);
    assert!(typo.html.contains("id=\"facet-categories\""), "facets come with the hits");
    assert!(typo.html.contains("North Ceramics"), "the shop facet is named");
    // The header's autocomplete links suggestions straight to the product's page.
    let (status, suggestions) = browser.stack.get_json("/api/v1/search/suggest?q=zephyr+spe").await;
    assert_eq!(status, 200, "{suggestions}");
    assert_eq!(suggestions[0]["slug"], "zephyr-speckled-ceramic-mug", "{suggestions}");
    assert_eq!(suggestions[0]["vendor_slug"], "north-ceramics", "{suggestions}");
    let nothing = browser.ok("/search?q=qqqqzzzz").await;
    assert!(nothing.html.contains("Nothing matches"));
}

async fn the_product_page_shows_variants_price_stock_and_shop(browser: &Browser<'_>) {
    let page = browser.ok(MUG_PATH).await;
    for text in ["<h1>Zephyr Speckled Ceramic Mug</h1>", "Glaze: Sea", "Glaze: Sand", "23.00 EUR", "25.00 EUR"] {
        assert!(page.html.contains(text), "the product page shows {text}: {}", page.html);
    }
    assert!(page.html.contains("In stock"), "7 of the sea glaze");
    assert!(page.html.contains("Only 3 left"), "3 of the sand glaze");
    assert!(page.html.contains("href=\"/v/north-ceramics\""), "the shop is a link");
    assert!(page.html.contains("North Ceramics</a> in Lisbon"), "the shop's city: {}", page.html);
    assert!(page.html.contains("action=\"/cart/add\""));
    let images: Vec<&str> = page.html.split("<img ").skip(1).map(|tag| tag.split('>').next().unwrap_or("")).collect();
    assert_eq!(images.len(), 2, "{images:?}");
    assert!(!images[0].contains("loading=\"lazy\"") && images[0].contains("width=\"4\" height=\"3\""));
    assert!(images[1].contains("loading=\"lazy\"") && images[1].contains("alt=\"Zephyr Speckled Ceramic Mug\""));
    assert!(page.html.contains(&format!("name=\"return_to\" value=\"{MUG_PATH}\"")));
    let key = |html: &str| {
        let after = html.split("name=\"idempotency_key\" value=\"").nth(1).expect("a key field");
        after.split('"').next().expect("a value").to_owned()
    };
    let again = browser.ok(MUG_PATH).await;
    assert_eq!(again.cache, "hit-edge");
    assert_ne!(key(&page.html), key(&again.html), "every load gets a fresh key, even from the edge copy");

    let added = browser.ok(&format!("{MUG_PATH}?added=1")).await;
    assert!(added.html.contains("Added to your cart"));
    let refused = browser.ok(&format!("{MUG_PATH}?cart_error=Only+3+left+%3Cb%3E")).await;
    assert!(refused.html.contains("role=\"alert\">Only 3 left &lt;b&gt;"), "escaped: {}", refused.html);
    assert!(!browser.ok(MUG_PATH).await.html.contains("Added to your cart"), "the cached copy has no message");

    let jug = browser.ok("/products/zephyr-sold-out-jug--north-ceramics").await;
    assert!(jug.html.contains("Out of stock") && jug.html.contains("disabled"));
}

async fn unknown_addresses_get_a_friendly_404(browser: &Browser<'_>) {
    for path in
        ["/products/no-such-mug--north-ceramics", "/products/zephyr-speckled-ceramic-mug--nobody", "/products/x"]
    {
        let page = browser.load(path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.html.contains("We could not find that page"), "{path}: {}", page.html);
        assert!(page.html.contains("href=\"/\""), "a way back");
    }
    assert_eq!(browser.load("/v/nobody-here").await.status, 404);
}

async fn the_shop_page_lists_its_products(browser: &Browser<'_>) {
    let page = browser.ok("/v/north-ceramics").await;
    assert!(page.html.contains("<h1>North Ceramics</h1>"));
    assert!(page.html.contains("Based in Lisbon"), "the shop's city: {}", page.html);
    assert!(page.html.contains("Other shops nearby"), "the shop has a location");
    assert!(page.html.contains(MUG) && page.html.contains(JUG));
}

/// A city is the shop's own data, not a guess from its coordinates: a shop outside the places `/local`
/// offers as quick choices is still named by its city.
async fn a_shop_page_names_the_city_the_shop_was_seeded_with(browser: &Browser<'_>, catalog: &SeedCatalog) {
    let shop = catalog
        .vendors
        .iter()
        .find(|vendor| !LOCAL_QUICK_PLACES.iter().any(|(place, ..)| *place == vendor.city.as_str()))
        .expect("the seed has shops beyond the quick choices");
    let page = browser.ok(&format!("/v/{}", shop.slug)).await;
    assert!(page.html.contains(&format!("<h1>{}</h1>", shop.name)), "{}", page.html);
    assert!(page.html.contains(&format!("Based in {}", shop.city)), "{} is in {}: {}", shop.name, shop.city, page.html);
}

async fn local_search_orders_shops_by_distance(browser: &Browser<'_>) {
    let form = browser.ok("/local").await;
    assert!(form.html.contains("Lisbon") && form.html.contains("label for=\"near\""));
    let page = browser.ok("/local?near=38.7223,-9.1393&radius_km=500").await;
    let distances: Vec<f64> = page
        .html
        .split(" km away")
        .filter_map(|before| before.rsplit(" · ").next().and_then(|number| number.trim().parse().ok()))
        .collect();
    assert!(distances.len() >= 2, "several products within 500 km of Lisbon: {distances:?}");
    assert!(distances.windows(2).all(|pair| pair[0] <= pair[1]), "nearest first: {distances:?}");
    assert!(distances[0] < 50.0, "North Ceramics is in Lisbon: {distances:?}");
    let near_berlin = browser.ok("/local?near=52.52,13.405&radius_km=5").await;
    assert!(!near_berlin.html.contains(MUG), "Lisbon is not within 5 km of Berlin");
}

async fn a_price_change_purges_only_the_pages_that_show_it(browser: &Browser<'_>, shop: &Shop<'_>, mug: &Created) {
    let jug_path = "/products/zephyr-sold-out-jug--north-ceramics";
    for path in [MUG_PATH, "/c/tableware", jug_path] {
        browser.ok(path).await;
        assert_eq!(browser.ok(path).await.cache, "hit-edge", "{path} is kept at the edge");
    }
    let path = format!("/api/v1/vendor/products/{}/variants/{}", mug.id, mug.variant);
    shop.send(Method::PATCH, &path, json!({"price": {"amount_minor": 1900, "currency": "EUR"}})).await;

    let page = browser.ok(MUG_PATH).await;
    assert_eq!(page.cache, "miss", "the product's page was purged");
    assert!(page.html.contains("19.00 EUR") && !page.html.contains("23.00 EUR"), "the new price shows");
    let listing = browser.ok("/c/tableware").await;
    assert_eq!(listing.cache, "miss", "every listing was purged");
    assert!(listing.html.contains("From 19.00 EUR"), "the card shows the new price");
    assert_eq!(browser.ok(jug_path).await.cache, "hit-edge", "another product's page stays cached");
    assert_eq!(browser.ok(MUG_PATH).await.cache, "hit-edge", "and the new page is cached again");
}
