//! The payments component through the local Spin host, the Stripe sandbox (which sends its signed
//! webhooks to `/payments/webhooks/stripe`) and PostgreSQL: payments by card that succeed, are
//! declined or settle later by webhook; webhook signatures; voids before and after the money moved;
//! the ledger of a payment and its refunds; payouts after the hold period; idempotency under load;
//! and the outbox's signed delivery.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::sql_fixtures::sql;
use e2e::{TestStack, error_code, fresh, fresh_id as id, now_unix};
use serde_json::{Value, json};
use shared::catalog::VendorId;
use shared::events::edge::EventBatch;
use shared::neon::{BatchOptions, Query, ToSql};
use shared::orders::{BuyerId, OrderGroupId, OrderId};
use shared::payments::api::{PaymentEvent, TOPIC_PAYMENT_FAILED, TOPIC_PAYMENT_SUCCEEDED};
use shared::payments::stripe::{WebhookSecret, signature_header};
use shared::payments::{PaymentId, PaymentStatus};
use shared::webhook::{self, Keys, SigningKey};
use tokio::task::JoinSet;

const INTENTS: &str = "/payments/intents";
const WEBHOOK: &str = "/payments/webhooks/stripe";
const JOURNALS: &str = "/payments/journals";
const REFUNDS: &str = "/payments/refunds";
const ACCOUNTS: &str = "/payments/accounts";
const SWEEP: &str = "/payments/sweep";

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn payments_take_refund_book_and_pay_out_money_through_the_sandbox() {
    let mut stack = TestStack::start("payments", false).await.expect("stack starts");
    // Events wait in the outbox (the last scenario delivers them) instead of going to the saga.
    let no_receiver = [("SPIN_VARIABLE_PAYMENTS_EVENTS_URL", ""), ("SPIN_VARIABLE_PAYMENTS_EVENTS_ORIGIN", "")];
    stack.stack.restart_spin(&no_receiver).await.expect("spin restarts without a payments receiver");
    a_card_that_succeeds_is_paid_and_announced_once(&stack).await;
    a_declined_card_is_a_refusal_and_never_a_success(&stack).await;
    a_delayed_card_is_processing_until_the_webhook_says_succeeded(&stack).await;
    forged_stale_and_replayed_webhooks_change_nothing(&stack).await;
    a_void_before_the_money_moved_cancels_and_after_refunds_in_full(&stack).await;
    refunds_reverse_commission_in_proportion_and_the_ledger_balances(&stack).await;
    vendors_are_paid_out_only_after_the_hold_period(&stack).await;
    twenty_concurrent_creates_with_one_key_make_one_payment_intent(&stack).await;
    the_outbox_is_delivered_signed_and_marked_only_on_2xx(&mut stack).await;
}

// ---- scenarios ------------------------------------------------------------------------------

async fn a_card_that_succeeds_is_paid_and_announced_once(stack: &TestStack) {
    let payment = Payment::new(2_599);
    let (status, body) = payment.create(stack, test_card("4242424242424242")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "succeeded", "{body}");
    assert_eq!(body["payment_id"], payment.id().as_str());
    assert_eq!(body["amount"], json!({"amount_minor": 2599, "currency": "EUR"}));
    let intent = body["psp_reference"].as_str().expect("the PaymentIntent id").to_owned();
    assert!(intent.starts_with("pi_"), "{intent}");
    assert!(body["client_secret"].as_str().is_some_and(|secret| secret.starts_with(&intent)), "{body}");

    // The sandbox's own webhook arrives too and is processed, without a second event.
    wait_until("the succeeded webhook is processed", || async {
        processed_events(stack, &payment.id()).await.contains(&"payment_intent.succeeded".to_owned())
    })
    .await;
    let events = outbox_events(stack, &payment.id()).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, TOPIC_PAYMENT_SUCCEEDED);
    let event: PaymentEvent = serde_json::from_value(events[0].1.clone()).expect("a PaymentEvent");
    assert_eq!((event.status, event.amount.amount_minor), (PaymentStatus::Succeeded, 2_599));
    assert_eq!(event.psp_reference.map(String::from), Some(intent.clone()));

    let sandbox = stripe_get(stack, &format!("/v1/payment_intents/{intent}")).await;
    assert_eq!(sandbox["status"], "succeeded");
    assert_eq!(sandbox["transfer_group"], payment.group.as_str());
    assert_eq!(sandbox["metadata"]["payment_id"], payment.id().as_str());

    let (status, read) = stack.signed("GET", &format!("{INTENTS}/{}", payment.id()), Vec::new()).await;
    assert_eq!((status, &read["status"]), (200, &json!("succeeded")), "{read}");
    assert_eq!(read["refunded"]["amount_minor"], 0);
}

async fn a_declined_card_is_a_refusal_and_never_a_success(stack: &TestStack) {
    let payment = Payment::new(1_200);
    for attempt in 0..2 {
        let (status, body) = payment.create(stack, json!({"payment_method": "pm_card_chargeDeclined"})).await;
        assert_eq!(status, 402, "attempt {attempt}: {body}");
        assert_eq!(error_code(&body), "BIZ_5004", "{body}");
        assert_eq!(body["error"]["details"]["decline_code"], "generic_decline", "{body}");
        assert_eq!(body["error"]["details"]["code"], "card_declined", "{body}");
        assert_eq!(body["error"]["details"]["payment_id"], payment.id().as_str());
    }
    assert_eq!(payment_status(stack, &payment.id()).await.as_deref(), Some("failed"));
    let topics: Vec<String> = outbox_events(stack, &payment.id()).await.into_iter().map(|(topic, _)| topic).collect();
    assert_eq!(topics, [TOPIC_PAYMENT_FAILED], "one failure, no success");
    assert_eq!(intents_created(stack, &payment.id()).await, 1, "the retry made no second PaymentIntent");

    let insufficient = Payment::new(1_200);
    let (status, body) = insufficient.create(stack, test_card("4000000000009995")).await;
    assert_eq!((status, error_code(&body)), (402, "BIZ_5004"), "{body}");
    assert_eq!(body["error"]["details"]["decline_code"], "insufficient_funds", "{body}");

    // A well-formed number the provider does not take in test mode: refused when its PaymentMethod
    // is made, before any PaymentIntent, and answered as a decline (the card's fault), not a 422.
    let live = Payment::new(1_200);
    let (status, body) = live.create(stack, test_card("4012888888881881")).await;
    assert_eq!((status, error_code(&body)), (402, "BIZ_5004"), "{body}");
    assert_eq!(body["error"]["details"]["decline_code"], "test_mode_live_card", "{body}");
    assert_eq!(payment_status(stack, &live.id()).await.as_deref(), Some("failed"));
    assert_eq!(intents_created(stack, &live.id()).await, 0, "no PaymentIntent for a refused card");
}

async fn a_delayed_card_is_processing_until_the_webhook_says_succeeded(stack: &TestStack) {
    let payment = Payment::new(4_000);
    let (status, body) = payment.create(stack, json!({"payment_method": "pm_card_sandbox_delayed"})).await;
    assert_eq!((status, &body["status"]), (200, &json!("processing")), "{body}");
    assert!(outbox_events(stack, &payment.id()).await.is_empty(), "not final yet: nothing announced");
    // Only the sandbox's webhook can move it now: nobody asks the provider.
    wait_until("the webhook moves the payment to succeeded", || async {
        payment_status(stack, &payment.id()).await.as_deref() == Some("succeeded")
    })
    .await;
    let processed = processed_events(stack, &payment.id()).await;
    assert!(processed.contains(&"payment_intent.processing".to_owned()), "{processed:?}");
    assert!(processed.contains(&"payment_intent.succeeded".to_owned()), "{processed:?}");
    let topics: Vec<String> = outbox_events(stack, &payment.id()).await.into_iter().map(|(topic, _)| topic).collect();
    assert_eq!(topics, [TOPIC_PAYMENT_SUCCEEDED]);
}

async fn forged_stale_and_replayed_webhooks_change_nothing(stack: &TestStack) {
    // A payment waiting for the buyer, as after a 3-D Secure challenge.
    let payment = Payment::new(3_300);
    let intent = id("pi");
    sql(
        &stack.neon(),
        "INSERT INTO payments.payments (id, group_id, buyer_id, amount_minor, currency, status, psp_intent_id, \
         idempotency_key) VALUES ($1, $2, $3, 3300, 'EUR', 'requires_payment', $4, 'forgery-test')",
        &[&payment.id(), &payment.group, &payment.buyer, &intent],
    )
    .await;
    let event_id = id("evt");
    let body = succeeded_event(&event_id, &intent, &payment);
    let secret = stack_webhook_secret(stack);
    let now = now_unix();
    let wrong = WebhookSecret::parse("whsec_not_the_endpoint_secret").unwrap();
    let cases = [
        ("no signature", None),
        ("another secret", Some(signature_header(&[&wrong], now, body.as_bytes()))),
        ("six minutes old", Some(signature_header(&[&secret], now - 360, body.as_bytes()))),
        ("from the future", Some(signature_header(&[&secret], now + 360, body.as_bytes()))),
        ("signed for other bytes", Some(signature_header(&[&secret], now, b"{}"))),
        ("garbage", Some("t=abc,v1=zz".to_owned())),
    ];
    for (case, header) in cases {
        let (status, answer) = post_webhook(stack, &body, header.as_deref()).await;
        assert_eq!(status, 401, "{case}: {answer}");
        assert!(error_code(&answer).starts_with("AUTH_"), "{case}: {answer}");
    }
    assert_eq!(payment_status(stack, &payment.id()).await.as_deref(), Some("requires_payment"));
    assert!(outbox_events(stack, &payment.id()).await.is_empty());
    assert_eq!(count(stack, "SELECT count(*) FROM payments.psp_events WHERE event_id = $1", &[&event_id]).await, 0);

    // The genuine delivery applies; redelivered (fresh signature or the very same one) it is
    // acknowledged and applied once.
    let header = signature_header(&[&secret], now, body.as_bytes());
    let (status, answer) = post_webhook(stack, &body, Some(&header)).await;
    assert_eq!((status, &answer["status"]), (200, &json!("applied")), "{answer}");
    for header in [header, signature_header(&[&secret], now_unix(), body.as_bytes())] {
        let (status, answer) = post_webhook(stack, &body, Some(&header)).await;
        assert_eq!((status, &answer["status"]), (200, &json!("duplicate")), "{answer}");
    }
    assert_eq!(payment_status(stack, &payment.id()).await.as_deref(), Some("succeeded"));
    assert_eq!(outbox_events(stack, &payment.id()).await.len(), 1);
    // A late failure for the same intent cannot undo the success.
    let failed = body
        .replace("payment_intent.succeeded", "payment_intent.payment_failed")
        .replace(&event_id, &format!("{event_id}x"));
    let (status, _) =
        post_webhook(stack, &failed, Some(&signature_header(&[&secret], now_unix(), failed.as_bytes()))).await;
    assert_eq!(status, 200);
    assert_eq!(payment_status(stack, &payment.id()).await.as_deref(), Some("succeeded"));
    assert_eq!(outbox_events(stack, &payment.id()).await.len(), 1);
}

async fn a_void_before_the_money_moved_cancels_and_after_refunds_in_full(stack: &TestStack) {
    // Voided before the create step ran: the create that comes late makes nothing.
    let early = Payment::new(1_000);
    let (status, voided) = early.void(stack).await;
    assert_eq!((status, &voided["outcome"]), (200, &json!("not_created")), "{voided}");
    let (status, body) = early.create(stack, json!({"payment_method": "pm_card_visa"})).await;
    assert_eq!((status, error_code(&body)), (409, "RES_4003"), "{body}");
    assert_eq!(intents_created(stack, &early.id()).await, 0);

    // Declined: the intent still waits for a payment method, so it is cancelled at the provider.
    let declined = Payment::new(1_500);
    let (status, _) = declined.create(stack, json!({"payment_method": "pm_card_chargeDeclined"})).await;
    assert_eq!(status, 402);
    let intent = psp_intent(stack, &declined.id()).await;
    for _ in 0..2 {
        let (status, voided) = declined.void(stack).await;
        assert_eq!((status, &voided["outcome"]), (200, &json!("cancelled")), "{voided}");
        assert_eq!(voided["status"], "failed", "a failed payment stays failed: {voided}");
    }
    assert_eq!(stripe_get(stack, &format!("/v1/payment_intents/{intent}")).await["status"], "canceled");

    // Still processing: not voidable yet (409, the saga retries); once settled, refunded.
    let slow = Payment::new(2_200);
    let (status, body) = slow.create(stack, json!({"payment_method": "pm_card_sandbox_delayed"})).await;
    assert_eq!((status, &body["status"]), (200, &json!("processing")), "{body}");
    let (status, voided) = slow.void(stack).await;
    assert_eq!((status, error_code(&voided)), (409, "RES_4003"), "{voided}");
    wait_until("the delayed payment settles", || async {
        payment_status(stack, &slow.id()).await.as_deref() == Some("succeeded")
    })
    .await;
    let (status, voided) = slow.void(stack).await;
    assert_eq!((status, &voided["outcome"]), (200, &json!("refunded")), "{voided}");

    // Captured: refunded in full, once, however often the void is repeated.
    let paid = Payment::new(5_000);
    let (status, _) = paid.create(stack, json!({"payment_method": "pm_card_visa"})).await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, voided) = paid.void(stack).await;
        assert_eq!((status, &voided["outcome"]), (200, &json!("refunded")), "{voided}");
        assert_eq!(voided["refunded"], json!({"amount_minor": 5000, "currency": "EUR"}), "{voided}");
    }
    let intent = psp_intent(stack, &paid.id()).await;
    let sandbox = stripe_get(stack, &format!("/v1/payment_intents/{intent}")).await;
    let charge = stripe_get(stack, &format!("/v1/charges/{}", sandbox["latest_charge"].as_str().unwrap())).await;
    assert_eq!((charge["amount_refunded"].as_i64(), charge["refunded"].as_bool()), (Some(5_000), Some(true)));
    assert_eq!(stripe_events_for(stack, "refund.created", "payment_intent", &intent).await, 1);
    let (_, read) = stack.signed("GET", &format!("{INTENTS}/{}", paid.id()), Vec::new()).await;
    assert_eq!((read["voided"].as_bool(), read["refunded"]["amount_minor"].as_i64()), (Some(true), Some(5_000)));
}

async fn refunds_reverse_commission_in_proportion_and_the_ledger_balances(stack: &TestStack) {
    let (a, b) = (fresh(VendorId::generate), fresh(VendorId::generate));
    let payment = Payment::new(15_020);
    // Vendor a: 100.00 of goods, 10 % commission, 5.00 shipping. Vendor b: 40.00 of goods less a
    // 4.00 platform coupon, 10 % commission on the full 40.00, 9.20 tax.
    let order_a = OrderId::for_vendor(&payment.group, &a);
    let order_b = OrderId::for_vendor(&payment.group, &b);
    let split = json!({
        "group_id": payment.group, "charged": eur(15_020), "platform": eur(1_000),
        "vendors": [
            {"order_id": order_a, "vendor_id": a, "charged": eur(10_500), "goods": eur(10_000),
             "commission": eur(1_000), "platform_discount": eur(0), "shipping": eur(500), "tax": eur(0),
             "payable": eur(9_500)},
            {"order_id": order_b, "vendor_id": b, "charged": eur(4_520), "goods": eur(4_000),
             "commission": eur(400), "platform_discount": eur(400), "shipping": eur(0), "tax": eur(920),
             "payable": eur(4_520)},
        ]
    });
    // Not paid yet: nothing to book.
    let (status, body) = stack.signed("POST", JOURNALS, json!({"split": split}).to_string()).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = payment.create(stack, json!({"payment_method": "pm_card_visa"})).await;
    assert_eq!(status, 200);

    let mut tampered = split.clone();
    tampered["vendors"][0]["payable"] = eur(9_600);
    let (status, body) = stack.signed("POST", JOURNALS, json!({"split": tampered}).to_string()).await;
    assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");
    let mut journal_ids = Vec::new();
    for _ in 0..2 {
        let (status, body) = stack.signed("POST", JOURNALS, json!({"split": split}).to_string()).await;
        assert_eq!(status, 200, "{body}");
        journal_ids.push(body["journal_id"].as_str().expect("a journal id").to_owned());
    }
    assert_eq!(journal_ids[0], journal_ids[1], "booking again is a no-op");
    let balances = account_balances(stack, &payment.id()).await;
    assert_eq!(balances["psp_clearing"], 15_020);
    assert_eq!(balances[&format!("vendor_payable:{a}")], -9_500);
    assert_eq!(balances[&format!("vendor_payable:{b}")], -4_520);
    assert_eq!(balances["platform_commission"], -1_400);
    assert_eq!(balances["platform_promotions"], 400);

    // Part of a's order, retried: one refund at the provider, 285 of its 1,000 commission back.
    let partial = json!({"order_id": order_a, "vendor_id": a, "amount": eur(3_000), "idempotency_key": "cancel-a-1"});
    let mut first = Value::Null;
    for _ in 0..2 {
        let (status, body) = stack.signed("POST", REFUNDS, partial.to_string()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "succeeded", "{body}");
        assert_eq!(body["commission_reversed"], eur(285), "⌊1000 × 3000 / 10500⌋: {body}");
        if first.is_null() {
            first = body;
        } else {
            assert_eq!(body, first, "a retry answers the same refund");
        }
    }
    let mut reused = partial.clone();
    reused["amount"] = eur(3_100);
    let (status, body) = stack.signed("POST", REFUNDS, reused.to_string()).await;
    assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");
    let mut other_vendor = partial.clone();
    other_vendor["vendor_id"] = json!(b);
    other_vendor["idempotency_key"] = json!("cancel-a-wrong-vendor");
    let (status, _) = stack.signed("POST", REFUNDS, other_vendor.to_string()).await;
    assert_eq!(status, 404, "another vendor's order does not exist for it");
    let too_much = json!({"order_id": order_a, "vendor_id": a, "amount": eur(7_501), "idempotency_key": "cancel-a-2"});
    let (status, body) = stack.signed("POST", REFUNDS, too_much.to_string()).await;
    assert_eq!((status, &body["error"]["details"]["reason"]), (422, &json!("refund_exceeds_paid")), "{body}");
    assert_eq!(body["error"]["details"]["refundable"], eur(7_500), "{body}");

    let rest = json!({"order_id": order_a, "vendor_id": a, "amount": eur(7_500), "idempotency_key": "cancel-a-3"});
    let (status, body) = stack.signed("POST", REFUNDS, rest.to_string()).await;
    assert_eq!((status, &body["commission_reversed"]), (200, &eur(715)), "the rest of the 1,000: {body}");
    let all_b = json!({"order_id": order_b, "vendor_id": b, "amount": eur(4_520), "idempotency_key": "cancel-b-1",
                       "reason": "out of stock"});
    let (status, body) = stack.signed("POST", REFUNDS, all_b.to_string()).await;
    assert_eq!((status, &body["commission_reversed"]), (200, &eur(400)), "{body}");

    let intent = psp_intent(stack, &payment.id()).await;
    let sandbox = stripe_get(stack, &format!("/v1/payment_intents/{intent}")).await;
    let charge = stripe_get(stack, &format!("/v1/charges/{}", sandbox["latest_charge"].as_str().unwrap())).await;
    assert_eq!(charge["amount_refunded"], 15_020);
    assert_eq!(stripe_events_for(stack, "refund.created", "payment_intent", &intent).await, 3);

    // Every journal sums to zero, and after refunding everything every account is back to zero.
    let unbalanced = count(
        stack,
        "SELECT count(*) FROM (SELECT journal_id FROM payments.ledger_entries GROUP BY journal_id, currency \
         HAVING sum(amount_minor) <> 0) j",
        &[],
    )
    .await;
    assert_eq!(unbalanced, 0);
    assert_eq!(count(stack, "SELECT coalesce(sum(amount_minor), 0) FROM payments.ledger_entries", &[]).await, 0);
    let balances = account_balances(stack, &payment.id()).await;
    assert!(balances.values().all(|balance| *balance == 0), "{balances:?}");
    let reversed = count(
        stack,
        "SELECT sum(commission_reversed_minor) FROM payments.refunds WHERE order_id = ANY($1::text[])",
        &[&vec![order_a.as_str(), order_b.as_str()]],
    )
    .await;
    assert_eq!(reversed, 1_400, "all commission given back, none twice");
}

async fn vendors_are_paid_out_only_after_the_hold_period(stack: &TestStack) {
    // v sold for 50.00 paid with the card whose money is available at once; w for 500.00 with a
    // card whose money is still pending at the provider.
    let (v, w) = (fresh(VendorId::generate), fresh(VendorId::generate));
    let mut accounts = BTreeMap::new();
    for seller in [&v, &w] {
        let request = json!({"vendor_id": seller, "country": "DE", "email": "shop@example.com"});
        let mut made = Vec::new();
        for _ in 0..2 {
            let (status, body) = stack.signed("POST", ACCOUNTS, request.to_string()).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["transfers_enabled"], true, "{body}");
            made.push(body["account"].as_str().expect("acct_…").to_owned());
        }
        assert_eq!(made[0], made[1], "one account per vendor");
        accounts.insert(seller.to_string(), made[0].clone());
    }
    let order_v = sell_and_deliver(stack, &v, 5_000, "pm_card_bypassPending").await;
    let order_w = sell_and_deliver(stack, &w, 50_000, "pm_card_visa").await;

    let (status, report) = stack.signed("POST", SWEEP, "{}").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["payouts"]["attempted"], 0, "delivered today, held for 7 days: {report}");
    assert_eq!(
        count(
            stack,
            "SELECT count(*) FROM payments.payouts WHERE vendor_id = ANY($1::text[])",
            &[&vec![v.as_str(), w.as_str()]]
        )
        .await,
        0
    );

    for order in [&order_v, &order_w] {
        sql(
            &stack.neon(),
            "UPDATE orders.order_events SET created_at = now() - interval '8 days' \
             WHERE order_id = $1 AND to_status = 'delivered'",
            &[order],
        )
        .await;
    }
    let (status, report) = stack.signed("POST", SWEEP, "{}").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["payouts"]["attempted"], 2, "{report}");
    assert_eq!(
        (report["payouts"]["paid"].as_u64(), report["payouts"]["failed"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );

    let paid = payout(stack, &v).await;
    assert_eq!((paid["status"].as_str(), paid["amount_minor"].as_i64()), (Some("paid"), Some(4_500)), "{paid}");
    let transfer = stripe_get(stack, &format!("/v1/transfers/{}", paid["psp_transfer_id"].as_str().unwrap())).await;
    assert_eq!(transfer["destination"].as_str(), Some(accounts[&v.to_string()].as_str()));
    assert_eq!(transfer["amount"], 4_500);
    assert_eq!(vendor_balance(stack, &v).await, 0);

    // The provider had no available money for w: the payout failed and w is owed it again.
    let failed = payout(stack, &w).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["failure_reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("balance_insufficient") || reason.contains("Insufficient")),
        "{failed}"
    );
    assert_eq!(vendor_balance(stack, &w).await, 45_000);
    let reversal = count(
        stack,
        "SELECT count(*) FROM payments.journals WHERE kind = 'payout_reversal' AND reference = $1",
        &[&failed["id"].as_str().unwrap()],
    )
    .await;
    assert_eq!(reversal, 1);
    // Refused once, w is not retried on every sweep (nor is v paid twice).
    let (status, report) = stack.signed("POST", SWEEP, "{}").await;
    assert_eq!((status, report["payouts"]["attempted"].as_u64()), (200, Some(0)), "{report}");
    assert_eq!(payout(stack, &w).await["id"], failed["id"]);
}

async fn twenty_concurrent_creates_with_one_key_make_one_payment_intent(stack: &TestStack) {
    let payment = Arc::new(Payment::new(7_777));
    let mut calls = JoinSet::new();
    for _ in 0..20 {
        let (http, spin, key) =
            (stack.http.clone(), stack.spin_url(INTENTS), stack.stack.secrets.webhook_key_current.clone());
        let body = payment.body(test_card("4242424242424242")).to_string();
        calls.spawn(async move { e2e::signed_call(&http, &spin, &key, "POST", body.into()).await });
    }
    let mut references = Vec::new();
    while let Some(result) = calls.join_next().await {
        let (status, body) = result.expect("the call ran");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "succeeded", "{body}");
        references.push(body["psp_reference"].as_str().expect("pi_…").to_owned());
    }
    references.dedup();
    assert_eq!(references.len(), 1, "{references:?}");
    assert_eq!(intents_created(stack, &payment.id()).await, 1);
    wait_until("the webhook is processed", || async {
        processed_events(stack, &payment.id()).await.contains(&"payment_intent.succeeded".to_owned())
    })
    .await;
    assert_eq!(outbox_events(stack, &payment.id()).await.len(), 1);

    // The same key for another group's payment is another request: refused, nothing made.
    let mut other = Payment::new(7_777);
    other.key = payment.key.clone();
    let (status, body) = other.create(stack, test_card("4242424242424242")).await;
    assert!(status == 422 || status == 409, "{status} {body}");
    assert_eq!(intents_created(stack, &other.id()).await, 0);
}

async fn the_outbox_is_delivered_signed_and_marked_only_on_2xx(stack: &mut TestStack) {
    let receiver = Receiver::start().await;
    let url = format!("{}/events/payments", receiver.origin);
    stack
        .stack
        .restart_spin(&[
            ("SPIN_VARIABLE_PAYMENTS_EVENTS_URL", url.as_str()),
            ("SPIN_VARIABLE_PAYMENTS_EVENTS_ORIGIN", receiver.origin.as_str()),
        ])
        .await
        .expect("spin restarts");
    let pending = count(stack, "SELECT count(*) FROM payments.outbox WHERE delivered_at IS NULL", &[]).await;
    assert!(pending >= 5, "the earlier scenarios left events: {pending}");

    receiver.status.store(503, Ordering::SeqCst);
    let (status, report) = stack.signed("POST", SWEEP, json!({"limit": 100}).to_string()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["outbox"]["claimed"], pending, "{report}");
    assert_eq!((report["outbox"]["delivered"].as_i64(), report["outbox"]["failed"].as_i64()), (Some(0), Some(pending)));
    assert_eq!(count(stack, "SELECT count(*) FROM payments.outbox WHERE delivered_at IS NULL", &[]).await, pending);
    let waiting = count(
        stack,
        "SELECT count(*) FROM payments.outbox WHERE attempts = 1 AND next_attempt_at > now() AND last_error LIKE 'HTTP 503%'",
        &[],
    )
    .await;
    assert_eq!(waiting, pending, "each waits out its backoff");
    let (_, report) = stack.signed("POST", SWEEP, "").await;
    assert_eq!(report["outbox"]["claimed"], 0, "not due yet: {report}");

    // A payment that ends now is announced at once, without waiting for a sweep.
    receiver.status.store(200, Ordering::SeqCst);
    let fresh = Payment::new(990);
    let (status, body) = fresh.create(stack, json!({"payment_method": "pm_card_visa"})).await;
    assert_eq!((status, &body["status"]), (200, &json!("succeeded")), "{body}");
    let delivered = count(
        stack,
        "SELECT count(*) FROM payments.outbox WHERE payload ->> 'payment_id' = $1 AND delivered_at IS NOT NULL",
        &[&fresh.id()],
    )
    .await;
    assert_eq!(delivered, 1, "delivered right after the commit");
    let after_commit = receiver.received.lock().unwrap().clone();
    assert_eq!(after_commit.len(), 2, "the refused batch, then the fresh event's");
    let fresh_batch = batch_events(&after_commit[1].1);
    assert_eq!(fresh_batch.len(), 1, "only the fresh event was due: {fresh_batch:?}");
    assert_eq!(fresh_batch[0]["data"]["payment_id"], json!(fresh.id()));

    sql(&stack.neon(), "UPDATE payments.outbox SET next_attempt_at = now() WHERE delivered_at IS NULL", &[]).await;
    let (status, report) = stack.signed("POST", SWEEP, json!({"limit": 100}).to_string()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["outbox"]["delivered"], pending, "{report}");
    assert_eq!(count(stack, "SELECT count(*) FROM payments.outbox WHERE delivered_at IS NULL", &[]).await, 0);

    // Every delivery is a signed batch of event envelopes for that URL and body; the refused
    // batch's events came again, and no event was delivered twice.
    let received = receiver.received.lock().unwrap().clone();
    let keys = Keys { current: SigningKey::new(stack.stack.secrets.webhook_key_current.as_bytes()), next: None };
    let mut sent = Vec::new();
    for (signature, body) in &received {
        let verified = webhook::verify(&keys, signature.as_deref(), &url, body, now_unix(), &NoReplays).await;
        assert!(verified.is_ok(), "{verified:?}");
        sent.push(batch_events(body));
    }
    assert_eq!(sent[0].len() as i64, pending, "one refused batch of every pending event");
    let mut seen = std::collections::HashSet::new();
    for event in sent.iter().skip(1).flatten() {
        assert!(event["id"].as_str().is_some_and(|id| id.starts_with("evt_")), "{event}");
        assert!([TOPIC_PAYMENT_SUCCEEDED, TOPIC_PAYMENT_FAILED].contains(&event["type"].as_str().unwrap_or("")));
        let data: PaymentEvent = serde_json::from_value(event["data"].clone()).expect("a PaymentEvent");
        assert!(data.status.is_final());
        assert!(seen.insert(event["id"].as_str().unwrap().to_owned()), "delivered twice: {event}");
    }
    assert_eq!(seen.len() as i64, pending + 1, "each earlier event once refused, once delivered");
    let refused: std::collections::HashSet<String> =
        sent[0].iter().map(|event| event["id"].as_str().unwrap_or("").to_owned()).collect();
    assert!(refused.is_subset(&seen), "the refused events were delivered later");
    let (_, report) = stack.signed("POST", SWEEP, "").await;
    assert_eq!(report["outbox"]["claimed"], 0, "{report}");
}

/// The events of one delivery (`{"events": [...]}`, `shared::events::edge::EventBatch`).
fn batch_events(body: &[u8]) -> Vec<Value> {
    let batch: EventBatch = serde_json::from_slice(body).expect("an event batch");
    batch.events.iter().map(|event| serde_json::to_value(event).expect("JSON")).collect()
}

// ---- the payment under test -----------------------------------------------------------------

struct Payment {
    group: OrderGroupId,
    buyer: BuyerId,
    amount: i64,
    key: String,
}

impl Payment {
    fn new(amount: i64) -> Self {
        let group = fresh(OrderGroupId::generate);
        let key = format!("sga_{}:create_payment", group.as_str().trim_start_matches("grp_"));
        Self { group, buyer: fresh(BuyerId::generate), amount, key }
    }

    fn id(&self) -> PaymentId {
        PaymentId::for_group(&self.group)
    }

    fn body(&self, method: Value) -> Value {
        json!({"group_id": self.group, "buyer_id": self.buyer, "amount": eur(self.amount), "method": method,
               "idempotency_key": self.key})
    }

    async fn create(&self, stack: &TestStack, method: Value) -> (u16, Value) {
        stack.signed("POST", INTENTS, self.body(method).to_string()).await
    }

    async fn void(&self, stack: &TestStack) -> (u16, Value) {
        stack.signed("POST", &format!("{INTENTS}/{}/void", self.id()), Vec::new()).await
    }
}

/// An order of `vendor` paid with `method` and booked, then moved along to delivered today.
async fn sell_and_deliver(stack: &TestStack, vendor: &VendorId, goods: i64, method: &str) -> OrderId {
    let payment = Payment::new(goods);
    let order = OrderId::for_vendor(&payment.group, vendor);
    let queries = vec![
        Query::new(
            "INSERT INTO orders.order_groups (id, buyer_id, currency, subtotal_minor, total_minor, idempotency_key, \
             destination) VALUES ($1, $2, 'EUR', $3::bigint, $3::bigint, $4, '{\"country\":\"DE\"}')",
            &[&payment.group, &payment.buyer, &goods, &payment.key],
        ),
        Query::new(
            "INSERT INTO orders.orders (id, group_id, buyer_id, vendor_id, currency, subtotal_minor, total_minor) \
             VALUES ($1, $2, $3, $4, 'EUR', $5::bigint, $5::bigint)",
            &[&order, &payment.group, &payment.buyer, vendor, &goods],
        ),
        Query::new(
            "INSERT INTO orders.order_lines (order_id, vendor_id, currency, variant_id, product_id, category_id, \
             title, sku, quantity, unit_price_minor, subtotal_minor) \
             VALUES ($1, $2, 'EUR', $3, $4, $5, 'Test product', 'SKU-1', 1, $6::bigint, $6::bigint)",
            &[&order, vendor, &id("var"), &id("prod"), &id("cat"), &goods],
        ),
    ];
    stack.neon().batch(&queries, BatchOptions::default()).await.expect("the order is written");
    let (status, body) = payment.create(stack, json!({"payment_method": method})).await;
    assert_eq!((status, &body["status"]), (200, &json!("succeeded")), "{body}");
    let commission = goods / 10;
    let split = json!({
        "group_id": payment.group, "charged": eur(goods), "platform": eur(commission),
        "vendors": [{"order_id": order, "vendor_id": vendor, "charged": eur(goods), "goods": eur(goods),
            "commission": eur(commission), "platform_discount": eur(0), "shipping": eur(0), "tax": eur(0),
            "payable": eur(goods - commission)}]
    });
    let (status, body) = stack.signed("POST", JOURNALS, json!({"split": split}).to_string()).await;
    assert_eq!(status, 200, "{body}");
    for next in ["confirmed", "processing", "shipped", "delivered"] {
        sql(&stack.neon(), "UPDATE orders.orders SET status = $2 WHERE id = $1", &[&order, &next]).await;
    }
    order
}

// ---- helpers --------------------------------------------------------------------------------

fn eur(minor: i64) -> Value {
    json!({"amount_minor": minor, "currency": "EUR"})
}

fn test_card(number: &str) -> Value {
    json!({"test_card": {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"}})
}

fn stack_webhook_secret(stack: &TestStack) -> WebhookSecret {
    WebhookSecret::parse(&stack.stack.secrets.stripe_webhook_secret).expect("a whsec_ secret")
}

/// A `payment_intent.succeeded` event as Stripe sends it, for a payment of ours.
fn succeeded_event(event_id: &str, intent: &str, payment: &Payment) -> String {
    json!({
        "id": event_id, "object": "event", "api_version": "2024-06-20", "created": now_unix(),
        "livemode": false, "pending_webhooks": 1, "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": intent, "object": "payment_intent", "amount": payment.amount, "amount_capturable": 0,
            "amount_received": payment.amount, "currency": "eur", "status": "succeeded",
            "capture_method": "automatic", "client_secret": null, "latest_charge": null, "payment_method": null,
            "last_payment_error": null, "cancellation_reason": null, "transfer_group": payment.group,
            "metadata": {"payment_id": payment.id()}, "created": now_unix(), "livemode": false
        }}
    })
    .to_string()
}

async fn post_webhook(stack: &TestStack, body: &str, signature: Option<&str>) -> (u16, Value) {
    let mut request = stack.http.post(stack.spin_url(WEBHOOK)).header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    let response = request.body(body.to_owned()).send().await.expect("spin host answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The first column of the first row, as a number.
async fn count(stack: &TestStack, statement: &str, params: &[&dyn ToSql]) -> i64 {
    let result = sql(&stack.neon(), statement, params).await;
    let value: String = match result.first().map(|row| row.get::<shared::neon::Value>(0)) {
        Some(Ok(shared::neon::Value::Int(n))) => n.to_string(),
        Some(Ok(shared::neon::Value::Numeric(n))) => n,
        other => panic!("{statement}: {other:?}"),
    };
    value.parse().expect("a whole number")
}

async fn payment_status(stack: &TestStack, payment: &PaymentId) -> Option<String> {
    let result = sql(&stack.neon(), "SELECT status FROM payments.payments WHERE id = $1", &[payment]).await;
    result.first().map(|row| row.get("status").unwrap())
}

async fn psp_intent(stack: &TestStack, payment: &PaymentId) -> String {
    let result = sql(&stack.neon(), "SELECT psp_intent_id FROM payments.payments WHERE id = $1", &[payment]).await;
    result.one().and_then(|row| row.get("psp_intent_id")).expect("the payment has its intent")
}

/// (topic, payload) of the payment's outbox events, oldest first.
async fn outbox_events(stack: &TestStack, payment: &PaymentId) -> Vec<(String, Value)> {
    let result = sql(
        &stack.neon(),
        "SELECT topic, payload FROM payments.outbox WHERE payload ->> 'payment_id' = $1 ORDER BY id",
        &[payment],
    )
    .await;
    result.iter().map(|row| (row.get("topic").unwrap(), row.get("payload").unwrap())).collect()
}

async fn processed_events(stack: &TestStack, payment: &PaymentId) -> Vec<String> {
    let result = sql(
        &stack.neon(),
        "SELECT type FROM payments.psp_events WHERE payment_id = $1 AND processed_at IS NOT NULL ORDER BY received_at",
        &[payment],
    )
    .await;
    result.iter().map(|row| row.get("type").unwrap()).collect()
}

/// Balance per account (`vendor_payable:ven_…` per vendor) of the journals of one payment and its refunds.
async fn account_balances(stack: &TestStack, payment: &PaymentId) -> BTreeMap<String, i64> {
    let result = sql(
        &stack.neon(),
        "SELECT e.account || coalesce(':' || e.vendor_id, '') AS account, sum(e.amount_minor)::bigint AS balance \
         FROM payments.ledger_entries e JOIN payments.journals j ON j.id = e.journal_id \
         WHERE (j.kind = 'payment' AND j.reference = $1) \
            OR (j.kind = 'refund' AND j.reference IN (SELECT id FROM payments.refunds WHERE payment_id = $1)) \
         GROUP BY 1",
        &[payment],
    )
    .await;
    result.iter().map(|row| (row.get("account").unwrap(), row.get("balance").unwrap())).collect()
}

async fn vendor_balance(stack: &TestStack, vendor: &VendorId) -> i64 {
    count(stack, "SELECT coalesce(sum(balance_minor), 0) FROM payments.vendor_balances WHERE vendor_id = $1", &[vendor])
        .await
}

async fn payout(stack: &TestStack, vendor: &VendorId) -> Value {
    let result = sql(
        &stack.neon(),
        "SELECT to_jsonb(p) AS payout FROM payments.payouts p WHERE vendor_id = $1 ORDER BY created_at",
        &[vendor],
    )
    .await;
    assert_eq!(result.len(), 1, "one payout for {vendor}");
    result.one().and_then(|row| row.get("payout")).unwrap()
}

/// `GET` on the Stripe sandbox with the stack's key.
async fn stripe_get(stack: &TestStack, path: &str) -> Value {
    let response = stack
        .http
        .get(format!("{}{path}", stack.stack.urls().stripe))
        .basic_auth(&stack.stack.secrets.stripe_secret_key, Some(""))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.expect("JSON")
}

/// How many `kind` events the sandbox emitted whose object's `field` (or `metadata.payment_id`) is `value`.
async fn stripe_events_for(stack: &TestStack, kind: &str, field: &str, value: &str) -> usize {
    let mut found = 0;
    let mut after: Option<String> = None;
    loop {
        let cursor = after.as_ref().map(|id| format!("&starting_after={id}")).unwrap_or_default();
        let page = stripe_get(stack, &format!("/v1/events?type={kind}&limit=100{cursor}")).await;
        let events = page["data"].as_array().cloned().unwrap_or_default();
        found += events
            .iter()
            .filter(|event| {
                let object = &event["data"]["object"];
                object[field].as_str() == Some(value) || object["metadata"][field].as_str() == Some(value)
            })
            .count();
        match (page["has_more"].as_bool(), events.last()) {
            (Some(true), Some(last)) => after = last["id"].as_str().map(str::to_owned),
            _ => return found,
        }
    }
}

/// PaymentIntents the sandbox created for our payment.
async fn intents_created(stack: &TestStack, payment: &PaymentId) -> usize {
    stripe_events_for(stack, "payment_intent.created", "payment_id", payment.as_str()).await
}

async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Replay checks are the receiver's business; these deliveries are checked once each.
struct NoReplays;

impl webhook::SeenJtiStore for NoReplays {
    async fn first_seen(&self, _jti: &str, _expires_at_unix: i64) -> Result<bool, webhook::StoreError> {
        Ok(true)
    }
}

/// One delivery: its `Upstash-Signature` and body.
type Delivery = (Option<String>, Vec<u8>);

/// Stands in for the saga's event receiver: records each delivery and answers with the status it
/// is told.
struct Receiver {
    origin: String,
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<Delivery>>>,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let origin = format!("http://{}", listener.local_addr().expect("bound"));
        let status = Arc::new(AtomicU16::new(200));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (answer, log) = (Arc::clone(&status), Arc::clone(&received));
        tokio::spawn(local_cloud::http_server::serve(listener, "receiver", false, stopped, move |request| {
            let (answer, log) = (Arc::clone(&answer), Arc::clone(&log));
            async move {
                let (parts, body) = request.into_parts();
                let signature = parts
                    .headers
                    .get(webhook::SIGNATURE_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
                let body =
                    local_cloud::http_server::read_body(body, 1 << 20).await.map(|b| b.to_vec()).unwrap_or_default();
                log.lock().unwrap().push((signature, body));
                let status = http::StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap_or(http::StatusCode::OK);
                local_cloud::http_server::json(status, "{}")
            }
        }));
        Self { origin, status, received, _stop: stop }
    }
}
