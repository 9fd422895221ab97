//! The storefront's cart and checkout pages through workerd, as a browser without JavaScript uses
//! them: form posts answered 303, cookies carried between requests, pages read as HTML. The cart
//! and orders APIs confirm what the pages did.

use std::collections::BTreeMap;

use e2e::{TestStack, fresh_id, now_unix};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use shared::catalog::Currency;
use shared::identity::access_token::{Identity, RoleGrant};
use shared::neon::ToSql;
use xtask::catalog_seed::{self, BRIGHT_TEXTILES, NORTH_CERAMICS, SeedCatalog, SeedConfig, SeedProduct};

const CARD_OK: &str = "4242 4242 4242 4242";
const CARD_DECLINED: &str = "4000 0000 0000 0002";

/// A browser with JavaScript off: follows no redirects by itself, keeps cookies.
struct Browser<'a> {
    stack: &'a TestStack,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
    set_cookies: Vec<String>,
}

impl<'a> Browser<'a> {
    fn new(stack: &'a TestStack) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Browser { stack, http, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.header(COOKIE, self.cookie_header()).send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let location = header(LOCATION);
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok().map(str::to_owned))
            .collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let body = response.text().await.unwrap_or_default();
        Answer { status, location, body, set_cookies }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let request = self.http.get(self.stack.worker_url(path));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let request = self.http.post(self.stack.worker_url(path)).form(fields);
        self.send(request).await
    }

    /// The cart as the API has it for this browser's cookies.
    /// (As the API sees it: the session cookie is the pages' own, so a signed-in browser's token
    /// goes in `Authorization`, as the pages send it.)
    async fn api_cart(&mut self) -> Value {
        let (status, cart) = self.api_json("/api/v1/cart").await;
        assert_eq!(status, 200, "{cart}");
        cart
    }

    async fn api_json(&mut self, path: &str) -> (u16, Value) {
        let mut request = self.http.get(self.stack.worker_url(path));
        if let Some(token) = self.cookies.get("sf_access") {
            request = request.bearer_auth(token);
        }
        let answer = self.send(request).await;
        (answer.status, serde_json::from_str(&answer.body).unwrap_or(Value::Null))
    }
}

/// Text as maud writes it into HTML.
fn html_escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The `value` of the form field `name` in the page (the first one).
fn field_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in the page")) + marker.len();
    html[start..].split('"').next().expect("a closing quote").to_owned()
}

/// The `role="alert"` messages of a page.
fn alerts(html: &str) -> Vec<String> {
    html.split("role=\"alert\">").skip(1).filter_map(|rest| rest.split('<').next()).map(str::to_owned).collect()
}

fn as_pairs<'f>(form: &'f [(&'static str, String)]) -> Vec<(&'static str, &'f str)> {
    form.iter().map(|(name, value)| (*name, value.as_str())).collect()
}

fn money_text(money: &Value) -> String {
    let money: shared::catalog::Money =
        serde_json::from_value(money.clone()).unwrap_or_else(|error| panic!("money in {money}: {error}"));
    money.to_string()
}

fn eur_products<'c>(catalog: &'c SeedCatalog, vendor: &str) -> Vec<&'c SeedProduct> {
    catalog
        .products
        .iter()
        .filter(|product| {
            product.is_public() && product.vendor_id.as_str() == vendor && product.currency == Currency::EUR
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn a_shopper_fills_the_cart_and_pays_through_the_pages() {
    let stack = TestStack::start("storefront_cart", true).await.expect("stack starts");
    let urls = stack.stack.urls();
    let config = SeedConfig { products: 60, vendors: 4, ..SeedConfig::default() };
    catalog_seed::run(&urls.neon_sql, &stack.stack.connection_string(), &config).await.expect("the seed runs");
    xtask::cart_seed::run(&urls.neon_sql, &stack.stack.connection_string()).await.expect("cart seed");
    let catalog = catalog_seed::generate(&config).expect("the catalog generates");
    let neon = stack.neon();
    let sql = async |query: &str, params: &[&dyn ToSql]| {
        neon.query(query, params).await.unwrap_or_else(|error| panic!("{query}: {error}"))
    };
    let ceramics = eur_products(&catalog, NORTH_CERAMICS);
    let textiles = eur_products(&catalog, BRIGHT_TEXTILES);
    let (mug, extra, scarf) = (ceramics[0], ceramics[1], textiles[0]);
    for (product, vendor) in [(mug, NORTH_CERAMICS), (extra, NORTH_CERAMICS), (scarf, BRIGHT_TEXTILES)] {
        let variant = product.variants[0].id.as_str();
        sql("SELECT inventory.set_on_hand($1, $2, NULL, 50, 'e2e')", &[&vendor, &variant]).await;
        sql("UPDATE catalog.variant_stock SET available = 50 WHERE variant_id = $1", &[&variant]).await;
    }
    let mut browser = Browser::new(&stack);

    // A guest adds from a product page: back there with `added=1`, and a cart cookie.
    let product_path = format!("/products/{}", mug.slug.as_str());
    let key = fresh_id("key");
    let fields = [
        ("variant_id", mug.variants[0].id.as_str()),
        ("quantity", "2"),
        ("idempotency_key", key.as_str()),
        ("return_to", product_path.as_str()),
    ];
    let added = browser.post("/cart/add", &fields).await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert_eq!(added.location.as_deref(), Some(format!("{product_path}?added=1").as_str()));
    assert!(!added.set_cookies.is_empty(), "the guest's cart cookie is set");
    // The same form posted again (a double click) adds nothing more.
    assert_eq!(browser.post("/cart/add", &fields).await.status, 303);
    let added = browser.post("/cart/add", &[("variant_id", scarf.variants[0].id.as_str()), ("quantity", "1")]).await;
    assert_eq!(added.location.as_deref(), Some("/cart"), "no return_to: the cart");
    let refused = browser
        .post(
            "/cart/add",
            &[("variant_id", scarf.variants[0].id.as_str()), ("quantity", "0"), ("return_to", "//evil.example")],
        )
        .await;
    assert_eq!(refused.status, 422, "a refusal without a local return_to shows the cart");
    assert!(
        alerts(&refused.body).iter().any(|alert| alert.contains("between 1 and 99")),
        "{:?}",
        alerts(&refused.body)
    );
    let refused = browser
        .post(
            "/cart/add",
            &[("variant_id", scarf.variants[0].id.as_str()), ("quantity", "500"), ("return_to", &product_path)],
        )
        .await;
    assert!(refused.location.as_deref().is_some_and(|l| l.starts_with(&format!("{product_path}?cart_error="))));

    let cart = browser.api_cart().await;
    let vendors = cart["vendors"].as_array().expect("vendors");
    assert_eq!(vendors.len(), 2, "{cart}");
    let mug_line = vendors
        .iter()
        .flat_map(|v| v["lines"].as_array().unwrap())
        .find(|l| l["variant_id"] == mug.variants[0].id.as_str())
        .expect("the mug's line");
    assert_eq!(mug_line["quantity"], 2, "the repeated add was one add");

    // The cart page: both shops' products, each shop's shipping choice, the API's totals.
    let page = browser.get("/cart").await;
    assert_eq!(page.status, 200);
    for product in [mug, scarf] {
        assert!(page.body.contains(&html_escaped(product.title.as_str())), "{} on the page", product.title);
    }
    assert_eq!(page.body.matches("Shipping from ").count(), 2, "one shipping choice per shop");
    // Each line links to its product's page, which shows that product.
    let links: Vec<String> = page
        .body
        .split("href=\"/products/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(|tail| format!("/products/{tail}")))
        .collect();
    assert_eq!(links.len(), 2, "one link per line: {links:?}");
    let mut shown = Vec::new();
    for link in &links {
        let product_page = browser.get(link).await;
        assert_eq!(product_page.status, 200, "{link}");
        shown.extend(
            [mug, scarf]
                .into_iter()
                .filter(|product| product_page.body.contains(&html_escaped(product.title.as_str())))
                .map(|product| product.id.clone()),
        );
    }
    shown.sort();
    let mut expected = vec![mug.id.clone(), scarf.id.clone()];
    expected.sort();
    assert_eq!(shown, expected, "the two links open the two products: {links:?}");
    assert!(page.body.contains(&money_text(&cart["totals"]["subtotal"])), "{cart}");
    assert!(page.body.contains(&money_text(&cart["totals"]["total"])));

    // Quantity: changed, and refused out of range with the reason beside the line.
    let line_id = mug_line["line_id"].as_str().expect("line id").to_owned();
    let updated = browser.post("/cart/update", &[("line_id", &line_id), ("quantity", "3")]).await;
    assert_eq!((updated.status, updated.location.as_deref()), (303, Some("/cart")));
    let refused = browser.post("/cart/update", &[("line_id", &line_id), ("quantity", "0")]).await;
    assert_eq!(refused.status, 422);
    assert!(alerts(&refused.body).iter().any(|a| a.contains("between 1 and 99")));
    let too_many = browser.post("/cart/update", &[("line_id", &line_id), ("quantity", "80")]).await;
    assert_eq!(too_many.status, 409, "more than the 50 in stock");
    assert!(alerts(&too_many.body).iter().any(|a| a.contains("only 50 left")), "{:?}", alerts(&too_many.body));

    // Remove: a third line comes and goes.
    browser.post("/cart/add", &[("variant_id", extra.variants[0].id.as_str()), ("quantity", "1")]).await;
    let cart = browser.api_cart().await;
    let extra_line = cart["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["lines"].as_array().unwrap())
        .find(|l| l["variant_id"] == extra.variants[0].id.as_str())
        .expect("the extra line")["line_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = browser.post("/cart/remove", &[("line_id", &extra_line)]).await;
    assert_eq!(removed.location.as_deref(), Some("/cart"));
    let cart = browser.api_cart().await;
    let lines: Vec<&Value> =
        cart["vendors"].as_array().unwrap().iter().flat_map(|v| v["lines"].as_array().unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().any(|l| l["line_id"] == line_id.as_str() && l["quantity"] == 3));

    // Destination, then a shipping option per shop.
    let bad = browser.post("/cart/destination", &[("country", "Portugal")]).await;
    assert_eq!(bad.status, 422);
    assert!(alerts(&bad.body).iter().any(|a| a.contains("country")));
    assert_eq!(browser.post("/cart/destination", &[("country", "pt")]).await.location.as_deref(), Some("/cart"));
    let cart = browser.api_cart().await;
    for vendor in cart["vendors"].as_array().unwrap() {
        let option = vendor["shipping_options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| !o["price"].is_null())
            .expect("a priced option");
        let vendor_id = vendor["vendor_id"].as_str().unwrap();
        let chosen = browser
            .post("/cart/shipping", &[("vendor_id", vendor_id), ("option_id", option["id"].as_str().unwrap())])
            .await;
        assert_eq!(chosen.location.as_deref(), Some("/cart"));
    }
    let cart = browser.api_cart().await;
    assert!(cart["vendors"].as_array().unwrap().iter().all(|v| !v["selected_shipping"].is_null()), "{cart}");
    assert!(cart["totals"]["tax"]["amount_minor"].as_i64().unwrap() > 0, "Portugal's VAT");

    // Coupons: unknown and expired ones are refused with the reason; the shop's own applies.
    let unknown = browser.post("/cart/coupon", &[("code", "NOPE-NOPE"), ("idempotency_key", &fresh_id("key"))]).await;
    assert_eq!(unknown.status, 422);
    assert!(alerts(&unknown.body).iter().any(|a| a.contains("No such coupon")), "{:?}", alerts(&unknown.body));
    let expired = browser.post("/cart/coupon", &[("code", "SUMMER-2025"), ("idempotency_key", &fresh_id("key"))]).await;
    assert!(alerts(&expired.body).iter().any(|a| a.contains("expired")), "{:?}", alerts(&expired.body));
    let applied = browser.post("/cart/coupon", &[("code", "ceramics15"), ("idempotency_key", &fresh_id("key"))]).await;
    assert_eq!(applied.location.as_deref(), Some("/cart"), "{}", applied.body);
    let cart = browser.api_cart().await;
    assert!(cart["totals"]["discount"]["amount_minor"].as_i64().unwrap() > 0, "{cart}");
    let page = browser.get("/cart").await;
    assert!(page.body.contains("CERAMICS15"));
    assert!(page.body.contains(&money_text(&cart["totals"]["discount"])));
    assert!(page.body.contains(&money_text(&cart["totals"]["total"])));
    assert!(page.body.contains("href=\"/checkout\""));

    // Checking out needs an account: a guest is sent to sign in and back.
    let guest = browser.get("/checkout").await;
    assert_eq!(guest.status, 303);
    assert_eq!(guest.location.as_deref(), Some("/account/login?next=%2Fcheckout"));

    // Signed in (the session cookie sfaccount's login sets): the guest cart becomes the account's.
    let user_id = fresh_id("usr");
    let issuer = stack.stack.access_token_issuer().expect("the stack's token issuer");
    let identity = Identity::new(&user_id, vec![RoleGrant::customer()]).expect("identity");
    let token = issuer.issue(&identity, now_unix(), &fresh_id("jti")).expect("token");
    browser.cookies.insert("sf_access".to_owned(), token);
    let checkout = browser.get("/checkout").await;
    assert_eq!(checkout.status, 200, "{}", checkout.body);
    let cart = browser.api_cart().await;
    let total = money_text(&cart["totals"]["total"]);
    assert!(checkout.body.contains(&format!("Pay {total}")), "the pay button shows {total}");
    for product in [mug, scarf] {
        assert!(checkout.body.contains(&html_escaped(product.title.as_str())));
    }
    let pay_form = |page: &str, card: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("idempotency_key", field_value(page, "idempotency_key")),
            ("expected_total", field_value(page, "expected_total")),
            ("currency", field_value(page, "currency")),
            ("name", "Ana Silva".to_owned()),
            ("street", "Rua Augusta 10".to_owned()),
            ("city", "Lisboa".to_owned()),
            ("postcode", "1100-053".to_owned()),
            ("country", "PT".to_owned()),
            ("card_number", card.to_owned()),
            ("card_expiry", "12 / 34".to_owned()),
            ("card_cvc", "123".to_owned()),
        ]
    };
    let buyer_groups = async |status: &str| -> i64 {
        let result = sql(
            "SELECT count(*)::bigint FROM orders.order_groups WHERE buyer_id = $1 AND status = $2",
            &[&user_id.as_str(), &status],
        )
        .await;
        result.one().expect("a row").get::<i64>(0).expect("a count")
    };

    // A card number with a typo never leaves the page; nothing is asked of the API.
    let mut typo = pay_form(&checkout.body, CARD_OK);
    typo[8].1 = "4242 4242 4242 4241".to_owned();
    let typo = browser.post("/checkout/pay", &as_pairs(&typo)).await;
    assert_eq!(typo.status, 422);
    assert!(typo.body.contains("typo"), "the number's check digit is wrong");
    assert!(!typo.body.contains("4242 4242 4242 4241"), "the typed number is not shown back");
    assert!(typo.body.contains("value=\"Ana Silva\""), "the address stays as typed");

    // Declined: the page says so, and nothing is charged or ordered.
    let declined_form = pay_form(&checkout.body, CARD_DECLINED);
    let declined = browser.post("/checkout/pay", &as_pairs(&declined_form)).await;
    assert_eq!(declined.status, 402, "{:?}", alerts(&declined.body));
    assert!(alerts(&declined.body).iter().any(|a| a.contains("Your card was declined")));
    assert_eq!(buyer_groups("confirmed").await, 0);
    let charged = sql(
        "SELECT count(*)::bigint FROM payments.payments WHERE buyer_id = $1 AND status = 'succeeded'",
        &[&user_id.as_str()],
    )
    .await;
    assert_eq!(charged.one().unwrap().get::<i64>(0).unwrap(), 0, "nothing charged");

    // A well-formed card the test-mode provider does not take is the provider's decline too.
    let live_form = pay_form(&declined.body, "4012 8888 8888 1881");
    let live = browser.post("/checkout/pay", &as_pairs(&live_form)).await;
    assert_eq!(live.status, 402, "{:?}", alerts(&live.body));
    assert!(alerts(&live.body).iter().any(|a| a.contains("Your card was declined")));
    assert!(!live.body.contains("4012 8888 8888 1881"), "the typed number is not shown back");

    // Paid: the form from the page after the declines (a fresh key), posted twice (a double click).
    let form = pay_form(&live.body, CARD_OK);
    assert_ne!(form[0].1, field_value(&checkout.body, "idempotency_key"), "a fresh key after the decline");
    let first = browser.post("/checkout/pay", &as_pairs(&form)).await;
    assert_eq!(first.status, 303, "{:?}", alerts(&first.body));
    let location = first.location.clone().expect("a location");
    assert!(location.starts_with("/orders/grp_") && location.ends_with("?placed=1"), "{location}");
    let again = browser.post("/checkout/pay", &as_pairs(&form)).await;
    assert_eq!(again.location.as_deref(), Some(location.as_str()), "the same order, not a second one");
    assert_eq!(buyer_groups("confirmed").await, 1);

    let group_id = location.trim_start_matches("/orders/").trim_end_matches("?placed=1");
    let (status, group) = browser.api_json(&format!("/api/v1/orders/{group_id}")).await;
    assert_eq!(status, 200, "{group}");
    let shops: Vec<&str> =
        group["orders"].as_array().unwrap().iter().map(|o| o["vendor_id"].as_str().unwrap()).collect();
    assert_eq!(shops.len(), 2);
    assert!(shops.contains(&NORTH_CERAMICS) && shops.contains(&BRIGHT_TEXTILES));
    assert_eq!(group["shipping_address"]["name"], "Ana Silva");
    assert_eq!(group["shipping_address"]["city"], "Lisboa");
    assert_eq!(group["total"], cart["totals"]["total"]);

    // What was bought leaves the cart once the order is placed (the saga's event comes back to
    // the cart), and the cart page says it is empty.
    let mut emptied = false;
    for _ in 0..50 {
        if browser.api_cart().await["vendors"].as_array().is_some_and(Vec::is_empty) {
            emptied = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(emptied, "the cart is emptied after the order");
    let page = browser.get("/cart").await;
    assert!(page.body.contains("Your cart is empty"));
    assert!(page.body.contains("Continue shopping"));
}
