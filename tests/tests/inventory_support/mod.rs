//! The world the inventory tests share: two vendors with an admin each, a shopper, and vendor A's
//! active product with two variants; calls through the gateway and signed calls straight to Spin.

#![allow(dead_code)]

use e2e::{TestStack, fresh_id, now_unix};
use reqwest::Method;
use serde_json::{Value, json};
use shared::forwarding::{ApiMethod, Forwarded};
use shared::identity::principal::Principal;
use shared::identity::role::Role;
use shared::webhook::{self, SignRequest, SigningKey};

const PASSWORD: &str = "correct horse battery staple";
const CATEGORY: &str = "cat_01JC0000000000000000000NVT";

pub struct World<'a> {
    pub stack: &'a TestStack,
    pub ids: Ids,
}

/// Who and what the world is made of; kept apart from the stack so a test can restart parts of
/// the stack (which needs it mutably) and carry on with the same accounts.
#[derive(Clone)]
pub struct Ids {
    pub vendor_a: String,
    pub vendor_b: String,
    pub shopper: String,
    pub vendor_a_id: String,
    pub vendor_a_user: String,
    pub vendor_b_id: String,
    pub vendor_b_user: String,
    pub product: String,
    /// Created with 10 units, the other with 3.
    pub variant: String,
    pub other_variant: String,
}

impl std::ops::Deref for World<'_> {
    type Target = Ids;

    fn deref(&self) -> &Ids {
        &self.ids
    }
}

impl<'a> World<'a> {
    /// Four accounts, two vendors with an admin each, and vendor A's active product with two variants.
    pub async fn new(stack: &'a TestStack) -> Self {
        let neon = stack.neon();
        neon.query(
            "INSERT INTO catalog.categories (id, slug, name) VALUES ($1, 'inventory-test', 'Inventory test')",
            &[&CATEGORY],
        )
        .await
        .expect("a category");
        let emails =
            ["admin@inventory.example", "a@inventory.example", "b@inventory.example", "shop@inventory.example"];
        let mut users = Vec::new();
        for email in emails {
            users.push(stack.register(email, PASSWORD).await);
        }
        stack.grant_platform_admin(&users[0]).await;
        let admin = stack.login(emails[0], PASSWORD).await;
        let mut vendors = Vec::new();
        for name in ["Stockroom A", "Stockroom B"] {
            let request = stack.http.post(stack.worker_url("/api/v1/admin/vendors")).json(&json!({"name": name}));
            let (status, body) = stack.send(request, Some(&admin)).await;
            assert_eq!(status, 201, "{body}");
            vendors.push(body["id"].as_str().expect("vendor id").to_owned());
        }
        stack.grant_vendor_admin(&admin, &users[1], &vendors[0]).await;
        stack.grant_vendor_admin(&admin, &users[2], &vendors[1]).await;
        let vendor_a = stack.login(emails[1], PASSWORD).await;
        let product = json!({
            "title": "Inventory Test Lantern",
            "description": "A lantern whose stock this test counts.",
            "category_id": CATEGORY,
            "options": ["Colour"],
            "variants": [
                {"sku": "inv-lantern-red", "options": {"Colour": "Red"}, "price": {"amount_minor": 2500, "currency": "EUR"}, "stock": 10},
                {"sku": "inv-lantern-blue", "options": {"Colour": "Blue"}, "price": {"amount_minor": 2500, "currency": "EUR"}, "stock": 3}
            ]
        });
        let request = stack.http.post(stack.worker_url("/api/v1/vendor/products")).json(&product);
        let (status, created) = stack.send(request, Some(&vendor_a)).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("product id").to_owned();
        let variants = created["variants"].as_array().expect("variants");
        assert_eq!(
            (variants[0]["available"].clone(), variants[1]["available"].clone()),
            (json!(10), json!(3)),
            "{created}"
        );
        let path = format!("/api/v1/vendor/products/{id}");
        let request = stack.http.patch(stack.worker_url(&path)).json(&json!({"status": "active"}));
        let (status, body) = stack.send(request, Some(&vendor_a)).await;
        assert_eq!(status, 200, "{body}");
        let ids = Ids {
            vendor_b: stack.login(emails[2], PASSWORD).await,
            shopper: stack.login(emails[3], PASSWORD).await,
            vendor_a,
            vendor_a_id: vendors[0].clone(),
            vendor_a_user: users[1].clone(),
            vendor_b_id: vendors[1].clone(),
            vendor_b_user: users[2].clone(),
            product: id,
            variant: variants[0]["id"].as_str().expect("variant id").to_owned(),
            other_variant: variants[1]["id"].as_str().expect("variant id").to_owned(),
        };
        World { stack, ids }
    }

    /// Through the gateway, with a bearer token when given.
    pub async fn api(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = self.stack.http.request(method, self.stack.worker_url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.stack.send(request, token).await
    }

    /// The public product detail and the cache layer that answered (`x-cache`).
    pub async fn public_product(&self) -> (String, Value) {
        let response = self
            .stack
            .http
            .get(self.stack.worker_url(&format!("/api/v1/products/{}", self.product)))
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status().as_u16(), 200);
        let layer = response.headers().get("x-cache").and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
        (layer, response.json().await.expect("json"))
    }

    /// What the storefront says is available of `variant`.
    pub async fn public_available(&self, variant: &str) -> Value {
        let (_, product) = self.public_product().await;
        let variants = product["variants"].as_array().expect("variants");
        variants.iter().find(|v| v["id"] == variant).map(|v| v["available"].clone()).expect("the variant")
    }

    /// (on_hand, reserved) of a variant, summed over locations, straight from inventory's table.
    pub async fn stock(&self, variant: &str) -> (i64, i64) {
        let result = self
            .stack
            .neon()
            .query(
                "SELECT coalesce(sum(on_hand), 0)::bigint, coalesce(sum(reserved), 0)::bigint FROM inventory.stock \
                 WHERE variant_id = $1",
                &[&variant],
            )
            .await
            .expect("stock query");
        let row = result.one().expect("a row");
        (row.get(0).expect("on hand"), row.get(1).expect("reserved"))
    }

    /// The status every row of a reservation shares.
    pub async fn reservation_status(&self, reference: &str) -> String {
        let result = self
            .stack
            .neon()
            .query("SELECT DISTINCT status FROM inventory.reservations WHERE reference = $1", &[&reference])
            .await
            .expect("reservations");
        result.one().expect("one status").get(0).expect("status")
    }

    /// Everything inventory holds, as one comparable value: a refused request must not move it.
    pub async fn fingerprint(&self) -> Value {
        let result = self
            .stack
            .neon()
            .query(
                "SELECT json_build_object( \
                   'stock', (SELECT json_agg(json_build_array(variant_id, location_id, on_hand, reserved, version) \
                             ORDER BY variant_id, location_id) FROM inventory.stock), \
                   'reservations', (SELECT json_agg(json_build_array(id, status) ORDER BY id) FROM inventory.reservations), \
                   'movements', (SELECT count(*) FROM inventory.movements))",
                &[],
            )
            .await
            .expect("fingerprint query");
        result.one().expect("a row").get(0).expect("json")
    }

    /// A signed POST straight to the inventory component, as the saga, the catalog or the cron sends it.
    pub async fn core(&self, path: &str, body: &Value) -> (u16, Value) {
        let body = body.to_string().into_bytes();
        let signature = self.sign(path, &body, &self.stack.stack.secrets.webhook_key_current, &fresh_id("sig"));
        self.post_spin(path, body, Some(signature)).await
    }

    pub fn sign(&self, path: &str, body: &[u8], key: &str, jti: &str) -> String {
        let url = self.stack.spin_url(path);
        webhook::sign(
            &SigningKey::new(key.as_bytes()),
            SignRequest { issuer: "e2e-tests", url: &url, body, now: now_unix(), jti },
        )
        .expect("signing works")
    }

    pub async fn post_spin(&self, path: &str, body: Vec<u8>, signature: Option<String>) -> (u16, Value) {
        let mut request =
            self.stack.http.post(self.stack.spin_url(path)).header("content-type", "application/json").body(body);
        if let Some(signature) = signature {
            request = request.header(webhook::SIGNATURE_HEADER, signature);
        }
        let response = request.send().await.expect("spin answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub fn vendor_principal(&self, user: &str, vendor: &str) -> Principal {
        Principal::new(user, Role::VendorAdmin, Some(vendor.to_owned()), vec![Role::Customer, Role::VendorAdmin])
            .expect("a principal")
    }

    /// The envelope the gateway sends for `PUT /api/v1/vendor/stock/{variant}`.
    pub fn put_envelope(&self, principal: Principal, variant: &str, on_hand: u32) -> Forwarded {
        Forwarded {
            method: ApiMethod::Put,
            path: format!("/api/v1/vendor/stock/{variant}"),
            query: String::new(),
            principal: Some(principal),
            idempotency_key: None,
            body: Some(json!({"on_hand": on_hand}).to_string()),
        }
    }
}

pub fn reserve_body(reference: &str, items: &[(&str, u32)], expires_in_secs: i64) -> Value {
    let expires_at =
        shared::catalog::DateTime::from_timestamp(now_unix() + expires_in_secs, 0).expect("a time").to_rfc3339();
    let items: Vec<Value> =
        items.iter().map(|(variant, quantity)| json!({"variant_id": variant, "quantity": quantity})).collect();
    json!({"reference": reference, "items": items, "expires_at": expires_at})
}
