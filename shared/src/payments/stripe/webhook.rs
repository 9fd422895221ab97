//! Stripe's webhook signatures (docs.stripe.com/webhooks, "Verify webhook signatures"):
//! `Stripe-Signature: t=1492774577,v1=5257a8…,v0=6ffbb5…`. Each `v1` is the hex HMAC-SHA256 of
//! `"{t}.{raw body}"` keyed with the endpoint's `whsec_…` secret; other schemes (the test-mode
//! `v0`) are ignored "to prevent downgrade attacks"; several `v1`s appear while a rolled secret is
//! still active. Stripe's libraries default to 5 minutes of tolerance between `t` and now.
//!
//! No clock in here (Workers have none to spare): callers pass `now` in unix seconds.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use sha2::Sha256;
use thiserror::Error;

use super::ids::{EventId, WebhookSecret};

pub const SIGNATURE_HEADER: &str = "Stripe-Signature";
/// DESIGN §5 and Stripe's libraries: 5 minutes.
pub const DEFAULT_TOLERANCE_SECS: u32 = 300;
/// Bounds parsing work on hostile input; real headers are under 300 bytes.
const MAX_HEADER_LEN: usize = 4096;

/// Event types the payments component reacts to (docs.stripe.com/api/events/types).
pub mod event_types {
    pub const PAYMENT_INTENT_CREATED: &str = "payment_intent.created";
    pub const PAYMENT_INTENT_PROCESSING: &str = "payment_intent.processing";
    pub const PAYMENT_INTENT_AMOUNT_CAPTURABLE_UPDATED: &str = "payment_intent.amount_capturable_updated";
    pub const PAYMENT_INTENT_SUCCEEDED: &str = "payment_intent.succeeded";
    pub const PAYMENT_INTENT_PAYMENT_FAILED: &str = "payment_intent.payment_failed";
    pub const PAYMENT_INTENT_CANCELED: &str = "payment_intent.canceled";
    pub const CHARGE_SUCCEEDED: &str = "charge.succeeded";
    pub const CHARGE_PENDING: &str = "charge.pending";
    pub const CHARGE_FAILED: &str = "charge.failed";
    pub const CHARGE_CAPTURED: &str = "charge.captured";
    pub const CHARGE_REFUNDED: &str = "charge.refunded";
    pub const REFUND_CREATED: &str = "refund.created";
    pub const TRANSFER_CREATED: &str = "transfer.created";
}

/// The endpoint's secrets: `next` is accepted too, so a rolled secret can be deployed before
/// the old one expires.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    pub current: WebhookSecret,
    pub next: Option<WebhookSecret>,
}

/// A verified event. `data.object` is the object as it was when the event happened.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
    #[serde(default)]
    pub livemode: bool,
    pub api_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventData {
    pub object: Json,
    pub previous_attributes: Option<Json>,
}

impl Event {
    /// `data.object` as a typed object, e.g. `event.object::<PaymentIntent>()`.
    pub fn object<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data.object)
    }

    /// `data.object.object`: `payment_intent`, `charge`, `refund`, …
    pub fn object_kind(&self) -> Option<&str> {
        self.data.object.get("object").and_then(Json::as_str)
    }
}

/// Why a delivery was refused. Every variant means: process nothing and answer non-2xx (the
/// payments component answers 401, or 400 for a correctly signed body that is not an event).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WebhookRejection {
    #[error("no {SIGNATURE_HEADER} header")]
    MissingHeader,
    #[error("malformed {SIGNATURE_HEADER} header: {0}")]
    BadFormat(&'static str),
    #[error("no v1 signature matches the payload")]
    NoMatchingSignature,
    #[error("signature timestamp {timestamp} is more than {tolerance_secs}s from now ({now})")]
    OutsideTolerance { timestamp: i64, now: i64, tolerance_secs: u32 },
    #[error("signed payload is not a Stripe event: {0}")]
    BadPayload(String),
}

/// The hex `v1` signature of `body` sent at `timestamp`.
pub fn signature(secret: &WebhookSecret, timestamp: i64, body: &[u8]) -> String {
    mac(secret, timestamp, body).finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A `Stripe-Signature` value with one `v1` per secret, as Stripe sends while a secret rolls.
pub fn signature_header(secrets: &[&WebhookSecret], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&signature(secret, timestamp, body));
    }
    header
}

/// Checks a delivery (`header` as received, `None` if absent; the raw body, before any JSON
/// parsing) and returns the event. The signature is checked before the timestamp, so a forged
/// request learns nothing about the clock.
pub fn verify_webhook(
    header: Option<&str>,
    raw_body: &[u8],
    secrets: &WebhookSecrets,
    now: i64,
    tolerance_secs: u32,
) -> Result<Event, WebhookRejection> {
    let header = header.map(str::trim).filter(|header| !header.is_empty()).ok_or(WebhookRejection::MissingHeader)?;
    if header.len() > MAX_HEADER_LEN {
        return Err(WebhookRejection::BadFormat("header too long"));
    }
    let parsed = parse_header(header)?;
    let keys = std::iter::once(&secrets.current).chain(secrets.next.as_ref());
    let matched = keys.flat_map(|secret| parsed.v1.iter().map(move |candidate| (secret, candidate))).any(
        |(secret, candidate)| {
            decode_hex(candidate)
                .is_some_and(|bytes| mac(secret, parsed.timestamp, raw_body).verify_slice(&bytes).is_ok())
        },
    );
    if !matched {
        return Err(WebhookRejection::NoMatchingSignature);
    }
    if now.abs_diff(parsed.timestamp) > u64::from(tolerance_secs) {
        return Err(WebhookRejection::OutsideTolerance { timestamp: parsed.timestamp, now, tolerance_secs });
    }
    serde_json::from_slice(raw_body).map_err(|error| WebhookRejection::BadPayload(error.to_string()))
}

struct ParsedHeader<'a> {
    timestamp: i64,
    v1: Vec<&'a str>,
}

/// Stripe's step 1: split on `,`, each element on the first `=`; `t` is the timestamp, every `v1`
/// a candidate; anything else is discarded.
fn parse_header(header: &str) -> Result<ParsedHeader<'_>, WebhookRejection> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for element in header.split(',') {
        let Some((prefix, value)) = element.trim().split_once('=') else {
            return Err(WebhookRejection::BadFormat("an element is not prefix=value"));
        };
        match prefix {
            "t" if timestamp.is_some() => return Err(WebhookRejection::BadFormat("more than one timestamp")),
            "t" => {
                let seconds =
                    value.parse::<i64>().map_err(|_| WebhookRejection::BadFormat("timestamp is not a number"))?;
                timestamp = Some(seconds);
            }
            "v1" => v1.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookRejection::BadFormat("no timestamp"))?;
    if v1.is_empty() {
        return Err(WebhookRejection::BadFormat("no v1 signature"));
    }
    Ok(ParsedHeader { timestamp, v1 })
}

fn mac(secret: &WebhookSecret, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;
    const T: i64 = 1_492_774_577;
    /// `printf '%s' '1492774577.{"id":"evt_test_webhook","object":"event"}' | openssl dgst -sha256 -hmac whsec_test_secret`:
    /// an HMAC computed outside this code, so the scheme itself is pinned, not just self-consistency.
    const OPENSSL_V1: &str = "88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a";
    /// The same with `whsec_next_secret`.
    const OPENSSL_V1_NEXT: &str = "d81029c3165372a2eb8d165cb633a70a7f43ac16b68a30475c3c615e42c5c503";

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).unwrap()
    }

    fn secrets() -> WebhookSecrets {
        WebhookSecrets { current: secret("whsec_test_secret"), next: None }
    }

    fn event_body() -> Vec<u8> {
        serde_json::json!({
            "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event", "api_version": "2024-06-20",
            "created": T, "livemode": false, "pending_webhooks": 1, "type": "payment_intent.succeeded",
            "request": {"id": "req_1", "idempotency_key": "k"},
            "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 2000}}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_signature_is_hex_hmac_sha256_of_timestamp_dot_body() {
        assert_eq!(signature(&secret("whsec_test_secret"), T, BODY), OPENSSL_V1);
        assert_eq!(signature_header(&[&secret("whsec_test_secret")], T, BODY), format!("t={T},v1={OPENSSL_V1}"));
    }

    #[test]
    fn a_correctly_signed_event_is_returned_parsed() {
        let body = event_body();
        let header = signature_header(&[&secrets().current], T, &body);
        let event = verify_webhook(Some(&header), &body, &secrets(), T + 10, DEFAULT_TOLERANCE_SECS).unwrap();
        assert_eq!(event.id.as_str(), "evt_1NG8Du2eZvKYlo2CUI79vXWy");
        assert_eq!(event.kind, event_types::PAYMENT_INTENT_SUCCEEDED);
        assert_eq!(event.created, T);
        assert_eq!(event.object_kind(), Some("payment_intent"));
        assert_eq!(event.data.object["amount"], 2000);
    }

    #[test]
    fn an_openssl_signed_header_verifies_and_other_schemes_are_ignored() {
        // Like Stripe's test mode: a fake v0 beside the real v1, in either order, with spaces.
        let header =
            format!("t={T}, v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39, v1={OPENSSL_V1}");
        let rejection = verify_webhook(Some(&header), BODY, &secrets(), T, 300).unwrap_err();
        // The signature matched; the body is just not a full event.
        assert!(matches!(rejection, WebhookRejection::BadPayload(_)), "{rejection:?}");
        let only_v0 = format!("t={T},v0={OPENSSL_V1}");
        assert_eq!(
            verify_webhook(Some(&only_v0), BODY, &secrets(), T, 300),
            Err(WebhookRejection::BadFormat("no v1 signature"))
        );
    }

    #[test]
    fn any_of_several_v1_signatures_may_match_current_or_next() {
        let rolled = WebhookSecrets { current: secret("whsec_old_secret"), next: Some(secret("whsec_next_secret")) };
        let header = format!("t={T},v1={},v1={OPENSSL_V1_NEXT}", "0".repeat(64));
        assert!(matches!(verify_webhook(Some(&header), BODY, &rolled, T, 300), Err(WebhookRejection::BadPayload(_))));
        let both = WebhookSecrets { current: secret("whsec_test_secret"), next: Some(secret("whsec_next_secret")) };
        let body = event_body();
        let header = signature_header(&[&secret("whsec_next_secret")], T, &body);
        assert!(verify_webhook(Some(&header), &body, &both, T, 300).is_ok());
    }

    #[test]
    fn wrong_secret_changed_body_or_changed_timestamp_match_nothing() {
        let body = event_body();
        let header = signature_header(&[&secrets().current], T, &body);
        let other = WebhookSecrets { current: secret("whsec_other"), next: None };
        assert_eq!(verify_webhook(Some(&header), &body, &other, T, 300), Err(WebhookRejection::NoMatchingSignature));
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert_eq!(
            verify_webhook(Some(&header), &tampered, &secrets(), T, 300),
            Err(WebhookRejection::NoMatchingSignature)
        );
        let moved = header.replace(&format!("t={T}"), &format!("t={}", T + 1));
        assert_eq!(verify_webhook(Some(&moved), &body, &secrets(), T, 300), Err(WebhookRejection::NoMatchingSignature));
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused_both_ways() {
        let body = event_body();
        let header = signature_header(&[&secrets().current], T, &body);
        assert!(verify_webhook(Some(&header), &body, &secrets(), T + 300, 300).is_ok());
        assert!(verify_webhook(Some(&header), &body, &secrets(), T - 300, 300).is_ok());
        assert_eq!(
            verify_webhook(Some(&header), &body, &secrets(), T + 301, 300),
            Err(WebhookRejection::OutsideTolerance { timestamp: T, now: T + 301, tolerance_secs: 300 })
        );
        assert!(matches!(
            verify_webhook(Some(&header), &body, &secrets(), T - 301, 300),
            Err(WebhookRejection::OutsideTolerance { .. })
        ));
    }

    #[test]
    fn missing_or_malformed_headers_are_told_apart() {
        let body = event_body();
        assert_eq!(verify_webhook(None, &body, &secrets(), T, 300), Err(WebhookRejection::MissingHeader));
        assert_eq!(verify_webhook(Some("  "), &body, &secrets(), T, 300), Err(WebhookRejection::MissingHeader));
        for (header, reason) in [
            ("v1=abc", "no timestamp"),
            ("t=abc,v1=00", "timestamp is not a number"),
            ("t=1,t=2,v1=00", "more than one timestamp"),
            ("t=1,garbage", "an element is not prefix=value"),
            ("t=1", "no v1 signature"),
        ] {
            assert_eq!(
                verify_webhook(Some(header), &body, &secrets(), T, 300),
                Err(WebhookRejection::BadFormat(reason)),
                "{header}"
            );
        }
        let long = format!("t=1,{}", "v1=00,".repeat(1000));
        assert_eq!(
            verify_webhook(Some(&long), &body, &secrets(), T, 300),
            Err(WebhookRejection::BadFormat("header too long"))
        );
    }
}
