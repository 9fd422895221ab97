//! Drives the Stripe sandbox through `shared::payments::stripe::StripeClient` over reqwest: the
//! adapter the payments component uses against Stripe itself. Webhooks land on a local receiver
//! and are checked with `verify_webhook`, as the component will check them.

mod stripe_support;

use shared::catalog::money::{Currency, Money};
use shared::payments::stripe::{
    AccountId, CallError, CancelPaymentIntent, CancellationReason, Capability, CaptureMethod, CapturePaymentIntent,
    ChargeStatus, ConfirmPaymentIntent, CreateCardPaymentMethod, CreateExpressAccount, CreatePaymentIntent,
    CreateRefund, CreateTransfer, DEFAULT_TOLERANCE_SECS, IdempotencyKey, Metadata, PaymentIntent, PaymentIntentId,
    PaymentIntentStatus, PaymentMethodId, SecretKey, StripeClient, StripeError, WebhookRejection, WebhookSecret,
    WebhookSecrets, event_types, verify_webhook,
};
use shared::transport::ReqwestTransport;
use stripe_support::{Api, KEY, Receiver, sandbox, sandbox_with};

fn client(url: &str, key: &str) -> StripeClient<ReqwestTransport> {
    StripeClient::new(ReqwestTransport::default(), url, SecretKey::parse(key).unwrap())
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).unwrap()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

fn intent(amount: Money, method: Option<&PaymentMethodId>, capture_method: CaptureMethod) -> CreatePaymentIntent {
    CreatePaymentIntent {
        amount,
        payment_method: method.cloned(),
        confirm: method.is_some(),
        capture_method,
        transfer_group: Some("ogrp_01".into()),
        description: Some("Order group ogrp_01".into()),
        metadata: Metadata::new().with("order_group", "ogrp_01").unwrap(),
    }
}

fn card(number: &str) -> CreateCardPaymentMethod {
    CreateCardPaymentMethod { number: number.into(), exp_month: 12, exp_year: 2040, cvc: Some("123".into()) }
}

fn now() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since_epoch.as_secs()).unwrap()
}

#[tokio::test]
async fn a_marketplace_checkout_runs_end_to_end_through_the_adapter() {
    let receiver = Receiver::start(0).await;
    let sandbox = sandbox_with(|config| {
        config.stripe.webhook_endpoints.push(local_cloud::stripe::EndpointSeed {
            url: receiver.url.clone(),
            secret: "whsec_checkout_test".into(),
        });
    });
    let stripe = client(&sandbox.stripe_url(), KEY);
    let secrets = WebhookSecrets { current: WebhookSecret::parse("whsec_checkout_test").unwrap(), next: None };

    let vendor = stripe
        .create_express_account(
            &CreateExpressAccount {
                country: Some("DE".into()),
                email: Some("vendor@example.com".into()),
                capabilities: vec![Capability::Transfers],
                metadata: Metadata::new().with("vendor", "ven_1").unwrap(),
            },
            &key("vendor-ven_1"),
        )
        .await
        .unwrap();
    assert!(vendor.can_receive_transfers());
    assert_eq!(stripe.retrieve_account(&vendor.id).await.unwrap(), vendor);

    // The storefront posts the card in test mode; the order is held, then captured.
    let method = stripe.create_card_payment_method(&card("4242424242424242"), &key("card-1")).await.unwrap();
    assert_eq!(method.card.as_ref().map(|card| card.last4.as_str()), Some("4242"));
    let held = stripe
        .create_payment_intent(&intent(eur(10_000), Some(&method.id), CaptureMethod::Manual), &key("ogrp_01:pay"))
        .await
        .unwrap();
    assert_eq!(held.status, PaymentIntentStatus::RequiresCapture);
    assert_eq!(held.amount_money(), Ok(eur(10_000)));
    let captured = stripe
        .capture_payment_intent(&held.id, &CapturePaymentIntent::default(), &key("ogrp_01:capture"))
        .await
        .unwrap();
    assert_eq!(captured.status, PaymentIntentStatus::Succeeded);
    assert_eq!(captured.amount_received_money(), Ok(eur(10_000)));
    let charge_id = captured.latest_charge.clone().unwrap();
    let charge = stripe.retrieve_charge(&charge_id).await.unwrap();
    assert_eq!((charge.status, charge.captured, charge.amount_captured), (ChargeStatus::Succeeded, true, 10_000));

    // The vendor's share leaves the charge; part of the order is refunded.
    let transfer = stripe
        .create_transfer(
            &CreateTransfer {
                amount: eur(8_500),
                destination: vendor.id.clone(),
                transfer_group: None,
                source_transaction: Some(charge_id.clone()),
                description: None,
                metadata: Metadata::new().with("order", "ord_1").unwrap(),
            },
            &key("ord_1:payout"),
        )
        .await
        .unwrap();
    assert_eq!(transfer.transfer_group.as_deref(), Some("ogrp_01"));
    assert_eq!(transfer.amount_money(), Ok(eur(8_500)));
    let refund = stripe
        .create_refund(
            &CreateRefund {
                payment_intent: held.id.clone(),
                amount: Some(eur(1_500)),
                reason: None,
                metadata: Metadata::new(),
            },
            &key("ord_1:refund"),
        )
        .await
        .unwrap();
    assert_eq!(refund.amount_money(), Ok(eur(1_500)));
    // 10,000 captured − 8,500 transferred − 1,500 refunded: nothing left to transfer.
    let over = stripe
        .create_transfer(
            &CreateTransfer {
                amount: eur(1),
                destination: vendor.id.clone(),
                transfer_group: None,
                source_transaction: Some(charge_id),
                description: None,
                metadata: Metadata::new(),
            },
            &key("ord_1:payout-2"),
        )
        .await
        .unwrap_err();
    assert_eq!(over.stripe().and_then(StripeError::code), Some("balance_insufficient"));

    // Every event reached the receiver and verifies the way the payments component will verify it.
    let deliveries = receiver
        .wait_for("the succeeded webhook", |d| d.iter().any(|d| d.event()["type"] == "payment_intent.succeeded"))
        .await;
    let mut verified = Vec::new();
    for delivery in &deliveries {
        let event =
            verify_webhook(delivery.signature.as_deref(), &delivery.body, &secrets, now(), DEFAULT_TOLERANCE_SECS)
                .unwrap_or_else(|rejection| panic!("{rejection}: {delivery:?}"));
        verified.push(event);
    }
    let succeeded = verified.iter().find(|event| event.kind == event_types::PAYMENT_INTENT_SUCCEEDED).unwrap();
    let paid: PaymentIntent = succeeded.object().unwrap();
    assert_eq!((paid.id, paid.amount_received), (held.id.clone(), 10_000));
    assert_eq!(paid.metadata.get("order_group").map(String::as_str), Some("ogrp_01"));
    // The event can be fetched back to double-check it.
    let fetched = stripe.retrieve_event(&succeeded.id).await.unwrap();
    assert_eq!(fetched.kind, event_types::PAYMENT_INTENT_SUCCEEDED);

    // A delivery replayed later, tampered with, or checked with the wrong secret is refused.
    let delivery = &deliveries[0];
    assert!(matches!(
        verify_webhook(delivery.signature.as_deref(), &delivery.body, &secrets, now() + 301, DEFAULT_TOLERANCE_SECS),
        Err(WebhookRejection::OutsideTolerance { .. })
    ));
    let mut tampered = delivery.body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        verify_webhook(delivery.signature.as_deref(), &tampered, &secrets, now(), DEFAULT_TOLERANCE_SECS),
        Err(WebhookRejection::NoMatchingSignature)
    );
    let rolled = WebhookSecrets {
        current: WebhookSecret::parse("whsec_something_else").unwrap(),
        next: Some(WebhookSecret::parse("whsec_checkout_test").unwrap()),
    };
    assert!(
        verify_webhook(delivery.signature.as_deref(), &delivery.body, &rolled, now(), DEFAULT_TOLERANCE_SECS).is_ok()
    );
}

#[tokio::test]
async fn declines_and_delays_come_back_as_the_saga_needs_them() {
    let receiver = Receiver::start(0).await;
    let sandbox = sandbox();
    let stripe = client(&sandbox.stripe_url(), KEY);
    let endpoint = Api::new(&sandbox)
        .post("/v1/webhook_endpoints", &[("url", &receiver.url), ("enabled_events[]", "payment_intent.*")])
        .await;
    let secrets = WebhookSecrets {
        current: WebhookSecret::parse(endpoint.ok()["secret"].as_str().unwrap()).unwrap(),
        next: None,
    };

    let declined_card = stripe.create_card_payment_method(&card("4000000000009995"), &key("card-poor")).await.unwrap();
    let error = stripe
        .create_payment_intent(&intent(eur(2_000), Some(&declined_card.id), CaptureMethod::Automatic), &key("pay-poor"))
        .await
        .unwrap_err();
    let Some(StripeError::Card(card_error)) = error.stripe() else { panic!("{error:?}") };
    assert_eq!(card_error.code.as_deref(), Some("card_declined"));
    assert_eq!(card_error.decline_code.as_deref(), Some("insufficient_funds"));
    assert!(!error.is_transient());
    let declined_id = card_error.payment_intent.clone().unwrap();
    let after = stripe.retrieve_payment_intent(&declined_id).await.unwrap();
    assert_eq!(after.status, PaymentIntentStatus::RequiresPaymentMethod);
    assert_eq!(after.last_payment_error.and_then(|e| e.decline_code).as_deref(), Some("insufficient_funds"));
    // The buyer tries another card on the same PaymentIntent.
    let retried = stripe
        .confirm_payment_intent(
            &declined_id,
            &ConfirmPaymentIntent { payment_method: Some(PaymentMethodId::parse("pm_card_visa").unwrap()) },
            &key("pay-poor:retry"),
        )
        .await
        .unwrap();
    assert_eq!(retried.status, PaymentIntentStatus::Succeeded);

    let delayed_card = PaymentMethodId::parse(local_cloud::stripe::DELAYED_TOKEN).unwrap();
    let processing = stripe
        .create_payment_intent(&intent(eur(3_000), Some(&delayed_card), CaptureMethod::Automatic), &key("pay-slow"))
        .await
        .unwrap();
    assert_eq!(processing.status, PaymentIntentStatus::Processing);
    let cancel = CancelPaymentIntent { cancellation_reason: Some(CancellationReason::Abandoned) };
    let refused = stripe.cancel_payment_intent(&processing.id, &cancel, &key("pay-slow:cancel")).await.unwrap_err();
    assert_eq!(refused.stripe().and_then(StripeError::code), Some("payment_intent_unexpected_state"));
    let settled = receiver
        .wait_for("the delayed success", |d| {
            d.iter().any(|d| {
                d.event()["type"] == "payment_intent.succeeded"
                    && d.event()["data"]["object"]["id"] == processing.id.as_str()
            })
        })
        .await;
    let kinds: Vec<String> = settled
        .iter()
        .map(|d| verify_webhook(d.signature.as_deref(), &d.body, &secrets, now(), DEFAULT_TOLERANCE_SECS).unwrap().kind)
        .collect();
    assert!(kinds.iter().all(|kind| kind.starts_with("payment_intent.")), "{kinds:?}");
    assert!(kinds.contains(&event_types::PAYMENT_INTENT_PAYMENT_FAILED.to_owned()), "{kinds:?}");
    assert!(kinds.contains(&event_types::PAYMENT_INTENT_PROCESSING.to_owned()), "{kinds:?}");
    let final_state = stripe.retrieve_payment_intent(&processing.id).await.unwrap();
    assert_eq!(final_state.status, PaymentIntentStatus::Succeeded);

    // Cancelling before payment is the saga's compensation.
    let open = stripe
        .create_payment_intent(&intent(eur(1_000), None, CaptureMethod::Automatic), &key("pay-open"))
        .await
        .unwrap();
    let canceled = stripe.cancel_payment_intent(&open.id, &cancel, &key("pay-open:cancel")).await.unwrap();
    assert_eq!(
        (canceled.status, canceled.cancellation_reason.as_deref()),
        (PaymentIntentStatus::Canceled, Some("abandoned"))
    );
}

#[tokio::test]
async fn retries_with_the_same_key_are_safe_and_misuse_is_typed() {
    let sandbox = sandbox();
    let stripe = client(&sandbox.stripe_url(), KEY);
    let visa = PaymentMethodId::parse("pm_card_visa").unwrap();
    let params = intent(eur(2_000), Some(&visa), CaptureMethod::Automatic);
    let first = stripe.create_payment_intent(&params, &key("ogrp_02:pay")).await.unwrap();
    let retry = stripe.create_payment_intent(&params, &key("ogrp_02:pay")).await.unwrap();
    assert_eq!(retry, first, "a retry gets the first PaymentIntent back");
    let api = Api::new(&sandbox);
    assert_eq!(api.events("?type=payment_intent.created").await.len(), 1);

    let changed = CreatePaymentIntent { amount: eur(2_100), ..params };
    let misuse = stripe.create_payment_intent(&changed, &key("ogrp_02:pay")).await.unwrap_err();
    assert!(matches!(misuse.stripe(), Some(StripeError::Idempotency { .. })), "{misuse:?}");
    assert!(!misuse.is_transient());

    let missing = stripe.retrieve_payment_intent(&PaymentIntentId::parse("pi_missing").unwrap()).await.unwrap_err();
    let Some(StripeError::InvalidRequest { status, code, param, .. }) = missing.stripe() else { panic!("{missing:?}") };
    assert_eq!((*status, code.as_deref(), param.as_deref()), (404, Some("resource_missing"), Some("intent")));
    let stranger = stripe.retrieve_account(&AccountId::parse("acct_stranger").unwrap()).await.unwrap_err();
    assert!(matches!(stranger.stripe(), Some(StripeError::Permission { .. })), "{stranger:?}");

    let wrong_key = client(&sandbox.stripe_url(), "sk_test_not_this_one");
    let denied = wrong_key.retrieve_payment_intent(&first.id).await.unwrap_err();
    assert!(matches!(denied.stripe(), Some(StripeError::Authentication { .. })), "{denied:?}");

    let offline = client("http://127.0.0.1:9", KEY);
    let unreachable = offline.retrieve_payment_intent(&first.id).await.unwrap_err();
    assert!(matches!(unreachable, CallError::Stripe(StripeError::Transport(_))));
    assert!(unreachable.is_transient());

    // Amounts cross in Stripe's units: 5 ISK is sent as 500 and read back as 5 ISK.
    let isk = Money::new(5_000, Currency::parse("ISK").unwrap());
    let created =
        stripe.create_payment_intent(&intent(isk, None, CaptureMethod::Automatic), &key("isk")).await.unwrap();
    assert_eq!(created.amount, 500_000);
    assert_eq!(created.amount_money(), Ok(isk));
}
