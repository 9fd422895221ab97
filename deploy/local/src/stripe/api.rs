//! The endpoints: routing, then one function per call. Each first names the parameters it
//! knows ([`Params::only`]), reads and checks them, and only then touches state, so a rejected
//! request changes nothing. Wording of errors is Stripe's where known, else marked "sandbox wording".

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde_json::{Value as Json, json};

use super::IdSource;
use super::cards::{self, Outcome, TestCard};
use super::error::ApiError;
use super::money::{self, currency};
use super::objects::{
    Account, Charge, ChargeStatus, Endpoint, Event, Failure, IntentStatus, PaymentIntent, PaymentMethod, Refund, State,
    Transfer, type_matches,
};
use super::params::Params;

/// Events kept for `GET /v1/events`; older ones are dropped (Stripe keeps 30 days).
pub const MAX_EVENTS: usize = 10_000;
/// "You can register up to 16 webhook endpoints" (docs.stripe.com/webhooks).
pub const MAX_ENDPOINTS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    CreatePaymentIntent,
    RetrievePaymentIntent(String),
    ConfirmPaymentIntent(String),
    CapturePaymentIntent(String),
    CancelPaymentIntent(String),
    RetrieveCharge(String),
    CreatePaymentMethod,
    RetrievePaymentMethod(String),
    CreateRefund,
    RetrieveRefund(String),
    CreateAccount,
    RetrieveAccount(String),
    CreateTransfer,
    RetrieveTransfer(String),
    RetrieveBalance,
    ListEvents,
    RetrieveEvent(String),
    CreateWebhookEndpoint,
    ListWebhookEndpoints,
    RetrieveWebhookEndpoint(String),
    DeleteWebhookEndpoint(String),
}

impl Route {
    pub fn parse(method: &Method, path: &str) -> Option<Route> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let id = |s: &str| s.to_owned();
        let route = match (method.as_str(), segments.as_slice()) {
            ("POST", ["v1", "payment_intents"]) => Route::CreatePaymentIntent,
            ("GET", ["v1", "payment_intents", pi]) => Route::RetrievePaymentIntent(id(pi)),
            ("POST", ["v1", "payment_intents", pi, "confirm"]) => Route::ConfirmPaymentIntent(id(pi)),
            ("POST", ["v1", "payment_intents", pi, "capture"]) => Route::CapturePaymentIntent(id(pi)),
            ("POST", ["v1", "payment_intents", pi, "cancel"]) => Route::CancelPaymentIntent(id(pi)),
            ("GET", ["v1", "charges", charge]) => Route::RetrieveCharge(id(charge)),
            ("POST", ["v1", "payment_methods"]) => Route::CreatePaymentMethod,
            ("GET", ["v1", "payment_methods", pm]) => Route::RetrievePaymentMethod(id(pm)),
            ("POST", ["v1", "refunds"]) => Route::CreateRefund,
            ("GET", ["v1", "refunds", refund]) => Route::RetrieveRefund(id(refund)),
            ("POST", ["v1", "accounts"]) => Route::CreateAccount,
            ("GET", ["v1", "accounts", account]) => Route::RetrieveAccount(id(account)),
            ("POST", ["v1", "transfers"]) => Route::CreateTransfer,
            ("GET", ["v1", "transfers", transfer]) => Route::RetrieveTransfer(id(transfer)),
            ("GET", ["v1", "balance"]) => Route::RetrieveBalance,
            ("GET", ["v1", "events"]) => Route::ListEvents,
            ("GET", ["v1", "events", event]) => Route::RetrieveEvent(id(event)),
            ("POST", ["v1", "webhook_endpoints"]) => Route::CreateWebhookEndpoint,
            ("GET", ["v1", "webhook_endpoints"]) => Route::ListWebhookEndpoints,
            ("GET", ["v1", "webhook_endpoints", endpoint]) => Route::RetrieveWebhookEndpoint(id(endpoint)),
            ("DELETE", ["v1", "webhook_endpoints", endpoint]) => Route::DeleteWebhookEndpoint(id(endpoint)),
            _ => return None,
        };
        Some(route)
    }
}

/// One request's view of the sandbox, with what it set in motion.
pub struct Ctx<'a> {
    pub state: &'a mut State,
    pub ids: &'a IdSource,
    pub now: i64,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// Events created, to deliver once the state lock is released.
    pub emitted: Vec<String>,
    /// PaymentIntents now `processing`, to complete after the delay.
    pub delayed: Vec<String>,
}

impl Ctx<'_> {
    fn emit(&mut self, kind: &str, object: Json) {
        let pending =
            self.state.endpoints.iter().filter(|endpoint| endpoint.wants(kind)).map(|e| e.id.clone()).collect();
        let id = self.ids.object_id("evt");
        self.state.events.push(Event {
            id: id.clone(),
            kind: kind.to_owned(),
            created: self.now,
            object,
            request_id: self.request_id.clone(),
            idempotency_key: self.idempotency_key.clone(),
            pending,
        });
        let excess = self.state.events.len().saturating_sub(MAX_EVENTS);
        self.state.events.drain(..excess);
        self.emitted.push(id);
    }

    fn intent(&mut self, id: &str) -> Result<&mut PaymentIntent, ApiError> {
        self.state.payment_intents.get_mut(id).ok_or_else(|| ApiError::no_such("payment_intent", id, "intent"))
    }

    fn intent_json(&self, id: &str) -> Json {
        self.state.payment_intents.get(id).map_or(Json::Null, PaymentIntent::json)
    }

    fn charge_mut(&mut self, id: &str) -> Option<&mut Charge> {
        self.state.charges.get_mut(id)
    }
}

pub fn dispatch(ctx: &mut Ctx<'_>, route: &Route, params: &Params) -> Result<Json, ApiError> {
    match route {
        Route::CreatePaymentIntent => create_payment_intent(ctx, params),
        Route::RetrievePaymentIntent(id) => {
            params.only(&[&["client_secret"]])?;
            Ok(ctx.intent(id)?.json())
        }
        Route::ConfirmPaymentIntent(id) => confirm_payment_intent(ctx, id, params),
        Route::CapturePaymentIntent(id) => capture_payment_intent(ctx, id, params),
        Route::CancelPaymentIntent(id) => cancel_payment_intent(ctx, id, params),
        Route::RetrieveCharge(id) => {
            params.only(&[])?;
            if !ctx.state.charges.contains_key(id) {
                return Err(ApiError::no_such("charge", id, "id"));
            }
            Ok(ctx.state.charge_json(id))
        }
        Route::CreatePaymentMethod => create_payment_method(ctx, params),
        Route::RetrievePaymentMethod(id) => {
            params.only(&[])?;
            let method =
                ctx.state.payment_methods.get(id).ok_or_else(|| ApiError::no_such("PaymentMethod", id, "id"))?;
            Ok(method.json())
        }
        Route::CreateRefund => create_refund(ctx, params),
        Route::RetrieveRefund(id) => {
            params.only(&[])?;
            Ok(ctx.state.refunds.get(id).ok_or_else(|| ApiError::no_such("refund", id, "id"))?.json())
        }
        Route::CreateAccount => create_account(ctx, params),
        Route::RetrieveAccount(id) => {
            params.only(&[])?;
            Ok(ctx.state.accounts.get(id).ok_or_else(|| no_access_to_account(id))?.json())
        }
        Route::CreateTransfer => create_transfer(ctx, params),
        Route::RetrieveTransfer(id) => {
            params.only(&[])?;
            Ok(ctx.state.transfers.get(id).ok_or_else(|| ApiError::no_such("transfer", id, "id"))?.json())
        }
        Route::RetrieveBalance => {
            params.only(&[])?;
            Ok(ctx.state.balance_json())
        }
        Route::ListEvents => list_events(ctx, params),
        Route::RetrieveEvent(id) => {
            params.only(&[])?;
            let event = ctx.state.events.iter().find(|event| &event.id == id);
            Ok(event.ok_or_else(|| ApiError::no_such("event", id, "id"))?.json())
        }
        Route::CreateWebhookEndpoint => create_webhook_endpoint(ctx, params),
        Route::ListWebhookEndpoints => {
            params.only(&[&["limit"]])?;
            let data: Vec<Json> = ctx.state.endpoints.iter().rev().map(|endpoint| endpoint.json(false)).collect();
            Ok(json!({"object": "list", "data": data, "has_more": false, "url": "/v1/webhook_endpoints"}))
        }
        Route::RetrieveWebhookEndpoint(id) => {
            params.only(&[])?;
            let endpoint = ctx.state.endpoints.iter().find(|endpoint| &endpoint.id == id);
            Ok(endpoint.ok_or_else(|| ApiError::no_such("webhook endpoint", id, "id"))?.json(false))
        }
        Route::DeleteWebhookEndpoint(id) => {
            params.only(&[])?;
            let index = ctx.state.endpoints.iter().position(|endpoint| &endpoint.id == id);
            let index = index.ok_or_else(|| ApiError::no_such("webhook endpoint", id, "id"))?;
            ctx.state.endpoints.remove(index);
            Ok(json!({"id": id, "object": "webhook_endpoint", "deleted": true}))
        }
    }
}

// ---- PaymentIntents -------------------------------------------------------------------------

const CANCELABLE: [IntentStatus; 4] = [
    IntentStatus::RequiresPaymentMethod,
    IntentStatus::RequiresCapture,
    IntentStatus::RequiresConfirmation,
    IntentStatus::RequiresAction,
];
const CONFIRMABLE: [IntentStatus; 3] =
    [IntentStatus::RequiresPaymentMethod, IntentStatus::RequiresConfirmation, IntentStatus::RequiresAction];

fn create_payment_intent(ctx: &mut Ctx<'_>, params: &Params) -> Result<Json, ApiError> {
    params.only(&[
        &["amount"],
        &["currency"],
        &["confirm"],
        &["payment_method"],
        &["capture_method"],
        &["transfer_group"],
        &["description"],
        &["receipt_email"],
        &["metadata", "*"],
        &["payment_method_types", "*"],
        &["automatic_payment_methods", "enabled"],
    ])?;
    let amount = params.required_integer("amount")?;
    let currency = currency(params)?;
    money::check_charge_amount(amount, &currency)?;
    let confirm_now = params.boolean(&["confirm"])?.unwrap_or(false);
    let capture_method =
        params.one_of("capture_method", &["automatic", "automatic_async", "manual"])?.unwrap_or("automatic".into());
    let types = params.list("payment_method_types");
    if let Some(other) = types.iter().find(|kind| *kind != "card") {
        return Err(ApiError::invalid(format!(
            "The payment method type \"{other}\" is invalid. The sandbox supports only \"card\" (sandbox wording)."
        ))
        .param("payment_method_types")
        .validation());
    }
    let automatic = params.boolean(&["automatic_payment_methods", "enabled"])?;
    if automatic == Some(true) && !types.is_empty() {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: automatic_payment_methods, payment_method_types.",
        )
        .code("parameters_exclusive")
        .validation());
    }
    let metadata = metadata(params)?;
    if confirm_now && params.get(&["payment_method"]).is_none() {
        return Err(missing_payment_method(Json::Null));
    }
    let payment_method = params.string("payment_method").map(|id| resolve_payment_method(ctx, &id)).transpose()?;

    let id = ctx.ids.object_id("pi");
    let status =
        if payment_method.is_some() { IntentStatus::RequiresConfirmation } else { IntentStatus::RequiresPaymentMethod };
    let intent = PaymentIntent {
        client_secret: format!("{id}_secret_{}", ctx.ids.alphanumeric(25)),
        id: id.clone(),
        amount,
        currency,
        status,
        capture_method,
        created: ctx.now,
        description: params.string("description"),
        metadata,
        payment_method,
        latest_charge: None,
        last_payment_error: None,
        amount_capturable: 0,
        amount_received: 0,
        canceled_at: None,
        cancellation_reason: None,
        transfer_group: params.string("transfer_group"),
        receipt_email: params.string("receipt_email"),
        payment_method_types: vec!["card".into()],
        automatic_payment_methods: types.is_empty(),
    };
    let created = intent.json();
    ctx.state.payment_intents.insert(id.clone(), intent);
    ctx.emit("payment_intent.created", created);
    if confirm_now {
        confirm(ctx, &id)?;
    }
    Ok(ctx.intent_json(&id))
}

fn confirm_payment_intent(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Json, ApiError> {
    params.only(&[&["payment_method"], &["return_url"], &["receipt_email"]])?;
    let status = ctx.intent(id)?.status;
    if !CONFIRMABLE.contains(&status) {
        return Err(ApiError::unexpected_state(format!(
            "You cannot confirm this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of \
             the following statuses may be confirmed: requires_payment_method, requires_confirmation, requires_action.",
            status.as_str()
        ))
        .with("payment_intent", ctx.intent_json(id)));
    }
    if let Some(method) = params.string("payment_method") {
        let method = resolve_payment_method(ctx, &method)?;
        ctx.intent(id)?.payment_method = Some(method);
    }
    if let Some(email) = params.string("receipt_email") {
        ctx.intent(id)?.receipt_email = Some(email);
    }
    confirm(ctx, id)?;
    Ok(ctx.intent_json(id))
}

/// One payment attempt: a new Charge, then the card's outcome.
fn confirm(ctx: &mut Ctx<'_>, id: &str) -> Result<(), ApiError> {
    let intent = ctx.intent(id)?.clone();
    let Some(method_id) = intent.payment_method.clone() else {
        return Err(missing_payment_method(intent.json()));
    };
    let outcome = ctx.state.payment_methods.get(&method_id).map_or(Outcome::Succeeds, |method| method.outcome);
    let charge_id = ctx.ids.object_id("ch");
    let charge = Charge {
        id: charge_id.clone(),
        amount: intent.amount,
        amount_captured: 0,
        amount_refunded: 0,
        currency: intent.currency.clone(),
        captured: false,
        refunded: false,
        status: ChargeStatus::Pending,
        payment_intent: id.to_owned(),
        payment_method: method_id.clone(),
        failure: None,
        transfer_group: intent.transfer_group.clone(),
        description: intent.description.clone(),
        receipt_email: intent.receipt_email.clone(),
        metadata: intent.metadata.clone(),
        balance_transaction: None,
        created: ctx.now,
        available_at_once: outcome == Outcome::SucceedsAvailable,
        transferred: 0,
    };
    ctx.state.charges.insert(charge_id.clone(), charge);
    let intent = ctx.intent(id)?;
    intent.latest_charge = Some(charge_id.clone());
    intent.last_payment_error = None;
    match outcome {
        Outcome::Succeeds | Outcome::SucceedsAvailable => {
            authorize(ctx, id, &charge_id);
            Ok(())
        }
        Outcome::Delayed => {
            ctx.intent(id)?.status = IntentStatus::Processing;
            ctx.emit("charge.pending", ctx.state.charge_json(&charge_id));
            ctx.emit("payment_intent.processing", ctx.intent_json(id));
            ctx.delayed.push(id.to_owned());
            Ok(())
        }
        Outcome::Declined { decline_code, message } => Err(decline(ctx, id, &charge_id, decline_code, message)),
    }
}

fn missing_payment_method(intent: Json) -> ApiError {
    let error = ApiError::unexpected_state(
        "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the \
         PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment \
         method.",
    );
    if intent.is_null() { error } else { error.with("payment_intent", intent) }
}

/// The card issuer said yes: capture now, or hold for a manual capture.
fn authorize(ctx: &mut Ctx<'_>, id: &str, charge_id: &str) {
    let Some(intent) = ctx.state.payment_intents.get_mut(id) else { return };
    let manual = intent.manual_capture();
    let amount = intent.amount;
    if manual {
        intent.status = IntentStatus::RequiresCapture;
        intent.amount_capturable = amount;
    } else {
        intent.status = IntentStatus::Succeeded;
        intent.amount_received = amount;
    }
    if let Some(charge) = ctx.state.charges.get_mut(charge_id) {
        charge.status = ChargeStatus::Succeeded;
    }
    if manual {
        ctx.emit("charge.succeeded", ctx.state.charge_json(charge_id));
        ctx.emit("payment_intent.amount_capturable_updated", ctx.intent_json(id));
    } else {
        capture_charge(ctx, charge_id, amount);
        ctx.emit("charge.succeeded", ctx.state.charge_json(charge_id));
        ctx.emit("payment_intent.succeeded", ctx.intent_json(id));
    }
}

fn capture_charge(ctx: &mut Ctx<'_>, charge_id: &str, amount: i64) {
    let transaction = ctx.ids.object_id("txn");
    let Some(charge) = ctx.charge_mut(charge_id) else { return };
    charge.captured = true;
    charge.amount_captured = amount;
    charge.balance_transaction = Some(transaction);
    let (currency, at_once) = (charge.currency.clone(), charge.available_at_once);
    ctx.state.settle(&currency, amount, at_once);
}

/// A declined attempt: the Charge fails, the PaymentIntent goes back to `requires_payment_method`
/// with `last_payment_error`, and the answer is a 402 `card_error` naming both.
fn decline(
    ctx: &mut Ctx<'_>,
    id: &str,
    charge_id: &str,
    decline_code: &'static str,
    message: &'static str,
) -> ApiError {
    if let Some(charge) = ctx.charge_mut(charge_id) {
        charge.status = ChargeStatus::Failed;
        charge.failure = Some(Failure { decline_code, message });
    }
    let method_json = ctx
        .state
        .charges
        .get(charge_id)
        .and_then(|charge| ctx.state.payment_methods.get(&charge.payment_method))
        .map_or(Json::Null, PaymentMethod::json);
    let error = ApiError::card("card_declined", message)
        .with("decline_code", json!(decline_code))
        .with("charge", json!(charge_id));
    let last_error = {
        let mut body = error.body();
        let mut last = body["error"].take();
        last["payment_method"] = method_json.clone();
        last
    };
    if let Some(intent) = ctx.state.payment_intents.get_mut(id) {
        intent.status = IntentStatus::RequiresPaymentMethod;
        intent.payment_method = None;
        intent.last_payment_error = Some(last_error);
    }
    ctx.emit("charge.failed", ctx.state.charge_json(charge_id));
    ctx.emit("payment_intent.payment_failed", ctx.intent_json(id));
    error.with("payment_intent", ctx.intent_json(id)).with("payment_method", method_json)
}

/// The delayed card's attempt settles (called after the processing delay).
pub fn finish_processing(ctx: &mut Ctx<'_>, id: &str) {
    let Some(intent) = ctx.state.payment_intents.get(id) else { return };
    if intent.status != IntentStatus::Processing {
        return;
    }
    if let Some(charge_id) = intent.latest_charge.clone() {
        authorize(ctx, id, &charge_id);
    }
}

fn capture_payment_intent(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Json, ApiError> {
    params.only(&[&["amount_to_capture"], &["metadata", "*"]])?;
    let requested = params.integer("amount_to_capture")?;
    let metadata = metadata(params)?;
    let intent = ctx.intent(id)?;
    if intent.status != IntentStatus::RequiresCapture {
        let status = intent.status.as_str();
        return Err(ApiError::unexpected_state(format!(
            "This PaymentIntent could not be captured because it has a status of {status}. Only a PaymentIntent with \
             one of the following statuses may be captured: requires_capture."
        ))
        .with("payment_intent", ctx.intent_json(id)));
    }
    let capturable = intent.amount_capturable;
    let amount = requested.unwrap_or(capturable);
    if amount < 1 {
        return Err(ApiError::invalid("Invalid positive integer").param("amount_to_capture"));
    }
    if amount > capturable {
        return Err(ApiError::invalid(format!(
            "The amount to capture ({}) is greater than the amount capturable ({}) (sandbox wording).",
            money::display(amount, &intent.currency),
            money::display(capturable, &intent.currency),
        ))
        .code("amount_too_large")
        .param("amount_to_capture"));
    }
    intent.metadata.extend(metadata);
    intent.status = IntentStatus::Succeeded;
    intent.amount_capturable = 0;
    intent.amount_received = amount;
    let Some(charge_id) = intent.latest_charge.clone() else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "capturable PaymentIntent without a charge",
        ));
    };
    capture_charge(ctx, &charge_id, amount);
    ctx.emit("charge.captured", ctx.state.charge_json(&charge_id));
    ctx.emit("payment_intent.succeeded", ctx.intent_json(id));
    Ok(ctx.intent_json(id))
}

fn cancel_payment_intent(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Json, ApiError> {
    params.only(&[&["cancellation_reason"]])?;
    let reason =
        params.one_of("cancellation_reason", &["duplicate", "fraudulent", "requested_by_customer", "abandoned"])?;
    let now = ctx.now;
    let intent = ctx.intent(id)?;
    if !CANCELABLE.contains(&intent.status) {
        let status = intent.status.as_str();
        return Err(ApiError::unexpected_state(format!(
            "You cannot cancel this PaymentIntent because it has a status of {status}. Only a PaymentIntent with one \
             of the following statuses may be canceled: requires_payment_method, requires_capture, \
             requires_confirmation, requires_action, processing."
        ))
        .with("payment_intent", ctx.intent_json(id)));
    }
    let held = (intent.status == IntentStatus::RequiresCapture).then(|| intent.latest_charge.clone()).flatten();
    intent.status = IntentStatus::Canceled;
    intent.amount_capturable = 0;
    intent.canceled_at = Some(now);
    intent.cancellation_reason = reason;
    // "the remaining amount_capturable is automatically refunded": the hold is released.
    if let Some(charge) = held.and_then(|charge_id| ctx.state.charges.get_mut(&charge_id)) {
        charge.refunded = true;
        charge.amount_refunded = charge.amount;
    }
    ctx.emit("payment_intent.canceled", ctx.intent_json(id));
    Ok(ctx.intent_json(id))
}

/// A `payment_method` parameter: a created PaymentMethod, or a `pm_card_*` test token, which
/// (like Stripe) becomes a fresh PaymentMethod of its own.
fn resolve_payment_method(ctx: &mut Ctx<'_>, id: &str) -> Result<String, ApiError> {
    if ctx.state.payment_methods.contains_key(id) {
        return Ok(id.to_owned());
    }
    let card = cards::by_token(id).ok_or_else(|| no_such_param("PaymentMethod", id, "payment_method"))?;
    let method = new_payment_method(ctx, card, 12, current_year(ctx.now) + 1, true, None, None, BTreeMap::new());
    Ok(method)
}

// ---- PaymentMethods -------------------------------------------------------------------------

fn create_payment_method(ctx: &mut Ctx<'_>, params: &Params) -> Result<Json, ApiError> {
    params.only(&[
        &["type"],
        &["card", "number"],
        &["card", "exp_month"],
        &["card", "exp_year"],
        &["card", "cvc"],
        &["billing_details", "name"],
        &["billing_details", "email"],
        &["metadata", "*"],
    ])?;
    params.required("type")?;
    params.one_of("type", &["card"])?;
    let number = params.get(&["card", "number"]).ok_or_else(|| ApiError::missing_parameter("card[number]"))?;
    let month = card_integer(params, "exp_month")?;
    let year = card_integer(params, "exp_year")?;
    let cvc = params.get(&["card", "cvc"]);
    let metadata = metadata(params)?;

    let digits_ok = (12..=19).contains(&number.len()) && cards::luhn_valid(number);
    if !digits_ok {
        return Err(ApiError::card("incorrect_number", "Your card number is incorrect.").param("card[number]"));
    }
    if !(1..=12).contains(&month) {
        return Err(
            ApiError::card("invalid_expiry_month", "Your card's expiration month is invalid.").param("card[exp_month]")
        );
    }
    let year = if year < 100 { year + 2000 } else { year };
    let this_year = current_year(ctx.now);
    if year < this_year || year > this_year + 50 {
        return Err(
            ApiError::card("invalid_expiry_year", "Your card's expiration year is invalid.").param("card[exp_year]")
        );
    }
    if year == this_year && month < current_month(ctx.now) {
        return Err(
            ApiError::card("invalid_expiry_month", "Your card's expiration month is invalid.").param("card[exp_month]")
        );
    }
    if cvc.is_some_and(|cvc| !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit())) {
        return Err(ApiError::card("invalid_cvc", "Your card's security code is invalid.").param("card[cvc]"));
    }
    let Some(card) = cards::by_number(number) else {
        return Err(ApiError::card(
            "card_declined",
            "Your card was declined. Your request was in test mode, but used a non test (live) card. For a list of \
             valid test cards, visit: https://stripe.com/docs/testing.",
        )
        .with("decline_code", json!("test_mode_live_card")));
    };
    let id = new_payment_method(
        ctx,
        card,
        month,
        year,
        cvc.is_some(),
        params.get(&["billing_details", "name"]).map(str::to_owned),
        params.get(&["billing_details", "email"]).map(str::to_owned),
        metadata,
    );
    Ok(ctx.state.payment_methods.get(&id).map_or(Json::Null, PaymentMethod::json))
}

#[allow(clippy::too_many_arguments)]
fn new_payment_method(
    ctx: &mut Ctx<'_>,
    card: &TestCard,
    exp_month: u32,
    exp_year: u32,
    cvc_given: bool,
    billing_name: Option<String>,
    billing_email: Option<String>,
    metadata: BTreeMap<String, String>,
) -> String {
    let id = ctx.ids.object_id("pm");
    let method = PaymentMethod {
        id: id.clone(),
        brand: card.brand,
        funding: card.funding,
        last4: card.number[card.number.len() - 4..].to_owned(),
        exp_month,
        exp_year,
        fingerprint: ctx.ids.fingerprint(card.number),
        outcome: card.outcome,
        cvc_given,
        billing_name,
        billing_email,
        metadata,
        created: ctx.now,
    };
    ctx.state.payment_methods.insert(id.clone(), method);
    id
}

fn card_integer(params: &Params, field: &str) -> Result<u32, ApiError> {
    let name = format!("card[{field}]");
    let text = params.get(&["card", field]).ok_or_else(|| ApiError::missing_parameter(&name))?;
    text.parse::<u32>().map_err(|_| ApiError::invalid_integer(&name, text))
}

fn current_year(now: i64) -> u32 {
    chrono::DateTime::from_timestamp(now, 0).map_or(1970, |time| chrono::Datelike::year(&time).unsigned_abs())
}

fn current_month(now: i64) -> u32 {
    chrono::DateTime::from_timestamp(now, 0).map_or(1, |time| chrono::Datelike::month(&time))
}

// ---- Refunds --------------------------------------------------------------------------------

fn create_refund(ctx: &mut Ctx<'_>, params: &Params) -> Result<Json, ApiError> {
    params.only(&[&["payment_intent"], &["charge"], &["amount"], &["reason"], &["metadata", "*"]])?;
    let requested = params.integer("amount")?;
    let reason = params.one_of("reason", &["duplicate", "fraudulent", "requested_by_customer"])?;
    let metadata = metadata(params)?;
    let charge_id = match (params.string("payment_intent"), params.string("charge")) {
        (None, None) => {
            return Err(ApiError::invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
            )
            .code("parameter_missing")
            .validation());
        }
        (Some(intent_id), charge) => {
            let intent = ctx
                .state
                .payment_intents
                .get(&intent_id)
                .ok_or_else(|| no_such_param("payment_intent", &intent_id, "payment_intent"))?;
            let latest = intent
                .latest_charge
                .clone()
                .filter(|id| ctx.state.charges.get(id).is_some_and(|charge| charge.status == ChargeStatus::Succeeded));
            let Some(latest) = latest else {
                return Err(ApiError::invalid(format!(
                    "This PaymentIntent ({intent_id}) does not have a successful charge to refund."
                ))
                .param("payment_intent"));
            };
            if charge.as_ref().is_some_and(|charge| charge != &latest) {
                return Err(ApiError::invalid(format!(
                    "The charge you provided does not belong to PaymentIntent {intent_id} (sandbox wording)."
                ))
                .param("charge"));
            }
            latest
        }
        (None, Some(charge_id)) => {
            if !ctx.state.charges.contains_key(&charge_id) {
                return Err(no_such_param("charge", &charge_id, "charge"));
            }
            charge_id
        }
    };
    let charge = ctx.state.charges.get(&charge_id).ok_or_else(|| no_such_param("charge", &charge_id, "charge"))?;
    if !charge.captured {
        return Err(ApiError::invalid(format!(
            "Charge {charge_id} has not been captured; cancel its PaymentIntent to release it (sandbox wording)."
        ))
        .code("charge_not_refundable"));
    }
    let refundable = charge.amount_captured - charge.amount_refunded;
    if refundable <= 0 {
        return Err(
            ApiError::invalid(format!("Charge {charge_id} has already been refunded.")).code("charge_already_refunded")
        );
    }
    let amount = requested.unwrap_or(refundable);
    if amount < 1 {
        return Err(ApiError::invalid("Invalid positive integer").param("amount"));
    }
    if amount > refundable {
        return Err(ApiError::invalid(format!(
            "Refund amount ({}) is greater than unrefunded amount on charge ({})",
            money::display(amount, &charge.currency),
            money::display(refundable, &charge.currency),
        ))
        .param("amount"));
    }
    let refund = Refund {
        id: ctx.ids.object_id("re"),
        amount,
        currency: charge.currency.clone(),
        charge: charge_id.clone(),
        payment_intent: charge.payment_intent.clone(),
        reason,
        metadata,
        balance_transaction: ctx.ids.object_id("txn"),
        created: ctx.now,
    };
    let (currency, at_once) = (charge.currency.clone(), charge.available_at_once);
    if let Some(charge) = ctx.charge_mut(&charge_id) {
        charge.amount_refunded += amount;
        charge.refunded = charge.amount_refunded >= charge.amount_captured;
    }
    ctx.state.settle(&currency, -amount, at_once);
    let json = refund.json();
    ctx.state.refunds.insert(refund.id.clone(), refund);
    ctx.emit("refund.created", json.clone());
    ctx.emit("charge.refunded", ctx.state.charge_json(&charge_id));
    Ok(json)
}

// ---- Connect: accounts and transfers --------------------------------------------------------

/// Capabilities the sandbox grants; others are unknown parameters.
const CAPABILITIES: [&str; 2] = ["transfers", "card_payments"];

fn create_account(ctx: &mut Ctx<'_>, params: &Params) -> Result<Json, ApiError> {
    params.only(&[
        &["type"],
        &["country"],
        &["email"],
        &["business_type"],
        &["capabilities", "transfers", "requested"],
        &["capabilities", "card_payments", "requested"],
        &["metadata", "*"],
    ])?;
    let kind = params.required("type")?;
    params.one_of("type", &["custom", "express", "standard"])?;
    params.one_of("business_type", &["company", "government_entity", "individual", "non_profit"])?;
    let country = params.string("country").unwrap_or_else(|| "US".into());
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::invalid(format!(
            "Country '{country}' is unknown. Try using a 2-character alphanumeric country code instead, such as 'US', \
             'EG', or 'GB'."
        ))
        .param("country")
        .validation());
    }
    let mut capabilities = BTreeMap::new();
    for name in CAPABILITIES {
        if params.boolean(&["capabilities", name, "requested"])? == Some(true) {
            capabilities.insert(name.to_owned(), "active".to_owned());
        }
    }
    let metadata = metadata(params)?;
    let account = Account {
        id: format!("acct_{}", ctx.ids.alphanumeric(16)),
        kind,
        default_currency: money::default_currency(&country),
        country,
        email: params.string("email"),
        capabilities,
        metadata,
        created: ctx.now,
    };
    let json = account.json();
    ctx.state.accounts.insert(account.id.clone(), account);
    Ok(json)
}

fn create_transfer(ctx: &mut Ctx<'_>, params: &Params) -> Result<Json, ApiError> {
    params.only(&[
        &["amount"],
        &["currency"],
        &["destination"],
        &["transfer_group"],
        &["source_transaction"],
        &["description"],
        &["metadata", "*"],
    ])?;
    let amount = params.required_integer("amount")?;
    let currency = currency(params)?;
    let destination = params.required("destination")?;
    let metadata = metadata(params)?;
    if amount < 1 {
        return Err(ApiError::invalid("Invalid positive integer").param("amount").validation());
    }
    let account = ctx
        .state
        .accounts
        .get(&destination)
        .ok_or_else(|| no_such_param("destination", &destination, "destination"))?;
    if !account.accepts_transfers() {
        return Err(ApiError::invalid(
            "Your destination account needs to have at least one of the following capabilities enabled: transfers, \
             crypto_transfers, legacy_payments",
        )
        .code("insufficient_capabilities_for_transfer")
        .param("destination"));
    }
    let transfer_group = match params.string("source_transaction") {
        Some(source) => spend_from_charge(ctx, &source, amount, &currency, params.string("transfer_group"))?,
        None => {
            let funds = ctx.state.balance.entry(currency.clone()).or_default();
            if funds.available < amount {
                return Err(insufficient_funds());
            }
            funds.available -= amount;
            params.string("transfer_group")
        }
    };
    let transfer = Transfer {
        id: ctx.ids.object_id("tr"),
        amount,
        currency,
        destination,
        destination_payment: ctx.ids.object_id("py"),
        source_transaction: params.string("source_transaction"),
        transfer_group,
        description: params.string("description"),
        metadata,
        balance_transaction: ctx.ids.object_id("txn"),
        created: ctx.now,
    };
    let json = transfer.json();
    ctx.state.transfers.insert(transfer.id.clone(), transfer);
    ctx.emit("transfer.created", json.clone());
    Ok(json)
}

/// A transfer funded by a charge (docs.stripe.com/connect/separate-charges-and-transfers,
/// "Transfer availability"): same currency, and all transfers from it together within what the
/// charge brought in (here: captured minus refunded). Returns the transfer group: the charge's,
/// or `group_<PaymentIntent>` assigned to both when it had none.
fn spend_from_charge(
    ctx: &mut Ctx<'_>,
    source: &str,
    amount: i64,
    currency: &str,
    requested_group: Option<String>,
) -> Result<Option<String>, ApiError> {
    let charge = ctx.state.charges.get(source).ok_or_else(|| no_such_param("charge", source, "source_transaction"))?;
    if !charge.captured || charge.status != ChargeStatus::Succeeded {
        return Err(ApiError::invalid(format!(
            "Charge {source} has not been captured, so it cannot fund a transfer (sandbox wording)."
        ))
        .param("source_transaction"));
    }
    if charge.currency != currency {
        return Err(ApiError::invalid(format!(
            "The currency of source_transaction's balance transaction ({}) must be the same as the transfer currency \
             ({currency}) (sandbox wording).",
            charge.currency
        ))
        .param("currency"));
    }
    let left = charge.unspent();
    if amount > left {
        return Err(ApiError::invalid(format!(
            "The transfer amount ({}) exceeds what source_transaction {source} has left to transfer ({}) (sandbox \
             wording).",
            money::display(amount, currency),
            money::display(left, currency),
        ))
        .code("balance_insufficient")
        .param("amount"));
    }
    // "returns success regardless of your available balance if the related charge has not settled
    // yet": a charge already settled into the available balance is spent from that balance.
    if charge.available_at_once && ctx.state.balance.get(currency).map_or(0, |funds| funds.available) < amount {
        return Err(insufficient_funds());
    }
    let group =
        charge.transfer_group.clone().or(requested_group).unwrap_or_else(|| format!("group_{}", charge.payment_intent));
    let (intent_id, at_once) = (charge.payment_intent.clone(), charge.available_at_once);
    if let Some(charge) = ctx.charge_mut(source) {
        charge.transferred += amount;
        charge.transfer_group.get_or_insert_with(|| group.clone());
    }
    if let Some(intent) = ctx.state.payment_intents.get_mut(&intent_id) {
        intent.transfer_group.get_or_insert_with(|| group.clone());
    }
    ctx.state.settle(currency, -amount, at_once);
    Ok(Some(group))
}

/// Stripe's test-mode answer to a transfer the available balance cannot cover.
fn insufficient_funds() -> ApiError {
    ApiError::invalid(
        "Insufficient funds in Stripe account. In test mode, you can add funds to your available balance (bypassing \
         your pending balance) by creating a charge with 4000 0000 0000 0077 as the card number. You can use the \
         /v1/balance endpoint to view your Stripe balance (for more details, see stripe.com/docs/api#balance).",
    )
    .code("balance_insufficient")
}

/// What Stripe answers for an account the platform does not control (or that does not exist).
fn no_access_to_account(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "invalid_request_error",
        format!(
            "The provided key does not have access to account '{id}' (or that account does not exist). Application \
             access may have been revoked."
        ),
    )
    .code("account_invalid")
}

// ---- Events and webhook endpoints -----------------------------------------------------------

fn list_events(ctx: &mut Ctx<'_>, params: &Params) -> Result<Json, ApiError> {
    params.only(&[&["limit"], &["starting_after"], &["ending_before"], &["type"], &["types", "*"]])?;
    let limit = params.integer("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("Invalid limit: must be between 1 and 100").param("limit").validation());
    }
    let kind = params.string("type");
    let kinds = params.list("types");
    if kind.is_some() && !kinds.is_empty() {
        return Err(ApiError::invalid("You may only specify one of these parameters: type, types.")
            .code("parameters_exclusive")
            .validation());
    }
    let wanted = |event: &&Event| match (&kind, kinds.is_empty()) {
        (Some(kind), _) => type_matches(kind, &event.kind),
        (None, false) => kinds.iter().any(|kind| type_matches(kind, &event.kind)),
        (None, true) => true,
    };
    // Newest first; the cursors name an event and the page starts after/ends before it.
    let newest_first: Vec<&Event> = ctx.state.events.iter().rev().filter(wanted).collect();
    let position = |param: &str, id: &str| {
        newest_first.iter().position(|event| event.id == id).ok_or_else(|| no_such_param("event", id, param))
    };
    let limit = usize::try_from(limit).unwrap_or(10);
    let (page, has_more): (Vec<&Event>, bool) = match (params.string("starting_after"), params.string("ending_before"))
    {
        (Some(after), _) => {
            let start = position("starting_after", &after)? + 1;
            let rest = &newest_first[start..];
            (rest.iter().take(limit).copied().collect(), rest.len() > limit)
        }
        (None, Some(before)) => {
            let end = position("ending_before", &before)?;
            let earlier = &newest_first[..end];
            let start = earlier.len().saturating_sub(limit);
            (earlier[start..].to_vec(), start > 0)
        }
        (None, None) => (newest_first.iter().take(limit).copied().collect(), newest_first.len() > limit),
    };
    let data: Vec<Json> = page.iter().map(|event| event.json()).collect();
    Ok(json!({"object": "list", "data": data, "has_more": has_more, "url": "/v1/events"}))
}

fn create_webhook_endpoint(ctx: &mut Ctx<'_>, params: &Params) -> Result<Json, ApiError> {
    params.only(&[&["url"], &["enabled_events", "*"], &["description"], &["metadata", "*"], &["api_version"]])?;
    let url = params.required("url")?;
    let enabled_events = params.list("enabled_events");
    if enabled_events.is_empty() {
        return Err(ApiError::missing_parameter("enabled_events"));
    }
    let parsed = url::Url::parse(&url).ok().filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
    if parsed.is_none() {
        return Err(ApiError::invalid(format!("Invalid URL: {url}")).code("url_invalid").param("url").validation());
    }
    if let Some(bad) = enabled_events.iter().find(|kind| *kind != "*" && !kind.contains('.')) {
        return Err(ApiError::invalid(format!("Invalid event type: {bad} (sandbox wording)"))
            .param("enabled_events")
            .validation());
    }
    if ctx.state.endpoints.len() >= MAX_ENDPOINTS {
        return Err(ApiError::invalid(format!(
            "You have reached the maximum of {MAX_ENDPOINTS} webhook endpoints (sandbox wording)."
        )));
    }
    let metadata = metadata(params)?;
    let endpoint = Endpoint {
        id: ctx.ids.object_id("we"),
        url,
        secret: format!("whsec_{}", ctx.ids.alphanumeric(32)),
        enabled_events,
        description: params.string("description"),
        metadata,
        api_version: params.string("api_version"),
        created: ctx.now,
    };
    let json = endpoint.json(true);
    ctx.state.endpoints.push(endpoint);
    Ok(json)
}

// ---- Shared checks --------------------------------------------------------------------------

fn metadata(params: &Params) -> Result<BTreeMap<String, String>, ApiError> {
    use shared::payments::stripe::{MAX_METADATA_KEY_LEN, MAX_METADATA_KEYS, MAX_METADATA_VALUE_LEN};
    let metadata = params.map("metadata");
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(ApiError::invalid(format!("You can only specify up to {MAX_METADATA_KEYS} keys in metadata."))
            .param("metadata")
            .validation());
    }
    for (key, value) in &metadata {
        if key.chars().count() > MAX_METADATA_KEY_LEN {
            return Err(ApiError::invalid(format!(
                "Metadata key names must be {MAX_METADATA_KEY_LEN} characters or less."
            ))
            .param(&format!("metadata[{key}]"))
            .validation());
        }
        if value.chars().count() > MAX_METADATA_VALUE_LEN {
            return Err(ApiError::invalid(format!(
                "Metadata values must be {MAX_METADATA_VALUE_LEN} characters or less."
            ))
            .param(&format!("metadata[{key}]"))
            .validation());
        }
    }
    Ok(metadata)
}

/// A missing object named by a parameter (rather than by the URL): 400, not 404.
fn no_such_param(object: &str, id: &str, param: &str) -> ApiError {
    let mut error = ApiError::no_such(object, id, param);
    error.status = StatusCode::BAD_REQUEST;
    error
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// One step of a random session against the sandbox.
    #[derive(Debug, Clone)]
    enum Op {
        Create {
            amount: i64,
            card: usize,
            confirm: bool,
            manual: bool,
        },
        Confirm {
            intent: usize,
            card: usize,
        },
        /// `delta` around `amount_capturable`; `None` captures it all.
        Capture {
            intent: usize,
            delta: Option<i64>,
        },
        Cancel {
            intent: usize,
        },
        /// `delta` around what is left to refund; `None` refunds the rest.
        Refund {
            intent: usize,
            delta: Option<i64>,
        },
        /// `delta` around what the charge (or the available balance) has left: rules break at the edge.
        Transfer {
            intent: usize,
            delta: i64,
            from_charge: bool,
        },
        Settle {
            intent: usize,
        },
    }

    const TOKENS: [&str; 5] = [
        "pm_card_visa",
        "pm_card_bypassPending",
        "pm_card_chargeDeclined",
        "pm_card_chargeDeclinedInsufficientFunds",
        cards::DELAYED_TOKEN,
    ];

    /// Weighted towards payments that go through, so refunds and transfers have money to move.
    fn op() -> impl Strategy<Value = Op> {
        let index = 0usize..8;
        let amount = 50i64..5_000;
        let card = || prop_oneof![3 => Just(0usize), 2 => Just(1), 1 => Just(2), 1 => Just(3), 1 => Just(4)];
        // Mostly right at the limit, where off-by-one rules would show.
        let delta = || prop_oneof![-2i64..=2, -300i64..300];
        prop_oneof![
            3 => (amount, card(), prop::bool::weighted(0.8), prop::bool::weighted(0.3))
                .prop_map(|(amount, card, confirm, manual)| Op::Create { amount, card, confirm, manual }),
            1 => (index.clone(), card()).prop_map(|(intent, card)| Op::Confirm { intent, card }),
            1 => (index.clone(), proptest::option::of(delta())).prop_map(|(intent, delta)| Op::Capture { intent, delta }),
            1 => index.clone().prop_map(|intent| Op::Cancel { intent }),
            2 => (index.clone(), proptest::option::of(delta())).prop_map(|(intent, delta)| Op::Refund { intent, delta }),
            2 => (index.clone(), delta(), any::<bool>())
                .prop_map(|(intent, delta, from_charge)| Op::Transfer { intent, delta, from_charge }),
            1 => index.prop_map(|intent| Op::Settle { intent }),
        ]
    }

    fn run(ctx: &mut Ctx<'_>, route: Route, form: &str) -> Result<Json, ApiError> {
        dispatch(ctx, &route, &Params::parse(form.as_bytes()))
    }

    /// Transitions the state machine may make (docs.stripe.com/payments/paymentintents/lifecycle).
    fn allowed(from: IntentStatus, to: IntentStatus) -> bool {
        use IntentStatus::*;
        from == to
            || matches!(
                (from, to),
                (
                    RequiresPaymentMethod | RequiresConfirmation,
                    RequiresConfirmation | Processing | RequiresCapture | Succeeded | RequiresPaymentMethod | Canceled
                ) | (Processing, RequiresCapture | Succeeded)
                    | (RequiresCapture, Succeeded | Canceled)
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn money_never_appears_or_vanishes_and_states_move_only_forward(ops in proptest::collection::vec(op(), 1..40)) {
            session(ops)?;
        }
    }

    /// Runs `ops` against a fresh sandbox, checking after each step that PaymentIntents only move
    /// along the documented transitions and that the books balance.
    fn session(ops: Vec<Op>) -> Result<(), TestCaseError> {
        let mut state = State::default();
        let ids = IdSource::new();
        let mut ctx = Ctx {
            state: &mut state,
            ids: &ids,
            now: 1_800_000_000,
            request_id: None,
            idempotency_key: None,
            emitted: Vec::new(),
            delayed: Vec::new(),
        };
        let account =
            run(&mut ctx, Route::CreateAccount, "type=express&capabilities[transfers][requested]=true").unwrap();
        let account = account["id"].as_str().unwrap().to_owned();
        let mut intents: Vec<String> = Vec::new();
        let mut transferred_total = 0i64;
        for op in ops {
            let before: Vec<IntentStatus> = intents.iter().map(|id| ctx.state.payment_intents[id].status).collect();
            let pick = |index: usize| intents.get(index % intents.len().max(1)).cloned();
            match op {
                Op::Create { amount, card, confirm, manual } => {
                    let capture = if manual { "manual" } else { "automatic" };
                    let form = format!(
                        "amount={amount}&currency=eur&payment_method={}&confirm={confirm}&capture_method={capture}",
                        TOKENS[card]
                    );
                    let _ = run(&mut ctx, Route::CreatePaymentIntent, &form);
                    // The new PaymentIntent, whether or not its confirmation was declined.
                    let new: Vec<String> =
                        ctx.state.payment_intents.keys().filter(|id| !intents.contains(id)).cloned().collect();
                    intents.extend(new);
                }
                Op::Confirm { intent, card } => {
                    if let Some(id) = pick(intent) {
                        let _ =
                            run(&mut ctx, Route::ConfirmPaymentIntent(id), &format!("payment_method={}", TOKENS[card]));
                    }
                }
                Op::Capture { intent, delta } => {
                    if let Some(id) = pick(intent) {
                        let capturable = ctx.state.payment_intents[&id].amount_capturable;
                        let amount = delta.map(|delta| (capturable + delta).max(1));
                        let form = amount.map(|a| format!("amount_to_capture={a}")).unwrap_or_default();
                        if let Ok(intent) = run(&mut ctx, Route::CapturePaymentIntent(id), &form) {
                            let received = intent["amount_received"].as_i64().unwrap_or_default();
                            prop_assert!(
                                received >= 1 && received <= capturable,
                                "captured {received} of {capturable}"
                            );
                        }
                    }
                }
                Op::Cancel { intent } => {
                    if let Some(id) = pick(intent) {
                        let _ = run(&mut ctx, Route::CancelPaymentIntent(id), "");
                    }
                }
                Op::Refund { intent, delta } => {
                    if let Some(id) = pick(intent) {
                        let charge = ctx.state.payment_intents[&id].latest_charge.clone();
                        let refundable = charge
                            .as_ref()
                            .and_then(|c| ctx.state.charges.get(c))
                            .map(|c| c.amount_captured - c.amount_refunded);
                        let amount = delta.map(|delta| (refundable.unwrap_or(100) + delta).max(1));
                        let form = format!(
                            "payment_intent={id}{}",
                            amount.map(|a| format!("&amount={a}")).unwrap_or_default()
                        );
                        if let Ok(refund) = run(&mut ctx, Route::CreateRefund, &form) {
                            let refunded = refund["amount"].as_i64().unwrap_or_default();
                            prop_assert!(
                                refundable.is_some_and(|left| refunded >= 1 && refunded <= left),
                                "refunded {refunded} of {refundable:?}"
                            );
                            prop_assert!(amount.is_none_or(|asked| asked == refunded));
                        }
                    }
                }
                Op::Transfer { intent, delta, from_charge } => {
                    let source = pick(intent)
                        .and_then(|id| ctx.state.payment_intents[&id].latest_charge.clone())
                        .filter(|_| from_charge);
                    let left = source.as_ref().and_then(|c| ctx.state.charges.get(c)).map(Charge::unspent);
                    let available = ctx.state.balance.get("eur").map_or(0, |funds| funds.available);
                    let amount = (left.unwrap_or(available) + delta).max(1);
                    // Sourceless transfers and settled (available) charges draw on the available balance.
                    let settled =
                        source.as_ref().and_then(|c| ctx.state.charges.get(c)).is_none_or(|c| c.available_at_once);
                    let mut form = format!("amount={amount}&currency=eur&destination={account}");
                    if let Some(charge) = &source {
                        form.push_str(&format!("&source_transaction={charge}"));
                    }
                    if run(&mut ctx, Route::CreateTransfer, &form).is_ok() {
                        if let Some(left) = left {
                            prop_assert!(amount <= left, "transferred {amount} from a charge with {left} left");
                        }
                        if settled {
                            prop_assert!(amount <= available, "transferred {amount} with {available} available");
                        }
                        transferred_total += amount;
                    }
                }
                Op::Settle { intent } => {
                    if let Some(id) = pick(intent) {
                        finish_processing(&mut ctx, &id);
                    }
                }
            }
            for (id, from) in intents.iter().zip(before) {
                let to = ctx.state.payment_intents[id].status;
                prop_assert!(allowed(from, to), "{id}: {from:?} → {to:?}");
            }
            let mut captured_total = 0;
            let mut refunded_total = 0;
            for charge in ctx.state.charges.values() {
                let from_it: i64 = ctx
                    .state
                    .transfers
                    .values()
                    .filter(|t| t.source_transaction.as_deref() == Some(&charge.id))
                    .map(|t| t.amount)
                    .sum();
                let refunds: i64 = ctx.state.refunds.values().filter(|r| r.charge == charge.id).map(|r| r.amount).sum();
                prop_assert!(charge.amount_captured <= charge.amount);
                prop_assert!(charge.captured || charge.amount_captured == 0);
                prop_assert_eq!(from_it, charge.transferred);
                prop_assert!(
                    from_it <= charge.amount_captured,
                    "transfers {from_it} > captured {}",
                    charge.amount_captured
                );
                if charge.captured {
                    prop_assert_eq!(refunds, charge.amount_refunded);
                    prop_assert!(charge.amount_refunded <= charge.amount_captured);
                    let intent = &ctx.state.payment_intents[&charge.payment_intent];
                    prop_assert_eq!(intent.status, IntentStatus::Succeeded);
                    prop_assert_eq!(intent.amount_received, charge.amount_captured);
                }
                captured_total += charge.amount_captured;
                refunded_total += refunds;
            }
            // Every cent is in the balance, refunded, or transferred out.
            let funds = ctx.state.balance.get("eur").copied().unwrap_or_default();
            prop_assert_eq!(funds.available + funds.pending, captured_total - refunded_total - transferred_total);
            prop_assert!(funds.available >= 0 || refunded_total > 0, "only refunds may overdraw: {funds:?}");
        }
        Ok(())
    }
}
