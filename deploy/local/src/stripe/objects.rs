//! The sandbox's objects and their JSON, field for field as Stripe's API reference shows them
//! (API version 2024-06-20): what the sandbox does not model is present and `null`, so clients
//! written against Stripe find every key they expect.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value as Json, json};

use super::cards::Outcome;

/// An object literal from `(key, value)` pairs: Stripe objects have too many keys for `json!`'s
/// recursion limit.
pub fn object<const N: usize>(fields: [(&str, Json); N]) -> Json {
    Json::Object(fields.into_iter().map(|(key, value)| (key.to_owned(), value)).collect::<Map<_, _>>())
}

fn null_address() -> Json {
    json!({"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null})
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl IntentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::RequiresPaymentMethod => "requires_payment_method",
            IntentStatus::RequiresConfirmation => "requires_confirmation",
            IntentStatus::RequiresAction => "requires_action",
            IntentStatus::Processing => "processing",
            IntentStatus::RequiresCapture => "requires_capture",
            IntentStatus::Canceled => "canceled",
            IntentStatus::Succeeded => "succeeded",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PaymentIntent {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: IntentStatus,
    pub capture_method: String,
    pub client_secret: String,
    pub created: i64,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub payment_method: Option<String>,
    pub latest_charge: Option<String>,
    pub last_payment_error: Option<Json>,
    pub amount_capturable: i64,
    pub amount_received: i64,
    pub canceled_at: Option<i64>,
    pub cancellation_reason: Option<String>,
    pub transfer_group: Option<String>,
    pub receipt_email: Option<String>,
    pub payment_method_types: Vec<String>,
    pub automatic_payment_methods: bool,
}

impl PaymentIntent {
    pub fn manual_capture(&self) -> bool {
        self.capture_method == "manual"
    }

    pub fn json(&self) -> Json {
        object([
            ("id", json!(self.id)),
            ("object", json!("payment_intent")),
            ("amount", json!(self.amount)),
            ("amount_capturable", json!(self.amount_capturable)),
            ("amount_details", json!({"tip": {}})),
            ("amount_received", json!(self.amount_received)),
            ("application", Json::Null),
            ("application_fee_amount", Json::Null),
            (
                "automatic_payment_methods",
                if self.automatic_payment_methods {
                    json!({"allow_redirects": "always", "enabled": true})
                } else {
                    Json::Null
                },
            ),
            ("canceled_at", json!(self.canceled_at)),
            ("cancellation_reason", json!(self.cancellation_reason)),
            ("capture_method", json!(self.capture_method)),
            ("client_secret", json!(self.client_secret)),
            ("confirmation_method", json!("automatic")),
            ("created", json!(self.created)),
            ("currency", json!(self.currency)),
            ("customer", Json::Null),
            ("description", json!(self.description)),
            ("invoice", Json::Null),
            ("last_payment_error", self.last_payment_error.clone().unwrap_or(Json::Null)),
            ("latest_charge", json!(self.latest_charge)),
            ("livemode", json!(false)),
            ("metadata", json!(self.metadata)),
            ("next_action", Json::Null),
            ("on_behalf_of", Json::Null),
            ("payment_method", json!(self.payment_method)),
            ("payment_method_configuration_details", Json::Null),
            (
                "payment_method_options",
                json!({"card": {"installments": null, "mandate_options": null, "network": null,
                    "request_three_d_secure": "automatic"}}),
            ),
            ("payment_method_types", json!(self.payment_method_types)),
            ("processing", Json::Null),
            ("receipt_email", json!(self.receipt_email)),
            ("review", Json::Null),
            ("setup_future_usage", Json::Null),
            ("shipping", Json::Null),
            ("source", Json::Null),
            ("statement_descriptor", Json::Null),
            ("statement_descriptor_suffix", Json::Null),
            ("status", json!(self.status.as_str())),
            ("transfer_data", Json::Null),
            ("transfer_group", json!(self.transfer_group)),
        ])
    }
}

#[derive(Debug, Clone)]
pub struct PaymentMethod {
    pub id: String,
    pub brand: &'static str,
    pub funding: &'static str,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
    pub fingerprint: String,
    pub outcome: Outcome,
    pub cvc_given: bool,
    pub billing_name: Option<String>,
    pub billing_email: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
}

impl PaymentMethod {
    pub fn json(&self) -> Json {
        object([
            ("id", json!(self.id)),
            ("object", json!("payment_method")),
            ("allow_redisplay", json!("unspecified")),
            (
                "billing_details",
                json!({"address": null_address(), "email": self.billing_email, "name": self.billing_name, "phone": null}),
            ),
            ("card", self.card_json(false)),
            ("created", json!(self.created)),
            ("customer", Json::Null),
            ("livemode", json!(false)),
            ("metadata", json!(self.metadata)),
            ("type", json!("card")),
        ])
    }

    /// `card` on the PaymentMethod, or `payment_method_details.card` on a Charge (`charged`).
    fn card_json(&self, charged: bool) -> Json {
        let cvc_check = match (self.cvc_given, charged) {
            (false, _) => Json::Null,
            (true, false) => json!("unchecked"),
            (true, true) => json!("pass"),
        };
        let mut card = object([
            ("brand", json!(self.brand)),
            ("checks", json!({"address_line1_check": null, "address_postal_code_check": null, "cvc_check": cvc_check})),
            ("country", json!("US")),
            ("exp_month", json!(self.exp_month)),
            ("exp_year", json!(self.exp_year)),
            ("fingerprint", json!(self.fingerprint)),
            ("funding", json!(self.funding)),
            ("last4", json!(self.last4)),
            ("wallet", Json::Null),
        ]);
        if let Json::Object(fields) = &mut card {
            if charged {
                fields.insert("installments".into(), Json::Null);
                fields.insert("mandate".into(), Json::Null);
                fields.insert("network".into(), json!(self.brand));
                fields.insert("three_d_secure".into(), Json::Null);
            } else {
                fields.insert("display_brand".into(), json!(self.brand));
                fields.insert("generated_from".into(), Json::Null);
                fields.insert("networks".into(), json!({"available": [self.brand], "preferred": null}));
                fields.insert("three_d_secure_usage".into(), json!({"supported": true}));
            }
        }
        card
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeStatus {
    Pending,
    Succeeded,
    Failed,
}

impl ChargeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Pending => "pending",
            ChargeStatus::Succeeded => "succeeded",
            ChargeStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub decline_code: &'static str,
    pub message: &'static str,
}

#[derive(Debug, Clone)]
pub struct Charge {
    pub id: String,
    pub amount: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub currency: String,
    pub captured: bool,
    pub refunded: bool,
    pub status: ChargeStatus,
    pub payment_intent: String,
    pub payment_method: String,
    pub failure: Option<Failure>,
    pub transfer_group: Option<String>,
    pub description: Option<String>,
    pub receipt_email: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub balance_transaction: Option<String>,
    pub created: i64,
    /// Funds go straight to the available balance (4000000000000077).
    pub available_at_once: bool,
    /// Sum of transfers made with this charge as `source_transaction`.
    pub transferred: i64,
}

impl Charge {
    /// Captured money not yet refunded or transferred out with this charge as the source.
    pub fn unspent(&self) -> i64 {
        self.amount_captured - self.amount_refunded - self.transferred
    }

    pub fn json(&self, method: Option<&PaymentMethod>) -> Json {
        let outcome = match (&self.status, &self.failure) {
            (ChargeStatus::Pending, _) => Json::Null,
            (_, Some(failure)) => json!({"network_status": "declined_by_network", "reason": failure.decline_code,
                "risk_level": "normal", "risk_score": 20,
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined"}),
            (_, None) => json!({"network_status": "approved_by_network", "reason": null, "risk_level": "normal",
                "risk_score": 20, "seller_message": "Payment complete.", "type": "authorized"}),
        };
        let details = method.map_or(Json::Null, |method| json!({"card": method.card_json(true), "type": "card"}));
        object([
            ("id", json!(self.id)),
            ("object", json!("charge")),
            ("amount", json!(self.amount)),
            ("amount_captured", json!(self.amount_captured)),
            ("amount_refunded", json!(self.amount_refunded)),
            ("application", Json::Null),
            ("application_fee", Json::Null),
            ("application_fee_amount", Json::Null),
            ("balance_transaction", json!(self.balance_transaction)),
            ("billing_details", json!({"address": null_address(), "email": null, "name": null, "phone": null})),
            ("calculated_statement_descriptor", json!("LOCAL SANDBOX")),
            ("captured", json!(self.captured)),
            ("created", json!(self.created)),
            ("currency", json!(self.currency)),
            ("customer", Json::Null),
            ("description", json!(self.description)),
            ("disputed", json!(false)),
            ("failure_balance_transaction", Json::Null),
            ("failure_code", json!(self.failure.as_ref().map(|_| "card_declined"))),
            ("failure_message", json!(self.failure.as_ref().map(|failure| failure.message))),
            ("fraud_details", json!({})),
            ("invoice", Json::Null),
            ("livemode", json!(false)),
            ("metadata", json!(self.metadata)),
            ("on_behalf_of", Json::Null),
            ("outcome", outcome),
            ("paid", json!(self.status == ChargeStatus::Succeeded)),
            ("payment_intent", json!(self.payment_intent)),
            ("payment_method", json!(self.payment_method)),
            ("payment_method_details", details),
            ("receipt_email", json!(self.receipt_email)),
            ("receipt_number", Json::Null),
            ("receipt_url", Json::Null),
            ("refunded", json!(self.refunded)),
            ("review", Json::Null),
            ("shipping", Json::Null),
            ("source_transfer", Json::Null),
            ("statement_descriptor", Json::Null),
            ("statement_descriptor_suffix", Json::Null),
            ("status", json!(self.status.as_str())),
            ("transfer_data", Json::Null),
            ("transfer_group", json!(self.transfer_group)),
        ])
    }
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub charge: String,
    pub payment_intent: String,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub balance_transaction: String,
    pub created: i64,
}

impl Refund {
    pub fn json(&self) -> Json {
        object([
            ("id", json!(self.id)),
            ("object", json!("refund")),
            ("amount", json!(self.amount)),
            ("balance_transaction", json!(self.balance_transaction)),
            ("charge", json!(self.charge)),
            ("created", json!(self.created)),
            ("currency", json!(self.currency)),
            (
                "destination_details",
                json!({"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number",
                    "type": "refund"}, "type": "card"}),
            ),
            ("metadata", json!(self.metadata)),
            ("payment_intent", json!(self.payment_intent)),
            ("reason", json!(self.reason)),
            ("receipt_number", Json::Null),
            ("source_transfer_reversal", Json::Null),
            ("status", json!("succeeded")),
            ("transfer_reversal", Json::Null),
        ])
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub kind: String,
    pub country: String,
    pub email: Option<String>,
    pub default_currency: &'static str,
    /// Requested capabilities, all `active`: the sandbox has no hosted onboarding to wait for.
    pub capabilities: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
}

impl Account {
    pub fn accepts_transfers(&self) -> bool {
        self.capabilities.get("transfers").is_some_and(|status| status == "active")
    }

    pub fn json(&self) -> Json {
        let active = |name: &str| self.capabilities.get(name).is_some_and(|status| status == "active");
        object([
            ("id", json!(self.id)),
            ("object", json!("account")),
            (
                "business_profile",
                json!({"mcc": null, "name": null, "product_description": null, "support_email": null,
                    "support_phone": null, "support_url": null, "url": null}),
            ),
            ("business_type", Json::Null),
            ("capabilities", json!(self.capabilities)),
            ("charges_enabled", json!(active("card_payments"))),
            ("country", json!(self.country)),
            ("created", json!(self.created)),
            ("default_currency", json!(self.default_currency)),
            ("details_submitted", json!(true)),
            ("email", json!(self.email)),
            (
                "external_accounts",
                json!({"object": "list", "data": [], "has_more": false, "total_count": 0,
                    "url": format!("/v1/accounts/{}/external_accounts", self.id)}),
            ),
            ("metadata", json!(self.metadata)),
            ("payouts_enabled", json!(active("transfers"))),
            (
                "requirements",
                json!({"current_deadline": null, "currently_due": [], "disabled_reason": null, "errors": [],
                    "eventually_due": [], "past_due": [], "pending_verification": []}),
            ),
            ("tos_acceptance", json!({"date": null, "ip": null, "user_agent": null})),
            ("type", json!(self.kind)),
        ])
    }
}

#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub destination: String,
    pub destination_payment: String,
    pub source_transaction: Option<String>,
    pub transfer_group: Option<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub balance_transaction: String,
    pub created: i64,
}

impl Transfer {
    pub fn json(&self) -> Json {
        object([
            ("id", json!(self.id)),
            ("object", json!("transfer")),
            ("amount", json!(self.amount)),
            ("amount_reversed", json!(0)),
            ("balance_transaction", json!(self.balance_transaction)),
            ("created", json!(self.created)),
            ("currency", json!(self.currency)),
            ("description", json!(self.description)),
            ("destination", json!(self.destination)),
            ("destination_payment", json!(self.destination_payment)),
            ("livemode", json!(false)),
            ("metadata", json!(self.metadata)),
            (
                "reversals",
                json!({"object": "list", "data": [], "has_more": false, "total_count": 0,
                    "url": format!("/v1/transfers/{}/reversals", self.id)}),
            ),
            ("reversed", json!(false)),
            ("source_transaction", json!(self.source_transaction)),
            ("source_type", json!("card")),
            ("transfer_group", json!(self.transfer_group)),
        ])
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub object: Json,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// Endpoints that have not answered 2xx yet.
    pub pending: Vec<String>,
}

impl Event {
    pub fn json(&self) -> Json {
        json!({
            "id": self.id,
            "object": "event",
            "api_version": shared::payments::stripe::API_VERSION,
            "created": self.created,
            "data": {"object": self.object},
            "livemode": false,
            "pending_webhooks": self.pending.len(),
            "request": {"id": self.request_id, "idempotency_key": self.idempotency_key},
            "type": self.kind,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub secret: String,
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub api_version: Option<String>,
    pub created: i64,
}

impl Endpoint {
    /// `*` takes everything; `payment_intent.*` a whole group.
    pub fn wants(&self, kind: &str) -> bool {
        self.enabled_events.iter().any(|wanted| type_matches(wanted, kind))
    }

    /// The secret is shown once, when the endpoint is created (as Stripe does).
    pub fn json(&self, with_secret: bool) -> Json {
        let mut endpoint = object([
            ("id", json!(self.id)),
            ("object", json!("webhook_endpoint")),
            ("api_version", json!(self.api_version)),
            ("application", Json::Null),
            ("created", json!(self.created)),
            ("description", json!(self.description)),
            ("enabled_events", json!(self.enabled_events)),
            ("livemode", json!(false)),
            ("metadata", json!(self.metadata)),
            ("status", json!("enabled")),
            ("url", json!(self.url)),
        ]);
        if let (true, Json::Object(fields)) = (with_secret, &mut endpoint) {
            fields.insert("secret".into(), json!(self.secret));
        }
        endpoint
    }
}

/// An event type filter: exact, `*`, or `group.*`.
pub fn type_matches(pattern: &str, kind: &str) -> bool {
    pattern == "*"
        || pattern == kind
        || pattern.strip_suffix('*').is_some_and(|prefix| prefix.ends_with('.') && kind.starts_with(prefix))
}

/// The platform's balance in one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Funds {
    pub available: i64,
    pub pending: i64,
}

#[derive(Debug, Default)]
pub struct State {
    pub payment_intents: HashMap<String, PaymentIntent>,
    pub charges: HashMap<String, Charge>,
    pub payment_methods: HashMap<String, PaymentMethod>,
    pub refunds: HashMap<String, Refund>,
    pub accounts: HashMap<String, Account>,
    pub transfers: HashMap<String, Transfer>,
    /// Oldest first.
    pub events: Vec<Event>,
    pub endpoints: Vec<Endpoint>,
    pub balance: BTreeMap<String, Funds>,
}

impl State {
    pub fn event_mut(&mut self, id: &str) -> Option<&mut Event> {
        self.events.iter_mut().rev().find(|event| event.id == id)
    }

    pub fn charge_json(&self, id: &str) -> Json {
        self.charges.get(id).map_or(Json::Null, |charge| charge.json(self.payment_methods.get(&charge.payment_method)))
    }

    /// Moves a charge's money into (positive) or out of (negative) the bucket it settles in.
    pub fn settle(&mut self, currency: &str, amount: i64, available_at_once: bool) {
        let funds = self.balance.entry(currency.to_owned()).or_default();
        if available_at_once {
            funds.available += amount;
        } else {
            funds.pending += amount;
        }
    }

    pub fn balance_json(&self) -> Json {
        let entries = |pick: fn(&Funds) -> i64| -> Vec<Json> {
            let mut rows: Vec<Json> = self
                .balance
                .iter()
                .map(|(currency, funds)| {
                    json!({"amount": pick(funds), "currency": currency, "source_types": {"card": pick(funds)}})
                })
                .collect();
            if rows.is_empty() {
                rows.push(json!({"amount": 0, "currency": "usd", "source_types": {"card": 0}}));
            }
            rows
        };
        json!({
            "object": "balance",
            "available": entries(|funds| funds.available),
            "livemode": false,
            "pending": entries(|funds| funds.pending),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_filters_take_exact_names_star_and_groups() {
        assert!(type_matches("*", "charge.refunded"));
        assert!(type_matches("charge.refunded", "charge.refunded"));
        assert!(type_matches("payment_intent.*", "payment_intent.succeeded"));
        assert!(!type_matches("payment_intent.*", "charge.succeeded"));
        assert!(!type_matches("payment*", "payment_intent.succeeded"));
    }
}
