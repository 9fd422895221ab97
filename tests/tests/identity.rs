//! Identity at the edge, through the gateway in workerd: accounts, tokens, refresh rotation with
//! reuse detection, 2FA, email flows through the notifications outbox, rate limits, role checks.
//! One stack serves every step; each step uses its own accounts.

use e2e::{TestStack, now_unix};
use serde_json::{Value, json};
use shared::identity::access_token::{AccessTokenIssuer, Identity, RoleGrant};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn identity_through_the_gateway() {
    let stack = TestStack::start("identity", true).await.expect("stack starts");
    // Each step calls from its own loopback address, as separate shoppers would, so per-IP
    // limits (5 registrations an hour) apply per step, not to the whole test.
    register_login_me_refresh_and_reuse_revokes_the_family(&Client::new(&stack, 11)).await;
    wrong_password_and_unknown_email_get_the_same_answer(&Client::new(&stack, 12)).await;
    expired_tampered_and_foreign_tokens_are_refused(&Client::new(&stack, 13), &stack).await;
    email_verification_and_password_reset_arrive_by_email(&Client::new(&stack, 14)).await;
    two_factor_enroll_confirm_login_and_single_use_recovery_codes(&Client::new(&stack, 15)).await;
    role_checks_on_the_admin_route(&Client::new(&stack, 16), &stack).await;
    repeated_failed_logins_are_rate_limited(&Client::new(&stack, 17)).await;
}

async fn register_login_me_refresh_and_reuse_revokes_the_family(client: &Client<'_>) {
    let email = "rotation@example.test";
    let (status, body) = client.register(email).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["email"], email);
    assert_eq!(body["user"]["email_verified"], false);

    let tokens = client.login_ok(email, PASSWORD).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().expect("access token");

    let (status, me) = client.get("/api/v1/auth/me", Some(access)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], email);
    assert_eq!(me["roles"][0]["role"], "customer");

    let first_refresh = tokens["refresh_token"].as_str().expect("refresh token").to_owned();
    let (status, rotated) = client.post("/api/v1/auth/refresh", json!({"refresh_token": first_refresh}), None).await;
    assert_eq!(status, 200, "{rotated}");
    let second_refresh = rotated["refresh_token"].as_str().expect("rotated refresh").to_owned();
    assert_ne!(first_refresh, second_refresh);

    // Someone replays the old token: the whole family dies, the legitimate holder's too.
    let (status, body) = client.post("/api/v1/auth/refresh", json!({"refresh_token": first_refresh}), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "AUTH_1010");
    let (status, body) = client.post("/api/v1/auth/refresh", json!({"refresh_token": second_refresh}), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "AUTH_1010");

    // Logout revokes a fresh family.
    let tokens = client.login_ok(email, PASSWORD).await;
    let refresh = tokens["refresh_token"].as_str().expect("refresh token").to_owned();
    let (status, _) = client.post("/api/v1/auth/logout", json!({"refresh_token": refresh}), None).await;
    assert_eq!(status, 204);
    let (status, _) = client.post("/api/v1/auth/refresh", json!({"refresh_token": refresh}), None).await;
    assert_eq!(status, 401);
}

async fn wrong_password_and_unknown_email_get_the_same_answer(client: &Client<'_>) {
    let email = "wrong-password@example.test";
    assert_eq!(client.register(email).await.0, 201);
    let (wrong_status, wrong) = client.login(email, "not the password at all", None).await;
    let (unknown_status, unknown) = client.login("nobody-here@example.test", PASSWORD, None).await;
    assert_eq!(wrong_status, 401, "{wrong}");
    assert_eq!(unknown_status, 401, "{unknown}");
    assert_eq!(wrong["error"]["code"], "AUTH_1008");
    assert_eq!(wrong["error"]["code"], unknown["error"]["code"]);
    assert_eq!(wrong["error"]["message"], unknown["error"]["message"]);

    let (status, body) = client
        .post(
            "/api/v1/auth/register",
            json!({"email": "x@example.test", "password": "short", "display_name": "X"}),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "VAL_3002");
}

async fn expired_tampered_and_foreign_tokens_are_refused(client: &Client<'_>, stack: &TestStack) {
    let email = "tokens@example.test";
    assert_eq!(client.register(email).await.0, 201);
    let access = client.login_ok(email, PASSWORD).await["access_token"].as_str().expect("token").to_owned();
    let user_id = client.get("/api/v1/auth/me", Some(&access)).await.1["id"].as_str().expect("id").to_owned();

    let (status, body) = client.get("/api/v1/auth/me", None).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("AUTH_1004")), "{body}");

    let issuer = stack_issuer(stack);
    let identity = Identity::new(user_id, vec![RoleGrant::customer()]).expect("identity");
    let expired = issuer.issue(&identity, now_unix() - 3600, "jti-expired").expect("token");
    let (status, body) = client.get("/api/v1/auth/me", Some(&expired)).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("AUTH_1006")), "{body}");

    let mut tampered = access.clone();
    let flipped = if tampered.ends_with('A') { 'B' } else { 'A' };
    tampered.pop();
    tampered.push(flipped);
    let (status, body) = client.get("/api/v1/auth/me", Some(&tampered)).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("AUTH_1005")), "{body}");

    let foreign =
        stack_issuer(stack).with_issuer("someone-else").issue(&identity, now_unix(), "jti-foreign").expect("token");
    let (status, body) = client.get("/api/v1/auth/me", Some(&foreign)).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("AUTH_1007")), "{body}");

    let other_audience =
        stack_issuer(stack).with_audience("another-api").issue(&identity, now_unix(), "jti-aud").expect("token");
    let (status, body) = client.get("/api/v1/auth/me", Some(&other_audience)).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("AUTH_1007")), "{body}");

    // Headers only the gateway may set are dropped when a caller sends them.
    let response = stack
        .http
        .get(stack.worker_url("/api/v1/auth/me"))
        .header("x-auth-user-id", "usr_forged")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 401);
}

async fn email_verification_and_password_reset_arrive_by_email(client: &Client<'_>) {
    let email = "mail-flows@example.test";
    assert_eq!(client.register(email).await.0, 201);
    let token = client.token_from_email(email, "account/verify-email").await;
    let (status, body) = client.post("/api/v1/auth/verify-email", json!({"token": token}), None).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    let access = client.login_ok(email, PASSWORD).await["access_token"].as_str().expect("token").to_owned();
    assert_eq!(client.get("/api/v1/auth/me", Some(&access)).await.1["email_verified"], true);
    // Single use.
    let (status, _) = client.post("/api/v1/auth/verify-email", json!({"token": token}), None).await;
    assert!(status >= 400);

    // Unknown and known emails get the same answer.
    let (known, known_body) = client.post("/api/v1/auth/forgot-password", json!({"email": email}), None).await;
    let (unknown, unknown_body) =
        client.post("/api/v1/auth/forgot-password", json!({"email": "ghost@example.test"}), None).await;
    assert_eq!((known, &known_body), (unknown, &unknown_body));
    assert_eq!(known, 202);

    let reset = client.token_from_email(email, "account/reset-password").await;
    let new_password = "a brand new passphrase";
    let (status, body) =
        client.post("/api/v1/auth/reset-password", json!({"token": reset, "password": new_password}), None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(client.login(email, PASSWORD, None).await.0, 401);
    client.login_ok(email, new_password).await;
    let (status, _) = client
        .post("/api/v1/auth/reset-password", json!({"token": reset, "password": "yet another passphrase"}), None)
        .await;
    assert!(status >= 400, "a reset token works once");
}

async fn two_factor_enroll_confirm_login_and_single_use_recovery_codes(client: &Client<'_>) {
    let email = "two-factor@example.test";
    assert_eq!(client.register(email).await.0, 201);
    let access = client.login_ok(email, PASSWORD).await["access_token"].as_str().expect("token").to_owned();
    let (status, enrolled) = client.post("/api/v1/auth/2fa/enroll", json!({}), Some(&access)).await;
    assert_eq!(status, 200, "{enrolled}");
    assert!(enrolled["otpauth_uri"].as_str().is_some_and(|uri| uri.starts_with("otpauth://totp/")));
    let secret = enrolled["secret"].as_str().expect("secret").to_owned();

    let (status, confirmed) =
        client.post("/api/v1/auth/2fa/confirm", json!({"code": totp(&secret, 0)}), Some(&access)).await;
    assert_eq!(status, 200, "{confirmed}");
    let recovery: Vec<String> = serde_json::from_value(confirmed["recovery_codes"].clone()).expect("codes");
    assert_eq!(recovery.len(), 10);

    let (status, body) = client.login(email, PASSWORD, None).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("AUTH_1009")), "{body}");
    let (status, body) = client.login(email, PASSWORD, Some("000000")).await;
    assert_eq!(status, 401, "{body}");
    // The confirm used this step's code; the next step's code is fresh.
    let (status, body) = client.login(email, PASSWORD, Some(&totp(&secret, 30))).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = client.login(email, PASSWORD, Some(&recovery[0])).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = client.login(email, PASSWORD, Some(&recovery[0])).await;
    assert_eq!(status, 401, "a recovery code works once: {body}");
}

async fn role_checks_on_the_admin_route(client: &Client<'_>, stack: &TestStack) {
    let email = "roles@example.test";
    assert_eq!(client.register(email).await.0, 201);
    let access = client.login_ok(email, PASSWORD).await["access_token"].as_str().expect("token").to_owned();
    let user_id = client.get("/api/v1/auth/me", Some(&access)).await.1["id"].as_str().expect("id").to_owned();
    let grant = json!({"user_id": user_id, "role": "vendor_admin", "vendor_id": "ven_01JC000000000000000000000A"});

    let (status, body) = client.post("/api/v1/auth/admin/roles", grant.clone(), None).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("AUTH_1004")), "{body}");
    let (status, body) = client.post("/api/v1/auth/admin/roles", grant.clone(), Some(&access)).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("AUTHZ_2001")), "{body}");

    let admin = Identity::new("usr_01JC0000000000000000000ADM", vec![RoleGrant::platform_admin()]).expect("admin");
    let admin_token = stack_issuer(stack).issue(&admin, now_unix(), "jti-admin").expect("token");
    let (status, body) = client.post("/api/v1/auth/admin/roles", grant, Some(&admin_token)).await;
    assert!(status == 200 || status == 201 || status == 204, "{status} {body}");

    let access = client.login_ok(email, PASSWORD).await["access_token"].as_str().expect("token").to_owned();
    let me = client.get("/api/v1/auth/me", Some(&access)).await.1;
    let roles: Vec<&str> = me["roles"].as_array().expect("roles").iter().filter_map(|r| r["role"].as_str()).collect();
    assert!(roles.contains(&"vendor_admin"), "{me}");
}

async fn repeated_failed_logins_are_rate_limited(client: &Client<'_>) {
    let email = "lockout@example.test";
    assert_eq!(client.register(email).await.0, 201);
    for attempt in 0..50 {
        let response = client.raw_login(email, "wrong password!!", None).await;
        if response.status().as_u16() == 429 {
            let retry_after: u64 = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After");
            assert!(retry_after >= 1, "attempt {attempt}");
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(body["error"]["code"], "AUTH_1011");
            // Locked out means locked out: even the right password waits.
            assert_eq!(client.login(email, PASSWORD, None).await.0, 429);
            return;
        }
        assert_eq!(response.status().as_u16(), 401);
    }
    panic!("50 failed logins for one account were never rate limited");
}

fn stack_issuer(stack: &TestStack) -> AccessTokenIssuer {
    stack.stack.access_token_issuer().expect("the stack's token issuer")
}

/// The TOTP code `offset_seconds` from now for a base32 secret.
fn totp(secret: &str, offset_seconds: i64) -> String {
    let secret = shared::identity::totp::TotpSecret::from_base32(secret).expect("base32 secret");
    secret.code_at(now_unix() + offset_seconds)
}

struct Client<'a> {
    stack: &'a TestStack,
    http: reqwest::Client,
}

impl<'a> Client<'a> {
    /// A client whose requests come from 127.0.0.`host`.
    fn new(stack: &'a TestStack, host: u8) -> Self {
        let address = std::net::IpAddr::from([127, 0, 0, host]);
        let http = reqwest::Client::builder().local_address(address).build().expect("HTTP client");
        Self { stack, http }
    }

    async fn register(&self, email: &str) -> (u16, Value) {
        self.post(
            "/api/v1/auth/register",
            json!({"email": email, "password": PASSWORD, "display_name": "Test Shopper"}),
            None,
        )
        .await
    }

    async fn raw_login(&self, email: &str, password: &str, totp: Option<&str>) -> reqwest::Response {
        let mut body = json!({"email": email, "password": password});
        if let Some(code) = totp {
            body["totp"] = json!(code);
        }
        self.http.post(self.stack.worker_url("/api/v1/auth/login")).json(&body).send().await.expect("answer")
    }

    async fn login(&self, email: &str, password: &str, totp: Option<&str>) -> (u16, Value) {
        let response = self.raw_login(email, password, totp).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn login_ok(&self, email: &str, password: &str) -> Value {
        let (status, body) = self.login(email, password, None).await;
        if status != 200 {
            self.stack.print_logs();
        }
        assert_eq!(status, 200, "login {email}: {body}");
        body
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(self.stack.worker_url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("answer");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.post(self.stack.worker_url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("answer");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Waits for the email (queue → events Worker → Spin → outbox → sink) and pulls the token from its link.
    async fn token_from_email(&self, to: &str, link_path: &str) -> String {
        let inbox = format!("{}/inbox?to={to}", self.stack.stack.urls().email);
        for _ in 0..100 {
            let inbox: Value = self.stack.http.get(&inbox).send().await.expect("inbox").json().await.expect("JSON");
            for message in inbox["emails"].as_array().into_iter().flatten() {
                let text = message["text"].as_str().unwrap_or_default();
                if let Some(at) = text.find(&format!("/{link_path}?token=")) {
                    let rest = &text[at..];
                    let token = rest.split("token=").nth(1).unwrap_or_default();
                    return token.split(|c: char| c.is_whitespace()).next().unwrap_or_default().to_owned();
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.stack.print_logs();
        panic!("no {link_path} email reached {to}");
    }
}
