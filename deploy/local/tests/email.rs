//! Pins the email sink's wire protocol over raw HTTP: the subset of Resend's API the outbox uses
//! (`POST /emails`, its error bodies, `Idempotency-Key`) and the inbox developers and tests read.
//! Each test gets its own sink (no PostgreSQL or Redis is touched), so inboxes never mix.

use local_cloud::{Background, Config, spawn_in_thread};
use reqwest::StatusCode;
use serde_json::{Value, json};

const KEY: &str = Config::EPHEMERAL_EMAIL_API_KEY;

fn sink() -> Background {
    // The Upstash gateway connects lazily: nothing listens on this port and nothing needs to.
    spawn_in_thread(Config::ephemeral("redis://127.0.0.1:1", "unused")).expect("sink starts")
}

struct Reply {
    status: StatusCode,
    body: Value,
}

async fn post_emails(sink: &Background, auth: Option<&str>, key: Option<&str>, body: &Value) -> Reply {
    let mut request = reqwest::Client::new().post(format!("{}/emails", sink.email_url())).json(body);
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    reply(request.send().await.expect("sink answers")).await
}

async fn send(sink: &Background, body: &Value) -> Reply {
    post_emails(sink, Some(&format!("Bearer {KEY}")), None, body).await
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("JSON body, got {}", String::from_utf8_lossy(&bytes)));
    Reply { status, body }
}

async fn inbox(sink: &Background, query: &str) -> Vec<Value> {
    let response = reqwest::get(format!("{}/inbox{query}", sink.email_url())).await.expect("inbox answers");
    let reply = reply(response).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["emails"].as_array().expect("emails array").clone()
}

fn email(to: Value) -> Value {
    json!({
        "from": "Marketplace <no-reply@shop.example>",
        "to": to,
        "subject": "Confirm your email address",
        "text": "Open https://shop.example/verify?t=1",
    })
}

/// Resend's error body: exactly these three keys.
fn assert_resend_error(reply: &Reply, status: u16, name: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    let object = reply.body.as_object().expect("error is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["message", "name", "statusCode"], "{}", reply.body);
    assert_eq!(reply.body["statusCode"], status, "{}", reply.body);
    assert_eq!(reply.body["name"], name, "{}", reply.body);
    assert!(reply.body["message"].as_str().is_some_and(|message| !message.is_empty()));
}

fn is_uuid_v4(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.iter().map(|part| part.len()).eq([8, 4, 4, 4, 12])
        && id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
        && parts[2].starts_with('4')
}

#[tokio::test]
async fn a_sent_email_answers_200_with_an_id_and_lands_in_the_inbox() {
    let sink = sink();
    let mut body = email(json!("ada@example.com"));
    body["reply_to"] = json!("support@shop.example");
    body["headers"] = json!({"X-Entity-Ref-ID": "ntf_1"});
    let sent = send(&sink, &body).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let object = sent.body.as_object().unwrap();
    assert_eq!(object.len(), 1, "only `id`: {}", sent.body);
    let id = sent.body["id"].as_str().unwrap();
    assert!(is_uuid_v4(id), "{id}");

    let emails = inbox(&sink, "").await;
    assert_eq!(emails.len(), 1);
    let stored = &emails[0];
    assert_eq!(stored["id"], id);
    assert_eq!(stored["from"], "Marketplace <no-reply@shop.example>");
    assert_eq!(stored["to"], json!(["ada@example.com"]));
    assert_eq!(stored["subject"], "Confirm your email address");
    assert_eq!(stored["text"], "Open https://shop.example/verify?t=1");
    assert_eq!(stored["html"], Value::Null);
    assert_eq!(stored["reply_to"], json!(["support@shop.example"]));
    assert_eq!(stored["headers"], json!({"X-Entity-Ref-ID": "ntf_1"}));
    assert!(stored["created_at"].as_str().is_some_and(|at| at.ends_with('Z')), "{stored}");
}

#[tokio::test]
async fn to_is_a_string_or_an_array_of_up_to_fifty_and_html_alone_is_enough() {
    let sink = sink();
    let mut body = email(json!(["a@example.com", "Bea <b@example.com>"]));
    body.as_object_mut().unwrap().remove("text");
    body["html"] = json!("<p>hi</p>");
    assert_eq!(send(&sink, &body).await.status, StatusCode::OK);
    assert_eq!(inbox(&sink, "").await[0]["to"], json!(["a@example.com", "Bea <b@example.com>"]));

    let fifty: Vec<String> = (0..50).map(|i| format!("u{i}@example.com")).collect();
    assert_eq!(send(&sink, &email(json!(fifty))).await.status, StatusCode::OK);
    let fifty_one: Vec<String> = (0..51).map(|i| format!("u{i}@example.com")).collect();
    assert_resend_error(&send(&sink, &email(json!(fifty_one))).await, 422, "validation_error");
}

#[tokio::test]
async fn a_request_without_a_key_is_401_missing_api_key() {
    let sink = sink();
    assert_resend_error(&post_emails(&sink, None, None, &email(json!("a@example.com"))).await, 401, "missing_api_key");
    assert_resend_error(
        &post_emails(&sink, Some("Bearer "), None, &email(json!("a@example.com"))).await,
        401,
        "missing_api_key",
    );
    assert!(inbox(&sink, "").await.is_empty());
}

#[tokio::test]
async fn a_wrong_key_is_403_invalid_api_key_and_sends_nothing() {
    let sink = sink();
    let reply = post_emails(&sink, Some("Bearer re_wrong"), None, &email(json!("a@example.com"))).await;
    assert_resend_error(&reply, 403, "invalid_api_key");
    assert_eq!(reply.body["message"], "API key is invalid.");
    assert!(inbox(&sink, "").await.is_empty());
}

#[tokio::test]
async fn missing_fields_are_422_missing_required_field() {
    let sink = sink();
    for field in ["from", "to", "subject"] {
        let mut body = email(json!("a@example.com"));
        body.as_object_mut().unwrap().remove(field);
        let reply = send(&sink, &body).await;
        assert_resend_error(&reply, 422, "missing_required_field");
        assert_eq!(reply.body["message"], format!("Missing `{field}` field."));
    }
    let mut body = email(json!("a@example.com"));
    body.as_object_mut().unwrap().remove("text");
    assert_resend_error(&send(&sink, &body).await, 422, "missing_required_field");
    assert!(inbox(&sink, "").await.is_empty());
}

#[tokio::test]
async fn malformed_fields_are_422_validation_error() {
    let sink = sink();
    let cases = [
        ("from", json!("not an address")),
        ("to", json!("nobody")),
        ("to", json!(["a@example.com", "nobody"])),
        ("to", json!(42)),
        ("subject", json!(["x"])),
        ("reply_to", json!("nobody")),
        ("headers", json!({"X-Count": 1})),
        ("headers", json!("X-A: b")),
    ];
    for (field, value) in cases {
        let mut body = email(json!("a@example.com"));
        body[field] = value.clone();
        let reply = send(&sink, &body).await;
        assert_resend_error(&reply, 422, "validation_error");
        assert!(
            reply.body["message"].as_str().unwrap().contains(&format!("`{field}")),
            "{field}={value}: {}",
            reply.body
        );
    }
    let reply = send(&sink, &email(json!("nobody"))).await;
    assert!(reply.body["message"].as_str().unwrap().starts_with("Invalid `to` field"), "{}", reply.body);
    assert!(inbox(&sink, "").await.is_empty());
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_answer_the_first_id_and_send_once() {
    let sink = sink();
    let auth = format!("Bearer {KEY}");
    let body = email(json!("ada@example.com"));
    let first = post_emails(&sink, Some(&auth), Some("ntf_01J0000000000000000000000A"), &body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = post_emails(&sink, Some(&auth), Some("ntf_01J0000000000000000000000A"), &body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, first.body);
    let emails = inbox(&sink, "").await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["idempotency_key"], "ntf_01J0000000000000000000000A");

    // Another key is another email, even with the same body.
    let other = post_emails(&sink, Some(&auth), Some("ntf_other"), &body).await;
    assert_ne!(other.body["id"], first.body["id"]);
    assert_eq!(inbox(&sink, "").await.len(), 2);
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_body_is_409_invalid_idempotent_request() {
    let sink = sink();
    let auth = format!("Bearer {KEY}");
    assert_eq!(
        post_emails(&sink, Some(&auth), Some("k1"), &email(json!("a@example.com"))).await.status,
        StatusCode::OK
    );
    let reply = post_emails(&sink, Some(&auth), Some("k1"), &email(json!("b@example.com"))).await;
    assert_resend_error(&reply, 409, "invalid_idempotent_request");
    assert_eq!(reply.body["message"], "Same idempotency key used with a different request payload.");
    assert_eq!(inbox(&sink, "").await.len(), 1);
}

#[tokio::test]
async fn idempotency_keys_must_be_1_to_256_characters() {
    let sink = sink();
    let auth = format!("Bearer {KEY}");
    for key in [String::new(), "k".repeat(257)] {
        let reply = post_emails(&sink, Some(&auth), Some(&key), &email(json!("a@example.com"))).await;
        assert_resend_error(&reply, 400, "invalid_idempotency_key");
        assert_eq!(reply.body["message"], "The key must be between 1-256 chars.");
    }
    let reply = post_emails(&sink, Some(&auth), Some(&"k".repeat(256)), &email(json!("a@example.com"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn a_rejected_request_does_not_use_up_its_idempotency_key() {
    let sink = sink();
    let bad = post_emails(&sink, Some("Bearer re_wrong"), Some("retry-me"), &email(json!("a@example.com"))).await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    let invalid = post_emails(&sink, Some(&format!("Bearer {KEY}")), Some("retry-me"), &email(json!("nobody"))).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let good =
        post_emails(&sink, Some(&format!("Bearer {KEY}")), Some("retry-me"), &email(json!("a@example.com"))).await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.body);
    assert_eq!(inbox(&sink, "").await.len(), 1);
}

#[tokio::test]
async fn the_inbox_filters_by_recipient_newest_first_and_can_be_emptied() {
    let sink = sink();
    for (to, subject) in
        [("ada@example.com", "first"), ("bob@example.com", "other"), ("Ada <ADA@example.com>", "second")]
    {
        let mut body = email(json!(to));
        body["subject"] = json!(subject);
        assert_eq!(send(&sink, &body).await.status, StatusCode::OK);
    }
    let subjects =
        |emails: Vec<Value>| emails.iter().map(|e| e["subject"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(subjects(inbox(&sink, "").await), ["second", "other", "first"]);
    assert_eq!(subjects(inbox(&sink, "?to=ada%40example.com").await), ["second", "first"]);
    assert_eq!(subjects(inbox(&sink, "?to=nobody@example.com").await), Vec::<String>::new());

    let cleared = reqwest::Client::new().delete(format!("{}/inbox", sink.email_url())).send().await.unwrap();
    let cleared = reply(cleared).await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert_eq!(cleared.body, json!({"deleted": 3}));
    assert!(inbox(&sink, "").await.is_empty());
}

#[tokio::test]
async fn unknown_paths_and_methods_get_resend_errors() {
    let sink = sink();
    let client = reqwest::Client::new();
    let missing = reply(client.get(format!("{}/nope", sink.email_url())).send().await.unwrap()).await;
    assert_resend_error(&missing, 404, "not_found");
    let wrong_method =
        reply(client.get(format!("{}/emails", sink.email_url())).bearer_auth(KEY).send().await.unwrap()).await;
    assert_resend_error(&wrong_method, 405, "method_not_allowed");
    let not_json =
        reply(client.post(format!("{}/emails", sink.email_url())).bearer_auth(KEY).body("{").send().await.unwrap())
            .await;
    assert_resend_error(&not_json, 422, "validation_error");
}
