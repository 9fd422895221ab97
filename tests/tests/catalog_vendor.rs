//! The vendor and platform-admin catalog API through the gateway in workerd: real accounts (a
//! platform admin creates two vendors and grants each an admin), tenant isolation on every vendor
//! route, validation codes, idempotent creation, and what the public read path shows as a product
//! goes from draft to active, is moderated, and is archived.

use std::collections::BTreeSet;

use e2e::{TestStack, error_code};
use reqwest::Method;
use serde_json::{Value, json};
use shared::identity::access_token::{Identity, Role, RoleGrant};
use shared::neon::NeonClient;
use shared::transport::ReqwestTransport;
use xtask::catalog_seed::{self, SeedConfig};

const PASSWORD: &str = "correct horse battery staple";
/// Unlike any seeded title, so searches find only this test's product.
const TITLE: &str = "Zanzibar Quokka Teapot";

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn vendor_and_admin_catalog_api_through_the_gateway() {
    let stack = TestStack::start("catalog-vendor", true).await.expect("stack starts");
    let config = SeedConfig { products: 40, ..SeedConfig::default() };
    catalog_seed::run(&stack.stack.urls().neon_sql, &stack.stack.connection_string(), &config)
        .await
        .expect("the seed runs");
    let category = catalog_seed::generate(&config).expect("catalog").categories[0].id.to_string();
    let neon = stack.neon();
    let api = Api { stack: &stack };
    let accounts = accounts(&api).await;

    only_vendors_reach_the_vendor_api_and_only_admins_the_admin_api(&api, &accounts).await;
    validation_names_every_bad_field(&api, &accounts, &category).await;
    let product = idempotent_create_never_duplicates(&api, &accounts, &category, &neon).await;
    another_vendor_gets_404_on_every_route(&api, &accounts, &product).await;
    a_draft_is_private_until_activated(&api, &accounts, &product).await;
    an_update_shows_on_the_next_read_of_every_cached_view(&api, &accounts, &product).await;
    variants_are_added_changed_and_removed(&api, &accounts, &product).await;
    moderation_hides_from_the_public_but_not_from_the_vendor(&api, &accounts, &product).await;
    archiving_hides_it_and_it_comes_back_only_as_a_draft(&api, &accounts, &product).await;
    the_vendor_list_pages_through_every_status(&api, &accounts, &category).await;
}

struct Accounts {
    admin: String,
    vendor_a: String,
    vendor_b: String,
    shopper: String,
    vendor_a_id: String,
}

struct Api<'a> {
    stack: &'a TestStack,
}

impl Api<'_> {
    async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        self.send_with(method, path, token, body, None).await
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self.stack.http.request(method, self.stack.worker_url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        self.stack.send(request, token).await
    }

    /// A public read and the cache layer that answered it (`x-cache`).
    async fn get_cached(&self, path: &str) -> (String, Value) {
        let response = self.stack.http.get(self.stack.worker_url(path)).send().await.expect("the gateway answers");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let layer = response.headers().get("x-cache").and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
        (layer, response.json().await.expect("json"))
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.send(Method::GET, path, token, None).await
    }

    async fn login(&self, email: &str) -> String {
        self.stack.login(email, PASSWORD).await
    }

    /// Ids of every public list, search and suggest hit for `TITLE`, and whether the detail answers.
    async fn public_views(&self, product: &str, vendor: &str) -> (bool, bool, bool, bool) {
        let (status, list) = self.get(&format!("/api/v1/products?vendor={vendor}&limit=100"), None).await;
        assert_eq!(status, 200, "{list}");
        let (status, search) = self.get("/api/v1/search?q=zanzibar%20quokka", None).await;
        assert_eq!(status, 200, "{search}");
        let (status, suggest) = self.get("/api/v1/search/suggest?q=zanzib", None).await;
        assert_eq!(status, 200, "{suggest}");
        let (detail, _) = self.get(&format!("/api/v1/products/{product}"), None).await;
        assert!(detail == 200 || detail == 404, "{detail}");
        let has = |items: &Value| items.as_array().expect("array").iter().any(|item| item["id"] == product);
        (has(&list["items"]), has(&search["items"]), has(&suggest), detail == 200)
    }
}

fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body["error"]["details"]["fields"][name].as_str().unwrap_or_default()
}

/// Registers four users, makes one platform admin the way the seed does (the first admin has no
/// one to grant it), and lets that admin create two vendors and grant each its vendor admin.
async fn accounts(api: &Api<'_>) -> Accounts {
    let emails =
        ["admin@vendor-test.example", "a@vendor-test.example", "b@vendor-test.example", "shop@vendor-test.example"];
    let mut user_ids = Vec::new();
    for email in emails {
        user_ids.push(api.stack.register(email, PASSWORD).await);
    }
    api.stack.grant_platform_admin(&user_ids[0]).await;
    let admin = api.login(emails[0]).await;

    let mut vendor_ids = Vec::new();
    let shops = [("Quokka Ceramics", Some(" Setúbal "), 38.52, -8.89), ("Bright Other Textiles", None, 41.15, -8.61)];
    for (name, city, lat, lng) in shops {
        let mut body = json!({"name": name, "latitude": lat, "longitude": lng});
        if let Some(city) = city {
            body["city"] = json!(city);
        }
        let (status, body) = api.send(Method::POST, "/api/v1/admin/vendors", Some(&admin), Some(body)).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["location"]["lat"], json!(lat), "{body}");
        assert_eq!(body["city"].as_str(), city.map(str::trim), "{body}");
        vendor_ids.push(body["id"].as_str().expect("vendor id").to_owned());
    }
    // The public shop read carries the city the admin gave, and no city for a shop given none.
    let (status, body) = api.get("/api/v1/vendors/quokka-ceramics", None).await;
    assert_eq!((status, body["city"].as_str()), (200, Some("Setúbal")), "{body}");
    let (status, body) = api.get("/api/v1/vendors/bright-other-textiles", None).await;
    assert_eq!((status, body.get("city")), (200, None), "{body}");
    let long_city = json!({"name": "Quokka Glass", "city": "x".repeat(81)});
    let (status, body) = api.send(Method::POST, "/api/v1/admin/vendors", Some(&admin), Some(long_city)).await;
    assert_eq!((status, error_code(&body), field(&body, "city")), (422, "VAL_3002", "too_long"), "{body}");
    let (status, body) =
        api.send(Method::POST, "/api/v1/admin/vendors", Some(&admin), Some(json!({"name": "Quokka Ceramics"}))).await;
    assert_eq!((status, error_code(&body), field(&body, "slug")), (409, "RES_4003", "taken"), "{body}");
    let (status, body) = api.get("/api/v1/admin/vendors?limit=100", Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    let listed: BTreeSet<&str> =
        body["items"].as_array().expect("items").iter().filter_map(|v| v["id"].as_str()).collect();
    assert!(vendor_ids.iter().all(|id| listed.contains(id.as_str())), "{body}");

    for (user_id, vendor) in [(&user_ids[1], &vendor_ids[0]), (&user_ids[2], &vendor_ids[1])] {
        api.stack.grant_vendor_admin(&admin, user_id, vendor).await;
    }
    Accounts {
        vendor_a: api.login(emails[1]).await,
        vendor_b: api.login(emails[2]).await,
        shopper: api.login(emails[3]).await,
        admin,
        vendor_a_id: vendor_ids[0].clone(),
    }
}

async fn only_vendors_reach_the_vendor_api_and_only_admins_the_admin_api(api: &Api<'_>, accounts: &Accounts) {
    let (status, body) = api.get("/api/v1/vendor/products", None).await;
    assert_eq!((status, error_code(&body)), (401, "AUTH_1004"), "{body}");
    let (status, body) = api.get("/api/v1/vendor/products", Some(&accounts.shopper)).await;
    assert_eq!((status, error_code(&body)), (403, "AUTHZ_2001"), "{body}");
    let (status, body) =
        api.send(Method::POST, "/api/v1/vendor/products", Some(&accounts.shopper), Some(json!({}))).await;
    assert_eq!((status, error_code(&body)), (403, "AUTHZ_2001"), "{body}");
    // A platform admin is no vendor.
    let (status, body) = api.get("/api/v1/vendor/products", Some(&accounts.admin)).await;
    assert_eq!((status, error_code(&body)), (403, "AUTHZ_2001"), "{body}");
    let (status, body) = api.get("/api/v1/admin/vendors", Some(&accounts.vendor_a)).await;
    assert_eq!((status, error_code(&body)), (403, "AUTHZ_2001"), "{body}");
    let (status, body) = api.get("/api/v1/admin/vendors", None).await;
    assert_eq!((status, error_code(&body)), (401, "AUTH_1004"), "{body}");
    let hide = json!({"hidden": true, "reason": "counterfeit"});
    let (status, body) = api
        .send(
            Method::PUT,
            "/api/v1/admin/products/prod_01JC00000000000000000000A1/moderation",
            Some(&accounts.vendor_a),
            Some(hide),
        )
        .await;
    assert_eq!((status, error_code(&body)), (403, "AUTHZ_2001"), "{body}");

    // The catalog checks the caller itself before it reads a body: a vendor token whose vendor id
    // is no catalog vendor id passes the gateway's role check and is refused, whatever it sends.
    let odd = odd_vendor_token(api.stack);
    let product = "/api/v1/vendor/products/prod_01JC00000000000000000000A1";
    for (method, body) in [(Method::PATCH, json!({"title": ""})), (Method::POST, json!({"title": ""}))] {
        let path = if method == Method::POST { "/api/v1/vendor/products" } else { product };
        let (status, body) = api.send(method.clone(), path, Some(&odd), Some(body)).await;
        assert_eq!((status, error_code(&body)), (403, "AUTHZ_2001"), "{method} {path}: {body}");
    }
}

/// A vendor admin token as identity would sign it, for a vendor id the catalog cannot parse.
fn odd_vendor_token(stack: &TestStack) -> String {
    let issuer = stack.stack.access_token_issuer().expect("the stack's token issuer");
    let grant = RoleGrant::new(Role::VendorAdmin, Some("ven_1".to_owned())).expect("a grant");
    let identity = Identity::new("usr_01JC0000000000000000000ODD", vec![grant]).expect("an identity");
    issuer.issue(&identity, e2e::now_unix(), "odd-vendor").expect("a token")
}

fn teapot(category: &str) -> Value {
    json!({
        "title": TITLE,
        "description": "A glazed stoneware teapot for two.",
        "category_id": category,
        "options": ["Colour"],
        "variants": [
            {"sku": "zq-teapot-blue", "options": {"Colour": "Blue"}, "price": {"amount_minor": 3900, "currency": "EUR"},
             "compare_at_price": {"amount_minor": 4900, "currency": "EUR"}, "weight_grams": 900, "stock": 5},
            {"sku": "zq-teapot-sand", "options": {"Colour": "Sand"}, "price": {"amount_minor": 3500, "currency": "EUR"},
             "weight_grams": 900, "stock": 0}
        ]
    })
}

async fn validation_names_every_bad_field(api: &Api<'_>, accounts: &Accounts, category: &str) {
    let token = Some(accounts.vendor_a.as_str());
    let bad = json!({
        "title": "",
        "category_id": "not-an-id",
        "status": "archived",
        "variants": [{"sku": "bad sku", "price": {"amount_minor": -5, "currency": "EURO"}, "stock": -1}]
    });
    let (status, body) = api.send(Method::POST, "/api/v1/vendor/products", token, Some(bad)).await;
    assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");
    for (name, reason) in [
        ("title", "empty"),
        ("category_id", "invalid"),
        ("status", "not_allowed_on_create"),
        ("variants[0].sku", "invalid_character"),
        ("variants[0].price.currency", "invalid_currency"),
        ("variants[0].stock", "out_of_range"),
    ] {
        assert_eq!(field(&body, name), reason, "{name}: {body}");
    }

    let mut unknown_category = teapot(category);
    unknown_category["category_id"] = json!("cat_01JC0000000000000000000ZZZ");
    let (status, body) = api.send(Method::POST, "/api/v1/vendor/products", token, Some(unknown_category)).await;
    assert_eq!((status, error_code(&body), field(&body, "category_id")), (422, "VAL_3002", "unknown"), "{body}");

    let mut with_vendor = teapot(category);
    with_vendor["vendor_id"] = json!("ven_01JC00000000000000000000B2");
    let (status, body) = api.send(Method::POST, "/api/v1/vendor/products", token, Some(with_vendor)).await;
    assert_eq!((status, error_code(&body)), (400, "VAL_3001"), "a vendor_id in the body is refused: {body}");

    let mut huge = teapot(category);
    huge["description"] = json!("x".repeat(70 * 1024));
    let (status, body) = api.send(Method::POST, "/api/v1/vendor/products", token, Some(huge)).await;
    assert_eq!((status, error_code(&body), field(&body, "body")), (422, "VAL_3002", "too_large"), "{body}");

    let response = api
        .stack
        .http
        .post(api.stack.worker_url("/api/v1/vendor/products"))
        .bearer_auth(&accounts.vendor_a)
        .header("content-type", "application/json")
        .body("{\"title\":")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 400);

    let (status, body) = api.get("/api/v1/vendor/products?status=sold", token).await;
    assert_eq!((status, field(&body, "status")), (422, "invalid"), "{body}");
}

async fn idempotent_create_never_duplicates(
    api: &Api<'_>,
    accounts: &Accounts,
    category: &str,
    neon: &NeonClient<ReqwestTransport>,
) -> Product {
    let token = Some(accounts.vendor_a.as_str());
    let create = |body: Value, key: &'static str| {
        api.send_with(Method::POST, "/api/v1/vendor/products", token, Some(body), Some(key))
    };
    let (status, first) = create(teapot(category), "create-teapot-1").await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["status"], "draft");
    assert_eq!(first["vendor_id"], json!(accounts.vendor_a_id), "the vendor comes from the token");
    assert_eq!(first["slug"], "zanzibar-quokka-teapot");
    assert_eq!(first["moderation"], json!({"hidden": false, "reason": null}));
    let variants = first["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[0]["sku"], "ZQ-TEAPOT-BLUE");
    assert_eq!(variants[0]["available"], 5);
    assert_eq!(variants[0]["compare_at"]["amount_minor"], 4900);

    let (status, replay) = create(teapot(category), "create-teapot-1").await;
    assert_eq!((status, &replay), (201, &first), "a retry answers the stored response");
    let count = neon.query("SELECT count(*) FROM catalog.products WHERE title = $1", &[&TITLE]).await.expect("count");
    let count: i64 = count.one().expect("row").get(0).expect("count");
    assert_eq!(count, 1, "a retry never creates a second product");

    // Concurrent retries of one create: every answer is the same product, and there is one.
    let mut kettle = teapot(category);
    kettle["title"] = json!("Quokka Race Kettle");
    kettle["variants"][0]["sku"] = json!("race-1");
    kettle["variants"][1]["sku"] = json!("race-2");
    let (one, two, three) =
        tokio::join!(create(kettle.clone(), "race"), create(kettle.clone(), "race"), create(kettle, "race"));
    assert_eq!(one.0, 201, "{}", one.1);
    assert_eq!([&two, &three], [&one, &one], "concurrent retries answer the same product");
    let count = neon
        .query("SELECT count(*) FROM catalog.products WHERE title = 'Quokka Race Kettle'", &[])
        .await
        .expect("count");
    assert_eq!(count.one().expect("row").get::<i64>(0).expect("count"), 1);

    let mut other = teapot(category);
    other["title"] = json!("Another Teapot");
    let (status, body) = create(other, "create-teapot-1").await;
    assert_eq!(
        (status, error_code(&body), field(&body, "idempotency-key")),
        (422, "VAL_3002", "reused_with_another_body"),
        "{body}"
    );

    // The SKUs are now the vendor's: a second product reusing one is a conflict.
    let mut clash = teapot(category);
    clash["title"] = json!("Teapot Again");
    let (status, body) = api.send(Method::POST, "/api/v1/vendor/products", token, Some(clash)).await;
    assert_eq!((status, error_code(&body), field(&body, "sku")), (409, "RES_4003", "taken"), "{body}");

    // Another vendor may use the same SKUs and the same key: both are per vendor.
    let (status, theirs) = api
        .send_with(
            Method::POST,
            "/api/v1/vendor/products",
            Some(&accounts.vendor_b),
            Some(teapot(category)),
            Some("create-teapot-1"),
        )
        .await;
    assert_eq!(status, 201, "{theirs}");
    assert_ne!(theirs["id"], first["id"]);

    Product {
        id: first["id"].as_str().expect("id").to_owned(),
        variant: variants[0]["id"].as_str().expect("variant id").to_owned(),
        other_variant: variants[1]["id"].as_str().expect("variant id").to_owned(),
    }
}

struct Product {
    id: String,
    variant: String,
    other_variant: String,
}

async fn another_vendor_gets_404_on_every_route(api: &Api<'_>, accounts: &Accounts, product: &Product) {
    let b = Some(accounts.vendor_b.as_str());
    let id = &product.id;
    let variant = &product.variant;
    let price = json!({"price": {"amount_minor": 1, "currency": "EUR"}});
    let attempts = [
        (Method::GET, format!("/api/v1/vendor/products/{id}"), None),
        (Method::PATCH, format!("/api/v1/vendor/products/{id}"), Some(json!({"title": "Stolen"}))),
        (Method::PATCH, format!("/api/v1/vendor/products/{id}"), Some(json!({"status": "active"}))),
        (Method::POST, format!("/api/v1/vendor/products/{id}/archive"), None),
        (
            Method::POST,
            format!("/api/v1/vendor/products/{id}/variants"),
            Some(
                json!({"sku": "b-steals", "options": {"Colour": "Red"}, "price": {"amount_minor": 1, "currency": "EUR"}}),
            ),
        ),
        (Method::PATCH, format!("/api/v1/vendor/products/{id}/variants/{variant}"), Some(price)),
        (Method::DELETE, format!("/api/v1/vendor/products/{id}/variants/{variant}"), None),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = api.send(method.clone(), &path, b, body).await;
        assert_eq!((status, error_code(&answer)), (404, "RES_4004"), "{method} {path}: {answer}");
    }
    let (status, unknown) = api.get("/api/v1/vendor/products/prod_01JC0000000000000000000ZZZ", b).await;
    assert_eq!((status, error_code(&unknown)), (404, "RES_4004"), "an unknown product looks the same");

    let (status, list) = api.get("/api/v1/vendor/products?limit=100", b).await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().expect("items");
    assert!(!items.is_empty() && items.iter().all(|item| item["id"] != json!(id)), "{list}");

    // Nothing of B's attempts reached A's product.
    let (status, mine) = api.get(&format!("/api/v1/vendor/products/{id}"), Some(&accounts.vendor_a)).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!((mine["title"].as_str(), mine["status"].as_str()), (Some(TITLE), Some("draft")));
    assert_eq!(mine["variants"].as_array().map(Vec::len), Some(2));
    assert_eq!(mine["variants"][0]["price"]["amount_minor"], 3900);
}

async fn a_draft_is_private_until_activated(api: &Api<'_>, accounts: &Accounts, product: &Product) {
    let vendor = &accounts.vendor_a_id;
    assert_eq!(api.public_views(&product.id, vendor).await, (false, false, false, false), "a draft is not public");
    let (status, body) = api
        .send(
            Method::PATCH,
            &format!("/api/v1/vendor/products/{}", product.id),
            Some(&accounts.vendor_a),
            Some(json!({"status": "active"})),
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("active")), "{body}");
    assert_eq!(api.public_views(&product.id, vendor).await, (true, true, true, true), "active is public everywhere");
    let (_, detail) = api.get(&format!("/api/v1/products/{}", product.id), None).await;
    assert!(detail.get("moderation").is_none(), "the public view has no moderation: {detail}");
}

/// Every public view of the product is cached (a second read is an edge hit); one PATCH through the
/// vendor API, and the very next read of each is a fresh miss showing the new title.
async fn an_update_shows_on_the_next_read_of_every_cached_view(api: &Api<'_>, accounts: &Accounts, product: &Product) {
    let views = [
        format!("/api/v1/products/{}", product.id),
        format!("/api/v1/products?vendor={}&limit=100", accounts.vendor_a_id),
        "/api/v1/products?limit=100".to_owned(),
        "/api/v1/search?q=zanzibar%20quokka".to_owned(),
        "/api/v1/search/suggest?q=zanzib".to_owned(),
    ];
    for view in &views {
        api.get_cached(view).await;
        let (layer, _) = api.get_cached(view).await;
        assert_eq!(layer, "hit-edge", "{view} is cached");
    }
    let new_title = "Zanzibar Quokka Teapot, Glazed";
    let (status, body) = api
        .send(
            Method::PATCH,
            &format!("/api/v1/vendor/products/{}", product.id),
            Some(&accounts.vendor_a),
            Some(json!({"title": new_title})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for view in &views {
        let (layer, body) = api.get_cached(view).await;
        assert_eq!(layer, "miss", "{view} was invalidated by the update");
        let shown = match body.get("items").and_then(Value::as_array) {
            Some(items) => items.clone(),
            None => body.as_array().cloned().unwrap_or_else(|| vec![body.clone()]),
        };
        let item =
            shown.iter().find(|item| item["id"] == product.id.as_str()).unwrap_or_else(|| panic!("{view}: {body}"));
        assert_eq!(item["title"], new_title, "{view}");
    }
}

async fn variants_are_added_changed_and_removed(api: &Api<'_>, accounts: &Accounts, product: &Product) {
    let token = Some(accounts.vendor_a.as_str());
    let base = format!("/api/v1/vendor/products/{}/variants", product.id);
    let green = json!({"sku": "zq-teapot-green", "options": {"Colour": "Green"}, "price": {"amount_minor": 2900, "currency": "EUR"}, "stock": 3});
    let (status, body) = api.send(Method::POST, &base, token, Some(green)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["variants"].as_array().map(Vec::len), Some(3));
    let (_, public) = api.get(&format!("/api/v1/products/{}", product.id), None).await;
    assert_eq!(public["variants"].as_array().map(Vec::len), Some(3), "{public}");

    let (status, body) = api
        .send(
            Method::POST,
            &base,
            token,
            Some(json!({"sku": "zq-size", "options": {"Size": "L"}, "price": {"amount_minor": 1, "currency": "EUR"}})),
        )
        .await;
    assert_eq!((status, field(&body, "options")), (422, "options_mismatch"), "{body}");
    let (status, body) = api
        .send(
            Method::POST,
            &base,
            token,
            Some(
                json!({"sku": "zq-usd", "options": {"Colour": "Red"}, "price": {"amount_minor": 1, "currency": "USD"}}),
            ),
        )
        .await;
    assert_eq!((status, field(&body, "price.currency")), (422, "currency_mismatch"), "{body}");

    let path = format!("{base}/{}", product.other_variant);
    let (status, body) = api
        .send(
            Method::PATCH,
            &path,
            token,
            Some(json!({"stock": 7, "price": {"amount_minor": 3300, "currency": "EUR"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, public) = api.get(&format!("/api/v1/products/{}", product.id), None).await;
    let sand = public["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["id"] == json!(product.other_variant))
        .cloned();
    let sand = sand.expect("the patched variant");
    assert_eq!((sand["available"].clone(), sand["price"]["amount_minor"].clone()), (json!(7), json!(3300)));
    let (status, body) = api
        .send(Method::PATCH, &path, token, Some(json!({"compare_at_price": {"amount_minor": 100, "currency": "EUR"}})))
        .await;
    assert_eq!((status, field(&body, "compare_at_price")), (422, "compare_at_not_higher"), "{body}");
    // A variant keeps its siblings' option names; a variant the product does not have is not found.
    let (status, body) = api.send(Method::PATCH, &path, token, Some(json!({"options": {"Size": "L"}}))).await;
    assert_eq!((status, field(&body, "options")), (422, "options_mismatch"), "{body}");
    let unknown = format!("{base}/var_01JC0000000000000000000ZZZ");
    let (status, body) = api.send(Method::PATCH, &unknown, token, Some(json!({"options": {"Size": "L"}}))).await;
    assert_eq!((status, error_code(&body)), (404, "RES_4004"), "{body}");

    let (status, body) = api.send(Method::DELETE, &path, token, None).await;
    assert_eq!((status, body["variants"].as_array().map(Vec::len)), (200, Some(2)), "{body}");
    let (status, body) = api.send(Method::DELETE, &path, token, None).await;
    assert_eq!((status, error_code(&body)), (404, "RES_4004"), "{body}");
}

async fn moderation_hides_from_the_public_but_not_from_the_vendor(
    api: &Api<'_>,
    accounts: &Accounts,
    product: &Product,
) {
    let path = format!("/api/v1/admin/products/{}/moderation", product.id);
    let admin = Some(accounts.admin.as_str());
    let (status, body) = api.send(Method::PUT, &path, admin, Some(json!({"hidden": true}))).await;
    assert_eq!((status, field(&body, "reason")), (422, "required"), "{body}");
    let (status, body) =
        api.send(Method::PUT, &path, admin, Some(json!({"hidden": true, "reason": "Listing under review"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(api.public_views(&product.id, &accounts.vendor_a_id).await, (false, false, false, false), "moderated");
    let (status, mine) = api.get(&format!("/api/v1/vendor/products/{}", product.id), Some(&accounts.vendor_a)).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["moderation"], json!({"hidden": true, "reason": "Listing under review"}));
    assert_eq!(mine["status"], "active");

    let (status, body) = api.send(Method::PUT, &path, admin, Some(json!({"hidden": false}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(api.public_views(&product.id, &accounts.vendor_a_id).await, (true, true, true, true), "shown again");
    let (status, body) = api
        .send(
            Method::PUT,
            "/api/v1/admin/products/prod_01JC0000000000000000000ZZZ/moderation",
            admin,
            Some(json!({"hidden": false})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (404, "RES_4004"), "{body}");
}

async fn archiving_hides_it_and_it_comes_back_only_as_a_draft(api: &Api<'_>, accounts: &Accounts, product: &Product) {
    let token = Some(accounts.vendor_a.as_str());
    let path = format!("/api/v1/vendor/products/{}", product.id);
    // An active product keeps one variant: remove one of two, then the last is refused.
    let (_, body) = api.get(&path, token).await;
    let variants: Vec<String> = body["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .filter_map(|v| v["id"].as_str().map(String::from))
        .collect();
    assert_eq!(variants.len(), 2, "{body}");
    let (status, _) = api.send(Method::DELETE, &format!("{path}/variants/{}", variants[0]), token, None).await;
    assert_eq!(status, 200);
    let (status, body) = api.send(Method::DELETE, &format!("{path}/variants/{}", variants[1]), token, None).await;
    assert_eq!((status, error_code(&body)), (409, "RES_4003"), "{body}");

    let (status, body) = api.send(Method::POST, &format!("{path}/archive"), token, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("archived")), "{body}");
    assert_eq!(api.public_views(&product.id, &accounts.vendor_a_id).await, (false, false, false, false), "archived");
    let (status, body) = api.send(Method::PATCH, &path, token, Some(json!({"status": "active"}))).await;
    assert_eq!((status, field(&body, "status")), (422, "transition_not_allowed"), "{body}");
    let (status, body) = api
        .send(Method::PATCH, &path, token, Some(json!({"status": "draft", "title": "Quokka Teapot, Renewed"})))
        .await;
    assert_eq!(
        (status, body["status"].as_str(), body["title"].as_str()),
        (200, Some("draft"), Some("Quokka Teapot, Renewed")),
        "{body}"
    );
    // A draft without a variant cannot go live.
    let (status, _) = api.send(Method::DELETE, &format!("{path}/variants/{}", variants[1]), token, None).await;
    assert_eq!(status, 200);
    let (status, body) = api.send(Method::PATCH, &path, token, Some(json!({"status": "active"}))).await;
    assert_eq!((status, field(&body, "status")), (422, "needs_a_variant"), "{body}");
}

async fn the_vendor_list_pages_through_every_status(api: &Api<'_>, accounts: &Accounts, category: &str) {
    let token = Some(accounts.vendor_a.as_str());
    for n in 0..5 {
        let body = json!({"title": format!("Quokka Mug {n}"), "category_id": category, "status": "active",
            "variants": [{"sku": format!("qm-{n}"), "price": {"amount_minor": 1000 + n, "currency": "EUR"}}]});
        let (status, body) = api.send(Method::POST, "/api/v1/vendor/products", token, Some(body)).await;
        assert_eq!(status, 201, "{body}");
    }
    let (_, everything) = api.get("/api/v1/vendor/products?limit=100", token).await;
    let everything: BTreeSet<String> = ids(&everything);
    assert_eq!(everything.len(), 7, "five mugs, the teapot and the kettle (drafts)");
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let (status, page) = api.get(&format!("/api/v1/vendor/products?status=active&limit=2{cursor}"), token).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["items"].as_array().expect("items").iter().all(|item| item["status"] == "active"));
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!((seen.len(), unique.len()), (5, 5), "every active product once: {seen:?}");
    // A cursor belongs to its list: moved to another status filter it is refused.
    let (_, first) = api.get("/api/v1/vendor/products?status=active&limit=2", token).await;
    let next = first["next_cursor"].as_str().expect("more pages");
    let (status, body) = api.get(&format!("/api/v1/vendor/products?status=draft&cursor={next}"), token).await;
    assert_eq!((status, field(&body, "cursor")), (422, "invalid"), "{body}");
    let (status, body) =
        api.get(&format!("/api/v1/vendor/products?status=active&cursor={next}"), Some(&accounts.vendor_b)).await;
    assert_eq!((status, field(&body, "cursor")), (422, "invalid"), "another vendor cannot use it: {body}");
}

fn ids(page: &Value) -> BTreeSet<String> {
    page["items"].as_array().expect("items").iter().filter_map(|item| item["id"].as_str().map(String::from)).collect()
}
