//! Identity emails through the notifications outbox (DESIGN §5, §7): a signed event to Spin
//! becomes one outbox row and one email in the local sink (Resend's API), however often the
//! event is redelivered; a failed send stays pending until a signed sweep delivers it.

use e2e::TestStack;
use e2e::sql_fixtures::sql;
use e2e::stack::EMAIL_FROM;
use serde_json::{Value, json};

const EVENTS: &str = "/notifications/events";
const SWEEP: &str = "/notifications/sweep";

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn identity_emails_reach_the_inbox_through_the_outbox() {
    let mut stack = TestStack::start("notifications", false).await.expect("stack starts");
    a_signed_verification_event_is_emailed_with_its_link(&stack).await;
    a_redelivered_event_sends_no_second_email(&stack).await;
    an_unsigned_event_is_refused_and_stores_nothing(&stack).await;
    an_event_with_broken_data_is_refused(&stack).await;
    an_event_type_for_someone_else_is_acknowledged_and_ignored(&stack).await;
    a_failed_send_stays_pending_until_a_sweep_delivers_it(&mut stack).await;
}

async fn a_signed_verification_event_is_emailed_with_its_link(stack: &TestStack) {
    let event = event("evt_verify_1", "identity.email_verification_requested", "ada@example.com");
    let (status, body) = stack.signed("POST", EVENTS, event.to_string()).await;
    if status != 202 {
        stack.print_logs();
    }
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["event_id"], "evt_verify_1");
    assert_eq!(body["status"], "delivered", "{body}");
    let notification_id = body["notification_id"].as_str().expect("a notification id");
    assert!(notification_id.starts_with("ntf_"), "{notification_id}");

    let emails = inbox(stack, "ada@example.com").await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    let email = &emails[0];
    assert_eq!(email["from"], EMAIL_FROM);
    assert_eq!(email["to"], json!(["ada@example.com"]));
    assert_eq!(email["subject"], "Confirm your email address for Marketplace");
    let text = email["text"].as_str().expect("a text body");
    assert!(text.starts_with("Hi Ada,"), "{text}");
    assert!(text.contains(&link("ada@example.com")), "{text}");
    // The outbox row id is the Idempotency-Key, so a resend of this row could never duplicate it.
    assert_eq!(email["idempotency_key"], notification_id);

    let row = outbox_row(stack, "evt_verify_1").await.expect("an outbox row");
    assert_eq!(row["status"], "delivered");
    assert_eq!(row["attempts"], 1);
    assert_eq!(row["provider_message_id"], email["id"]);
}

async fn a_redelivered_event_sends_no_second_email(stack: &TestStack) {
    let event = event("evt_verify_1", "identity.email_verification_requested", "ada@example.com");
    for _ in 0..2 {
        let (status, body) = stack.signed("POST", EVENTS, event.to_string()).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["status"], "duplicate", "{body}");
    }
    assert_eq!(inbox(stack, "ada@example.com").await.len(), 1);
}

async fn an_unsigned_event_is_refused_and_stores_nothing(stack: &TestStack) {
    let event = event("evt_unsigned", "identity.email_verification_requested", "eve@example.com");
    let response =
        stack.http.post(stack.spin_url(EVENTS)).body(event.to_string()).send().await.expect("spin host answers");
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(body["error"]["code"], "AUTH_1001", "{body}");
    assert!(outbox_row(stack, "evt_unsigned").await.is_none());
    assert!(inbox(stack, "eve@example.com").await.is_empty());
}

async fn an_event_with_broken_data_is_refused(stack: &TestStack) {
    let mut event = event("evt_broken", "identity.email_verification_requested", "bob@example.com");
    event["data"]["link"] = json!("not a link");
    let (status, body) = stack.signed("POST", EVENTS, event.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "VAL_3001", "{body}");
    assert!(outbox_row(stack, "evt_broken").await.is_none());
}

async fn an_event_type_for_someone_else_is_acknowledged_and_ignored(stack: &TestStack) {
    let mut event = event("evt_other", "orders.placed", "bob@example.com");
    event["data"] = json!({"order_id": "ord_1"});
    let (status, body) = stack.signed("POST", EVENTS, event.to_string()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "ignored", "{body}");
    assert!(outbox_row(stack, "evt_other").await.is_none());
}

/// The sink refuses Spin's key (a misconfigured key is real and fixable), so the send fails and
/// the row waits; with the key fixed and the backoff over, one sweep sends it exactly once.
async fn a_failed_send_stays_pending_until_a_sweep_delivers_it(stack: &mut TestStack) {
    stack.stack.restart_spin(&[("SPIN_VARIABLE_EMAIL_API_KEY", "re_not_the_sink_key")]).await.expect("spin restarts");
    let event = event("evt_reset_1", "identity.password_reset_requested", "cy@example.com");
    let (status, body) = stack.signed("POST", EVENTS, event.to_string()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "pending", "{body}");
    assert!(inbox(stack, "cy@example.com").await.is_empty());
    let row = outbox_row(stack, "evt_reset_1").await.expect("an outbox row");
    assert_eq!(row["status"], "pending");
    assert_eq!(row["attempts"], 1);
    assert!(row["last_error"].as_str().is_some_and(|error| error.contains("403 invalid_api_key")), "{row}");

    // Not due yet (first retry waits 30 s): a sweep leaves it alone.
    let (status, report) = stack.signed("POST", SWEEP, "{}").await;
    assert_eq!((status, report["claimed"].as_u64()), (200, Some(0)), "{report}");

    stack.stack.restart_spin(&[]).await.expect("spin restarts with the right key");
    // Stand-in for the 30 s backoff passing.
    sql(
        &stack.neon(),
        "UPDATE notifications.outbox SET next_attempt_at = now() WHERE event_id = $1",
        &[&"evt_reset_1"],
    )
    .await;
    let (status, report) = stack.signed("POST", SWEEP, Vec::new()).await;
    if status != 200 {
        stack.print_logs();
    }
    assert_eq!(status, 200, "{report}");
    assert_eq!(report, json!({"claimed": 1, "delivered": 1, "pending": 0, "failed": 0}));

    let emails = inbox(stack, "cy@example.com").await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0]["subject"], "Reset your Marketplace password");
    assert!(emails[0]["text"].as_str().unwrap_or_default().contains(&link("cy@example.com")));
    let row = outbox_row(stack, "evt_reset_1").await.expect("an outbox row");
    assert_eq!(row["status"], "delivered", "{row}");
    assert_eq!(row["attempts"], 2, "{row}");
    assert_eq!(row["last_error"], Value::Null, "{row}");

    let (_, report) = stack.signed("POST", SWEEP, json!({"limit": 5}).to_string()).await;
    assert_eq!(report["claimed"], 0, "{report}");
    assert_eq!(inbox(stack, "cy@example.com").await.len(), 1);
}

fn link(email: &str) -> String {
    format!("http://127.0.0.1:8787/verify?token=tok-{}", email.replace('@', "-at-"))
}

fn event(id: &str, event_type: &str, email: &str) -> Value {
    let name = email.split('@').next().unwrap_or_default();
    let mut display_name = name.to_owned();
    display_name[..1].make_ascii_uppercase();
    json!({
        "id": id,
        "type": event_type,
        "occurred_at": "2026-05-01T12:00:00.000Z",
        "data": {"email": email, "display_name": display_name, "link": link(email)},
    })
}

async fn inbox(stack: &TestStack, to: &str) -> Vec<Value> {
    let url = format!("{}?to={to}", stack.stack.urls().email_inbox);
    let body: Value = stack.http.get(url).send().await.expect("sink answers").json().await.expect("JSON inbox");
    body["emails"].as_array().cloned().unwrap_or_default()
}

/// The row for `event_id` as JSON, or None.
async fn outbox_row(stack: &TestStack, event_id: &str) -> Option<Value> {
    let result = stack
        .neon()
        .query(
            "SELECT json_build_object('status', status, 'attempts', attempts, 'last_error', last_error, \
             'provider_message_id', provider_message_id) AS row FROM notifications.outbox WHERE event_id = $1",
            &[&event_id],
        )
        .await
        .expect("outbox query runs");
    result.first().map(|row| row.get::<Value>("row").expect("json row"))
}
