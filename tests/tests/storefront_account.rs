//! The storefront's account and order pages through workerd, as a browser without JavaScript
//! uses them: form posts answered 303, session cookies kept in a jar, redirects not followed so
//! every `Location` and `Set-Cookie` is checked. Each step is its own shopper on its own loopback
//! address (per-address sign-up limits apply per step).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use e2e::{TestStack, fresh_id, now_unix};
use serde_json::{Value, json};
use shared::identity::access_token::{Identity, RoleGrant};
use xtask::catalog_seed::{self, BRIGHT_TEXTILES, NORTH_CERAMICS, SeedConfig};

const PASSWORD: &str = "correct horse battery staple";
const CARD_OK: &str = "4242424242424242";
/// The sandbox keeps its payment `processing` for a moment, then succeeds and sends the webhook.
const CARD_DELAYED: &str = "4000000000008880";

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn accounts_and_orders_through_the_storefront() {
    let stack = TestStack::start("storefront-account", true).await.expect("stack starts");
    registering_signs_in_and_signing_out_ends_the_session(&Shopper::new(&stack, 31)).await;
    signing_in_shows_errors_and_follows_only_local_next(&stack).await;
    two_factor_set_up_on_the_account_page_then_asked_at_sign_in(&Shopper::new(&stack, 33)).await;
    an_expired_or_bogus_access_token_is_renewed_with_the_refresh_token(&Shopper::new(&stack, 34), &stack).await;
    email_verification_and_password_reset_through_the_emailed_links(&Shopper::new(&stack, 35)).await;
    order_history_and_detail_show_a_paid_order_to_its_buyer_only(&stack).await;
}

async fn registering_signs_in_and_signing_out_ends_the_session(shopper: &Shopper<'_>) {
    let email = "ana.lima@example.test";
    let page = shopper.get("/account").await;
    assert_eq!((page.status, page.location()), (303, "/account/login?next=%2Faccount"), "signed out");

    let form = shopper.get("/account/register").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains(r#"autocomplete="new-password""#), "{}", form.body);
    assert!(form.body.contains("At least 8 characters"), "the password rule is shown");

    let refused = shopper.register("Ana Lima", email, "tiny7").await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("Use at least 8 characters."), "{}", refused.body);
    assert!(refused.body.contains(r#"value="Ana Lima""#), "what was typed is kept");
    assert!(!refused.body.contains("tiny7"), "never the password");
    assert!(!shopper.has_cookie("sf_access"));

    let created = shopper.register("Ana Lima", email, PASSWORD).await;
    assert_eq!((created.status, created.location()), (303, "/account"), "{}", created.body);
    let access = created.set_cookie("sf_access").expect("the access cookie is set");
    assert!(access.contains("HttpOnly") && access.contains("SameSite=Lax") && access.contains("Path=/"), "{access}");
    assert!(created.set_cookie("sf_refresh").is_some_and(|cookie| cookie.contains("HttpOnly")));

    let account = shopper.get("/account").await;
    assert_eq!(account.status, 200, "{}", account.body);
    for text in ["Ana Lima", email, "Not yet", "Sign out"] {
        assert!(account.body.contains(text), "{text} on the account page: {}", account.body);
    }

    let taken = shopper.register("Someone Else", email, PASSWORD).await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert!(taken.body.contains("An account with this email already exists"), "{}", taken.body);

    let refresh = shopper.cookie("sf_refresh").expect("a refresh token");
    let out = shopper.post("/account/logout", &[]).await;
    assert_eq!(out.status, 303);
    for name in ["sf_access", "sf_refresh"] {
        assert!(out.set_cookie(name).is_some_and(|cookie| cookie.contains("Max-Age=0")), "{name} cleared");
    }
    assert!(!shopper.has_cookie("sf_access") && !shopper.has_cookie("sf_refresh"));
    assert_eq!(shopper.get("/account").await.status, 303, "signed out");
    // The session is revoked at identity, not only forgotten by the browser.
    let (status, body) = shopper.api_post("/api/v1/auth/refresh", json!({ "refresh_token": refresh })).await;
    assert_eq!(status, 401, "{body}");
}

async fn signing_in_shows_errors_and_follows_only_local_next(stack: &TestStack) {
    let shopper = Shopper::new(stack, 32);
    let email = "bruno@example.test";
    assert_eq!(shopper.register("Bruno", email, PASSWORD).await.status, 303);
    shopper.post("/account/logout", &[]).await;

    let login = shopper.get("/account/login?next=%2Forders").await;
    assert_eq!(login.status, 200);
    for attribute in [r#"autocomplete="email""#, r#"autocomplete="current-password""#, r#"value="/orders""#] {
        assert!(login.body.contains(attribute), "{attribute}: {}", login.body);
    }

    let wrong = shopper.login(email, "not the password at all", &[]).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(wrong.body.contains("The email or password is wrong."), "{}", wrong.body);
    assert!(wrong.body.contains(&format!(r#"value="{email}""#)), "the email is kept");
    assert!(!wrong.body.contains("not the password at all"));
    assert!(!shopper.has_cookie("sf_access"));

    let signed_in = shopper.login(email, PASSWORD, &[("next", "/orders")]).await;
    assert_eq!((signed_in.status, signed_in.location()), (303, "/orders"), "{}", signed_in.body);
    assert!(shopper.has_cookie("sf_access"));

    let elsewhere = Shopper::new(stack, 32);
    let signed_in = elsewhere.login(email, PASSWORD, &[("next", "//evil.example/")]).await;
    assert_eq!((signed_in.status, signed_in.location()), (303, "/account"), "another site is never next");
}

async fn two_factor_set_up_on_the_account_page_then_asked_at_sign_in(shopper: &Shopper<'_>) {
    let email = "carla@example.test";
    assert_eq!(shopper.register("Carla", email, PASSWORD).await.status, 303);
    let account = shopper.get("/account").await;
    assert!(account.body.contains("Set up two-factor authentication"), "{}", account.body);

    let setup = shopper.post("/account/2fa/enroll", &[]).await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    let secret = between(&setup.body, r#"<code class="secret">"#, "<").expect("the secret is shown");
    assert!(setup.body.contains("otpauth://totp/"), "the otpauth URI is shown");
    let uri = setup.body.split(r#"<code class="secret">"#).nth(2).and_then(|rest| rest.split('<').next());
    let uri = uri.expect("the URI").replace("&amp;", "&");

    let fields = |code: String| vec![("code", code), ("secret", secret.clone()), ("otpauth_uri", uri.clone())];
    let wrong = shopper.post_owned("/account/2fa/confirm", fields(wrong_code(&secret))).await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("That code is not right"), "{}", wrong.body);
    assert!(wrong.body.contains(&secret), "the secret is shown again");

    let confirmed = shopper.post_owned("/account/2fa/confirm", fields(totp(&secret, 0))).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let recovery: Vec<&str> = confirmed.body.split("<li><code>").skip(1).filter_map(|s| s.split('<').next()).collect();
    assert_eq!(recovery.len(), 10, "ten recovery codes shown once: {}", confirmed.body);
    assert!(shopper.get("/account").await.body.contains("On: signing in asks for a code"));

    shopper.post("/account/logout", &[]).await;
    let asked = shopper.login(email, PASSWORD, &[]).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(asked.body.contains("Enter your authentication code"), "{}", asked.body);
    assert!(asked.body.contains(r#"autocomplete="one-time-code""#));
    assert!(!shopper.has_cookie("sf_access"), "no session before the code");

    let refused = shopper.login(email, PASSWORD, &[("code", &wrong_code(&secret))]).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused.body.contains("That code is not right"), "{}", refused.body);
    assert!(!shopper.has_cookie("sf_access"));

    // The confirmation used this time step's code; the next step's is fresh.
    let signed_in = shopper.login(email, PASSWORD, &[("code", &totp(&secret, 30))]).await;
    assert_eq!((signed_in.status, signed_in.location()), (303, "/account"), "{}", signed_in.body);
    assert!(shopper.has_cookie("sf_access"));

    // A recovery code signs in too, once.
    shopper.post("/account/logout", &[]).await;
    let recovered = shopper.login(email, PASSWORD, &[("code", recovery[0])]).await;
    assert_eq!(recovered.status, 303, "{}", recovered.body);

    let off = shopper.post_owned("/account/2fa/disable", vec![("code", recovery[1].to_owned())]).await;
    assert_eq!((off.status, off.location()), (303, "/account?2fa=off"), "{}", off.body);
    shopper.post("/account/logout", &[]).await;
    assert_eq!(shopper.login(email, PASSWORD, &[]).await.status, 303, "no code asked once it is off");
}

async fn an_expired_or_bogus_access_token_is_renewed_with_the_refresh_token(shopper: &Shopper<'_>, stack: &TestStack) {
    let email = "dario@example.test";
    assert_eq!(shopper.register("Dario", email, PASSWORD).await.status, 303);
    let first_refresh = shopper.cookie("sf_refresh").expect("refresh");
    let user_id = {
        let (status, me) = shopper.api_get("/api/v1/auth/me", &shopper.cookie("sf_access").expect("access")).await;
        assert_eq!(status, 200, "{me}");
        me["id"].as_str().expect("id").to_owned()
    };

    shopper.set_cookie("sf_access", "not-a-token");
    let page = shopper.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Dario"));
    let renewed = shopper.cookie("sf_refresh").expect("a new refresh token");
    assert_ne!(renewed, first_refresh, "rotated");
    assert_ne!(shopper.cookie("sf_access").as_deref(), Some("not-a-token"));
    assert!(page.set_cookie("sf_access").is_some_and(|cookie| cookie.contains("HttpOnly")));

    let issuer = stack.stack.access_token_issuer().expect("issuer");
    let identity = Identity::new(&user_id, vec![RoleGrant::customer()]).expect("identity");
    let expired = issuer.issue(&identity, now_unix() - 3600, &fresh_id("jti")).expect("token");
    shopper.set_cookie("sf_access", &expired);
    let page = shopper.get("/orders").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("You have not ordered anything yet."), "{}", page.body);
    assert_ne!(shopper.cookie("sf_access"), Some(expired), "a fresh access token");

    // Only the refresh cookie (the browser dropped the expired access cookie): renewed before asking.
    shopper.remove_cookie("sf_access");
    assert_eq!(shopper.get("/account").await.status, 200);
    assert!(shopper.has_cookie("sf_access"));

    // A refresh token that was already rotated is refused (and revokes its family): signed out.
    shopper.remove_cookie("sf_access");
    shopper.set_cookie("sf_refresh", &first_refresh);
    let page = shopper.get("/account").await;
    assert_eq!((page.status, page.location()), (303, "/account/login?next=%2Faccount"), "{}", page.body);
    assert!(page.set_cookie("sf_refresh").is_some_and(|cookie| cookie.contains("Max-Age=0")), "cleared");
    assert!(!shopper.has_cookie("sf_refresh"));
}

async fn email_verification_and_password_reset_through_the_emailed_links(shopper: &Shopper<'_>) {
    let email = "elena@example.test";
    assert_eq!(shopper.register("Elena", email, PASSWORD).await.status, 303);

    let link = shopper.emailed_link(email, "/account/verify-email?token=").await;
    let page = shopper.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Confirm my email address"), "a button, not an automatic use of the link");
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let verified = shopper.post_owned("/account/verify-email", vec![("token", token.clone())]).await;
    assert_eq!((verified.status, verified.location()), (303, "/account/verify-email?done=1"), "{}", verified.body);
    let account = shopper.get("/account").await;
    assert!(!account.body.contains("Not yet"), "{}", account.body);
    let again = shopper.post_owned("/account/verify-email", vec![("token", token)]).await;
    assert_eq!(again.status, 422, "a link works once");

    // The same answer for an address with an account and one without.
    let known = shopper.post("/account/forgot-password", &[("email", email)]).await;
    let unknown = shopper.post("/account/forgot-password", &[("email", "nobody@example.test")]).await;
    assert_eq!((known.status, known.location()), (303, "/account/forgot-password?sent=1"));
    assert_eq!((unknown.status, unknown.location()), (known.status, known.location()));
    assert!(shopper.get(known.location()).await.body.contains("Check your email"));

    let link = shopper.emailed_link(email, "/account/reset-password?token=").await;
    let form = shopper.get(&link).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains(r#"autocomplete="new-password""#));
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let short = shopper
        .post_owned("/account/reset-password", vec![("token", token.clone()), ("password", "short".into())])
        .await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("Use at least 8 characters."), "{}", short.body);
    let new_password = "a brand new passphrase";
    let reset = shopper
        .post_owned("/account/reset-password", vec![("token", token.clone()), ("password", new_password.into())])
        .await;
    assert_eq!((reset.status, reset.location()), (303, "/account/login?reset=1"), "{}", reset.body);
    assert!(shopper.get("/account/login?reset=1").await.body.contains("Your password is changed"));
    assert_eq!(shopper.login(email, PASSWORD, &[]).await.status, 401, "the old password is gone");
    assert_eq!(shopper.login(email, new_password, &[]).await.status, 303);
    let used =
        shopper.post_owned("/account/reset-password", vec![("token", token), ("password", PASSWORD.into())]).await;
    assert_eq!(used.status, 422);
    assert!(used.body.contains("This link is invalid or has expired."), "{}", used.body);
}

async fn order_history_and_detail_show_a_paid_order_to_its_buyer_only(stack: &TestStack) {
    let config = SeedConfig { products: 40, vendors: 3, ..SeedConfig::default() };
    let urls = stack.stack.urls();
    catalog_seed::run(&urls.neon_sql, &stack.stack.connection_string(), &config).await.expect("the seed runs");
    xtask::cart_seed::run(&urls.neon_sql, &stack.stack.connection_string()).await.expect("cart seed");
    let catalog = catalog_seed::generate(&config).expect("the catalog generates");
    let first_variant = |vendor: &str| {
        catalog
            .products
            .iter()
            .filter(|product| product.is_public() && product.vendor_id.as_str() == vendor)
            .flat_map(|product| product.variants.iter().map(|variant| variant.id.to_string()))
            .next()
            .expect("a variant")
    };
    let (ceramics, textiles) = (first_variant(NORTH_CERAMICS), first_variant(BRIGHT_TEXTILES));
    let neon = stack.neon();
    for (vendor, variant) in [(NORTH_CERAMICS, &ceramics), (BRIGHT_TEXTILES, &textiles)] {
        let on_hand = "SELECT inventory.set_on_hand($1, $2, NULL, 50, 'e2e')";
        neon.query(on_hand, &[&vendor, variant]).await.unwrap_or_else(|error| panic!("{on_hand}: {error}"));
        let available = "UPDATE catalog.variant_stock SET available = 50 WHERE variant_id = $1";
        neon.query(available, &[variant]).await.unwrap_or_else(|error| panic!("{available}: {error}"));
    }

    let buyer = Shopper::new(stack, 36);
    assert_eq!(buyer.register("Filipa", "filipa@example.test", PASSWORD).await.status, 303);
    let signed_out = Shopper::new(stack, 36);
    assert_eq!(signed_out.get("/orders").await.location(), "/account/login?next=%2Forders");

    let token = buyer.cookie("sf_access").expect("access token");
    let (status, placed) = buyer.checkout(&token, &[(&ceramics, 2), (&textiles, 1)], CARD_OK).await;
    assert_eq!(status, 201, "{placed}");
    let group = placed["group_id"].as_str().expect("group id").to_owned();
    let total = placed["total"]["amount_minor"].as_i64().expect("total");
    let total_text = format!("{}.{:02} EUR", total / 100, total % 100);
    let (status, detail) = buyer.api_get(&format!("/api/v1/orders/{group}"), &token).await;
    assert_eq!(status, 200, "{detail}");
    let line_title = detail["orders"][0]["lines"][0]["title"].as_str().expect("a line title").to_owned();

    let history = buyer.get("/orders").await;
    assert_eq!(history.status, 200, "{}", history.body);
    for text in [format!("/orders/{group}"), "Paid".into(), total_text.clone(), "2 shops".into(), "UTC".into()] {
        assert!(history.body.contains(&text), "{text} in the history: {}", history.body);
    }

    let confirmation = buyer.get(&format!("/orders/{group}?placed=1")).await;
    assert_eq!(confirmation.status, 200, "{}", confirmation.body);
    let page = &confirmation.body;
    let expected = [
        "Thank you — your order is placed",
        "North Ceramics",
        "Bright Textiles",
        "Payment received",
        "Order placed",
        "Delivering to",
        "Filipa Sousa",
        "1100-053 Lisboa",
    ];
    for text in expected {
        assert!(page.contains(text), "{text} on the confirmation: {page}");
    }
    assert!(page.contains(&html_escaped(&line_title)), "{line_title}: {page}");
    assert!(page.contains(&total_text));
    assert!(!page.contains(r#"http-equiv="refresh""#), "a paid order does not reload itself");

    let plain = buyer.get(&format!("/orders/{group}")).await;
    assert!(!plain.body.contains("Thank you"), "the thanks only right after checkout");

    let other = Shopper::new(stack, 37);
    assert_eq!(other.register("Gil", "gil@example.test", PASSWORD).await.status, 303);
    let foreign = other.get(&format!("/orders/{group}")).await;
    assert_eq!(foreign.status, 404, "{}", foreign.body);
    assert!(foreign.body.contains("We could not find that page"));
    assert!(!foreign.body.contains(&line_title));
    assert!(other.get("/orders").await.body.contains("You have not ordered anything yet."));
    assert_eq!(other.get("/orders/not-an-order").await.status, 404);

    // A guest's cart joins the account's when they sign in, and the guest cookie goes.
    let guest = Shopper::new(stack, 38);
    let line = json!({"variant_id": ceramics, "quantity": 3});
    let added = guest.send(guest.http.post(stack.worker_url("/api/v1/cart/lines")).json(&line)).await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(guest.has_cookie("cart"), "a guest cart cookie");
    let joined = guest.register("Hugo", "hugo@example.test", PASSWORD).await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert!(joined.set_cookie("cart").is_some_and(|cookie| cookie.contains("Max-Age=0")), "guest cookie cleared");
    assert!(!guest.has_cookie("cart"));
    let (status, cart) = guest.api_get("/api/v1/cart", &guest.cookie("sf_access").expect("signed in")).await;
    assert_eq!(status, 200, "{cart}");
    let quantities: Vec<i64> = cart["vendors"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|vendor| vendor["lines"].as_array().cloned().unwrap_or_default())
        .filter_map(|line| line["quantity"].as_i64())
        .collect();
    assert_eq!(quantities, [3], "the guest's line is in the account's cart: {cart}");

    // A payment that takes a moment (the sandbox holds this card's payment `processing` for 3 s):
    // the confirmation says so and reloads itself until the payment lands.
    let (status, waiting) = buyer.checkout(&token, &[(&textiles, 1)], CARD_DELAYED).await;
    assert_eq!((status, &waiting["status"]), (202, &json!("awaiting_payment")), "{waiting}");
    let path = format!("/orders/{}?placed=1", waiting["group_id"].as_str().expect("group id"));
    let pending = buyer.get(&path).await;
    assert_eq!(pending.status, 200, "{}", pending.body);
    for text in [r#"<meta http-equiv="refresh" content="3">"#, "We are confirming your payment", "Awaiting payment"] {
        assert!(pending.body.contains(text), "{text} while pending: {}", pending.body);
    }
    let mut settled = pending;
    for _ in 0..60 {
        if !settled.body.contains("http-equiv") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        settled = buyer.get(&path).await;
    }
    assert!(settled.body.contains("Your payment is confirmed"), "{}", settled.body);
    assert!(!settled.body.contains("http-equiv"), "it stops reloading once paid");
}

/// One browser: its own address, a cookie jar, redirects not followed.
struct Shopper<'a> {
    stack: &'a TestStack,
    http: reqwest::Client,
    jar: RefCell<BTreeMap<String, String>>,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers.get("location").and_then(|value| value.to_str().ok()).unwrap_or_default()
    }

    /// The `Set-Cookie` for `name`, whole (with its attributes).
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
}

impl<'a> Shopper<'a> {
    fn new(stack: &'a TestStack, host: u8) -> Self {
        let http = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, host]))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Self { stack, http, jar: RefCell::new(BTreeMap::new()) }
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.jar.borrow().get(name).cloned()
    }

    fn has_cookie(&self, name: &str) -> bool {
        self.jar.borrow().contains_key(name)
    }

    fn set_cookie(&self, name: &str, value: &str) {
        self.jar.borrow_mut().insert(name.to_owned(), value.to_owned());
    }

    fn remove_cookie(&self, name: &str) {
        self.jar.borrow_mut().remove(name);
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let cookies: Vec<String> = self.jar.borrow().iter().map(|(name, value)| format!("{name}={value}")).collect();
        let request = if cookies.is_empty() { request } else { request.header("cookie", cookies.join("; ")) };
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for value in headers.get_all("set-cookie").iter().filter_map(|value| value.to_str().ok()) {
            let pair = value.split(';').next().unwrap_or_default();
            let Some((name, cookie)) = pair.split_once('=') else { continue };
            if cookie.is_empty() || value.contains("Max-Age=0") {
                self.jar.borrow_mut().remove(name);
            } else {
                self.jar.borrow_mut().insert(name.to_owned(), cookie.to_owned());
            }
        }
        let body = response.text().await.unwrap_or_default();
        if status >= 500 {
            self.stack.print_logs();
        }
        Answer { status, headers, body }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(self.stack.worker_url(path))).await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.send(self.http.post(self.stack.worker_url(path)).form(fields)).await
    }

    async fn post_owned(&self, path: &str, fields: Vec<(&str, String)>) -> Answer {
        self.send(self.http.post(self.stack.worker_url(path)).form(&fields)).await
    }

    async fn register(&self, name: &str, email: &str, password: &str) -> Answer {
        self.post("/account/register", &[("display_name", name), ("email", email), ("password", password)]).await
    }

    async fn login(&self, email: &str, password: &str, more: &[(&str, &str)]) -> Answer {
        let mut fields = vec![("email", email), ("password", password)];
        fields.extend_from_slice(more);
        self.post("/account/login", &fields).await
    }

    async fn api(&self, method: reqwest::Method, path: &str, token: &str, body: Value) -> (u16, Value) {
        let request = self.http.request(method, self.stack.worker_url(path)).bearer_auth(token).json(&body);
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn api_get(&self, path: &str, token: &str) -> (u16, Value) {
        let response = self.http.get(self.stack.worker_url(path)).bearer_auth(token).send().await.expect("answer");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn api_post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.http.post(self.stack.worker_url(path)).json(&body).send().await.expect("answer");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Fills the account's cart through the API (lines, Portugal, each shop's first priced
    /// option) and checks out with `card`: the checkout's status and answer.
    async fn checkout(&self, token: &str, lines: &[(&str, i64)], card: &str) -> (u16, Value) {
        for (variant, quantity) in lines {
            let line = json!({"variant_id": variant, "quantity": quantity});
            let (status, body) = self.api(reqwest::Method::POST, "/api/v1/cart/lines", token, line).await;
            assert_eq!(status, 200, "{body}");
        }
        let destination = json!({"country": "PT"});
        let (status, mut cart) = self.api(reqwest::Method::PUT, "/api/v1/cart/destination", token, destination).await;
        assert_eq!(status, 200, "{cart}");
        for vendor in cart["vendors"].as_array().expect("vendors").clone() {
            let options = vendor["shipping_options"].as_array().expect("options");
            let option = options.iter().find(|option| !option["price"].is_null()).expect("a priced option");
            let path = format!("/api/v1/cart/shipping/{}", vendor["vendor_id"].as_str().expect("vendor"));
            let (status, body) = self.api(reqwest::Method::PUT, &path, token, json!({"option_id": option["id"]})).await;
            assert_eq!(status, 200, "{body}");
            cart = body;
        }
        let pay = json!({
            "expected_total": cart["totals"]["total"],
            "payment_method": {"test_card": {"number": card, "exp_month": 12, "exp_year": 2034}},
            "shipping_address": {"name": "Filipa Sousa", "street": "Rua Augusta 10", "city": "Lisboa",
                                 "postcode": "1100-053", "country": "PT"},
        });
        let response = self
            .http
            .post(self.stack.worker_url("/api/v1/checkout"))
            .bearer_auth(token)
            .header("idempotency-key", fresh_id("key"))
            .json(&pay)
            .send()
            .await
            .expect("checkout answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The path and query of the link in the newest email to `to` containing `marker`, waiting for
    /// it (queue → events Worker → Spin → outbox → the stack's email sink).
    async fn emailed_link(&self, to: &str, marker: &str) -> String {
        let inbox = format!("{}/inbox?to={to}", self.stack.stack.urls().email);
        for _ in 0..100 {
            let inbox: Value = self.http.get(&inbox).send().await.expect("inbox").json().await.expect("JSON");
            for message in inbox["emails"].as_array().into_iter().flatten() {
                let text = message["text"].as_str().unwrap_or_default();
                if let Some(at) = text.find(marker) {
                    return text[at..].split(char::is_whitespace).next().unwrap_or_default().to_owned();
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.stack.print_logs();
        panic!("no email with {marker} reached {to}");
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(rest[..rest.find(end)?].to_owned())
}

fn html_escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The TOTP code `offset_seconds` from now for a base32 secret.
fn totp(secret: &str, offset_seconds: i64) -> String {
    let secret = shared::identity::totp::TotpSecret::from_base32(secret).expect("base32 secret");
    secret.code_at(now_unix() + offset_seconds)
}

/// Six digits that are none of the codes accepted around now.
fn wrong_code(secret: &str) -> String {
    let near: Vec<String> = (-2..=2).map(|step| totp(secret, step * 30)).collect();
    (0..10)
        .map(|digit| format!("{digit}{digit}{digit}{digit}{digit}{digit}"))
        .find(|code| !near.contains(code))
        .expect("a wrong code")
}
