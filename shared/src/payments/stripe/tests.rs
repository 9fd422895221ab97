//! The client's requests and replies, against canned responses in the shapes of Stripe's API reference.

use serde_json::{Value as Json, json};

use super::*;
use crate::catalog::money::{Currency, Money};
use crate::test_support::{FakeTransport, block_on, header};
use crate::transport::Method;

fn key() -> IdempotencyKey {
    IdempotencyKey::parse("ogrp_01J:payment").unwrap()
}

fn client(transport: FakeTransport) -> StripeClient<FakeTransport> {
    StripeClient::new(transport, "https://api.stripe.example/", SecretKey::parse("sk_test_123").unwrap())
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn payment_intent(status: &str) -> Json {
    json!({
        "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "object": "payment_intent", "amount": 2000, "amount_capturable": 0,
        "amount_received": 2000, "capture_method": "automatic", "client_secret": "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_Y",
        "created": 1680800504, "currency": "eur", "last_payment_error": null, "latest_charge": "ch_3MtwBwLkdIwHu7ix0",
        "livemode": false, "metadata": {"order_group": "ogrp_1"}, "payment_method": "pm_card_visa",
        "status": status, "transfer_group": "ogrp_1", "cancellation_reason": null,
        "payment_method_types": ["card"], "next_action": null
    })
}

#[test]
fn create_payment_intent_posts_the_documented_form_with_auth_version_and_key() {
    let client = client(FakeTransport::new().respond_json(200, payment_intent("succeeded")));
    let params = CreatePaymentIntent {
        amount: eur(2000),
        payment_method: Some(PaymentMethodId::parse("pm_card_visa").unwrap()),
        confirm: true,
        capture_method: CaptureMethod::Automatic,
        transfer_group: Some("ogrp_1".into()),
        description: None,
        metadata: Metadata::new().with("order_group", "ogrp_1").unwrap(),
    };
    let intent = block_on(client.create_payment_intent(&params, &key())).unwrap();
    assert_eq!(intent.status, PaymentIntentStatus::Succeeded);
    assert_eq!(intent.amount_money(), Ok(eur(2000)));
    assert_eq!(intent.latest_charge.as_ref().map(ChargeId::as_str), Some("ch_3MtwBwLkdIwHu7ix0"));
    assert_eq!(intent.metadata.get("order_group").map(String::as_str), Some("ogrp_1"));

    let request = client.transport().only_request();
    assert_eq!(request.method, Method::Post);
    assert_eq!(request.url, "https://api.stripe.example/v1/payment_intents");
    assert_eq!(header(&request, "authorization"), Some("Bearer sk_test_123"));
    assert_eq!(header(&request, "stripe-version"), Some(API_VERSION));
    assert_eq!(header(&request, "idempotency-key"), Some("ogrp_01J:payment"));
    assert_eq!(header(&request, "content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        String::from_utf8(request.body).unwrap(),
        "amount=2000&currency=eur&payment_method_types[0]=card&payment_method=pm_card_visa&confirm=true\
         &capture_method=automatic&transfer_group=ogrp_1&metadata[order_group]=ogrp_1"
    );
}

#[test]
fn gets_carry_no_body_and_no_idempotency_key() {
    let client = client(FakeTransport::new().respond_json(200, payment_intent("processing")));
    let id = PaymentIntentId::parse("pi_3MtwBwLkdIwHu7ix28a3tqPa").unwrap();
    let intent = block_on(client.retrieve_payment_intent(&id)).unwrap();
    assert_eq!(intent.status, PaymentIntentStatus::Processing);
    let request = client.transport().only_request();
    assert_eq!(request.method, Method::Get);
    assert_eq!(request.url, "https://api.stripe.example/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa");
    assert_eq!(header(&request, "idempotency-key"), None);
    assert_eq!(header(&request, "stripe-version"), Some(API_VERSION));
    assert!(request.body.is_empty());
}

#[test]
fn capture_cancel_and_confirm_post_to_their_paths() {
    let transport = FakeTransport::new()
        .respond_json(200, payment_intent("succeeded"))
        .respond_json(200, payment_intent("canceled"))
        .respond_json(200, payment_intent("requires_capture"));
    let client = client(transport);
    let id = PaymentIntentId::parse("pi_1").unwrap();
    let capture = CapturePaymentIntent { amount_to_capture: Some(eur(1500)), metadata: Metadata::new() };
    block_on(client.capture_payment_intent(&id, &capture, &key())).unwrap();
    let cancel = CancelPaymentIntent { cancellation_reason: Some(CancellationReason::Abandoned) };
    block_on(client.cancel_payment_intent(&id, &cancel, &key())).unwrap();
    let confirm = ConfirmPaymentIntent { payment_method: Some(PaymentMethodId::parse("pm_card_visa").unwrap()) };
    block_on(client.confirm_payment_intent(&id, &confirm, &key())).unwrap();

    let requests = client.transport().requests();
    let seen: Vec<(&str, String)> = requests
        .iter()
        .map(|r| (r.url.trim_start_matches("https://api.stripe.example"), String::from_utf8(r.body.clone()).unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("/v1/payment_intents/pi_1/capture", "amount_to_capture=1500".to_owned()),
            ("/v1/payment_intents/pi_1/cancel", "cancellation_reason=abandoned".to_owned()),
            ("/v1/payment_intents/pi_1/confirm", "payment_method=pm_card_visa".to_owned()),
        ]
    );
    assert!(requests.iter().all(|r| header(r, "idempotency-key").is_some()));
}

#[test]
fn refunds_accounts_transfers_and_cards_encode_their_nested_fields() {
    let transport = FakeTransport::new()
        .respond_json(
            200,
            json!({"id": "re_1", "object": "refund", "amount": 500, "currency": "eur", "charge": "ch_1",
            "payment_intent": "pi_1", "status": "succeeded", "reason": null, "metadata": {}, "created": 1}),
        )
        .respond_json(
            200,
            json!({"id": "acct_1", "object": "account", "type": "express", "country": "DE",
            "email": "v@example.com", "default_currency": "eur", "charges_enabled": false, "payouts_enabled": false,
            "details_submitted": false, "capabilities": {"transfers": "active"}, "metadata": {}, "created": 1}),
        )
        .respond_json(
            200,
            json!({"id": "tr_1", "object": "transfer", "amount": 700, "amount_reversed": 0,
            "currency": "eur", "destination": "acct_1", "source_transaction": "ch_1", "transfer_group": "ogrp_1",
            "reversed": false, "metadata": {}, "created": 1}),
        )
        .respond_json(
            200,
            json!({"id": "pm_1", "object": "payment_method", "type": "card", "created": 1,
            "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034, "funding": "credit",
            "country": "US"}}),
        );
    let client = client(transport);
    let refund = CreateRefund {
        payment_intent: PaymentIntentId::parse("pi_1").unwrap(),
        amount: Some(eur(500)),
        reason: Some(RefundReason::RequestedByCustomer),
        metadata: Metadata::new().with("order", "ord_1").unwrap(),
    };
    assert_eq!(block_on(client.create_refund(&refund, &key())).unwrap().amount_money(), Ok(eur(500)));
    let account = CreateExpressAccount {
        country: Some("DE".into()),
        email: Some("v@example.com".into()),
        capabilities: vec![Capability::Transfers],
        metadata: Metadata::new(),
    };
    assert!(block_on(client.create_express_account(&account, &key())).unwrap().can_receive_transfers());
    let transfer = CreateTransfer {
        amount: eur(700),
        destination: AccountId::parse("acct_1").unwrap(),
        transfer_group: Some("ogrp_1".into()),
        source_transaction: Some(ChargeId::parse("ch_1").unwrap()),
        description: None,
        metadata: Metadata::new(),
    };
    assert_eq!(block_on(client.create_transfer(&transfer, &key())).unwrap().amount, 700);
    let card = CreateCardPaymentMethod {
        number: "4242424242424242".into(),
        exp_month: 12,
        exp_year: 2034,
        cvc: Some("123".into()),
    };
    let method = block_on(client.create_card_payment_method(&card, &key())).unwrap();
    assert_eq!(method.card.map(|card| card.last4), Some("4242".to_owned()));

    let bodies: Vec<Vec<(String, String)>> =
        client.transport().requests().iter().map(|r| form_pairs(&r.body)).collect();
    let pairs = |list: &[(&str, &str)]| list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    assert_eq!(
        bodies[0],
        pairs(&[
            ("payment_intent", "pi_1"),
            ("amount", "500"),
            ("reason", "requested_by_customer"),
            ("metadata[order]", "ord_1")
        ])
    );
    assert_eq!(
        bodies[1],
        pairs(&[
            ("type", "express"),
            ("country", "DE"),
            ("email", "v@example.com"),
            ("capabilities[transfers][requested]", "true")
        ])
    );
    assert_eq!(
        bodies[2],
        pairs(&[
            ("amount", "700"),
            ("currency", "eur"),
            ("destination", "acct_1"),
            ("transfer_group", "ogrp_1"),
            ("source_transaction", "ch_1")
        ])
    );
    assert_eq!(
        bodies[3],
        pairs(&[
            ("type", "card"),
            ("card[number]", "4242424242424242"),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2034"),
            ("card[cvc]", "123")
        ])
    );
}

#[test]
fn amounts_go_out_in_stripes_units() {
    let client = client(FakeTransport::new().respond_json(200, payment_intent("succeeded")));
    let params = CreatePaymentIntent {
        amount: Money::new(5, Currency::parse("ISK").unwrap()),
        payment_method: None,
        confirm: false,
        capture_method: CaptureMethod::Manual,
        transfer_group: None,
        description: None,
        metadata: Metadata::new(),
    };
    block_on(client.create_payment_intent(&params, &key())).unwrap();
    let body = form_pairs(&client.transport().only_request().body);
    assert_eq!(body[0], ("amount".into(), "500".into()));
    assert_eq!(body[1], ("currency".into(), "isk".into()));

    let unsupported = CreatePaymentIntent { amount: Money::new(1000, Currency::parse("KWD").unwrap()), ..params };
    let fresh = self::client(FakeTransport::new());
    let error = block_on(fresh.create_payment_intent(&unsupported, &key())).unwrap_err();
    assert!(matches!(error, CallError::Amount(AmountError::UnsupportedCurrency(_))));
    assert!(fresh.transport().requests().is_empty(), "nothing is sent");
}

#[test]
fn errors_come_back_typed_and_classified() {
    let transport = FakeTransport::new()
        .respond_json(402, json!({"error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.", "charge": "ch_1", "payment_intent": {"id": "pi_1"}}}))
        .respond_json(400, json!({"error": {"type": "idempotency_error", "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."}}))
        .fail("connection refused")
        .respond(200, "not json");
    let client = client(transport);
    let id = PaymentIntentId::parse("pi_1").unwrap();
    let confirm = ConfirmPaymentIntent::default();

    let declined = block_on(client.confirm_payment_intent(&id, &confirm, &key())).unwrap_err();
    let Some(StripeError::Card(card)) = declined.stripe() else { panic!("{declined:?}") };
    assert_eq!(card.decline_code.as_deref(), Some("insufficient_funds"));
    assert!(!declined.is_transient());

    let reused = block_on(client.confirm_payment_intent(&id, &confirm, &key())).unwrap_err();
    assert!(matches!(reused.stripe(), Some(StripeError::Idempotency { .. })));
    assert!(!reused.is_transient());

    let offline = block_on(client.confirm_payment_intent(&id, &confirm, &key())).unwrap_err();
    assert!(matches!(offline.stripe(), Some(StripeError::Transport(_))));
    assert!(offline.is_transient());

    let garbled = block_on(client.retrieve_payment_intent(&id)).unwrap_err();
    assert!(matches!(garbled.stripe(), Some(StripeError::UnexpectedReply { status: 200, .. })));
}

#[test]
fn debug_output_hides_the_key_and_card_numbers() {
    assert!(!format!("{:?}", client(FakeTransport::new())).contains("sk_test_123"));
    let card = CreateCardPaymentMethod { number: "4000000000000002".into(), exp_month: 1, exp_year: 2030, cvc: None };
    let shown = format!("{card:?}");
    assert!(shown.contains("…0002") && !shown.contains("4000000000000002"), "{shown}");
}
