use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::test_support::{FakeTransport, header, json_body};

const URL: &str = "https://api.eu-central-1.aws.neon.tech/sql";
const CONN: &str = "postgresql://app:secret@ep-x.eu-central-1.aws.neon.tech/market";

fn client(transport: FakeTransport) -> NeonClient<FakeTransport> {
    NeonClient::new(transport, URL, CONN)
}

fn field(name: &str, type_oid: u32) -> serde_json::Value {
    json!({
        "name": name, "dataTypeID": type_oid, "tableID": 16401, "columnID": 1,
        "dataTypeSize": -1, "dataTypeModifier": -1, "format": "text"
    })
}

fn select_reply() -> serde_json::Value {
    json!({
        "fields": [
            field("id", oid::INT8),
            field("name", oid::TEXT),
            field("price", oid::NUMERIC),
            field("active", oid::BOOL),
            field("created_at", oid::TIMESTAMPTZ),
            field("tags", oid::TEXT_ARRAY),
            field("note", oid::VARCHAR),
        ],
        "rows": [
            ["42", "Mug", "12.50", "t", "2026-11-21 06:33:07.123456+00", "{red,\"big mug\"}", null],
            ["43", "Cup", "3.00", "f", "2026-11-21 08:00:00+02", "{}", "fragile"],
        ],
        "command": "SELECT",
        "rowCount": 2,
        "rowAsArray": true
    })
}

/// The shape Neon's proxy sends for a Postgres error (all keys present, absent ones null).
fn unique_violation_body() -> serde_json::Value {
    json!({
        "message": "duplicate key value violates unique constraint \"users_email_key\"",
        "code": "23505",
        "detail": "Key (email)=(a@example.com) already exists.",
        "hint": null,
        "position": null,
        "internalPosition": null,
        "internalQuery": null,
        "severity": "ERROR",
        "where": null,
        "table": "users",
        "column": null,
        "schema": "identity",
        "dataType": null,
        "constraint": "users_email_key",
        "file": "nbtinsert.c",
        "line": "666",
        "routine": "_bt_check_unique"
    })
}

fn proxy_error_body(message: &str) -> serde_json::Value {
    json!({
        "message": message, "code": "", "detail": null, "hint": null, "position": null,
        "internalPosition": null, "internalQuery": null, "severity": null, "where": null,
        "table": null, "column": null, "schema": null, "dataType": null, "constraint": null,
        "file": null, "line": null, "routine": null
    })
}

#[tokio::test]
async fn query_posts_sql_and_text_params_with_neon_headers() {
    let neon = client(FakeTransport::new().respond_json(200, select_reply()));
    let name: Option<&str> = None;
    neon.query("SELECT $1, $2, $3, $4", &[&7i64, &true, &name, &vec!["a\"b", "c"]]).await.unwrap();

    let request = neon.transport().only_request();
    assert_eq!(request.method, Method::Post);
    assert_eq!(request.url, URL);
    assert_eq!(header(&request, "Neon-Connection-String"), Some(CONN));
    assert_eq!(header(&request, "Neon-Raw-Text-Output"), Some("true"));
    assert_eq!(header(&request, "Neon-Array-Mode"), Some("true"));
    assert_eq!(header(&request, "Content-Type"), Some("application/json"));
    assert_eq!(header(&request, "Neon-Batch-Isolation-Level"), None);
    assert_eq!(
        json_body(&request),
        json!({"query": "SELECT $1, $2, $3, $4", "params": ["7", "true", null, r#"{"a\"b","c"}"#]})
    );
}

#[tokio::test]
async fn the_url_is_used_exactly_as_configured() {
    let neon =
        NeonClient::new(FakeTransport::new().respond_json(200, select_reply()), "http://127.0.0.1:4444/sql", CONN);
    neon.query("SELECT 1", &[]).await.unwrap();
    assert_eq!(neon.transport().only_request().url, "http://127.0.0.1:4444/sql");
}

#[tokio::test]
async fn a_client_built_from_config_uses_its_url_and_connection_string() {
    let config = NeonConfig { url: "http://127.0.0.1:4444/sql".into(), connection_string: CONN.into() };
    assert!(!format!("{config:?}").contains("secret"));
    let neon = NeonClient::from_config(FakeTransport::new().respond_json(200, select_reply()), config);
    neon.query("SELECT 1", &[]).await.unwrap();
    let request = neon.transport().only_request();
    assert_eq!(request.url, "http://127.0.0.1:4444/sql");
    assert_eq!(header(&request, "Neon-Connection-String"), Some(CONN));
}

#[tokio::test]
async fn select_rows_are_decoded_by_type_oid() {
    let neon = client(FakeTransport::new().respond_json(200, select_reply()));
    let result = neon.query("SELECT …", &[]).await.unwrap();

    assert_eq!(result.command, "SELECT");
    assert_eq!(result.row_count, Some(2));
    assert_eq!(result.len(), 2);
    assert_eq!(
        result.rows[0],
        vec![
            Value::Int(42),
            Value::Text("Mug".into()),
            Value::Numeric("12.50".into()),
            Value::Bool(true),
            Value::TimestampTz(MaybeInfinite::Finite(
                Utc.with_ymd_and_hms(2026, 11, 21, 6, 33, 7).unwrap() + chrono::TimeDelta::microseconds(123_456)
            )),
            Value::Array(vec![Value::Text("red".into()), Value::Text("big mug".into())]),
            Value::Null,
        ]
    );
    let second = result.row(1).unwrap();
    assert_eq!(
        second.get::<DateTime<Utc>>("created_at").unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 21, 6, 0, 0).unwrap()
    );
}

#[tokio::test]
async fn typed_getters_by_index_and_by_name() {
    let neon = client(FakeTransport::new().respond_json(200, select_reply()));
    let result = neon.query("SELECT …", &[]).await.unwrap();
    let row = result.first().unwrap();

    assert_eq!(row.get::<i64>(0).unwrap(), 42);
    assert_eq!(row.get::<i32>("id").unwrap(), 42);
    assert_eq!(row.get::<String>("name").unwrap(), "Mug");
    assert_eq!(row.get::<String>("price").unwrap(), "12.50");
    assert!(row.get::<bool>("active").unwrap());
    assert_eq!(row.get::<Vec<String>>("tags").unwrap(), ["red", "big mug"]);
    assert_eq!(row.get::<Option<String>>("note").unwrap(), None);
    let names: Vec<String> = result.iter().map(|r| r.get("name")).collect::<Result<_, _>>().unwrap();
    assert_eq!(names, ["Mug", "Cup"]);
}

#[tokio::test]
async fn typed_getters_return_errors_instead_of_panicking() {
    let neon = client(FakeTransport::new().respond_json(200, select_reply()));
    let result = neon.query("SELECT …", &[]).await.unwrap();
    let row = result.first().unwrap();

    assert_eq!(row.get::<i64>(99), Err(RowError::IndexOutOfRange { index: 99, len: 7 }));
    assert_eq!(row.get::<i64>("nope"), Err(RowError::NoSuchColumn("nope".into())));
    assert_eq!(
        row.get::<String>("note"),
        Err(RowError::Value { column: "note".into(), source: ValueError::UnexpectedNull })
    );
    assert_eq!(
        row.get::<i64>("name"),
        Err(RowError::Value {
            column: "name".into(),
            source: ValueError::WrongType { expected: "integer", found: "text" },
        })
    );
    assert_eq!(result.one().unwrap_err(), RowError::NotOneRow(2));
}

#[test]
fn integer_getters_check_the_range() {
    let fields = vec![Field {
        name: "n".into(),
        data_type_id: oid::INT8,
        table_id: 0,
        column_id: 0,
        data_type_size: 8,
        data_type_modifier: -1,
    }];
    let result =
        QueryResult { fields, rows: vec![vec![Value::Int(70_000)]], command: "SELECT".into(), row_count: Some(1) };
    let row = result.one().unwrap();
    assert_eq!(row.get::<i32>(0).unwrap(), 70_000);
    assert!(matches!(
        row.get::<i16>(0),
        Err(RowError::Value { source: ValueError::OutOfRange { target: "i16", .. }, .. })
    ));
}

#[test]
fn infinite_timestamps_need_the_maybe_infinite_getter() {
    let result = QueryResult {
        fields: vec![Field {
            name: "until".into(),
            data_type_id: oid::TIMESTAMPTZ,
            table_id: 0,
            column_id: 0,
            data_type_size: 8,
            data_type_modifier: -1,
        }],
        rows: vec![vec![Value::TimestampTz(MaybeInfinite::Infinity)]],
        command: "SELECT".into(),
        row_count: Some(1),
    };
    let row = result.one().unwrap();
    assert_eq!(row.get::<MaybeInfinite<DateTime<Utc>>>("until").unwrap(), MaybeInfinite::Infinity);
    assert!(matches!(
        row.get::<DateTime<Utc>>("until"),
        Err(RowError::Value { source: ValueError::Infinite("timestamptz"), .. })
    ));
}

#[tokio::test]
async fn commands_without_a_count_have_no_row_count() {
    let reply = json!({"fields": [], "rows": [], "command": "CREATE", "rowCount": null, "rowAsArray": true});
    let neon = client(FakeTransport::new().respond_json(200, reply));
    let result = neon.query("CREATE TABLE t ()", &[]).await.unwrap();
    assert_eq!(result.command, "CREATE");
    assert_eq!(result.row_count, None);
    assert!(result.is_empty());
}

#[tokio::test]
async fn insert_reports_affected_rows() {
    let reply = json!({"fields": [], "rows": [], "command": "INSERT", "rowCount": 3, "rowAsArray": true});
    let neon = client(FakeTransport::new().respond_json(200, reply));
    assert_eq!(neon.query("INSERT …", &[]).await.unwrap().row_count, Some(3));
}

#[tokio::test]
async fn batch_sends_queries_with_transaction_headers_and_returns_each_result() {
    let one = json!({"fields": [field("n", oid::INT4)], "rows": [["1"]], "command": "SELECT", "rowCount": 1, "rowAsArray": true});
    let two = json!({"fields": [], "rows": [], "command": "UPDATE", "rowCount": 5, "rowAsArray": true});
    let neon = client(FakeTransport::new().respond_json(200, json!({"results": [one, two]})));
    let queries = [Query::new("SELECT $1::int", &[&1]), Query::new("UPDATE t SET x = $1", &[&"y"])];
    let options = BatchOptions { isolation: IsolationLevel::Serializable, read_only: true, deferrable: true };
    let results = neon.batch(&queries, options).await.unwrap();

    assert_eq!(results[0].rows, vec![vec![Value::Int(1)]]);
    assert_eq!(results[1].command, "UPDATE");
    assert_eq!(results[1].row_count, Some(5));
    let request = neon.transport().only_request();
    assert_eq!(header(&request, "Neon-Batch-Isolation-Level"), Some("Serializable"));
    assert_eq!(header(&request, "Neon-Batch-Read-Only"), Some("true"));
    assert_eq!(header(&request, "Neon-Batch-Deferrable"), Some("true"));
    assert_eq!(header(&request, "Neon-Array-Mode"), Some("true"));
    assert_eq!(
        json_body(&request),
        json!({"queries": [
            {"query": "SELECT $1::int", "params": ["1"]},
            {"query": "UPDATE t SET x = $1", "params": ["y"]},
        ]})
    );
}

#[tokio::test]
async fn batch_defaults_to_read_committed_and_omits_false_flags() {
    let neon = client(
        FakeTransport::new()
            .respond_json(200, json!({"results": [{"fields": [], "rows": [], "command": "SELECT", "rowCount": 0}]})),
    );
    neon.batch(&[Query::new("SELECT", &[])], BatchOptions::default()).await.unwrap();
    let request = neon.transport().only_request();
    assert_eq!(header(&request, "Neon-Batch-Isolation-Level"), Some("ReadCommitted"));
    assert_eq!(header(&request, "Neon-Batch-Read-Only"), None);
    assert_eq!(header(&request, "Neon-Batch-Deferrable"), None);
}

#[test]
fn every_isolation_level_has_neons_header_spelling() {
    let spelled: Vec<_> = [
        IsolationLevel::ReadCommitted,
        IsolationLevel::RepeatableRead,
        IsolationLevel::Serializable,
        IsolationLevel::ReadUncommitted,
    ]
    .map(IsolationLevel::header_value)
    .into();
    assert_eq!(spelled, ["ReadCommitted", "RepeatableRead", "Serializable", "ReadUncommitted"]);
}

#[tokio::test]
async fn an_empty_batch_sends_nothing() {
    let neon = client(FakeTransport::new());
    assert_eq!(neon.batch(&[], BatchOptions::default()).await.unwrap(), vec![]);
    assert!(neon.transport().requests().is_empty());
}

#[tokio::test]
async fn a_failed_batch_returns_only_the_postgres_error() {
    let neon = client(FakeTransport::new().respond_json(400, unique_violation_body()));
    let error = neon
        .batch(&[Query::new("INSERT …", &[]), Query::new("INSERT …", &[])], BatchOptions::default())
        .await
        .unwrap_err();
    assert!(error.is_unique_violation());
}

#[tokio::test]
async fn batch_with_a_missing_result_is_a_decode_error() {
    let neon = client(FakeTransport::new().respond_json(200, json!({"results": []})));
    let error = neon.batch(&[Query::new("SELECT 1", &[])], BatchOptions::default()).await.unwrap_err();
    assert!(matches!(error, NeonError::Decode(DecodeError::Body(_))), "{error:?}");
}

#[tokio::test]
async fn unique_violation_maps_every_postgres_field() {
    let neon = client(FakeTransport::new().respond_json(400, unique_violation_body()));
    let error = neon.query("INSERT …", &[]).await.unwrap_err();

    assert!(error.is_unique_violation());
    assert!(error.is_integrity_constraint_violation());
    assert!(!error.is_foreign_key_violation());
    assert!(!error.is_transient());
    assert_eq!(error.sqlstate(), Some("23505"));
    assert_eq!(error.constraint(), Some("users_email_key"));
    let postgres = error.postgres().unwrap();
    assert_eq!(postgres.message, "duplicate key value violates unique constraint \"users_email_key\"");
    assert_eq!(postgres.detail.as_deref(), Some("Key (email)=(a@example.com) already exists."));
    assert_eq!(postgres.hint, None);
    assert_eq!(postgres.severity.as_deref(), Some("ERROR"));
    assert_eq!(postgres.schema.as_deref(), Some("identity"));
    assert_eq!(postgres.table.as_deref(), Some("users"));
    assert_eq!(postgres.line, Some(666));
    assert_eq!(postgres.routine.as_deref(), Some("_bt_check_unique"));
    assert_eq!(
        error.to_string(),
        "postgres error 23505: duplicate key value violates unique constraint \"users_email_key\""
    );
}

#[tokio::test]
async fn syntax_error_carries_position_and_hint() {
    let mut body = proxy_error_body("syntax error at or near \"SELEC\"");
    body["code"] = json!("42601");
    body["position"] = json!("1");
    body["hint"] = json!("Check the spelling.");
    let neon = client(FakeTransport::new().respond_json(400, body));
    let error = neon.query("SELEC 1", &[]).await.unwrap_err();
    let postgres = error.postgres().unwrap();
    assert_eq!(postgres.code, "42601");
    assert_eq!(postgres.position, Some(1));
    assert_eq!(postgres.hint.as_deref(), Some("Check the spelling."));
}

#[tokio::test]
async fn sqlstate_helpers_cover_the_classes_we_act_on() {
    type Predicate = fn(&NeonError) -> bool;
    let cases: [(&str, Predicate); 9] = [
        ("23503", NeonError::is_foreign_key_violation),
        ("23502", NeonError::is_not_null_violation),
        ("23514", NeonError::is_check_violation),
        ("23P01", NeonError::is_exclusion_violation),
        ("22P02", NeonError::is_invalid_text_representation),
        ("P0001", NeonError::is_raise_exception),
        ("40001", NeonError::is_serialization_failure),
        ("40P01", NeonError::is_deadlock),
        ("42P01", NeonError::is_undefined_table),
    ];
    for (code, predicate) in cases {
        let mut body = proxy_error_body("x");
        body["code"] = json!(code);
        let neon = client(FakeTransport::new().respond_json(400, body));
        let error = neon.query("…", &[]).await.unwrap_err();
        assert!(predicate(&error), "{code}");
    }
}

#[tokio::test]
async fn serialization_failures_and_connection_limits_are_transient() {
    for code in ["40001", "40P01", "53300", "08006"] {
        let mut body = proxy_error_body("x");
        body["code"] = json!(code);
        let neon = client(FakeTransport::new().respond_json(400, body));
        assert!(neon.query("…", &[]).await.unwrap_err().is_transient(), "{code}");
    }
}

#[tokio::test]
async fn a_wrong_parameter_count_is_the_callers_bug_not_transient() {
    let mut body = proxy_error_body("bind message supplies 1 parameters, but prepared statement \"\" requires 2");
    body["code"] = json!("08P01");
    let neon = client(FakeTransport::new().respond_json(400, body));
    assert!(!neon.query("…", &[]).await.unwrap_err().is_transient());
}

#[tokio::test]
async fn a_postgres_code_on_a_500_is_still_a_postgres_error() {
    let mut body = proxy_error_body("sorry, too many clients already");
    body["code"] = json!("53300");
    let neon = client(FakeTransport::new().respond_json(500, body));
    let error = neon.query("…", &[]).await.unwrap_err();
    assert_eq!(error.sqlstate(), Some("53300"));
}

#[tokio::test]
async fn empty_code_means_the_proxy_rejected_the_request_not_postgres() {
    let neon = client(
        FakeTransport::new().respond_json(400, proxy_error_body("invalid connection string: missing database name")),
    );
    let error = neon.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(
        error,
        NeonError::Rejected { status: 400, message: "invalid connection string: missing database name".into() }
    );
    assert_eq!(error.sqlstate(), None);
    assert!(!error.is_unique_violation());
}

#[tokio::test]
async fn oversized_response_507_and_request_413_are_too_large() {
    for status in [507, 413] {
        let neon = client(
            FakeTransport::new()
                .respond_json(status, proxy_error_body("response is too large (max is 10485760 bytes)")),
        );
        let error = neon.query("SELECT …", &[]).await.unwrap_err();
        assert!(matches!(error, NeonError::TooLarge { status: s, .. } if s == status), "{error:?}");
    }
}

#[tokio::test]
async fn unauthorized_and_forbidden_are_credential_errors() {
    for status in [401, 403] {
        let neon =
            client(FakeTransport::new().respond_json(status, proxy_error_body("password authentication failed")));
        let error = neon.query("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(error, NeonError::Unauthorized { status, message: "password authentication failed".into() });
    }
}

#[tokio::test]
async fn server_errors_with_non_json_bodies_keep_the_text() {
    let neon = client(FakeTransport::new().respond(502, "<html>Bad Gateway</html>"));
    let error = neon.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(error, NeonError::Server { status: 502, message: "<html>Bad Gateway</html>".into() });
    assert!(error.is_transient());
}

#[tokio::test]
async fn long_error_bodies_are_truncated() {
    let neon = client(FakeTransport::new().respond(500, "x".repeat(10_000)));
    let NeonError::Server { message, .. } = neon.query("SELECT 1", &[]).await.unwrap_err() else {
        panic!("expected a server error");
    };
    assert!(message.chars().count() <= 201, "{}", message.len());
}

#[tokio::test]
async fn transport_failures_are_transport_errors() {
    let neon = client(FakeTransport::new().fail("connection refused"));
    let error = neon.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(error, NeonError::Transport(crate::transport::TransportError("connection refused".into())));
    assert!(error.is_transient());
}

#[tokio::test]
async fn malformed_success_bodies_are_decode_errors() {
    for body in [
        "not json".to_owned(),
        json!({"rows": []}).to_string(),
        json!({"fields": [field("a", oid::INT4)], "rows": [[1]], "command": "SELECT", "rowCount": 1}).to_string(),
    ] {
        let neon = client(FakeTransport::new().respond(200, body.clone()));
        let error = neon.query("SELECT 1", &[]).await.unwrap_err();
        assert!(matches!(error, NeonError::Decode(DecodeError::Body(_))), "{body}: {error:?}");
    }
}

#[tokio::test]
async fn a_row_wider_than_its_fields_is_a_decode_error() {
    let reply = json!({"fields": [field("a", oid::INT4)], "rows": [["1", "2"]], "command": "SELECT", "rowCount": 1});
    let neon = client(FakeTransport::new().respond_json(200, reply));
    assert!(matches!(neon.query("SELECT 1", &[]).await.unwrap_err(), NeonError::Decode(DecodeError::Body(_))));
}

#[tokio::test]
async fn a_value_that_does_not_match_its_type_is_a_decode_error() {
    let reply = json!({"fields": [field("a", oid::INT4)], "rows": [["one"]], "command": "SELECT", "rowCount": 1});
    let neon = client(FakeTransport::new().respond_json(200, reply));
    assert_eq!(
        neon.query("SELECT 1", &[]).await.unwrap_err(),
        NeonError::Decode(DecodeError::Value {
            type_oid: oid::INT4,
            text: "one".into(),
            reason: "not an integer".into(),
        })
    );
}

#[tokio::test]
async fn object_rows_are_rejected_because_array_mode_is_required() {
    let reply = json!({"fields": [], "rows": [], "command": "SELECT", "rowCount": 0, "rowAsArray": false});
    let neon = client(FakeTransport::new().respond_json(200, reply));
    assert!(matches!(neon.query("SELECT", &[]).await.unwrap_err(), NeonError::Decode(_)));
}

#[test]
fn debug_output_hides_the_connection_string() {
    let neon = client(FakeTransport::new());
    let debug = format!("{neon:?}");
    assert!(debug.contains(URL));
    assert!(!debug.contains("secret"), "{debug}");
}

#[test]
fn row_errors_convert_into_neon_errors_for_question_mark() {
    fn read(result: &QueryResult) -> Result<i64, NeonError> {
        Ok(result.one()?.get::<i64>(0)?)
    }
    let empty = QueryResult { fields: vec![], rows: vec![], command: "SELECT".into(), row_count: Some(0) };
    assert_eq!(read(&empty), Err(NeonError::Row(RowError::NotOneRow(0))));
}

#[test]
fn a_hand_built_row_shorter_than_its_fields_errors_instead_of_panicking() {
    let result = QueryResult {
        fields: vec![Field {
            name: "a".into(),
            data_type_id: oid::INT4,
            table_id: 0,
            column_id: 0,
            data_type_size: 4,
            data_type_modifier: -1,
        }],
        rows: vec![vec![]],
        command: "SELECT".into(),
        row_count: Some(1),
    };
    assert_eq!(result.one().unwrap().get::<i32>("a"), Err(RowError::IndexOutOfRange { index: 0, len: 0 }));
}
