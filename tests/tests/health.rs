//! The gateway Worker through workerd, against the whole local stack. One stack serves every step
//! (starting workerd is the slow part); the Redis outage comes last.

use e2e::TestStack;
use serde_json::Value;

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn gateway_through_workerd() {
    let mut stack = TestStack::start("gateway", true).await.expect("stack starts");
    health_is_ok_when_every_dependency_is_up(&stack).await;
    a_callers_request_id_is_kept(&stack).await;
    unknown_routes_and_wrong_methods_get_the_error_envelope(&stack).await;
    health_names_upstash_down_when_redis_stops(&mut stack).await;
}

async fn health_is_ok_when_every_dependency_is_up(stack: &TestStack) {
    let (status, request_id, body) = get(stack, "/api/v1/health", None).await;
    if status != 200 {
        stack.print_logs();
    }
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    for dependency in ["neon", "upstash", "spin"] {
        assert_eq!(body["checks"][dependency]["status"], "ok", "{dependency}: {body}");
        assert!(body["checks"][dependency]["latency_ms"].is_u64(), "{dependency} latency: {body}");
    }
    let request_id = request_id.expect("every response carries x-request-id");
    assert!(request_id.starts_with("req_"), "{request_id}");
}

async fn a_callers_request_id_is_kept(stack: &TestStack) {
    let (_, echoed, _) = get(stack, "/api/v1/health", Some("trace-42")).await;
    assert_eq!(echoed.as_deref(), Some("trace-42"));
    // One that could smuggle a header is replaced, not echoed.
    let (_, replaced, _) = get(stack, "/api/v1/health", Some(&"x".repeat(500))).await;
    assert!(replaced.is_some_and(|id| id.starts_with("req_")));
}

async fn unknown_routes_and_wrong_methods_get_the_error_envelope(stack: &TestStack) {
    let (status, request_id, body) = get(stack, "/api/v1/nope", None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "RES_4001");
    assert_eq!(body["error"]["requestId"].as_str(), request_id.as_deref());

    let response = stack.http.post(stack.worker_url("/api/v1/health")).send().await.expect("answer");
    assert_eq!(response.status().as_u16(), 405);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "RES_4002");
}

async fn health_names_upstash_down_when_redis_stops(stack: &mut TestStack) {
    stack.stack.stop_redis();
    let (status, _, body) = get(stack, "/api/v1/health", None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["upstash"]["status"], "down", "{body}");
    assert_eq!(body["checks"]["neon"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["spin"]["status"], "ok", "{body}");
}

async fn get(stack: &TestStack, path: &str, request_id: Option<&str>) -> (u16, Option<String>, Value) {
    let mut request = stack.http.get(stack.worker_url(path));
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.expect("gateway answers");
    let status = response.status().as_u16();
    let request_id = response.headers().get("x-request-id").and_then(|id| id.to_str().ok()).map(str::to_owned);
    let body = response.json::<Value>().await.expect("JSON body");
    (status, request_id, body)
}
