use serde_json::json;

use super::*;
use crate::test_support::{FakeTransport, header, json_body};
use crate::transport::TransportError;

const URL: &str = "https://eu1-merry-cat-32748.upstash.io";
const TOKEN: &str = "AX_token";

fn client(transport: FakeTransport) -> UpstashClient<FakeTransport> {
    UpstashClient::new(transport, URL, TOKEN)
}

#[tokio::test]
async fn command_posts_a_json_array_with_bearer_token_and_base64_encoding() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": "OK"})));
    let reply = redis.command(&cmd("SET").arg("cart:1").arg("{\"items\":[]}").arg("EX").arg(60)).await;

    assert_eq!(reply, Ok(RedisValue::Ok));
    let request = redis.transport().only_request();
    assert_eq!(request.method, Method::Post);
    assert_eq!(request.url, URL);
    assert_eq!(header(&request, "Authorization"), Some("Bearer AX_token"));
    assert_eq!(header(&request, "Upstash-Encoding"), Some("base64"));
    assert_eq!(json_body(&request), json!(["SET", "cart:1", "{\"items\":[]}", "EX", 60]));
}

#[tokio::test]
async fn base64_results_are_decoded_transparently() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": "aGVsbG8gd29ybGQ="})));
    let reply = redis.command(&cmd("GET").arg("k")).await.unwrap();
    assert_eq!(reply.as_str(), Some("hello world"));
}

#[tokio::test]
async fn binary_values_come_back_as_exact_bytes() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": "AP8Q"})));
    let reply = redis.command(&cmd("GET").arg("k")).await.unwrap();
    assert_eq!(reply.into_bytes(), Some(vec![0x00, 0xff, 0x10]));
}

#[tokio::test]
async fn a_plain_string_array_is_a_command() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": "UE9ORw=="})));
    assert_eq!(redis.command(&["PING"]).await.unwrap().as_str(), Some("PONG"));
    assert_eq!(json_body(&redis.transport().only_request()), json!(["PING"]));
}

#[tokio::test]
async fn a_missing_key_is_nil() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": null})));
    assert_eq!(redis.command(&cmd("GET").arg("k")).await, Ok(RedisValue::Nil));
}

#[tokio::test]
async fn without_base64_no_encoding_header_is_sent_and_strings_are_verbatim() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": "aGk="}))).with_base64(false);
    let reply = redis.command(&cmd("GET").arg("k")).await.unwrap();
    assert_eq!(reply.as_str(), Some("aGk="));
    assert_eq!(header(&redis.transport().only_request(), "Upstash-Encoding"), None);
}

#[tokio::test]
async fn a_redis_error_is_returned_as_its_message() {
    let redis = client(
        FakeTransport::new()
            .respond_json(400, json!({"error": "WRONGTYPE Operation against a key holding the wrong kind of value"})),
    );
    let error = redis.command(&cmd("INCR").arg("list")).await.unwrap_err();
    assert_eq!(error, UpstashError::Redis("WRONGTYPE Operation against a key holding the wrong kind of value".into()));
    assert!(error.is_wrong_type());
    assert!(!error.is_transient());
}

#[tokio::test]
async fn a_bad_token_is_unauthorized() {
    let redis = client(FakeTransport::new().respond_json(401, json!({"error": "Unauthorized"})));
    assert_eq!(redis.command(&cmd("PING")).await, Err(UpstashError::Unauthorized("Unauthorized".into())));
}

#[tokio::test]
async fn other_statuses_are_http_errors_and_5xx_is_transient() {
    let redis = client(FakeTransport::new().respond(503, "upstream unavailable"));
    let error = redis.command(&cmd("PING")).await.unwrap_err();
    assert_eq!(error, UpstashError::Http { status: 503, body: "upstream unavailable".into() });
    assert!(error.is_transient());
}

#[tokio::test]
async fn a_400_without_an_error_field_is_an_http_error() {
    let redis = client(FakeTransport::new().respond(400, "bad request"));
    assert!(matches!(redis.command(&cmd("PING")).await, Err(UpstashError::Http { status: 400, .. })));
}

#[tokio::test]
async fn transport_failures_surface_as_transport_errors() {
    let redis = client(FakeTransport::new().fail("dns"));
    assert_eq!(redis.command(&cmd("PING")).await, Err(UpstashError::Transport(TransportError("dns".into()))));
}

#[tokio::test]
async fn non_utf8_arguments_are_refused_before_sending() {
    let redis = client(FakeTransport::new());
    let error = redis.command(&cmd("SET").arg("k").arg(vec![0xc3, 0x28])).await.unwrap_err();
    assert_eq!(error, UpstashError::NonUtf8Argument { index: 2 });
    assert!(redis.transport().requests().is_empty());
}

#[tokio::test]
async fn a_trailing_slash_in_the_url_is_ignored() {
    let redis = UpstashClient::new(
        FakeTransport::new().respond_json(200, json!([{"result": 1}])),
        "http://127.0.0.1:8079/",
        TOKEN,
    );
    redis.pipeline(&[cmd("INCR").arg("n")]).await.unwrap();
    assert_eq!(redis.transport().only_request().url, "http://127.0.0.1:8079/pipeline");
}

#[tokio::test]
async fn pipeline_returns_each_outcome_including_an_inner_error() {
    let redis = client(FakeTransport::new().respond_json(
        200,
        json!([
            {"result": "OK"},
            {"result": "OK"},
            {"error": "ERR value is not an integer or out of range"},
            {"result": 2},
        ]),
    ));
    let outcomes = redis
        .pipeline(&[
            cmd("SET").arg("key1").arg("valuex"),
            cmd("SETEX").arg("key2").arg(13).arg("valuez"),
            cmd("INCR").arg("key1"),
            cmd("ZADD").arg("myset").arg(11).arg("item1").arg(22).arg("item2"),
        ])
        .await
        .unwrap();

    assert_eq!(
        outcomes,
        vec![
            Ok(RedisValue::Ok),
            Ok(RedisValue::Ok),
            Err(UpstashError::Redis("ERR value is not an integer or out of range".into())),
            Ok(RedisValue::Integer(2)),
        ]
    );
    let request = redis.transport().only_request();
    assert_eq!(request.url, format!("{URL}/pipeline"));
    assert_eq!(
        json_body(&request),
        json!([
            ["SET", "key1", "valuex"],
            ["SETEX", "key2", 13, "valuez"],
            ["INCR", "key1"],
            ["ZADD", "myset", 11, "item1", 22, "item2"],
        ])
    );
}

#[tokio::test]
async fn pipeline_results_are_base64_decoded_too() {
    let redis = client(FakeTransport::new().respond_json(200, json!([{"result": ["YQ==", null]}])));
    let outcomes = redis.pipeline(&[cmd("MGET").arg("a").arg("b")]).await.unwrap();
    assert_eq!(outcomes, vec![Ok(RedisValue::Array(vec![RedisValue::Bulk(b"a".to_vec()), RedisValue::Nil]))]);
}

#[tokio::test]
async fn multi_exec_posts_to_its_own_path() {
    let redis = client(FakeTransport::new().respond_json(200, json!([{"result": "OK"}, {"result": 1}])));
    let outcomes = redis.multi_exec(&[cmd("SET").arg("a").arg("1"), cmd("EXPIRE").arg("a").arg(60)]).await.unwrap();
    assert_eq!(outcomes, vec![Ok(RedisValue::Ok), Ok(RedisValue::Integer(1))]);
    assert_eq!(redis.transport().only_request().url, format!("{URL}/multi-exec"));
}

#[tokio::test]
async fn an_aborted_transaction_is_one_error() {
    let redis = client(
        FakeTransport::new()
            .respond_json(400, json!({"error": "EXECABORT Transaction discarded because of previous errors."})),
    );
    let error = redis.multi_exec(&[cmd("SET").arg("a")]).await.unwrap_err();
    assert!(error.redis_message().unwrap().starts_with("EXECABORT"));
}

#[tokio::test]
async fn a_reply_count_mismatch_is_a_decode_error() {
    let redis = client(FakeTransport::new().respond_json(200, json!([{"result": 1}])));
    let error = redis.pipeline(&[cmd("INCR").arg("a"), cmd("INCR").arg("b")]).await.unwrap_err();
    assert!(matches!(error, UpstashError::Decode(_)), "{error:?}");
}

#[tokio::test]
async fn an_entry_without_result_or_error_is_a_decode_error() {
    let redis = client(FakeTransport::new().respond_json(200, json!([{}])));
    assert!(matches!(redis.pipeline(&[cmd("PING")]).await, Err(UpstashError::Decode(_))));
}

#[tokio::test]
async fn an_empty_pipeline_sends_nothing() {
    let redis = client(FakeTransport::new());
    assert_eq!(redis.pipeline::<Command>(&[]).await, Ok(vec![]));
    assert!(redis.transport().requests().is_empty());
}

#[tokio::test]
async fn eval_sends_script_key_count_keys_then_args() {
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": 1})));
    redis.eval("return 1", ["k1", "k2"], [Arg::from("a"), Arg::from(5)]).await.unwrap();
    assert_eq!(json_body(&redis.transport().only_request()), json!(["EVAL", "return 1", 2, "k1", "k2", "a", 5]));
}

#[test]
fn script_sha1_matches_redis_script_load() {
    // `SCRIPT LOAD "return 1"` answers this digest (Redis documentation, EVALSHA).
    assert_eq!(Script::new("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

#[tokio::test]
async fn script_run_uses_evalsha_when_the_script_is_cached() {
    let script = Script::new("return redis.call('GET', KEYS[1])");
    let redis = client(FakeTransport::new().respond_json(200, json!({"result": "dg=="})));
    let reply = script.run(&redis, ["k"], Vec::<Arg>::new()).await.unwrap();

    assert_eq!(reply.as_str(), Some("v"));
    assert_eq!(json_body(&redis.transport().only_request()), json!(["EVALSHA", script.sha1(), 1, "k"]));
}

#[tokio::test]
async fn script_run_falls_back_to_eval_on_noscript() {
    let script = Script::new("return ARGV[1]");
    let redis = client(
        FakeTransport::new()
            .respond_json(400, json!({"error": "NOSCRIPT No matching script. Please use EVAL."}))
            .respond_json(200, json!({"result": "eA=="})),
    );
    let reply = script.run(&redis, Vec::<&str>::new(), ["x"]).await.unwrap();

    assert_eq!(reply.as_str(), Some("x"));
    let requests = redis.transport().requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(json_body(&requests[0]), json!(["EVALSHA", script.sha1(), 0, "x"]));
    assert_eq!(json_body(&requests[1]), json!(["EVAL", "return ARGV[1]", 0, "x"]));
}

#[tokio::test]
async fn script_run_does_not_retry_other_errors() {
    let script = Script::new("error");
    let redis = client(FakeTransport::new().respond_json(400, json!({"error": "ERR Error compiling script"})));
    let error = script.run(&redis, ["k"], ["a"]).await.unwrap_err();
    assert_eq!(error, UpstashError::Redis("ERR Error compiling script".into()));
    assert_eq!(redis.transport().requests().len(), 1);
}

#[test]
fn debug_output_hides_the_token() {
    let debug = format!("{:?}", client(FakeTransport::new()));
    assert!(!debug.contains(TOKEN), "{debug}");
}
