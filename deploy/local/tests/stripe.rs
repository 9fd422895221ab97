//! Pins the Stripe sandbox's wire protocol over raw HTTP: authentication, form-encoded bodies,
//! Stripe's error envelope and codes, object shapes, the PaymentIntent state machine, test cards,
//! refunds, Connect transfers, idempotency keys, events and signed webhook deliveries.
//! Each test runs its own sandbox.

mod stripe_support;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use stripe_support::{Api, KEY, OTHER_KEY, Receiver, eventually, sandbox, sandbox_with};

fn id_with_prefix(value: &Value, prefix: &str) -> String {
    let id = value.as_str().unwrap_or_else(|| panic!("expected an id, got {value}"));
    assert!(id.starts_with(prefix) && id.len() > prefix.len() + 10, "{id} should start with {prefix}");
    id.to_owned()
}

// ---- Authentication and request format -------------------------------------------------------

#[tokio::test]
async fn requests_without_a_valid_key_get_401_with_stripes_messages() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let url = format!("{}/v1/balance", api.base);

    let none = api.raw(api.client().get(&url)).await;
    let error = none.error(401, "invalid_request_error", None);
    assert!(error["message"].as_str().unwrap().starts_with("You did not provide an API key."), "{error}");
    assert_eq!(none.header("www-authenticate"), Some("Basic realm=\"Stripe\""));

    let wrong = api.raw(api.client().get(&url).bearer_auth("sk_test_wrongkey1234")).await;
    let error = wrong.error(401, "invalid_request_error", None);
    assert_eq!(error["message"], "Invalid API Key provided: sk_test_********1234");

    // Basic auth with the key as the user name, as `curl -u sk_test_…:` sends it.
    let basic = api.raw(api.client().get(&url).basic_auth(KEY, Some(""))).await;
    assert_eq!(basic.ok()["object"], "balance");
    let bearer = api.get("/v1/balance").await;
    assert_eq!(bearer.ok()["livemode"], false);
}

#[tokio::test]
async fn unknown_urls_json_bodies_and_unknown_parameters_are_refused() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);

    let unknown = api.get("/v1/widgets").await;
    let error = unknown.error(404, "invalid_request_error", None);
    assert!(error["message"].as_str().unwrap().starts_with("Unrecognized request URL (GET: /v1/widgets)."));

    let json_body = api
        .raw(
            api.client()
                .post(format!("{}/v1/payment_intents", api.base))
                .bearer_auth(KEY)
                .json(&json!({"amount": 2000, "currency": "usd"})),
        )
        .await;
    let error = json_body.error(400, "invalid_request_error", None);
    assert!(error["message"].as_str().unwrap().contains("application/x-www-form-urlencoded"), "{error}");

    let typo = api.post("/v1/payment_intents", &[("amount", "2000"), ("currency", "usd"), ("amout", "1")]).await;
    let error = typo.error(400, "invalid_request_error", Some("parameter_unknown"));
    assert_eq!(error["param"], "amout");
    assert_eq!(error["message"], "Received unknown parameter: amout");
    assert_eq!(error["doc_url"], "https://stripe.com/docs/error-codes/parameter-unknown");

    let nested = api.post("/v1/payment_methods", &[("type", "card"), ("card[nmber]", "4242424242424242")]).await;
    assert_eq!(nested.error(400, "invalid_request_error", Some("parameter_unknown"))["param"], "card[nmber]");

    let missing = api.post("/v1/payment_intents", &[("currency", "usd")]).await;
    let error = missing.error(400, "invalid_request_error", Some("parameter_missing"));
    assert_eq!(
        (error["param"].as_str(), error["message"].as_str()),
        (Some("amount"), Some("Missing required param: amount."))
    );

    let not_a_number = api.post("/v1/payment_intents", &[("amount", "20.00"), ("currency", "usd")]).await;
    let error = not_a_number.error(400, "invalid_request_error", Some("parameter_invalid_integer"));
    assert_eq!(error["message"], "Invalid integer: 20.00");

    let currency = api.post("/v1/payment_intents", &[("amount", "2000"), ("currency", "xyz")]).await;
    let error = currency.error(400, "invalid_request_error", None);
    assert_eq!(error["param"], "currency");
    assert!(error["message"].as_str().unwrap().starts_with("Invalid currency: xyz."));

    let small = api.post("/v1/payment_intents", &[("amount", "49"), ("currency", "usd")]).await;
    let error = small.error(400, "invalid_request_error", Some("amount_too_small"));
    assert_eq!(error["message"], "Amount must be at least $0.50 usd");

    // Nothing above created anything.
    assert!(api.events("").await.is_empty());
}

// ---- PaymentIntents -------------------------------------------------------------------------

#[tokio::test]
async fn a_created_payment_intent_has_stripes_shape() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let created = api
        .raw(
            api.client()
                .post(format!("{}/v1/payment_intents", api.base))
                .bearer_auth(KEY)
                .header("Stripe-Version", "2024-06-20")
                .form(&[
                    ("amount", "2000"),
                    ("currency", "eur"),
                    ("metadata[order_group]", "ogrp_1"),
                    ("transfer_group", "ogrp_1"),
                    ("payment_method_types[]", "card"),
                    ("description", "Order ogrp_1"),
                ]),
        )
        .await;
    let intent = created.ok();
    let id = id_with_prefix(&intent["id"], "pi_");
    assert!(created.header("request-id").is_some_and(|id| id.starts_with("req_")));
    assert_eq!(created.header("stripe-version"), Some("2024-06-20"));
    assert_eq!(intent["object"], "payment_intent");
    assert_eq!(intent["amount"], 2000);
    assert_eq!(intent["currency"], "eur");
    assert_eq!(intent["status"], "requires_payment_method");
    assert_eq!(intent["capture_method"], "automatic");
    assert_eq!(intent["amount_capturable"], 0);
    assert_eq!(intent["amount_received"], 0);
    assert_eq!(intent["latest_charge"], Value::Null);
    assert_eq!(intent["last_payment_error"], Value::Null);
    assert_eq!(intent["payment_method"], Value::Null);
    assert_eq!(intent["metadata"], json!({"order_group": "ogrp_1"}));
    assert_eq!(intent["transfer_group"], "ogrp_1");
    assert_eq!(intent["description"], "Order ogrp_1");
    assert_eq!(intent["payment_method_types"], json!(["card"]));
    assert_eq!(intent["livemode"], false);
    assert!(intent["client_secret"].as_str().unwrap().starts_with(&format!("{id}_secret_")));
    let now =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap();
    assert!((now - intent["created"].as_i64().unwrap()).abs() < 60);
    for key in ["canceled_at", "cancellation_reason", "customer", "next_action", "on_behalf_of", "transfer_data"] {
        assert!(intent.get(key).is_some_and(Value::is_null), "{key} should be present and null");
    }

    assert_eq!(api.get(&format!("/v1/payment_intents/{id}")).await.ok(), intent);
    let missing = api.get("/v1/payment_intents/pi_doesnotexist").await;
    let error = missing.error(404, "invalid_request_error", Some("resource_missing"));
    assert_eq!(error["message"], "No such payment_intent: 'pi_doesnotexist'");
    assert_eq!(error["param"], "intent");
}

#[tokio::test]
async fn payment_method_then_confirm_walks_the_documented_states() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let without_method =
        api.post("/v1/payment_intents", &[("amount", "1500"), ("currency", "usd"), ("confirm", "true")]).await;
    let error = without_method.error(400, "invalid_request_error", Some("payment_intent_unexpected_state"));
    assert!(error["message"].as_str().unwrap().contains("missing a payment method"), "{error}");

    let created = api
        .post("/v1/payment_intents", &[("amount", "1500"), ("currency", "usd"), ("payment_method", "pm_card_visa")])
        .await;
    let intent = created.ok();
    assert_eq!(intent["status"], "requires_confirmation");
    let id = intent["id"].as_str().unwrap();
    // A test token becomes a PaymentMethod of its own.
    let method = id_with_prefix(&intent["payment_method"], "pm_");
    assert_ne!(method, "pm_card_visa");

    let confirmed = api.post(&format!("/v1/payment_intents/{id}/confirm"), &[]).await;
    let intent = confirmed.ok();
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount_received"], 1500);
    let charge_id = id_with_prefix(&intent["latest_charge"], "ch_");

    let charge = api.get(&format!("/v1/charges/{charge_id}")).await;
    let charge = charge.ok();
    assert_eq!(charge["object"], "charge");
    assert_eq!(charge["status"], "succeeded");
    assert_eq!((charge["paid"].as_bool(), charge["captured"].as_bool()), (Some(true), Some(true)));
    assert_eq!(charge["amount_captured"], 1500);
    assert_eq!(charge["payment_intent"], id);
    assert_eq!(charge["payment_method"], method.as_str());
    assert_eq!(charge["payment_method_details"]["card"]["last4"], "4242");
    assert_eq!(charge["outcome"]["type"], "authorized");
    id_with_prefix(&charge["balance_transaction"], "txn_");

    let again = api.post(&format!("/v1/payment_intents/{id}/confirm"), &[]).await;
    let error = again.error(400, "invalid_request_error", Some("payment_intent_unexpected_state"));
    assert!(error["message"].as_str().unwrap().contains("it has a status of succeeded"), "{error}");

    assert_eq!(
        api.event_types().await,
        ["payment_intent.succeeded", "charge.succeeded", "payment_intent.created"],
        "newest first"
    );
}

#[tokio::test]
async fn manual_capture_holds_then_captures_no_more_than_authorised() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let held = api.pay("3000", "eur", "pm_card_visa", &[("capture_method", "manual")]).await;
    let intent = held.ok();
    assert_eq!(intent["status"], "requires_capture");
    assert_eq!(intent["amount_capturable"], 3000);
    assert_eq!(intent["amount_received"], 0);
    let id = intent["id"].as_str().unwrap();
    let charge = api.get(&format!("/v1/charges/{}", intent["latest_charge"].as_str().unwrap())).await;
    assert_eq!(charge.ok()["captured"], false);

    let too_much = api.post(&format!("/v1/payment_intents/{id}/capture"), &[("amount_to_capture", "3001")]).await;
    assert_eq!(too_much.error(400, "invalid_request_error", Some("amount_too_large"))["param"], "amount_to_capture");

    let captured = api.post(&format!("/v1/payment_intents/{id}/capture"), &[("amount_to_capture", "2500")]).await;
    let intent = captured.ok();
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount_received"], 2500);
    assert_eq!(intent["amount_capturable"], 0);
    let charge = api.get(&format!("/v1/charges/{}", intent["latest_charge"].as_str().unwrap())).await;
    assert_eq!((charge.ok()["captured"].as_bool(), charge.ok()["amount_captured"].as_i64()), (Some(true), Some(2500)));

    let twice = api.post(&format!("/v1/payment_intents/{id}/capture"), &[]).await;
    let error = twice.error(400, "invalid_request_error", Some("payment_intent_unexpected_state"));
    assert!(error["message"].as_str().unwrap().contains("status of succeeded"));
    assert_eq!(error["payment_intent"]["id"], id);
    let types = api.event_types().await;
    assert_eq!(types[..2], ["payment_intent.succeeded", "charge.captured"]);
    assert!(types.contains(&"payment_intent.amount_capturable_updated".to_owned()));
}

#[tokio::test]
async fn cancel_is_allowed_only_from_the_documented_states() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let open = api.post("/v1/payment_intents", &[("amount", "1000"), ("currency", "usd")]).await;
    let id = open.ok()["id"].as_str().unwrap().to_owned();
    let bad_reason = api.post(&format!("/v1/payment_intents/{id}/cancel"), &[("cancellation_reason", "bored")]).await;
    let error = bad_reason.error(400, "invalid_request_error", None);
    assert_eq!(
        error["message"],
        "Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer, or abandoned"
    );
    let canceled = api.post(&format!("/v1/payment_intents/{id}/cancel"), &[("cancellation_reason", "abandoned")]).await;
    let intent = canceled.ok();
    assert_eq!(intent["status"], "canceled");
    assert_eq!(intent["cancellation_reason"], "abandoned");
    assert!(intent["canceled_at"].as_i64().is_some());

    // A held payment can be cancelled; the hold is released.
    let held = api.pay("1000", "usd", "pm_card_visa", &[("capture_method", "manual")]).await;
    let held_id = held.ok()["id"].as_str().unwrap().to_owned();
    let released = api.post(&format!("/v1/payment_intents/{held_id}/cancel"), &[]).await;
    assert_eq!(released.ok()["amount_capturable"], 0);
    let charge = api.get(&format!("/v1/charges/{}", released.ok()["latest_charge"].as_str().unwrap())).await;
    assert_eq!(charge.ok()["refunded"], true);

    let paid = api.pay("1000", "usd", "pm_card_visa", &[]).await;
    let paid_id = paid.ok()["id"].as_str().unwrap().to_owned();
    let too_late = api.post(&format!("/v1/payment_intents/{paid_id}/cancel"), &[]).await;
    let error = too_late.error(400, "invalid_request_error", Some("payment_intent_unexpected_state"));
    assert_eq!(
        error["message"],
        "You cannot cancel this PaymentIntent because it has a status of succeeded. Only a PaymentIntent with one of \
         the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, \
         requires_action, processing."
    );
    // Card payments in `processing` cannot be cancelled either ("in rare cases" is US bank accounts).
    let processing = api.pay("1000", "usd", "pm_card_sandbox_delayed", &[]).await;
    assert_eq!(processing.ok()["status"], "processing");
    let processing_id = processing.ok()["id"].as_str().unwrap().to_owned();
    let refused = api.post(&format!("/v1/payment_intents/{processing_id}/cancel"), &[]).await;
    refused.error(400, "invalid_request_error", Some("payment_intent_unexpected_state"));

    let canceled_again = api.post(&format!("/v1/payment_intents/{id}/cancel"), &[]).await;
    canceled_again.error(400, "invalid_request_error", Some("payment_intent_unexpected_state"));
    assert!(api.event_types().await.iter().filter(|t| *t == "payment_intent.canceled").count() == 2);
}

#[tokio::test]
async fn a_declined_card_answers_402_and_leaves_the_intent_retryable() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let declined = api.pay("2000", "usd", "pm_card_chargeDeclined", &[]).await;
    let error = declined.error(402, "card_error", Some("card_declined"));
    assert_eq!(error["decline_code"], "generic_decline");
    assert_eq!(error["message"], "Your card was declined.");
    let charge = id_with_prefix(&error["charge"], "ch_");
    assert_eq!(error["payment_intent"]["status"], "requires_payment_method");
    assert_eq!(error["payment_intent"]["last_payment_error"]["decline_code"], "generic_decline");
    assert_eq!(error["payment_method"]["card"]["last4"], "0002");
    let id = error["payment_intent"]["id"].as_str().unwrap().to_owned();

    let stored = api.get(&format!("/v1/payment_intents/{id}")).await;
    let intent = stored.ok();
    assert_eq!(intent["status"], "requires_payment_method");
    assert_eq!(intent["latest_charge"], charge.as_str());
    assert_eq!(intent["last_payment_error"]["code"], "card_declined");
    assert_eq!(intent["last_payment_error"]["type"], "card_error");
    let failed = api.get(&format!("/v1/charges/{charge}")).await;
    assert_eq!(
        (failed.ok()["status"].as_str(), failed.ok()["failure_code"].as_str()),
        (Some("failed"), Some("card_declined"))
    );
    assert_eq!(failed.ok()["paid"], false);

    let types = api.event_types().await;
    assert!(types.contains(&"payment_intent.payment_failed".to_owned()), "{types:?}");
    assert!(types.contains(&"charge.failed".to_owned()), "{types:?}");

    let insufficient = api
        .post(
            &format!("/v1/payment_intents/{id}/confirm"),
            &[("payment_method", "pm_card_chargeDeclinedInsufficientFunds")],
        )
        .await;
    assert_eq!(insufficient.error(402, "card_error", Some("card_declined"))["decline_code"], "insufficient_funds");

    let retried = api.post(&format!("/v1/payment_intents/{id}/confirm"), &[("payment_method", "pm_card_visa")]).await;
    let intent = retried.ok();
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["last_payment_error"], Value::Null);
    assert_ne!(intent["latest_charge"], charge.as_str());
}

#[tokio::test]
async fn the_delayed_card_stays_processing_then_succeeds_on_its_own() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let method = api
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4000000000008880"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2040"),
            ],
        )
        .await;
    let method = method.ok()["id"].as_str().unwrap().to_owned();
    let started = api.pay("1200", "eur", &method, &[]).await;
    let intent = started.ok();
    assert_eq!(intent["status"], "processing");
    let charge = api.get(&format!("/v1/charges/{}", intent["latest_charge"].as_str().unwrap())).await;
    assert_eq!(charge.ok()["status"], "pending");
    let id = intent["id"].as_str().unwrap().to_owned();

    let done = eventually("the delayed payment to settle", || async {
        let intent = api.get(&format!("/v1/payment_intents/{id}")).await.body;
        (intent["status"] == "succeeded").then_some(intent)
    })
    .await;
    assert_eq!(done["amount_received"], 1200);
    let types = api.event_types().await;
    assert_eq!(types[..2], ["payment_intent.succeeded", "charge.succeeded"]);
    assert!(types.contains(&"payment_intent.processing".to_owned()));
    let succeeded = &api.events("?type=payment_intent.succeeded").await[0];
    assert_eq!(succeeded["request"], json!({"id": null, "idempotency_key": null}), "not caused by a request");
}

// ---- PaymentMethods -------------------------------------------------------------------------

#[tokio::test]
async fn card_payment_methods_validate_number_expiry_and_cvc() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let card = |number: &'static str, month: &'static str, year: &'static str, cvc: &'static str| {
        vec![
            ("type", "card"),
            ("card[number]", number),
            ("card[exp_month]", month),
            ("card[exp_year]", year),
            ("card[cvc]", cvc),
        ]
    };
    let created = api.post("/v1/payment_methods", &card("4242424242424242", "12", "2040", "123")).await;
    let method = created.ok();
    id_with_prefix(&method["id"], "pm_");
    assert_eq!(method["object"], "payment_method");
    assert_eq!(method["type"], "card");
    assert_eq!(method["card"]["brand"], "visa");
    assert_eq!(method["card"]["last4"], "4242");
    assert_eq!((method["card"]["exp_month"].as_i64(), method["card"]["exp_year"].as_i64()), (Some(12), Some(2040)));
    assert!(method.to_string().find("4242424242424242").is_none(), "the number is never echoed");
    assert_eq!(api.get(&format!("/v1/payment_methods/{}", method["id"].as_str().unwrap())).await.ok(), method);

    let two_digit_year = api.post("/v1/payment_methods", &card("5555555555554444", "1", "40", "123")).await;
    assert_eq!(two_digit_year.ok()["card"]["exp_year"], 2040);

    let cases = [
        (card("4242424242424241", "12", "2040", "123"), "incorrect_number", "card[number]"),
        (card("4242424242424242", "13", "2040", "123"), "invalid_expiry_month", "card[exp_month]"),
        (card("4242424242424242", "12", "2001", "123"), "invalid_expiry_year", "card[exp_year]"),
        (card("4242424242424242", "12", "2040", "12a"), "invalid_cvc", "card[cvc]"),
    ];
    for (form, code, param) in cases {
        let refused = api.post("/v1/payment_methods", &form).await;
        assert_eq!(refused.error(402, "card_error", Some(code))["param"], param);
    }
    let live_card = api.post("/v1/payment_methods", &card("4111111111111111", "12", "2040", "123")).await;
    assert_eq!(live_card.error(402, "card_error", Some("card_declined"))["decline_code"], "test_mode_live_card");
}

// ---- Refunds --------------------------------------------------------------------------------

#[tokio::test]
async fn refunds_are_partial_or_full_and_never_exceed_what_was_captured() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let paid = api.pay("2500", "usd", "pm_card_visa", &[]).await;
    let intent = paid.ok()["id"].as_str().unwrap().to_owned();
    let charge = paid.ok()["latest_charge"].as_str().unwrap().to_owned();

    let first =
        api.post("/v1/refunds", &[("payment_intent", &intent), ("amount", "1000"), ("metadata[order]", "ord_1")]).await;
    let refund = first.ok();
    id_with_prefix(&refund["id"], "re_");
    assert_eq!(refund["object"], "refund");
    assert_eq!(refund["amount"], 1000);
    assert_eq!(refund["charge"], charge.as_str());
    assert_eq!(refund["payment_intent"], intent.as_str());
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(refund["metadata"], json!({"order": "ord_1"}));

    let too_much = api.post("/v1/refunds", &[("payment_intent", &intent), ("amount", "1501")]).await;
    let error = too_much.error(400, "invalid_request_error", None);
    assert_eq!(error["message"], "Refund amount ($15.01) is greater than unrefunded amount on charge ($15.00)");
    assert_eq!(error["param"], "amount");

    let rest = api.post("/v1/refunds", &[("charge", &charge)]).await;
    assert_eq!(rest.ok()["amount"], 1500, "no amount refunds what is left");
    let state = api.get(&format!("/v1/charges/{charge}")).await;
    assert_eq!((state.ok()["amount_refunded"].as_i64(), state.ok()["refunded"].as_bool()), (Some(2500), Some(true)));

    let again = api.post("/v1/refunds", &[("payment_intent", &intent)]).await;
    let error = again.error(400, "invalid_request_error", Some("charge_already_refunded"));
    assert_eq!(error["message"], format!("Charge {charge} has already been refunded."));

    let refunded = api.events("?type=charge.refunded").await;
    assert_eq!(refunded.len(), 2);
    assert_eq!(refunded[0]["data"]["object"]["amount_refunded"], 2500);
    assert_eq!(api.events("?type=refund.created").await.len(), 2);

    let held = api.pay("1000", "usd", "pm_card_visa", &[("capture_method", "manual")]).await;
    let held = held.ok()["id"].as_str().unwrap().to_owned();
    let uncaptured = api.post("/v1/refunds", &[("payment_intent", &held)]).await;
    uncaptured.error(400, "invalid_request_error", Some("charge_not_refundable"));
    let neither = api.post("/v1/refunds", &[("amount", "100")]).await;
    neither.error(400, "invalid_request_error", Some("parameter_missing"));
    let unknown = api.post("/v1/refunds", &[("payment_intent", "pi_nope")]).await;
    assert_eq!(
        unknown.error(400, "invalid_request_error", Some("resource_missing"))["message"],
        "No such payment_intent: 'pi_nope'"
    );
}

// ---- Connect --------------------------------------------------------------------------------

async fn express_account(api: &Api, transfers: bool) -> String {
    let mut form = vec![("type", "express"), ("country", "DE"), ("email", "vendor@example.com")];
    if transfers {
        form.push(("capabilities[transfers][requested]", "true"));
    }
    let created = api.post("/v1/accounts", &form).await;
    created.ok()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn express_accounts_have_the_account_shape_and_requested_capabilities() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let id = express_account(&api, true).await;
    assert!(id.starts_with("acct_"));
    let account = api.get(&format!("/v1/accounts/{id}")).await;
    let account = account.ok();
    assert_eq!(account["object"], "account");
    assert_eq!(account["type"], "express");
    assert_eq!(account["country"], "DE");
    assert_eq!(account["default_currency"], "eur");
    assert_eq!(account["email"], "vendor@example.com");
    assert_eq!(account["capabilities"], json!({"transfers": "active"}));
    assert_eq!(account["payouts_enabled"], true);

    let wrong_type = api.post("/v1/accounts", &[("type", "premium")]).await;
    wrong_type.error(400, "invalid_request_error", None);
    let unknown_capability =
        api.post("/v1/accounts", &[("type", "express"), ("capabilities[teleport][requested]", "true")]).await;
    unknown_capability.error(400, "invalid_request_error", Some("parameter_unknown"));
    let stranger = api.get("/v1/accounts/acct_notmine").await;
    stranger.error(403, "invalid_request_error", Some("account_invalid"));
}

#[tokio::test]
async fn transfers_need_a_capable_account_and_funds_from_the_source_charge_or_the_balance() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let vendor = express_account(&api, true).await;
    let paid = api.pay("10000", "eur", "pm_card_visa", &[("transfer_group", "ogrp_7")]).await;
    let charge = paid.ok()["latest_charge"].as_str().unwrap().to_owned();

    let first = api
        .post(
            "/v1/transfers",
            &[
                ("amount", "7000"),
                ("currency", "eur"),
                ("destination", &vendor),
                ("source_transaction", &charge),
                ("metadata[order]", "ord_7a"),
            ],
        )
        .await;
    let transfer = first.ok();
    id_with_prefix(&transfer["id"], "tr_");
    assert_eq!(transfer["object"], "transfer");
    assert_eq!(transfer["amount"], 7000);
    assert_eq!(transfer["destination"], vendor.as_str());
    assert_eq!(transfer["source_transaction"], charge.as_str());
    assert_eq!(transfer["transfer_group"], "ogrp_7", "taken from the source charge");
    assert_eq!(transfer["reversed"], false);
    id_with_prefix(&transfer["destination_payment"], "py_");

    let over = api
        .post(
            "/v1/transfers",
            &[("amount", "3001"), ("currency", "eur"), ("destination", &vendor), ("source_transaction", &charge)],
        )
        .await;
    over.error(400, "invalid_request_error", Some("balance_insufficient"));
    let exact = api
        .post(
            "/v1/transfers",
            &[("amount", "3000"), ("currency", "eur"), ("destination", &vendor), ("source_transaction", &charge)],
        )
        .await;
    exact.ok();

    // Without a source the money must be available, and card charges only ever reach pending…
    let sourceless =
        api.post("/v1/transfers", &[("amount", "100"), ("currency", "eur"), ("destination", &vendor)]).await;
    let error = sourceless.error(400, "invalid_request_error", Some("balance_insufficient"));
    assert!(error["message"].as_str().unwrap().contains("4000 0000 0000 0077"), "{error}");
    // …except with the card that bypasses the pending balance.
    let settled = api.pay("5000", "eur", "pm_card_bypassPending", &[]).await;
    let settled_charge = settled.ok()["latest_charge"].as_str().unwrap().to_owned();
    let balance = api.get("/v1/balance").await;
    let available = balance.ok()["available"].as_array().unwrap().iter().find(|row| row["currency"] == "eur").cloned();
    assert_eq!(available.map(|row| row["amount"].clone()), Some(json!(5000)));
    let funded = api.post("/v1/transfers", &[("amount", "5000"), ("currency", "eur"), ("destination", &vendor)]).await;
    assert_eq!(funded.ok()["source_transaction"], Value::Null);
    // That charge's money is already spent from the available balance; naming it as the source
    // does not spend it twice.
    let twice = api
        .post(
            "/v1/transfers",
            &[("amount", "1"), ("currency", "eur"), ("destination", &vendor), ("source_transaction", &settled_charge)],
        )
        .await;
    twice.error(400, "invalid_request_error", Some("balance_insufficient"));

    let incapable = express_account(&api, false).await;
    let refused = api
        .post(
            "/v1/transfers",
            &[("amount", "100"), ("currency", "eur"), ("destination", &incapable), ("source_transaction", &charge)],
        )
        .await;
    refused.error(400, "invalid_request_error", Some("insufficient_capabilities_for_transfer"));
    let nobody =
        api.post("/v1/transfers", &[("amount", "100"), ("currency", "eur"), ("destination", "acct_nobody")]).await;
    assert_eq!(
        nobody.error(400, "invalid_request_error", Some("resource_missing"))["message"],
        "No such destination: 'acct_nobody'"
    );
    assert_eq!(api.events("?type=transfer.created").await.len(), 3);
}

#[tokio::test]
async fn a_refunded_charge_cannot_fund_more_transfers_and_group_names_are_generated() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let vendor = express_account(&api, true).await;
    let paid = api.pay("4000", "usd", "pm_card_visa", &[]).await;
    let (intent, charge) =
        (paid.ok()["id"].as_str().unwrap().to_owned(), paid.ok()["latest_charge"].as_str().unwrap().to_owned());
    api.post("/v1/refunds", &[("payment_intent", &intent), ("amount", "3000")]).await.ok();
    let over = api
        .post(
            "/v1/transfers",
            &[("amount", "1001"), ("currency", "usd"), ("destination", &vendor), ("source_transaction", &charge)],
        )
        .await;
    over.error(400, "invalid_request_error", Some("balance_insufficient"));
    let within = api
        .post(
            "/v1/transfers",
            &[("amount", "1000"), ("currency", "usd"), ("destination", &vendor), ("source_transaction", &charge)],
        )
        .await;
    assert_eq!(within.ok()["transfer_group"], format!("group_{intent}"));
    let wrong_currency = api
        .post(
            "/v1/transfers",
            &[("amount", "1"), ("currency", "eur"), ("destination", &vendor), ("source_transaction", &charge)],
        )
        .await;
    assert_eq!(wrong_currency.error(400, "invalid_request_error", None)["param"], "currency");
}

// ---- Idempotency ----------------------------------------------------------------------------

#[tokio::test]
async fn the_same_key_and_parameters_replay_the_first_answer() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let form = [("amount", "2000"), ("currency", "usd"), ("metadata[order]", "o1")];
    let first = api.post_keyed("/v1/payment_intents", &form, Some("order-o1")).await;
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(first.header("idempotency-key"), Some("order-o1"));
    // Same parameters in another order are the same request.
    let reordered = [("metadata[order]", "o1"), ("currency", "usd"), ("amount", "2000")];
    let second = api.post_keyed("/v1/payment_intents", &reordered, Some("order-o1")).await;
    assert_eq!(second.ok(), first.ok());
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.header("original-request"), first.header("request-id"));
    assert_eq!(api.events("?type=payment_intent.created").await.len(), 1, "nothing created twice");

    let changed =
        api.post_keyed("/v1/payment_intents", &[("amount", "2001"), ("currency", "usd")], Some("order-o1")).await;
    let error = changed.error(400, "idempotency_error", None);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Keys for idempotent requests can only be used with the same parameters")
    );
    let elsewhere = api.post_keyed("/v1/refunds", &form, Some("order-o1")).await;
    elsewhere.error(400, "idempotency_error", None);

    // Keys belong to one secret key.
    let other = Api::with_key(&sandbox, OTHER_KEY).post_keyed("/v1/payment_intents", &form, Some("order-o1")).await;
    assert_ne!(other.ok()["id"], first.ok()["id"]);
    assert_eq!(other.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn declines_are_replayed_but_parameter_errors_are_not_stored() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let form =
        [("amount", "2000"), ("currency", "usd"), ("payment_method", "pm_card_chargeDeclined"), ("confirm", "true")];
    let declined = api.post_keyed("/v1/payment_intents", &form, Some("pay-1")).await;
    declined.error(402, "card_error", Some("card_declined"));
    let replayed = api.post_keyed("/v1/payment_intents", &form, Some("pay-1")).await;
    assert_eq!(replayed.status, 402);
    assert_eq!(replayed.body, declined.body);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(api.events("?type=payment_intent.created").await.len(), 1);

    let invalid = api.post_keyed("/v1/payment_intents", &[("currency", "usd")], Some("pay-2")).await;
    invalid.error(400, "invalid_request_error", Some("parameter_missing"));
    let fixed = api.post_keyed("/v1/payment_intents", &[("currency", "usd"), ("amount", "900")], Some("pay-2")).await;
    assert_eq!(fixed.ok()["amount"], 900, "a refused request does not burn its key");
    assert_eq!(fixed.header("idempotent-replayed"), None);
}

// ---- Events ---------------------------------------------------------------------------------

#[tokio::test]
async fn events_list_newest_first_with_cursors_and_type_filters() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    for amount in ["1000", "1100", "1200"] {
        api.pay(amount, "usd", "pm_card_visa", &[]).await.ok();
    }
    let all = api.get("/v1/events?limit=100").await;
    let all = all.ok();
    assert_eq!(
        (all["object"].as_str(), all["url"].as_str(), all["has_more"].as_bool()),
        (Some("list"), Some("/v1/events"), Some(false))
    );
    let events = all["data"].as_array().unwrap();
    assert_eq!(events.len(), 9);
    let event = &events[0];
    id_with_prefix(&event["id"], "evt_");
    assert_eq!(event["object"], "event");
    assert_eq!(event["api_version"], "2024-06-20");
    assert_eq!(event["type"], "payment_intent.succeeded");
    assert_eq!(event["data"]["object"]["amount"], 1200);
    assert_eq!(event["livemode"], false);
    assert!(event["request"]["id"].as_str().is_some_and(|id| id.starts_with("req_")));
    assert_eq!(event["pending_webhooks"], 0);

    let page = api.get("/v1/events?limit=4").await;
    assert_eq!((page.ok()["data"].as_array().unwrap().len(), page.ok()["has_more"].as_bool()), (4, Some(true)));
    let last = page.ok()["data"][3]["id"].as_str().unwrap().to_owned();
    let next = api.get(&format!("/v1/events?limit=4&starting_after={last}")).await;
    assert_eq!(next.ok()["data"][0]["id"], events[4]["id"]);
    let before = api.get(&format!("/v1/events?limit=2&ending_before={last}")).await;
    assert_eq!(before.ok()["data"].as_array().unwrap(), &events[1..3]);

    let succeeded = api.events("?type=payment_intent.succeeded").await;
    assert_eq!(succeeded.len(), 3);
    assert_eq!(api.events("?type=payment_intent.*").await.len(), 6);
    assert_eq!(api.events("?types[]=charge.succeeded&types[]=payment_intent.created").await.len(), 6);

    let one = api.get(&format!("/v1/events/{}", event["id"].as_str().unwrap())).await;
    assert_eq!(one.ok(), event);
    api.get("/v1/events/evt_missing").await.error(404, "invalid_request_error", Some("resource_missing"));
    api.get("/v1/events?limit=101").await.error(400, "invalid_request_error", None);
    api.get("/v1/events?delivery_success=true").await.error(400, "invalid_request_error", Some("parameter_unknown"));
}

// ---- Webhooks -------------------------------------------------------------------------------

/// Stripe's scheme computed here with `hmac` directly, independent of the sandbox and of `shared`.
fn signature_matches(header: &str, body: &[u8], secret: &str) -> bool {
    let timestamp = header.split(',').find_map(|part| part.strip_prefix("t=")).expect("t=");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    header.split(',').filter_map(|part| part.strip_prefix("v1=")).any(|v1| v1 == expected)
}

#[tokio::test]
async fn registered_endpoints_get_every_matching_event_signed_with_their_secret() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    let all = Receiver::start(0).await;
    let picky = Receiver::start(0).await;
    let registered = api.post("/v1/webhook_endpoints", &[("url", &all.url), ("enabled_events[]", "*")]).await;
    let endpoint = registered.ok();
    id_with_prefix(&endpoint["id"], "we_");
    assert_eq!(endpoint["object"], "webhook_endpoint");
    assert_eq!(endpoint["status"], "enabled");
    assert_eq!(endpoint["url"], all.url.as_str());
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let picky_endpoint = api
        .post("/v1/webhook_endpoints", &[("url", &picky.url), ("enabled_events[0]", "payment_intent.succeeded")])
        .await;
    let picky_secret = picky_endpoint.ok()["secret"].as_str().unwrap().to_owned();
    let listed = api.get("/v1/webhook_endpoints").await;
    assert_eq!(listed.ok()["data"].as_array().unwrap().len(), 2);
    assert!(listed.ok()["data"][0].get("secret").is_none(), "the secret is only shown at creation");

    let paid = api.pay("2000", "usd", "pm_card_visa", &[]).await;
    let intent = paid.ok()["id"].as_str().unwrap().to_owned();
    let deliveries = all.wait_for("three events", |d| d.len() >= 3).await;
    let mut kinds: Vec<String> = deliveries.iter().map(|d| d.event()["type"].as_str().unwrap().to_owned()).collect();
    kinds.sort();
    assert_eq!(kinds, ["charge.succeeded", "payment_intent.created", "payment_intent.succeeded"]);
    for delivery in &deliveries {
        let header = delivery.signature.as_deref().expect("Stripe-Signature");
        assert!(header.starts_with("t=") && header.contains(",v1=") && header.contains(",v0="), "{header}");
        assert!(signature_matches(header, &delivery.body, &secret), "{header}");
        assert!(!signature_matches(header, &delivery.body, &picky_secret));
        assert_eq!(delivery.content_type.as_deref(), Some("application/json; charset=utf-8"));
    }
    let succeeded = picky.wait_for("payment_intent.succeeded", |d| !d.is_empty()).await;
    assert_eq!(succeeded[0].event()["data"]["object"]["id"], intent.as_str());
    assert!(signature_matches(succeeded[0].signature.as_deref().unwrap(), &succeeded[0].body, &picky_secret));

    // Delivered events are no longer pending.
    let event_id = succeeded[0].event()["id"].as_str().unwrap().to_owned();
    eventually("pending_webhooks to reach 0", || async {
        (api.get(&format!("/v1/events/{event_id}")).await.body["pending_webhooks"] == 0).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(picky.deliveries().len(), 1, "only the type it asked for");

    let deleted = api
        .raw(
            api.client()
                .delete(format!("{}/v1/webhook_endpoints/{}", api.base, endpoint["id"].as_str().unwrap()))
                .bearer_auth(KEY),
        )
        .await;
    assert_eq!(deleted.ok()["deleted"], true);
    api.pay("3000", "usd", "pm_card_visa", &[]).await.ok();
    picky.wait_for("the second payment", |d| d.len() == 2).await;
    assert_eq!(all.deliveries().len(), 3, "a deleted endpoint gets nothing more");
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff_until_accepted() {
    let receiver = Receiver::start(2).await;
    let sandbox = sandbox_with(|config| {
        config.stripe.webhook_endpoints.push(local_cloud::stripe::EndpointSeed {
            url: receiver.url.clone(),
            secret: "whsec_started_with_flags".into(),
        });
    });
    let api = Api::new(&sandbox);
    api.post("/v1/payment_intents", &[("amount", "2000"), ("currency", "usd")]).await.ok();
    let deliveries = receiver.wait_for("a third attempt", |d| d.len() >= 3).await;
    assert_eq!(deliveries.iter().map(|d| d.status).collect::<Vec<_>>(), [500, 500, 200]);
    let first = deliveries[0].event();
    assert!(deliveries.iter().all(|d| d.event()["id"] == first["id"]), "the same event each time");
    assert!(deliveries.iter().all(|d| signature_matches(
        d.signature.as_deref().unwrap(),
        &d.body,
        "whsec_started_with_flags"
    )));
    let event = first["id"].as_str().unwrap().to_owned();
    eventually("the event to stop pending", || async {
        (api.get(&format!("/v1/events/{event}")).await.body["pending_webhooks"] == 0).then_some(())
    })
    .await;

    let never = Receiver::start(usize::MAX).await;
    let bounded = sandbox_with(|config| {
        config
            .stripe
            .webhook_endpoints
            .push(local_cloud::stripe::EndpointSeed { url: never.url.clone(), secret: "whsec_x".into() });
    });
    Api::new(&bounded).post("/v1/payment_intents", &[("amount", "2000"), ("currency", "usd")]).await.ok();
    never.wait_for("four attempts", |d| d.len() >= 4).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(never.deliveries().len(), 4, "attempts are bounded");
}

#[tokio::test]
async fn webhook_endpoints_need_a_url_and_events() {
    let sandbox = sandbox();
    let api = Api::new(&sandbox);
    api.post("/v1/webhook_endpoints", &[("enabled_events[]", "*")]).await.error(
        400,
        "invalid_request_error",
        Some("parameter_missing"),
    );
    api.post("/v1/webhook_endpoints", &[("url", "http://127.0.0.1:9/x")]).await.error(
        400,
        "invalid_request_error",
        Some("parameter_missing"),
    );
    let bad = api.post("/v1/webhook_endpoints", &[("url", "ftp://example.com"), ("enabled_events[]", "*")]).await;
    bad.error(400, "invalid_request_error", Some("url_invalid"));
}
