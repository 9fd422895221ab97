//! Every Spin route requires a valid `Upstash-Signature` (DESIGN §5), through the local wasi:http host.

use e2e::{TestStack, now_unix};
use serde_json::Value;
use shared::webhook::{self, SignRequest, SigningKey};

const PATH: &str = "/orders/health";

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn spin_routes_require_a_valid_signature() {
    let stack = TestStack::start("spin-signatures", false).await.expect("stack starts");
    a_signed_request_reaches_the_component_which_queries_neon(&stack).await;
    an_unsigned_request_is_refused(&stack).await;
    a_tampered_signature_is_refused(&stack).await;
    a_signature_for_another_body_is_refused(&stack).await;
    an_expired_signature_is_refused(&stack).await;
    a_signature_for_another_url_is_refused(&stack).await;
    a_signature_with_the_wrong_key_is_refused(&stack).await;
    a_replayed_signature_is_refused(&stack).await;
}

async fn a_signed_request_reaches_the_component_which_queries_neon(stack: &TestStack) {
    let (status, body) = send(stack, Some(sign(stack, Signing::default()))).await;
    if status != 200 {
        stack.print_logs();
    }
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["neon"]["status"], "ok", "{body}");
    assert!(body["checks"]["neon"]["latency_ms"].is_u64(), "{body}");
}

async fn an_unsigned_request_is_refused(stack: &TestStack) {
    let (status, body) = send(stack, None).await;
    assert_refused(status, &body, "AUTH_1001");
}

async fn a_tampered_signature_is_refused(stack: &TestStack) {
    let mut signature = sign(stack, Signing::default());
    let last = signature.pop().expect("non-empty signature");
    signature.push(if last == 'A' { 'B' } else { 'A' });
    let (status, body) = send(stack, Some(signature)).await;
    assert_refused(status, &body, "AUTH_1002");
}

async fn a_signature_for_another_body_is_refused(stack: &TestStack) {
    let signature = sign(stack, Signing { body: b"{\"amount\":1}", ..Signing::default() });
    let (status, body) = send(stack, Some(signature)).await;
    assert_refused(status, &body, "AUTH_1002");
}

async fn an_expired_signature_is_refused(stack: &TestStack) {
    let signature = sign(stack, Signing { age_seconds: 3600, ..Signing::default() });
    let (status, body) = send(stack, Some(signature)).await;
    assert_refused(status, &body, "AUTH_1002");
}

async fn a_signature_for_another_url_is_refused(stack: &TestStack) {
    let signature = sign(stack, Signing { path: "/orders/other", ..Signing::default() });
    let (status, body) = send(stack, Some(signature)).await;
    assert_refused(status, &body, "AUTH_1002");
}

async fn a_signature_with_the_wrong_key_is_refused(stack: &TestStack) {
    let signature = sign(stack, Signing { key: Some("not-the-key"), ..Signing::default() });
    let (status, body) = send(stack, Some(signature)).await;
    assert_refused(status, &body, "AUTH_1002");
}

async fn a_replayed_signature_is_refused(stack: &TestStack) {
    let signature = sign(stack, Signing { jti: "sig_replayed", ..Signing::default() });
    let (first, body) = send(stack, Some(signature.clone())).await;
    assert_eq!(first, 200, "{body}");
    let (status, body) = send(stack, Some(signature)).await;
    assert_refused(status, &body, "AUTH_1003");
}

struct Signing<'a> {
    path: &'a str,
    body: &'a [u8],
    age_seconds: i64,
    key: Option<&'a str>,
    jti: &'a str,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Self { path: PATH, body: b"", age_seconds: 0, key: None, jti: "" }
    }
}

fn sign(stack: &TestStack, signing: Signing<'_>) -> String {
    let key = signing.key.unwrap_or(&stack.stack.secrets.webhook_key_current);
    let unique =
        format!("sig_test_{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    let jti = if signing.jti.is_empty() { unique.as_str() } else { signing.jti };
    webhook::sign(
        &SigningKey::new(key.as_bytes()),
        SignRequest {
            issuer: "e2e-tests",
            url: &stack.spin_url(signing.path),
            body: signing.body,
            now: now_unix() - signing.age_seconds,
            jti,
        },
    )
    .expect("signing works")
}

async fn send(stack: &TestStack, signature: Option<String>) -> (u16, Value) {
    let mut request = stack.http.get(stack.spin_url(PATH));
    if let Some(signature) = signature {
        request = request.header(webhook::SIGNATURE_HEADER, signature);
    }
    let response = request.send().await.expect("spin host answers");
    let status = response.status().as_u16();
    (status, response.json::<Value>().await.unwrap_or(Value::Null))
}

fn assert_refused(status: u16, body: &Value, code: &str) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
}
