//! Pins the wire protocol of the local Neon and Upstash gateways over raw HTTP (reqwest +
//! serde_json, no client library), against a real PostgreSQL and Redis started by the library's
//! helpers. One cluster, one Redis and one pair of gateways are shared by the whole file.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use local_cloud::ports::free_port;
use local_cloud::postgres::Cluster;
use local_cloud::redis::Server;
use local_cloud::{Background, Config, at_exit, spawn_in_thread};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const TOKEN: &str = "conformance-token";
const DATABASE: &str = "conformance";
const TEN_MIB: usize = 10 * 1024 * 1024;

struct Stack {
    root: PathBuf,
    pg: Cluster,
    redis: Server,
    gateways: Background,
}

static STACK: OnceLock<Stack> = OnceLock::new();

fn stack() -> &'static Stack {
    STACK.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("local-cloud-conformance-{}", std::process::id()));
        let started = (|| -> anyhow::Result<(Cluster, Server, Background)> {
            let pg = Cluster::start(root.join("pg"), free_port()?)?;
            pg.ensure_database(DATABASE)?;
            let redis = Server::start(root.join("redis"), free_port()?)?;
            let gateways = spawn_in_thread(Config::ephemeral(redis.url(), TOKEN))?;
            Ok((pg, redis, gateways))
        })();
        let (pg, redis, gateways) = match started {
            Ok(started) => started,
            Err(err) => {
                let _ = std::fs::remove_dir_all(&root);
                panic!("starting the shared stack: {err:#}");
            }
        };
        // The static is never dropped: stop the servers when the test binary exits.
        at_exit(stop_stack);
        Stack { root, pg, redis, gateways }
    })
}

extern "C" fn stop_stack() {
    if let Some(stack) = STACK.get() {
        let _ = stack.pg.stop();
        stack.redis.stop();
        let _ = std::fs::remove_dir_all(&stack.root);
    }
}

fn conn_string() -> String {
    stack().pg.connection_string(DATABASE)
}

// ---------------------------------------------------------------------------------------------
// Neon helpers

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

/// POSTs `body` to /sql with the headers the serverless driver sends, plus `extra`
/// (an empty value removes a default header).
async fn sql_with(body: &Value, extra: &[(&str, &str)]) -> Reply {
    let conn = conn_string();
    let mut headers: Vec<(&str, &str)> =
        vec![("Neon-Connection-String", conn.as_str()), ("Neon-Raw-Text-Output", "true"), ("Neon-Array-Mode", "true")];
    for (name, value) in extra {
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        if !value.is_empty() {
            headers.push((name, value));
        }
    }
    let mut request = reqwest::Client::new().post(stack().gateways.neon_url()).body(serde_json::to_vec(body).unwrap());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("neon gateway answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("JSON body, got {}", String::from_utf8_lossy(&bytes)));
    Reply { status, headers, body }
}

async fn sql(query: &str, params: Value) -> Reply {
    sql_with(&json!({ "query": query, "params": params }), &[]).await
}

async fn sql_ok(query: &str, params: Value) -> Value {
    let reply = sql(query, params).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
    reply.body
}

/// The proxy's error object: exactly these keys, always present.
const NEON_ERROR_KEYS: [&str; 17] = [
    "message",
    "code",
    "detail",
    "hint",
    "position",
    "internalPosition",
    "internalQuery",
    "severity",
    "where",
    "table",
    "column",
    "schema",
    "dataType",
    "constraint",
    "file",
    "line",
    "routine",
];

fn assert_neon_error_shape(body: &Value) {
    let object = body.as_object().expect("error is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = NEON_ERROR_KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected, "{body}");
}

/// A non-Postgres error: message, `code: ""`, every other key null.
fn assert_plain_neon_error(body: &Value, message: &str) {
    assert_neon_error_shape(body);
    assert_eq!(body["message"], message, "{body}");
    assert_eq!(body["code"], "");
    for key in &NEON_ERROR_KEYS[2..] {
        assert_eq!(body[key], Value::Null, "{key} in {body}");
    }
}

// ---------------------------------------------------------------------------------------------
// Neon: results

#[tokio::test]
async fn select_returns_fields_rows_command_and_row_count_as_arrays() {
    let body = sql_ok("SELECT 1::int4 AS n, 'x'::text AS s", json!([])).await;
    assert_eq!(
        body,
        json!({
            "fields": [
                {"name": "n", "dataTypeID": 23, "tableID": 0, "columnID": 0, "dataTypeSize": 4, "dataTypeModifier": -1, "format": "text"},
                {"name": "s", "dataTypeID": 25, "tableID": 0, "columnID": 0, "dataTypeSize": -1, "dataTypeModifier": -1, "format": "text"}
            ],
            "rows": [["1", "x"]],
            "command": "SELECT",
            "rowCount": 1,
            "rowAsArray": true
        })
    );
}

#[tokio::test]
async fn raw_text_output_returns_the_postgres_text_form_of_every_type() {
    let body = sql_ok(
        "SELECT true AS b, 42 AS i, 9007199254740993::int8 AS big, 12.50::numeric(10,2) AS num, \
         '2024-01-02 03:04:05+00'::timestamptz AS ts, '{\"a\":1}'::jsonb AS j, ARRAY[1,2,3] AS arr, \
         NULL::text AS nothing, 1.5::float8 AS f",
        json!([]),
    )
    .await;
    assert_eq!(
        body["rows"],
        json!([[
            "t",
            "42",
            "9007199254740993",
            "12.50",
            "2024-01-02 03:04:05+00",
            "{\"a\": 1}",
            "{1,2,3}",
            null,
            "1.5"
        ]])
    );
    let type_ids: Vec<&Value> = body["fields"].as_array().unwrap().iter().map(|f| &f["dataTypeID"]).collect();
    assert_eq!(type_ids, [16, 23, 20, 1700, 1184, 3802, 1007, 25, 701].map(|id| json!(id)).iter().collect::<Vec<_>>());
    // numeric(10,2): (10 << 16 | 2) + 4, the typmod Postgres reports.
    assert_eq!(body["fields"][3]["dataTypeModifier"], 655366);
}

#[tokio::test]
async fn table_columns_carry_table_and_column_ids() {
    sql_ok("CREATE TABLE IF NOT EXISTS ids_t (a int, b text)", json!([])).await;
    let body = sql_ok("SELECT b, a FROM ids_t", json!([])).await;
    let fields = body["fields"].as_array().unwrap();
    assert!(fields[0]["tableID"].as_u64().unwrap() > 0);
    assert_eq!(fields[0]["tableID"], fields[1]["tableID"]);
    assert_eq!(fields[0]["columnID"], 2);
    assert_eq!(fields[1]["columnID"], 1);
    assert_eq!(body["rowCount"], 0);
    assert_eq!(body["rows"], json!([]));
}

#[tokio::test]
async fn without_array_mode_rows_are_objects_keyed_by_column_name() {
    let reply = sql_with(&json!({"query": "SELECT 1 AS n, 'x' AS s", "params": []}), &[("Neon-Array-Mode", "")]).await;
    assert_eq!(reply.body["rows"], json!([{"n": "1", "s": "x"}]));
    assert_eq!(reply.body["rowAsArray"], false);
}

#[tokio::test]
async fn array_mode_in_the_body_overrides_the_header() {
    let reply = sql_with(&json!({"query": "SELECT 1 AS n", "params": [], "arrayMode": false}), &[]).await;
    assert_eq!(reply.body["rows"], json!([{"n": "1"}]));
    assert_eq!(reply.body["rowAsArray"], false);
}

#[tokio::test]
async fn without_raw_text_output_the_gateway_types_bool_int_float_json_and_arrays() {
    let reply = sql_with(
        &json!({"query": "SELECT true AS b, 42 AS i, 9007199254740993::int8 AS big, 12.50::numeric AS num, \
                          1.5::float8 AS f, '{\"a\":[1]}'::jsonb AS j, ARRAY[[1,2],[3,NULL]] AS arr, \
                          ARRAY['a,b','c'] AS texts, 'NaN'::float8 AS nan", "params": []}),
        &[("Neon-Raw-Text-Output", "")],
    )
    .await;
    assert_eq!(
        reply.body["rows"],
        json!([[true, 42, "9007199254740993", "12.50", 1.5, {"a": [1]}, [[1, 2], [3, null]], ["a,b", "c"], "NaN"]])
    );
}

#[tokio::test]
async fn only_the_literal_true_turns_a_header_on() {
    let reply = sql_with(
        &json!({"query": "SELECT true AS b", "params": []}),
        &[("Neon-Raw-Text-Output", "TRUE"), ("Neon-Array-Mode", "1")],
    )
    .await;
    assert_eq!(reply.body["rows"], json!([{"b": true}]));
}

#[tokio::test]
async fn params_are_text_with_types_inferred_by_postgres() {
    let body = sql_ok(
        "SELECT $1::int + 1 AS n, $2::text IS NULL AS missing, $3 AS untyped, $4::int[] AS arr, $5::jsonb AS j",
        json!(["41", null, "hi", [1, 2], {"k": "v"}]),
    )
    .await;
    assert_eq!(body["rows"], json!([["42", "t", "hi", "{1,2}", "{\"k\": \"v\"}"]]));
    // An untyped parameter is inferred as text.
    assert_eq!(body["fields"][2]["dataTypeID"], 25);
    let numbers = sql_ok("SELECT $1::int * 2 AS n, $2::bool AS b", json!([21, true])).await;
    assert_eq!(numbers["rows"], json!([["42", "t"]]));
}

#[tokio::test]
async fn writes_report_their_command_and_row_count() {
    let created = sql_ok("CREATE TABLE IF NOT EXISTS counts_t (id int)", json!([])).await;
    assert_eq!(created["command"], "CREATE");
    assert_eq!(created["rowCount"], Value::Null);
    assert_eq!(created["fields"], json!([]));
    let inserted = sql_ok("INSERT INTO counts_t VALUES (1), (2)", json!([])).await;
    assert_eq!((&inserted["command"], &inserted["rowCount"]), (&json!("INSERT"), &json!(2)));
    let updated = sql_ok("UPDATE counts_t SET id = id + 10 WHERE id <= 2", json!([])).await;
    assert_eq!((&updated["command"], &updated["rowCount"]), (&json!("UPDATE"), &json!(2)));
    let returning = sql_ok("DELETE FROM counts_t WHERE id > 10 RETURNING id", json!([])).await;
    assert_eq!(returning["command"], "DELETE");
    assert_eq!(returning["rowCount"], 2);
    assert_eq!(returning["rows"].as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Neon: errors

#[tokio::test]
async fn unique_violation_returns_400_with_sqlstate_detail_and_constraint() {
    sql_ok("CREATE TABLE IF NOT EXISTS uv_t (id int PRIMARY KEY)", json!([])).await;
    sql_ok("INSERT INTO uv_t VALUES (1) ON CONFLICT DO NOTHING", json!([])).await;
    let reply = sql("INSERT INTO uv_t VALUES ($1)", json!(["1"])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let body = &reply.body;
    assert_neon_error_shape(body);
    assert_eq!(body["message"], "duplicate key value violates unique constraint \"uv_t_pkey\"");
    assert_eq!(body["code"], "23505");
    assert_eq!(body["detail"], "Key (id)=(1) already exists.");
    assert_eq!(body["severity"], "ERROR");
    assert_eq!(body["schema"], "public");
    assert_eq!(body["table"], "uv_t");
    assert_eq!(body["constraint"], "uv_t_pkey");
    assert_eq!(body["hint"], Value::Null);
    assert_eq!(body["position"], Value::Null);
    assert!(body["file"].is_string() && body["line"].is_string() && body["routine"].is_string());
}

#[tokio::test]
async fn syntax_error_returns_42601_with_position() {
    let reply = sql("SELECT 1 FROMM nowhere", json!([])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_neon_error_shape(&reply.body);
    assert_eq!(reply.body["code"], "42601");
    assert_eq!(reply.body["message"], "syntax error at or near \"nowhere\"");
    assert_eq!(reply.body["position"], "16");
    assert_eq!(reply.body["internalPosition"], Value::Null);
}

#[tokio::test]
async fn undefined_function_error_carries_the_hint() {
    let reply = sql("SELECT no_such_function(1)", json!([])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["code"], "42883");
    assert!(reply.body["hint"].as_str().unwrap().starts_with("No function matches"));
    assert_eq!(reply.body["position"], "8");
}

#[tokio::test]
async fn error_inside_a_function_reports_internal_position_and_query() {
    let reply = sql("DO $$ BEGIN EXECUTE 'SELECT nope FROM nowhere_t'; END $$", json!([])).await;
    assert_eq!(reply.body["code"], "42P01");
    assert_eq!(reply.body["position"], Value::Null);
    assert_eq!(reply.body["internalPosition"], "18");
    assert_eq!(reply.body["internalQuery"], "SELECT nope FROM nowhere_t");
    assert!(reply.body["where"].as_str().unwrap().contains("PL/pgSQL"));
}

#[tokio::test]
async fn wrong_password_returns_the_proxy_authentication_error() {
    let conn = format!("postgresql://postgres:wrong@127.0.0.1:{}/{DATABASE}", stack().pg.port());
    let reply = sql_with(&json!({"query": "SELECT 1"}), &[("Neon-Connection-String", &conn)]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_plain_neon_error(&reply.body, "password authentication failed for user 'postgres'");
}

#[tokio::test]
async fn unknown_user_fails_like_a_wrong_password() {
    let conn = format!("postgresql://nobody:pw@127.0.0.1:{}/{DATABASE}", stack().pg.port());
    let reply = sql_with(&json!({"query": "SELECT 1"}), &[("Neon-Connection-String", &conn)]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_plain_neon_error(&reply.body, "password authentication failed for user 'nobody'");
}

#[tokio::test]
async fn unknown_database_returns_400_with_3d000() {
    let conn = stack().pg.connection_string("no_such_db");
    let reply = sql_with(&json!({"query": "SELECT 1"}), &[("Neon-Connection-String", &conn)]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_neon_error_shape(&reply.body);
    assert_eq!(reply.body["code"], "3D000");
    assert_eq!(reply.body["message"], "database \"no_such_db\" does not exist");
    assert_eq!(reply.body["severity"], "FATAL");
}

#[tokio::test]
async fn unreachable_database_is_a_500() {
    let port = free_port().unwrap();
    let conn = format!("postgresql://postgres:postgres@127.0.0.1:{port}/{DATABASE}");
    let reply = sql_with(&json!({"query": "SELECT 1"}), &[("Neon-Connection-String", &conn)]).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_plain_neon_error(&reply.body, "Couldn't connect to compute node");
}

#[tokio::test]
async fn production_hosts_are_never_dialled_unless_mapped_to_the_local_cluster() {
    let production = format!(
        "postgresql://postgres:postgres@ep-cool-darkness-123456.us-east-2.aws.neon.tech/{DATABASE}?sslmode=require"
    );
    let refused = sql_with(&json!({"query": "SELECT 1"}), &[("Neon-Connection-String", &production)]).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(refused.body["message"].as_str().unwrap().contains("--pg-addr"));

    let mut config = Config::ephemeral(stack().redis.url(), TOKEN);
    config.neon.upstream = Some(([127, 0, 0, 1], stack().pg.port()).into());
    let mapped = spawn_in_thread(config).unwrap();
    let response = reqwest::Client::new()
        .post(mapped.neon_url())
        .header("Neon-Connection-String", &production)
        .body(r#"{"query":"SELECT current_database()"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["rows"], json!([{"current_database": DATABASE}]));
}

#[tokio::test]
async fn connection_string_problems_are_400s_with_the_proxy_messages() {
    let missing = sql_with(&json!({"query": "SELECT 1"}), &[("Neon-Connection-String", "")]).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_plain_neon_error(&missing.body, "invalid header: neon-connection-string");

    let port = stack().pg.port();
    let cases = [
        (format!("mysql://postgres:postgres@127.0.0.1:{port}/db"), "incorrect scheme"),
        (format!("postgresql://postgres@127.0.0.1:{port}/db"), "missing authentication credentials: required password"),
        (format!("postgresql://:pw@127.0.0.1:{port}/db"), "missing username"),
    ];
    for (conn, message) in cases {
        let reply = sql_with(&json!({"query": "SELECT 1"}), &[("Neon-Connection-String", &conn)]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{conn}");
        assert_plain_neon_error(&reply.body, message);
    }
}

#[tokio::test]
async fn malformed_body_is_a_400_parse_error() {
    let reply = sql_with(&json!({"sql": "SELECT 1"}), &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body["message"],
        "could not parse the HTTP request body: data did not match any variant of untagged enum Payload"
    );
    assert_eq!(reply.body["code"], "");
}

#[tokio::test]
async fn paths_other_than_sql_are_not_supported() {
    let response = reqwest::Client::new()
        .post(format!("http://{}/query", stack().gateways.neon_addr))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap(), json!("query is not supported"));
}

#[tokio::test]
async fn every_response_allows_any_origin() {
    let reply = sql("SELECT 1", json!([])).await;
    assert_eq!(reply.headers["access-control-allow-origin"], "*");
    assert_eq!(reply.headers["content-type"], "application/json");
    let preflight =
        reqwest::Client::new().request(reqwest::Method::OPTIONS, stack().gateways.neon_url()).send().await.unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    assert!(preflight.headers()["access-control-allow-headers"].to_str().unwrap().contains("Neon-Connection-String"));
}

#[tokio::test]
async fn statement_timeout_from_connection_options_cancels_the_query() {
    let conn = format!("{}?options=-c%20statement_timeout%3D100&sslmode=require", conn_string());
    let reply = sql_with(&json!({"query": "SELECT pg_sleep(5)"}), &[("Neon-Connection-String", &conn)]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["code"], "57014");
    assert_eq!(reply.body["message"], "canceling statement due to statement timeout");
}

// ---------------------------------------------------------------------------------------------
// Neon: batches

#[tokio::test]
async fn batch_returns_one_result_per_query_in_order() {
    sql_ok("CREATE TABLE IF NOT EXISTS batch_ok_t (id int)", json!([])).await;
    let reply = sql_with(
        &json!({"queries": [
            {"query": "INSERT INTO batch_ok_t VALUES ($1)", "params": ["7"]},
            {"query": "SELECT count(*) AS n FROM batch_ok_t WHERE id = $1", "params": [7]}
        ]}),
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let results = reply.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["command"], "INSERT");
    assert_eq!(results[0]["rowCount"], 1);
    assert_eq!(results[1]["rows"], json!([["1"]]));
    assert_eq!(results[1]["rowAsArray"], true);
}

#[tokio::test]
async fn batch_with_failing_second_query_rolls_back_the_first() {
    sql_ok("CREATE TABLE IF NOT EXISTS rollback_t (id int PRIMARY KEY)", json!([])).await;
    let reply = sql_with(
        &json!({"queries": [
            {"query": "INSERT INTO rollback_t VALUES (100)"},
            {"query": "INSERT INTO rollback_t VALUES (1 / 0)"},
            {"query": "INSERT INTO rollback_t VALUES (101)"}
        ]}),
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // Only the failing query's error comes back, not a results array.
    assert_neon_error_shape(&reply.body);
    assert_eq!(reply.body["code"], "22012");
    let count = sql_ok("SELECT count(*) FROM rollback_t", json!([])).await;
    assert_eq!(count["rows"], json!([["0"]]));
}

#[tokio::test]
async fn read_only_batch_rejects_writes_with_25006() {
    sql_ok("CREATE TABLE IF NOT EXISTS ro_t (id int)", json!([])).await;
    let reply =
        sql_with(&json!({"queries": [{"query": "INSERT INTO ro_t VALUES (1)"}]}), &[("Neon-Batch-Read-Only", "true")])
            .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["code"], "25006");
    assert_eq!(reply.body["message"], "cannot execute INSERT in a read-only transaction");
}

#[tokio::test]
async fn batch_transaction_headers_are_applied_and_echoed() {
    let reply = sql_with(
        &json!({"queries": [
            {"query": "SHOW transaction_isolation"},
            {"query": "SHOW transaction_read_only"},
            {"query": "SHOW transaction_deferrable"}
        ]}),
        &[
            ("Neon-Batch-Isolation-Level", "Serializable"),
            ("Neon-Batch-Read-Only", "true"),
            ("Neon-Batch-Deferrable", "true"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let values: Vec<&Value> =
        reply.body["results"].as_array().unwrap().iter().map(|result| &result["rows"][0][0]).collect();
    assert_eq!(values, [&json!("serializable"), &json!("on"), &json!("on")]);
    assert_eq!(reply.headers["neon-batch-isolation-level"], "Serializable");
    assert_eq!(reply.headers["neon-batch-read-only"], "true");
    assert_eq!(reply.headers["neon-batch-deferrable"], "true");

    let default = sql_with(
        &json!({"queries": [{"query": "SHOW transaction_isolation"}, {"query": "SHOW transaction_read_only"}]}),
        &[("Neon-Batch-Isolation-Level", "RepeatableRead"), ("Neon-Batch-Read-Only", "True")],
    )
    .await;
    assert_eq!(default.body["results"][0]["rows"], json!([["repeatable read"]]));
    assert_eq!(default.body["results"][1]["rows"], json!([["off"]]), "only `true` is true");
}

#[tokio::test]
async fn invalid_isolation_level_is_a_400() {
    let reply =
        sql_with(&json!({"queries": [{"query": "SELECT 1"}]}), &[("Neon-Batch-Isolation-Level", "serializable")]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_plain_neon_error(&reply.body, "invalid isolation level");
}

// ---------------------------------------------------------------------------------------------
// Neon: limits and resilience

#[tokio::test]
async fn request_body_over_10_mib_is_rejected_with_413() {
    let query = format!("SELECT '{}'", "x".repeat(TEN_MIB));
    let reply = sql(&query, json!([])).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_plain_neon_error(&reply.body, "request is too large (max is 10485760 bytes)");
}

#[tokio::test]
async fn response_over_10_mib_is_rejected_with_507() {
    let reply = sql("SELECT repeat('x', 1048576) FROM generate_series(1, 11)", json!([])).await;
    assert_eq!(reply.status, StatusCode::INSUFFICIENT_STORAGE);
    assert_plain_neon_error(&reply.body, "response is too large (max is 10485760 bytes)");
    // The connection that was abandoned mid-stream does not poison the next request.
    assert_eq!(sql_ok("SELECT 2", json!([])).await["rows"], json!([["2"]]));
}

#[tokio::test]
async fn pooled_connections_survive_a_postgres_restart_and_data_persists() {
    let dir = stack().root.join("restart-pg");
    let port = free_port().unwrap();
    let pg = Cluster::start(&dir, port).expect("second cluster starts");
    let conn = pg.connection_string("postgres");
    let run = |query: &'static str| {
        let conn = conn.clone();
        async move { sql_with(&json!({"query": query}), &[("Neon-Connection-String", &conn)]).await }
    };
    assert_eq!(run("CREATE TABLE kept (v text)").await.status, StatusCode::OK);
    assert_eq!(run("INSERT INTO kept VALUES ('before')").await.status, StatusCode::OK);
    // Let the session reset finish so the connection sits idle in the pool.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Restart under the pool: its connection is dead, the client must not notice.
    pg.stop().unwrap();
    drop(pg);
    let pg = Cluster::start(&dir, port).expect("restart on the same data directory");
    let after = run("SELECT v FROM kept").await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert_eq!(after.body["rows"], json!([["before"]]));

    // While it is down the gateway answers like the proxy does for an unreachable compute.
    pg.stop().unwrap();
    let down = run("SELECT 1").await;
    assert_eq!(down.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", down.body);
    assert_plain_neon_error(&down.body, "Couldn't connect to compute node");
    drop(pg);
    let pg = Cluster::start(&dir, port).expect("second restart");
    assert_eq!(run("SELECT 1").await.status, StatusCode::OK);
    pg.stop().unwrap();
}

/// A data directory under a private (0700) parent, as a checkout under root's home is: the server
/// (run as `postgres` when we are root) still starts, keeps its data across restarts, and deleting
/// the requested directory gives a fresh cluster, as it does anywhere else.
#[tokio::test]
async fn a_data_directory_behind_a_private_parent_works_like_any_other() {
    use std::os::unix::fs::PermissionsExt as _;
    let private = stack().root.join("private-parent");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = private.join("pg");
    let port = free_port().unwrap();
    let run = |conn: String, query: &'static str| async move {
        sql_with(&json!({"query": query}), &[("Neon-Connection-String", &conn)]).await
    };

    let pg = Cluster::start(&dir, port).expect("starts behind a private parent");
    let conn = pg.connection_string("postgres");
    assert_eq!(run(conn.clone(), "CREATE TABLE kept (v text)").await.status, StatusCode::OK);
    drop(pg);
    let pg = Cluster::start(&dir, port).expect("restarts");
    assert_eq!(run(conn.clone(), "SELECT count(*) FROM kept").await.body["rows"], json!([["0"]]));
    drop(pg);

    std::fs::remove_dir_all(&dir).unwrap();
    let pg = Cluster::start(&dir, port).expect("starts afresh");
    let fresh = run(conn, "SELECT count(*) FROM kept").await;
    assert_eq!(fresh.status, StatusCode::BAD_REQUEST, "the old table is gone: {}", fresh.body);
    pg.stop().unwrap();
    // A relocated cluster (when we are root) lives outside the temporary root: leave nothing behind.
    if let Ok(relocated) = std::fs::read_to_string(dir.join("RELOCATED_TO")) {
        std::fs::remove_dir_all(relocated.trim()).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Upstash helpers

async fn upstash_raw(
    method: reqwest::Method,
    path: &str,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", stack().gateways.upstash_url()))
        .header("Authorization", format!("Bearer {TOKEN}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("upstash gateway answers");
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("JSON body, got {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

async fn upstash(path: &str, body: Value) -> (StatusCode, Value) {
    upstash_raw(reqwest::Method::POST, path, Some(serde_json::to_vec(&body).unwrap()), &[]).await
}

async fn command(body: Value) -> (StatusCode, Value) {
    upstash("/", body).await
}

async fn command_b64(body: Value) -> (StatusCode, Value) {
    upstash_raw(reqwest::Method::POST, "/", Some(serde_json::to_vec(&body).unwrap()), &[("Upstash-Encoding", "base64")])
        .await
}

// ---------------------------------------------------------------------------------------------
// Upstash

#[tokio::test]
async fn command_success_wraps_the_reply_in_result() {
    assert_eq!(command(json!(["SET", "up:k", "v", "EX", 60])).await, (StatusCode::OK, json!({"result": "OK"})));
    assert_eq!(command(json!(["GET", "up:k"])).await, (StatusCode::OK, json!({"result": "v"})));
    assert_eq!(command(json!(["GET", "up:missing"])).await, (StatusCode::OK, json!({"result": null})));
    command(json!(["DEL", "up:n"])).await;
    assert_eq!(command(json!(["INCRBY", "up:n", 5])).await, (StatusCode::OK, json!({"result": 5})));
    let (_, ttl) = command(json!(["TTL", "up:k"])).await;
    assert!(ttl["result"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn missing_or_wrong_token_is_401() {
    let unauthorized = json!({"error": "WRONGPASS invalid or missing auth token"});
    let url = stack().gateways.upstash_url();
    let client = reqwest::Client::new();
    let missing = client.post(&url).body(r#"["PING"]"#).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json::<Value>().await.unwrap(), unauthorized);
    let wrong = client.post(&url).bearer_auth("not-the-token").body(r#"["PING"]"#).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json::<Value>().await.unwrap(), unauthorized);
    let query_token = client.post(format!("{url}/?_token={TOKEN}")).body(r#"["PING"]"#).send().await.unwrap();
    assert_eq!(query_token.status(), StatusCode::OK);
    assert_eq!(query_token.json::<Value>().await.unwrap(), json!({"result": "PONG"}));
}

#[tokio::test]
async fn wrong_type_operation_is_a_400_with_the_redis_error() {
    command(json!(["SET", "up:str", "x"])).await;
    assert_eq!(
        command(json!(["LPUSH", "up:str", "y"])).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "WRONGTYPE Operation against a key holding the wrong kind of value"})
        )
    );
    let (status, body) = command(json!(["NOSUCHCOMMAND", "a"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().starts_with("ERR unknown command"));
}

#[tokio::test]
async fn pipeline_reports_inner_errors_without_failing_the_others() {
    let (status, body) =
        upstash("/pipeline", json!([["SET", "up:p", "1"], ["INCR", "up:p"], ["LPUSH", "up:p", "x"], ["GET", "up:p"]]))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!([
            {"result": "OK"},
            {"result": 2},
            {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"},
            {"result": "2"}
        ])
    );
}

#[tokio::test]
async fn multi_exec_runs_atomically_and_returns_each_result() {
    let (status, body) =
        upstash("/multi-exec", json!([["SET", "up:m", "1"], ["INCR", "up:m"], ["INCR", "up:m"]])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([{"result": "OK"}, {"result": 2}, {"result": 3}]));

    // A command failing at run time does not stop the others (Redis semantics).
    let (status, body) =
        upstash("/multi-exec", json!([["SET", "up:m2", "a"], ["INCR", "up:m2"], ["SET", "up:m3", "b"]])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!([{"result": "OK"}, {"error": "ERR value is not an integer or out of range"}, {"result": "OK"}])
    );
}

#[tokio::test]
async fn multi_exec_with_an_invalid_command_discards_the_whole_transaction() {
    command(json!(["DEL", "up:discarded"])).await;
    let (status, body) = upstash("/multi-exec", json!([["SET", "up:discarded", "1"], ["NOSUCHCOMMAND"]])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().starts_with("ERR unknown command"), "{body}");
    assert_eq!(command(json!(["GET", "up:discarded"])).await.1, json!({"result": null}));
}

#[tokio::test]
async fn base64_encoding_encodes_every_string_but_a_bare_ok() {
    assert_eq!(command_b64(json!(["SET", "up:b64", "bar"])).await.1, json!({"result": "OK"}));
    assert_eq!(command_b64(json!(["GET", "up:b64"])).await.1, json!({"result": "YmFy"}));
    assert_eq!(command_b64(json!(["PING"])).await.1, json!({"result": "UE9ORw=="}));
    assert_eq!(command_b64(json!(["EXISTS", "up:b64"])).await.1, json!({"result": 1}));
    assert_eq!(command_b64(json!(["MGET", "up:b64", "up:b64-missing"])).await.1, json!({"result": ["YmFy", null]}));
    // An "OK" inside an array is a string like any other.
    assert_eq!(
        command_b64(json!(["EVAL", "return {redis.status_reply('OK'), 'OK'}", 0])).await.1,
        json!({"result": ["T0s=", "T0s="]})
    );
    let (_, pipeline) = upstash_raw(
        reqwest::Method::POST,
        "/pipeline",
        Some(br#"[["SET","up:b64","baz"],["GET","up:b64"],["INCR","up:b64"]]"#.to_vec()),
        &[("Upstash-Encoding", "base64")],
    )
    .await;
    assert_eq!(
        pipeline,
        json!([{"result": "OK"}, {"result": "YmF6"}, {"error": "ERR value is not an integer or out of range"}])
    );
}

#[tokio::test]
async fn nil_and_nested_arrays_are_kept() {
    assert_eq!(
        command(json!(["EVAL", "return {1, {'a', 'b'}, 'c', false}", 0])).await.1,
        json!({"result": [1, ["a", "b"], "c", null]})
    );
    command(json!(["DEL", "up:stream"])).await;
    let (_, id) = command(json!(["XADD", "up:stream", "1-1", "field", "value"])).await;
    assert_eq!(id, json!({"result": "1-1"}));
    assert_eq!(
        command(json!(["XRANGE", "up:stream", "-", "+"])).await.1,
        json!({"result": [["1-1", ["field", "value"]]]})
    );
    let (_, scan) = command(json!(["SCAN", 0, "MATCH", "up:stream", "COUNT", 1000])).await;
    assert!(scan["result"][0].is_string(), "cursor is a string: {scan}");
    assert!(scan["result"][1].is_array());
}

#[tokio::test]
async fn evalsha_of_an_unknown_script_is_noscript_then_eval_and_script_load_work() {
    let script = "return ARGV[1] .. '!'";
    assert_eq!(
        command(json!(["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", 0])).await,
        (StatusCode::BAD_REQUEST, json!({"error": "NOSCRIPT No matching script. Please use EVAL."}))
    );
    assert_eq!(command(json!(["EVAL", script, 0, "hi"])).await.1, json!({"result": "hi!"}));
    let (_, sha) = command(json!(["SCRIPT", "LOAD", script])).await;
    let sha = sha["result"].as_str().unwrap().to_owned();
    assert_eq!(command(json!(["EVALSHA", sha, 0, "yo"])).await.1, json!({"result": "yo!"}));
}

#[tokio::test]
async fn binary_value_round_trips_in_base64_mode() {
    let value: Vec<u8> = vec![0xff, 0x00, 0x80, b'a', 0xc3];
    let (status, body) = upstash_raw(reqwest::Method::POST, "/set/up:bin", Some(value.clone()), &[]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"result": "OK"})));
    let (_, encoded) = upstash_raw(reqwest::Method::GET, "/get/up:bin", None, &[("Upstash-Encoding", "base64")]).await;
    let decoded = BASE64.decode(encoded["result"].as_str().unwrap()).unwrap();
    assert_eq!(decoded, value);
    // Without base64, invalid UTF-8 is replaced by U+FFFD, as Upstash documents.
    let (_, lossy) = upstash_raw(reqwest::Method::GET, "/get/up:bin", None, &[]).await;
    assert_eq!(lossy, json!({"result": "\u{fffd}\u{0}\u{fffd}a\u{fffd}"}));
}

#[tokio::test]
async fn path_form_commands_work_with_get_and_post() {
    assert_eq!(
        upstash_raw(reqwest::Method::GET, "/set/up:path/hello%20world", None, &[]).await,
        (StatusCode::OK, json!({"result": "OK"}))
    );
    assert_eq!(upstash_raw(reqwest::Method::GET, "/get/up:path", None, &[]).await.1, json!({"result": "hello world"}));
    // A POST body is the value; query parameters follow it (`?EX=100` → `EX 100`).
    assert_eq!(
        upstash_raw(reqwest::Method::POST, "/set/up:path2?EX=100", Some(b"{\"json\":true}".to_vec()), &[]).await.1,
        json!({"result": "OK"})
    );
    assert_eq!(command(json!(["GET", "up:path2"])).await.1, json!({"result": "{\"json\":true}"}));
    let (_, ttl) = command(json!(["TTL", "up:path2"])).await;
    assert!(ttl["result"].as_i64().unwrap() > 0);
    assert_eq!(upstash_raw(reqwest::Method::DELETE, "/get/up:path", None, &[]).await.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn request_body_over_10_mib_is_rejected_like_upstash() {
    let big = serde_json::to_vec(&json!(["SET", "up:big", "x".repeat(TEN_MIB)])).unwrap();
    let (status, body) = upstash_raw(reqwest::Method::POST, "/", Some(big), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().starts_with("ERR max request size exceeded. Limit: 10485760 bytes"),
        "{body}"
    );
}

#[tokio::test]
async fn redis_outage_is_a_500_and_the_gateway_reconnects_when_it_returns() {
    let dir = stack().root.join("outage-redis");
    let port = free_port().unwrap();
    let redis = Server::start(&dir, port).expect("redis starts");
    let gateway = spawn_in_thread(Config::ephemeral(redis.url(), TOKEN)).expect("gateway");
    let client = reqwest::Client::new();
    let send = |body: &'static str| client.post(gateway.upstash_url()).bearer_auth(TOKEN).body(body).send();
    assert_eq!(send(r#"["SET","kept","yes"]"#).await.unwrap().status(), StatusCode::OK);

    redis.stop();
    let down = send(r#"["GET","kept"]"#).await.unwrap();
    assert_eq!(down.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = down.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    drop(redis);

    let redis = Server::start(&dir, port).expect("redis restarts on the same data");
    let back = send(r#"["GET","kept"]"#).await.unwrap();
    assert_eq!(back.status(), StatusCode::OK);
    assert_eq!(back.json::<Value>().await.unwrap(), json!({"result": "yes"}));
    redis.stop();
}

#[tokio::test]
async fn transaction_and_connection_state_commands_are_refused_outside_multi_exec() {
    let (status, body) = command(json!(["MULTI"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "ERR 'multi' is not supported over REST, use /multi-exec"}));
    let (status, body) = upstash("/pipeline", json!([["PING"], ["SUBSCRIBE", "chan"]])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"error": "ERR Command is not available: 'subscribe'"}));
    // The shared connection is unaffected.
    assert_eq!(command(json!(["PING"])).await.1, json!({"result": "PONG"}));
}

#[tokio::test]
async fn path_segments_are_percent_decoded_verbatim() {
    assert_eq!(upstash_raw(reqwest::Method::GET, "/set/up:eq/a=b&c+d%2F", None, &[]).await.1, json!({"result": "OK"}));
    assert_eq!(command(json!(["GET", "up:eq"])).await.1, json!({"result": "a=b&c+d/"}));
}

// ---------------------------------------------------------------------------------------------
// Process helpers

#[tokio::test]
async fn servers_restart_over_what_a_killed_run_left_behind() {
    // A killed run never stops its servers (pg_ctl daemonizes PostgreSQL): simulate with forget.
    let pg_dir = stack().root.join("leftover-pg");
    let old_port = free_port().unwrap();
    let pg = Cluster::start(&pg_dir, old_port).unwrap();
    pg.ensure_database("kept").unwrap();
    std::mem::forget(pg);
    let new_port = free_port().unwrap();
    let pg = Cluster::start(&pg_dir, new_port).expect("starts over a leftover server");
    assert!(std::net::TcpStream::connect(("127.0.0.1", old_port)).is_err(), "old server stopped");
    let conn = pg.connection_string("kept");
    let reply = sql_with(&json!({"query": "SELECT current_database()"}), &[("Neon-Connection-String", &conn)]).await;
    assert_eq!(reply.body["rows"], json!([["kept"]]));
    pg.stop().unwrap();
    drop(pg);

    // A postmaster.pid naming a live process that is not PostgreSQL (pid reuse).
    std::fs::write(pg_dir.join("postmaster.pid"), format!("{}\n", std::process::id())).unwrap();
    let pg = Cluster::start(&pg_dir, new_port).expect("starts despite a stale postmaster.pid");
    pg.stop().unwrap();

    let redis_dir = stack().root.join("leftover-redis");
    let old_port = free_port().unwrap();
    std::mem::forget(Server::start(&redis_dir, old_port).unwrap());
    let redis = Server::start(&redis_dir, free_port().unwrap()).expect("starts over a leftover redis");
    assert!(std::net::TcpStream::connect(("127.0.0.1", old_port)).is_err(), "old redis stopped");
    redis.stop();
}

// ---------------------------------------------------------------------------------------------
// The binary

#[tokio::test]
async fn binary_announces_its_urls_logs_requests_and_exits_on_sigterm() {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
    let redis_url = stack().redis.url();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_local-cloud"))
        .args(["--neon-listen", "127.0.0.1:0", "--upstash-listen", "127.0.0.1:0"])
        .args(["--upstash-token", TOKEN, "--redis-url", &redis_url])
        .args(["--email-listen", "127.0.0.1:0", "--email-api-key", "re_binary_test"])
        .args(["--stripe-listen", "127.0.0.1:0", "--stripe-secret-key", "sk_test_binary"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next_line().await.unwrap().expect("ready line");
    // local-cloud: neon on http://127.0.0.1:P/sql, upstash on http://127.0.0.1:Q, email on http://127.0.0.1:R (…), stripe on http://127.0.0.1:S
    let urls: Vec<&str> = ready
        .split_whitespace()
        .filter(|word| word.starts_with("http://"))
        .map(|word| word.trim_end_matches(','))
        .collect();
    assert!(ready.starts_with("local-cloud: neon on http://"), "{ready}");
    let [neon_url, upstash_url, email_url, stripe_url] = urls[..] else { panic!("four URLs in {ready}") };

    let client = reqwest::Client::new();
    let neon = client
        .post(neon_url)
        .header("Neon-Connection-String", conn_string())
        .body(r#"{"query":"SELECT 1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(neon.status(), StatusCode::OK);
    let upstash = client.post(upstash_url).bearer_auth(TOKEN).body(r#"["PING"]"#).send().await.unwrap();
    assert_eq!(upstash.status(), StatusCode::OK);
    let email = client
        .post(format!("{email_url}/emails"))
        .bearer_auth("re_binary_test")
        .json(&json!({"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(email.status(), StatusCode::OK);
    let stripe = client.get(format!("{stripe_url}/v1/balance")).bearer_auth("sk_test_binary").send().await.unwrap();
    assert_eq!(stripe.status(), StatusCode::OK);

    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id().unwrap() as i32, libc::SIGTERM);
    }
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).await.unwrap();
    assert!(stderr.contains("neon POST /sql 200 "), "{stderr}");
    assert!(stderr.contains("upstash POST / 200 "), "{stderr}");
    assert!(stderr.contains("email POST /emails 200 "), "{stderr}");
    assert!(stderr.contains("stripe GET /v1/balance 200 "), "{stderr}");
}
