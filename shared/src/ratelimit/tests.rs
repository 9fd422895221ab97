use std::cell::RefCell;
use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::test_support::{FakeTransport, json_body};
use crate::transport::{HttpRequest, HttpResponse, TransportError};

const SECRET: &[u8] = b"test-identifier-secret-32-bytes!";
/// 2026-11-21T07:00:30Z: 30 s into a 15-minute window.
const NOW_MS: u64 = 1_795_244_430_000;

fn client<T: HttpTransport>(transport: T) -> UpstashClient<T> {
    UpstashClient::new(transport, "https://redis.example", "token")
}

#[test]
fn script_is_the_sdk_copy_byte_for_byte() {
    assert_eq!(Script::new(SLIDING_WINDOW_SCRIPT).sha1(), SLIDING_WINDOW_SCRIPT_SHA1);
}

#[test]
fn keys_follow_the_sdk_layout_with_hashed_identifiers() {
    let hashed = hash_identifier(SECRET, "ann@example.com");
    assert_eq!(hashed.len(), 32);
    assert!(!hashed.contains("ann"));
    assert_ne!(hashed, hash_identifier(b"other secret", "ann@example.com"));
    let window = NOW_MS / (15 * 60_000);
    assert_eq!(
        window_keys(&LOGIN_BY_ACCOUNT, &hashed, NOW_MS),
        [
            format!("ratelimit:login_account:{hashed}:{window}"),
            format!("ratelimit:login_account:{hashed}:{}", window - 1)
        ]
    );
    assert_eq!(window_keys(&LOGIN_BY_IP, "h", 5)[1], "ratelimit:login_ip:h:-1");
}

#[tokio::test]
async fn limit_sends_evalsha_with_the_sdk_keys_and_arguments() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": [9, 10]})));
    let decision = RateLimiter::new(&redis, SECRET).limit(&LOGIN_BY_ACCOUNT, "ann@example.com", NOW_MS).await.unwrap();

    let hashed = hash_identifier(SECRET, "ann@example.com");
    let window = NOW_MS / LOGIN_BY_ACCOUNT.window_ms;
    assert_eq!(
        json_body(&redis.transport().only_request()),
        json!([
            "EVALSHA",
            SLIDING_WINDOW_SCRIPT_SHA1,
            3,
            format!("ratelimit:login_account:{hashed}:{window}"),
            format!("ratelimit:login_account:{hashed}:{}", window - 1),
            "",
            10,
            NOW_MS,
            900_000,
            1
        ])
    );
    assert_eq!(
        decision,
        Decision {
            allowed: true,
            limit: 10,
            remaining: 9,
            reset_at_ms: (window + 1) * 900_000,
            retry_after_secs: None
        }
    );
    assert!(decision.to_api_error().is_none());
}

#[tokio::test]
async fn noscript_falls_back_to_eval_with_the_source() {
    let redis = client(
        FakeTransport::new()
            .respond_json(400, json!({"error": "NOSCRIPT No matching script. Please use EVAL."}))
            .respond_json(200, json!({"result": [4, 5]})),
    );
    let decision = RateLimiter::new(&redis, SECRET).limit(&REGISTER_BY_IP, "ip4:203.0.113.7", NOW_MS).await.unwrap();
    let requests = redis.transport().requests();
    assert_eq!(requests.len(), 2);
    let eval = json_body(&requests[1]);
    assert_eq!(eval[0], "EVAL");
    assert_eq!(eval[1], SLIDING_WINDOW_SCRIPT);
    assert_eq!(eval[2], 3);
    assert_eq!(decision.remaining, 4);
}

#[tokio::test]
async fn refusal_reports_retry_after_until_the_window_ends() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": [-1, 10]})));
    let decision = RateLimiter::new(&redis, SECRET).limit(&LOGIN_BY_ACCOUNT, "ann@example.com", NOW_MS).await.unwrap();
    // 30 s into a 900 s window: 870 s to go.
    assert_eq!((decision.allowed, decision.remaining, decision.retry_after_secs), (false, 0, Some(870)));
    let error = decision.to_api_error().unwrap();
    assert_eq!((error.code, error.status()), (ErrorCode::TooManyAttempts, 429));
    assert_eq!(error.details, Some(json!({"retryAfter": 870})));
}

#[tokio::test]
async fn refunds_send_a_negative_rate() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": [10, 10]})));
    RateLimiter::new(&redis, SECRET).limit_by(&LOGIN_BY_ACCOUNT, "a", NOW_MS, -1).await.unwrap();
    assert_eq!(json_body(&redis.transport().only_request())[9], -1);
}

#[tokio::test]
async fn redis_failures_and_odd_replies_are_errors() {
    let redis = client(FakeTransport::new().fail("down").respond_json(200, json!({"result": "OK"})));
    let limiter = RateLimiter::new(&redis, SECRET);
    assert!(matches!(limiter.limit(&LOGIN_BY_IP, "x", NOW_MS).await, Err(RateLimitError::Upstash(_))));
    assert!(matches!(limiter.limit(&LOGIN_BY_IP, "x", NOW_MS).await, Err(RateLimitError::UnexpectedReply(_))));
}

#[test]
fn ip_identifiers_group_ipv6_by_slash_64() {
    assert_eq!(client_ip_identifier(" 203.0.113.7 "), "ip4:203.0.113.7");
    assert_eq!(client_ip_identifier("::ffff:203.0.113.7"), "ip4:203.0.113.7");
    assert_eq!(client_ip_identifier("2001:db8:a:b:1:2:3:4"), "ip6:2001:db8:a:b::/64");
    assert_eq!(client_ip_identifier("2001:db8:a:b:ffff::1"), client_ip_identifier("2001:db8:a:b::9"));
    assert_eq!(client_ip_identifier("unknown"), "raw:unknown");
}

#[test]
fn weighting_matches_worked_examples() {
    // 10 requests last window, 25% into this one: 75% of them still count.
    assert_eq!(weighted_previous(10, 250, 1000), 7);
    assert_eq!(weighted_previous(10, 0, 1000), 10);
    assert_eq!(weighted_previous(10, 999, 1000), 0);
    assert_eq!(weighted_previous(0, 500, 1000), 0);
}

#[test]
fn decision_math_mirrors_the_sdk() {
    let limit = Limit { name: "t", tokens: 5, window_ms: 10_000 };
    assert_eq!(
        decision_from_reply(&limit, 123_456, 0, 5),
        Decision { allowed: true, limit: 5, remaining: 0, reset_at_ms: 130_000, retry_after_secs: None }
    );
    let refused = decision_from_reply(&limit, 129_999, -1, 5);
    assert_eq!((refused.allowed, refused.retry_after_secs), (false, Some(1)));
}

/// Redis for these tests: runs `evaluate` on the keys and arguments it is sent, so the wiring
/// (keys, argument order, windows) is exercised over many calls.
#[derive(Default)]
struct ModelRedis {
    counters: RefCell<HashMap<String, i64>>,
}

impl HttpTransport for ModelRedis {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let command: Vec<Value> = serde_json::from_slice(&request.body).map_err(|e| TransportError(e.to_string()))?;
        let text = |i: usize| command[i].as_str().unwrap_or_default().to_owned();
        let int = |i: usize| command[i].as_i64().unwrap_or_default();
        let (current_key, previous_key) = (text(3), text(4));
        let mut counters = self.counters.borrow_mut();
        let current = counters.get(&current_key).copied().unwrap_or(0);
        let previous = counters.get(&previous_key).copied().unwrap_or(0);
        let outcome = evaluate(int(6), current, previous, int(7) as u64, int(8) as u64, int(9));
        counters.insert(current_key, outcome.current);
        let body = json!({"result": [outcome.remaining, int(6)]}).to_string();
        Ok(HttpResponse { status: 200, headers: Vec::new(), body: body.into_bytes() })
    }
}

#[test]
fn a_burst_is_cut_at_the_limit_and_recovers_as_the_window_slides() {
    let redis = client(ModelRedis::default());
    let limiter = RateLimiter::new(&redis, SECRET);
    let limit = Limit { name: "t", tokens: 3, window_ms: 10_000 };
    let start = 1_000_000_000; // a window boundary
    let check = |at: u64| crate::test_support::block_on(limiter.limit(&limit, "ann", at)).unwrap();
    let burst: Vec<bool> = (0..5).map(|i| check(start + i).allowed).collect();
    assert_eq!(burst, [true, true, true, false, false]);
    assert!(!check(start + 9_999).allowed);
    // Next window, 10% in: 90% of 3 previous = floor(2.7) = 2 still count, so one more fits.
    assert!(check(start + 11_000).allowed);
    assert!(!check(start + 11_001).allowed);
    // The window after: its previous had 1 admission, which floors to 0 one millisecond in, so
    // all 3 tokens are available again.
    let fresh: Vec<bool> = (20_001..20_005).map(|i| check(start + i).allowed).collect();
    assert_eq!(fresh, [true, true, true, false]);
}

proptest! {
    #[test]
    fn weighting_is_a_fraction_of_previous(previous in 0i64..1_000_000, now in 0u64..(1 << 45), window in 1u64..86_400_000) {
        let weighted = weighted_previous(previous, now, window);
        prop_assert!((0..=previous).contains(&weighted));
        prop_assert_eq!(weighted_previous(previous, now - now % window, window), previous);
    }

    #[test]
    fn weighting_never_grows_within_a_window(previous in 0i64..100_000, start in 0u64..(1 << 40), window in 1u64..1_000_000, a in 0u64..1_000_000, b in 0u64..1_000_000) {
        let base = start - start % window;
        let (early, late) = (a.min(b) % window, a.max(b) % window);
        prop_assume!(early <= late);
        prop_assert!(weighted_previous(previous, base + late, window) <= weighted_previous(previous, base + early, window));
    }

    /// Whatever the arrival pattern, no fixed window admits more than `tokens`, and no
    /// window-length stretch admits more than twice that.
    #[test]
    fn admissions_never_exceed_the_limit(tokens in 1i64..20, window in 1u64..10_000, gaps in prop::collection::vec(0u64..3_000, 1..200)) {
        let mut counters: HashMap<u64, i64> = HashMap::new();
        let mut admitted: Vec<u64> = Vec::new();
        let mut now = 1_000_000u64;
        for gap in gaps {
            now += gap;
            let index = now / window;
            let current = counters.get(&index).copied().unwrap_or(0);
            let previous = if index == 0 { 0 } else { counters.get(&(index - 1)).copied().unwrap_or(0) };
            let outcome = evaluate(tokens, current, previous, now, window, 1);
            counters.insert(index, outcome.current);
            if outcome.remaining >= 0 {
                admitted.push(now);
            }
        }
        prop_assert!(counters.values().all(|count| *count <= tokens));
        for (i, start) in admitted.iter().enumerate() {
            let in_stretch = admitted[i..].iter().take_while(|at| **at < start + window).count() as i64;
            prop_assert!(in_stretch <= 2 * tokens);
        }
    }

    #[test]
    fn decisions_agree_with_the_script_outcome(tokens in 1u32..50, current in 0i64..60, previous in 0i64..60, now in 1u64..(1 << 44)) {
        let limit = Limit { name: "p", tokens, window_ms: 60_000 };
        let outcome = evaluate(i64::from(tokens), current, previous, now, limit.window_ms, 1);
        let decision = decision_from_reply(&limit, now, outcome.remaining, i64::from(tokens));
        prop_assert_eq!(decision.allowed, weighted_previous(previous, now, limit.window_ms) + current < i64::from(tokens));
        prop_assert!(decision.remaining <= tokens);
        prop_assert!(decision.reset_at_ms > now && decision.reset_at_ms - now <= limit.window_ms);
        prop_assert_eq!(decision.retry_after_secs.is_some(), !decision.allowed);
    }
}
