//! Product images through the gateway in workerd, with R2 simulated by wrangler: a vendor uploads a
//! real PNG, anyone fetches it back byte for byte (ETag, 304), products show it; bad types, sizes,
//! roles and other vendors' products are refused with the envelope and leave nothing behind.

use std::path::Path;

use e2e::{TestStack, png};
use reqwest::Method;
use serde_json::{Value, json};
use shared::catalog::VendorId;
use shared::catalog::image::{MAX_IMAGE_BYTES, MAX_IMAGES_PER_PRODUCT};
use shared::neon::NeonClient;
use shared::transport::ReqwestTransport;
use xtask::catalog_seed::{self, SeedConfig, SeedProduct};

const STACK: &str = "catalog-images";
const PASSWORD: &str = "images-test-password-2026";
const VENDOR_A: &str = "ven_01JC00000000000000000000A1";
const VENDOR_B: &str = "ven_01JC00000000000000000000B2";

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn product_images_through_r2() {
    let stack = TestStack::start(STACK, true).await.expect("stack starts");
    let config = SeedConfig { products: 60, vendors: 5, ..SeedConfig::default() };
    catalog_seed::run(&stack.stack.urls().neon_sql, &stack.stack.connection_string(), &config)
        .await
        .expect("the seed runs");
    let catalog = catalog_seed::generate(&config).expect("the catalog generates");
    let public_of = |vendor: &str| -> Vec<&SeedProduct> {
        let vendor = VendorId::parse(vendor).expect("vendor id");
        catalog.products.iter().filter(|p| p.vendor_id == vendor && p.is_public()).collect()
    };
    let (a_products, b_products) = (public_of(VENDOR_A), public_of(VENDOR_B));
    assert!(a_products.len() >= 2 && !b_products.is_empty(), "the seed gives both demo vendors public products");
    let client = Client { stack: &stack, neon: stack.neon() };
    let tokens = Tokens::make(&client).await;

    let product = a_products[0].id.as_str();
    let uploaded = a_vendor_uploads_a_png_and_anyone_fetches_it(&client, &tokens, product).await;
    products_show_the_image(&client, product, &uploaded).await;
    bad_uploads_are_refused_and_store_nothing(&client, &tokens, product, b_products[0].id.as_str()).await;
    an_upload_at_the_size_limit_passes_the_gateway(&client, &tokens, product).await;
    deleting_removes_the_row_and_the_object(&client, &tokens, product, &uploaded).await;
    a_gallery_holds_at_most_the_limit(&client, &tokens, a_products[1].id.as_str()).await;
}

async fn a_vendor_uploads_a_png_and_anyone_fetches_it(client: &Client<'_>, tokens: &Tokens, product: &str) -> Value {
    let png = png(3, 2);
    let path = format!("/api/v1/vendor/products/{product}/images?alt=Blue%20mug%2C%20front");
    let (status, body) = client.upload(&path, "image/png", png.clone(), Some(&tokens.vendor_a)).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["id"].as_str().is_some_and(|id| id.starts_with("img_")), "{body}");
    assert_eq!(body["content_type"], "image/png");
    assert_eq!((body["width"].clone(), body["height"].clone()), (json!(3), json!(2)));
    assert_eq!(body["bytes"], json!(png.len()));
    assert_eq!(body["position"], 0);
    assert_eq!(body["alt"], "Blue mug, front");
    let url = body["url"].as_str().expect("url");
    assert!(url.starts_with(&format!("/api/v1/images/products/{product}/img_")) && url.ends_with(".png"), "{url}");

    // Anonymous, byte for byte, with the type and caching headers.
    let response = client.stack.http.get(client.stack.worker_url(url)).send().await.expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("content-type"), "image/png");
    assert!(header("cache-control").contains("immutable"), "{}", header("cache-control"));
    let etag = header("etag");
    assert!(etag.starts_with('"') && etag.len() > 2, "etag {etag:?}");
    assert_eq!(response.bytes().await.expect("body").as_ref(), png.as_slice());

    let again = client.stack.worker_url(url);
    let cached = client.stack.http.get(&again).header("if-none-match", &etag).send().await.expect("answer");
    assert_eq!(cached.status().as_u16(), 304);
    assert_eq!(cached.bytes().await.expect("body").len(), 0);
    let stale = client.stack.http.get(&again).header("if-none-match", "\"other\"").send().await.expect("answer");
    assert_eq!(stale.status().as_u16(), 200);
    body
}

async fn products_show_the_image(client: &Client<'_>, product: &str, uploaded: &Value) {
    let (status, detail) = client.json(Method::GET, &format!("/api/v1/products/{product}"), None).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["images"], json!([uploaded]), "the detail lists the image as uploaded");
    let (status, page) = client.json(Method::GET, &format!("/api/v1/products?vendor={VENDOR_A}&limit=100"), None).await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    let item = items.iter().find(|item| item["id"] == product).expect("the product is listed");
    assert_eq!(item["image"], *uploaded, "the summary carries the first image");
    assert!(items.iter().filter(|item| item["id"] != product).all(|item| item["image"].is_null()));
}

async fn bad_uploads_are_refused_and_store_nothing(client: &Client<'_>, tokens: &Tokens, product: &str, foreign: &str) {
    let rows_before = client.image_rows().await;
    let objects_before = stored_objects();
    assert_eq!(objects_before, 1, "the bucket persists under the stack's --persist-to, holding the upload");
    let path = format!("/api/v1/vendor/products/{product}/images");
    let small = png(2, 2);

    let (status, body) = client.upload(&path, "image/png", small.clone(), None).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("AUTH_1004")), "{body}");
    let (status, body) = client.upload(&path, "image/png", small.clone(), Some(&tokens.customer)).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("AUTHZ_2001")), "{body}");

    let refused = |body: &Value, field: &str| body["error"]["details"]["fields"][field].clone();
    let (status, body) = client.upload(&path, "image/jpeg", small.clone(), Some(&tokens.vendor_a)).await;
    assert_eq!((status, body["error"]["code"].clone()), (422, json!("VAL_3002")), "{body}");
    assert_eq!(refused(&body, "body"), "type_mismatch");
    let (status, body) = client.upload(&path, "image/png", b"<html>hi</html>".to_vec(), Some(&tokens.vendor_a)).await;
    assert_eq!((status, refused(&body, "body")), (422, json!("type_mismatch")), "{body}");
    let (status, body) = client.upload(&path, "image/svg+xml", b"<svg/>".to_vec(), Some(&tokens.vendor_a)).await;
    assert_eq!((status, refused(&body, "content_type")), (422, json!("unsupported_type")), "{body}");
    let mut huge = small.clone();
    huge.resize(MAX_IMAGE_BYTES + 1, 0);
    let (status, body) = client.upload(&path, "image/png", huge, Some(&tokens.vendor_a)).await;
    assert_eq!((status, body["error"]["code"].clone()), (422, json!("VAL_3002")), "{body}");
    assert_eq!(refused(&body, "body"), "too_large");
    let (status, body) = client.upload(&path, "image/png", png(20_000, 10), Some(&tokens.vendor_a)).await;
    assert_eq!((status, refused(&body, "body")), (422, json!("dimensions_out_of_range")), "{body}");

    // Another vendor's product and an unknown one answer alike.
    let (status, foreign_body) = client
        .upload(
            &format!("/api/v1/vendor/products/{foreign}/images"),
            "image/png",
            small.clone(),
            Some(&tokens.vendor_a),
        )
        .await;
    assert_eq!((status, foreign_body["error"]["code"].clone()), (404, json!("RES_4004")), "{foreign_body}");
    let (status, unknown_body) = client
        .upload(
            "/api/v1/vendor/products/prod_01JC0000000000000000000000/images",
            "image/png",
            small.clone(),
            Some(&tokens.vendor_a),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(foreign_body["error"]["message"], unknown_body["error"]["message"]);
    let (status, _) = client.upload(&path, "image/png", small, Some(&tokens.vendor_b)).await;
    assert_eq!(status, 404, "vendor B cannot add to vendor A's product");

    assert_eq!(client.image_rows().await, rows_before, "no row was written");
    assert_eq!(stored_objects(), objects_before, "no object was written");
}

/// 5 MiB passes the gateway, the service binding and the catalog Worker: none caps bodies lower.
async fn an_upload_at_the_size_limit_passes_the_gateway(client: &Client<'_>, tokens: &Tokens, product: &str) {
    let mut large = png(1000, 1000);
    large.resize(MAX_IMAGE_BYTES, 0);
    let path = format!("/api/v1/vendor/products/{product}/images");
    let (status, body) = client.upload(&path, "image/png", large.clone(), Some(&tokens.vendor_a)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["bytes"], json!(MAX_IMAGE_BYTES));
    assert_eq!(body["position"], 1);
    let url = body["url"].as_str().expect("url");
    let fetched = client.stack.http.get(client.stack.worker_url(url)).send().await.expect("answer");
    assert_eq!(fetched.bytes().await.expect("body").as_ref(), large.as_slice());
    let id = body["id"].as_str().expect("id");
    let (status, _) = client.json(Method::DELETE, &format!("{path}/{id}"), Some(&tokens.vendor_a)).await;
    assert_eq!(status, 204);
}

async fn deleting_removes_the_row_and_the_object(client: &Client<'_>, tokens: &Tokens, product: &str, image: &Value) {
    let delete = format!("/api/v1/vendor/products/{product}/images/{}", image["id"].as_str().expect("id"));
    let (status, body) = client.json(Method::DELETE, &delete, Some(&tokens.vendor_b)).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("RES_4004")), "{body}");
    let (status, body) = client.json(Method::DELETE, &delete, Some(&tokens.customer)).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = client.json(Method::DELETE, &delete, Some(&tokens.vendor_a)).await;
    assert_eq!(status, 204);
    let (status, body) = client.json(Method::DELETE, &delete, Some(&tokens.vendor_a)).await;
    assert_eq!(status, 404, "deleted twice: {body}");

    let url = image["url"].as_str().expect("url");
    let (status, body) = client.json(Method::GET, url, None).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("RES_4004")), "{body}");
    let (status, body) = client.json(Method::GET, "/api/v1/images/products/../secrets.png", None).await;
    assert_eq!(status, 404, "{body}");
    let (_, detail) = client.json(Method::GET, &format!("/api/v1/products/{product}"), None).await;
    assert_eq!(detail["images"], json!([]));
}

async fn a_gallery_holds_at_most_the_limit(client: &Client<'_>, tokens: &Tokens, product: &str) {
    let path = format!("/api/v1/vendor/products/{product}/images");
    for n in 0..MAX_IMAGES_PER_PRODUCT {
        let (status, body) = client.upload(&path, "image/png", png(n as u32 + 1, 1), Some(&tokens.vendor_a)).await;
        assert_eq!((status, body["position"].clone()), (201, json!(n)), "{body}");
    }
    let objects = stored_objects();
    assert_eq!(objects, MAX_IMAGES_PER_PRODUCT);
    let (status, body) = client.upload(&path, "image/png", png(1, 1), Some(&tokens.vendor_a)).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("RES_4003")), "{body}");
    assert_eq!(stored_objects(), objects);
    let (_, detail) = client.json(Method::GET, &format!("/api/v1/products/{product}"), None).await;
    let widths: Vec<u64> =
        detail["images"].as_array().expect("images").iter().filter_map(|i| i["width"].as_u64()).collect();
    assert_eq!(widths, (1..=MAX_IMAGES_PER_PRODUCT as u64).collect::<Vec<_>>(), "in gallery order");

    // The last becomes the main image; the others keep their order behind it.
    let images = detail["images"].as_array().expect("images");
    let last = images.last().expect("an image");
    let patch = format!("{path}/{}", last["id"].as_str().expect("id"));
    let (status, body) = client.patch(&patch, json!({"position": 0}), Some(&tokens.vendor_b)).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("RES_4004")), "{body}");
    let (status, body) = client.patch(&patch, json!({"position": 99}), Some(&tokens.vendor_a)).await;
    assert_eq!((status, body["error"]["details"]["fields"]["position"].clone()), (422, json!("out_of_range")));
    let (status, body) = client.patch(&patch, json!({"position": 0}), Some(&tokens.vendor_a)).await;
    assert_eq!(status, 200, "{body}");
    let moved: Vec<(u64, u64)> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| Some((i["position"].as_u64()?, i["width"].as_u64()?)))
        .collect();
    let last_width = MAX_IMAGES_PER_PRODUCT as u64;
    let expected: Vec<(u64, u64)> =
        std::iter::once(last_width).chain(1..last_width).enumerate().map(|(at, width)| (at as u64, width)).collect();
    assert_eq!(moved, expected, "renumbered 0, 1, 2… with the moved image first");
    let (_, page) = client.json(Method::GET, &format!("/api/v1/products?vendor={VENDOR_A}&limit=100"), None).await;
    let item = page["items"].as_array().expect("items").iter().find(|item| item["id"] == product).expect("listed");
    assert_eq!(item["image"]["width"], json!(last_width), "the summary shows the new main image");
}

/// Objects R2 holds for this stack, as wrangler persists them (`--persist-to`).
fn stored_objects() -> usize {
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| {
                let path = entry.path();
                if path.is_dir() {
                    count(&path)
                } else {
                    usize::from(path.parent().is_some_and(|p| p.ends_with("blobs")))
                }
            })
            .sum()
    }
    count(&xtask::paths::target_dir().join("e2e").join(STACK).join("wrangler").join("v3").join("r2"))
}

struct Client<'a> {
    stack: &'a TestStack,
    neon: NeonClient<ReqwestTransport>,
}

impl Client<'_> {
    async fn send(&self, request: reqwest::RequestBuilder, token: Option<&str>) -> (u16, Value) {
        self.stack.send(request, token).await
    }

    async fn json(&self, method: Method, path: &str, token: Option<&str>) -> (u16, Value) {
        self.send(self.stack.http.request(method, self.stack.worker_url(path)), token).await
    }

    async fn patch(&self, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        self.send(self.stack.http.patch(self.stack.worker_url(path)).json(&body), token).await
    }

    async fn upload(&self, path: &str, content_type: &str, bytes: Vec<u8>, token: Option<&str>) -> (u16, Value) {
        let request =
            self.stack.http.post(self.stack.worker_url(path)).header("content-type", content_type).body(bytes);
        self.send(request, token).await
    }

    async fn image_rows(&self) -> i64 {
        let result = self.neon.query("SELECT count(*) FROM catalog.product_images", &[]).await.expect("count");
        result.one().expect("one row").get(0).expect("count")
    }

    async fn login(&self, email: &str) -> String {
        self.stack.login(email, PASSWORD).await
    }
}

struct Tokens {
    vendor_a: String,
    vendor_b: String,
    customer: String,
}

impl Tokens {
    /// As the seed does: the first platform admin is granted in the database; it grants the vendor
    /// roles through the API, and the vendors sign in again to carry them.
    async fn make(client: &Client<'_>) -> Self {
        let stack = client.stack;
        let admin_id = stack.register("admin@images.test", PASSWORD).await;
        stack.grant_platform_admin(&admin_id).await;
        let admin = client.login("admin@images.test").await;
        let mut vendors = Vec::new();
        for (email, vendor) in [("a@images.test", VENDOR_A), ("b@images.test", VENDOR_B)] {
            let user_id = stack.register(email, PASSWORD).await;
            stack.grant_vendor_admin(&admin, &user_id, vendor).await;
            vendors.push(client.login(email).await);
        }
        stack.register("shopper@images.test", PASSWORD).await;
        let customer = client.login("shopper@images.test").await;
        let [vendor_a, vendor_b] = <[String; 2]>::try_from(vendors).expect("two vendors");
        Self { vendor_a, vendor_b, customer }
    }
}
