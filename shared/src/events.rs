//! Events the edge hands to the core through the queue (DESIGN §5), as one JSON envelope:
//! `{"id":"evt_…","type":"identity.email_verification_requested","occurred_at":"…","data":{…}}`.
//!
//! The envelope is parsed first, so a receiver can acknowledge event types it does not handle
//! (newer producers, other consumers' events) instead of sending them to the dead-letter queue.
//! `id` is the idempotency key: a redelivered event carries the same id.

pub mod edge;
pub mod notification;
pub mod outbox;
pub mod resend;

use crate::identity::email::Email;
use crate::newtype::string_newtype;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const EMAIL_VERIFICATION_REQUESTED: &str = "identity.email_verification_requested";
pub const PASSWORD_RESET_REQUESTED: &str = "identity.password_reset_requested";

/// Event ids are `evt_…`, usually `EventId::generate`.
pub const EVENT_ID_PREFIX: &str = "evt_";
/// Long enough for any prefixed ULID or UUID; short enough to index and log.
pub const MAX_EVENT_ID_LEN: usize = 128;
/// RFC 5321: 254 octets in a forward path.
pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_DISPLAY_NAME_LEN: usize = 100;
/// Links are ours (token in the query); browsers cope with far more, mail clients less.
pub const MAX_LINK_LEN: usize = 2048;

/// Why an event was refused. The producer's bug, so retrying the same bytes cannot help.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EventError {
    #[error("not an event envelope: {0}")]
    Envelope(String),
    #[error("`data` of {event_type} is invalid: {message}")]
    Data { event_type: String, message: String },
}

/// A validated `evt_…` id: plain characters only, so it is safe in SQL params, logs and headers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(String);

impl EventId {
    pub fn parse(id: impl Into<String>) -> Result<Self, String> {
        let id = id.into();
        let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
        if !id.starts_with(EVENT_ID_PREFIX) || id.len() == EVENT_ID_PREFIX.len() {
            return Err(format!("event id must look like {EVENT_ID_PREFIX}…"));
        }
        if id.len() > MAX_EVENT_ID_LEN || !id.bytes().all(plain) {
            return Err(format!("event id must be at most {MAX_EVENT_ID_LEN} of A-Z a-z 0-9 - _ . :"));
        }
        Ok(Self(id))
    }

    /// A new `evt_<ULID>`; time and randomness come from the caller, like `prefixed_id`'s.
    pub fn generate(unix_ms: u64, entropy: crate::ids::Entropy) -> Self {
        Self(crate::ids::new_id("evt", unix_ms, entropy))
    }
}

string_newtype!(EventId, String);

/// An absolute `https://` (or, for local stacks, `http://`) link the recipient opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Link(String);

impl Link {
    pub fn parse(link: impl Into<String>) -> Result<Self, String> {
        let link = link.into();
        let rest = link.strip_prefix("https://").or_else(|| link.strip_prefix("http://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => {}
            _ => return Err("link must be an absolute http(s) URL".into()),
        }
        if link.len() > MAX_LINK_LEN || link.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(format!("link must be at most {MAX_LINK_LEN} characters without spaces"));
        }
        Ok(Self(link))
    }
}

string_newtype!(Link, String);

/// `data` of both identity email events: who, how to greet them, and the one-time link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityEmail {
    pub email: Email,
    /// Absent, null or blank means "no name": the greeting stays generic.
    #[serde(default, deserialize_with = "display_name::deserialize")]
    pub display_name: Option<String>,
    pub link: Link,
}

mod display_name {
    use serde::{Deserialize, Deserializer, de::Error as _};

    use super::MAX_DISPLAY_NAME_LEN;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
        let Some(name) = Option::<String>::deserialize(deserializer)? else { return Ok(None) };
        let name = name.trim();
        if name.chars().count() > MAX_DISPLAY_NAME_LEN || name.contains(char::is_control) {
            return Err(D::Error::custom(format!(
                "display_name must be at most {MAX_DISPLAY_NAME_LEN} characters without control characters"
            )));
        }
        Ok((!name.is_empty()).then(|| name.to_owned()))
    }
}

/// What happened, with its typed `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventPayload {
    EmailVerificationRequested(IdentityEmail),
    PasswordResetRequested(IdentityEmail),
}

impl EventPayload {
    /// The envelope's `type`.
    pub fn event_type(&self) -> &'static str {
        match self {
            EventPayload::EmailVerificationRequested(_) => EMAIL_VERIFICATION_REQUESTED,
            EventPayload::PasswordResetRequested(_) => PASSWORD_RESET_REQUESTED,
        }
    }

    fn data(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            EventPayload::EmailVerificationRequested(data) | EventPayload::PasswordResetRequested(data) => {
                serde_json::to_value(data)
            }
        }
    }
}

/// One event, as produced at the edge and received by the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub occurred_at: DateTime<Utc>,
    pub payload: EventPayload,
}

/// A parsed envelope: an event we handle, or one we only acknowledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Known(Event),
    Unknown { id: EventId, event_type: String },
}

/// The envelope on the wire; `data` stays raw until `type` says what it is.
#[derive(Serialize, Deserialize)]
struct Envelope {
    id: EventId,
    #[serde(rename = "type")]
    event_type: String,
    occurred_at: DateTime<Utc>,
    data: serde_json::Value,
}

impl Event {
    pub fn new(id: EventId, occurred_at: DateTime<Utc>, payload: EventPayload) -> Self {
        Self { id, occurred_at, payload }
    }

    /// The envelope as JSON, `occurred_at` in RFC 3339 with milliseconds and `Z`.
    pub fn to_json(&self) -> String {
        // Plain strings in plain structs: serialising them cannot fail.
        envelope_json(&self.id, self.payload.event_type(), self.occurred_at, &self.payload.data().unwrap_or_default())
    }
}

/// Any event's envelope as JSON, for producers whose `data` is not one of the types above (an
/// outbox row's stored payload).
pub fn envelope_json(id: &EventId, event_type: &str, occurred_at: DateTime<Utc>, data: &serde_json::Value) -> String {
    serde_json::json!({
        "id": id.as_str(),
        "type": event_type,
        "occurred_at": occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// Parses an envelope; `data` is checked only for the types listed above.
pub fn parse(body: &[u8]) -> Result<Incoming, EventError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|error| EventError::Envelope(error.to_string()))?;
    let Envelope { id, event_type, occurred_at, data } = envelope;
    let typed = |data: serde_json::Value| {
        serde_json::from_value::<IdentityEmail>(data)
            .map_err(|error| EventError::Data { event_type: event_type.clone(), message: error.to_string() })
    };
    let payload = match event_type.as_str() {
        EMAIL_VERIFICATION_REQUESTED => EventPayload::EmailVerificationRequested(typed(data)?),
        PASSWORD_RESET_REQUESTED => EventPayload::PasswordResetRequested(typed(data)?),
        _ => return Ok(Incoming::Unknown { id, event_type }),
    };
    Ok(Incoming::Known(Event { id, occurred_at, payload }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn verification() -> serde_json::Value {
        json!({
            "id": "evt_01JZ8Q0000000000000000000A",
            "type": "identity.email_verification_requested",
            "occurred_at": "2026-05-01T12:00:00Z",
            "data": {"email": "ada@example.com", "display_name": "Ada", "link": "https://shop.example/verify?t=abc"}
        })
    }

    fn parse_json(value: &serde_json::Value) -> Result<Incoming, EventError> {
        parse(value.to_string().as_bytes())
    }

    #[test]
    fn a_verification_request_parses_into_its_typed_payload() {
        let Incoming::Known(event) = parse_json(&verification()).unwrap() else { panic!("known type") };
        assert_eq!(event.id.as_str(), "evt_01JZ8Q0000000000000000000A");
        assert_eq!(event.occurred_at.timestamp(), 1_777_636_800);
        let EventPayload::EmailVerificationRequested(data) = &event.payload else { panic!("verification") };
        assert_eq!(data.email.as_str(), "ada@example.com");
        assert_eq!(data.display_name.as_deref(), Some("Ada"));
        assert_eq!(data.link.as_str(), "https://shop.example/verify?t=abc");
    }

    #[test]
    fn to_json_round_trips_through_parse() {
        let Incoming::Known(event) = parse_json(&verification()).unwrap() else { panic!("known type") };
        let json: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(json["type"], "identity.email_verification_requested");
        assert_eq!(json["occurred_at"], "2026-05-01T12:00:00.000Z");
        assert_eq!(parse(event.to_json().as_bytes()).unwrap(), Incoming::Known(event));
    }

    #[test]
    fn any_envelope_parses_as_an_event_of_its_type() {
        let id = EventId::parse("evt_01JZ8Q0000000000000000000B").unwrap();
        let at = DateTime::parse_from_rfc3339("2026-05-01T12:00:00Z").unwrap().with_timezone(&Utc);
        let json = envelope_json(&id, "payments.payment_succeeded", at, &json!({"payment_id": "pay_1"}));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["occurred_at"], "2026-05-01T12:00:00.000Z");
        assert_eq!(value["data"]["payment_id"], "pay_1");
        assert_eq!(
            parse(json.as_bytes()).unwrap(),
            Incoming::Unknown { id, event_type: "payments.payment_succeeded".into() }
        );
    }

    #[test]
    fn generated_event_ids_are_valid_ones() {
        let id = EventId::generate(1_777_636_800_000, [7; 10]);
        assert_eq!(EventId::parse(id.as_str()), Ok(id.clone()));
        assert!(id.as_str().starts_with(EVENT_ID_PREFIX));
    }

    #[test]
    fn password_reset_uses_the_same_data_shape() {
        let mut body = verification();
        body["type"] = json!("identity.password_reset_requested");
        let Incoming::Known(event) = parse_json(&body).unwrap() else { panic!("known type") };
        assert_eq!(event.payload.event_type(), PASSWORD_RESET_REQUESTED);
    }

    #[test]
    fn unknown_types_are_recognised_but_not_typed() {
        let mut body = verification();
        body["type"] = json!("orders.placed");
        body["data"] = json!({"order_id": 1});
        assert_eq!(
            parse_json(&body).unwrap(),
            Incoming::Unknown {
                id: EventId::parse("evt_01JZ8Q0000000000000000000A").unwrap(),
                event_type: "orders.placed".into()
            }
        );
    }

    #[test]
    fn blank_or_missing_display_names_mean_no_name() {
        for name in [json!(null), json!("   ")] {
            let mut body = verification();
            body["data"]["display_name"] = name;
            let Incoming::Known(Event { payload: EventPayload::EmailVerificationRequested(data), .. }) =
                parse_json(&body).unwrap()
            else {
                panic!("verification")
            };
            assert_eq!(data.display_name, None);
        }
        let mut body = verification();
        body["data"].as_object_mut().unwrap().remove("display_name");
        assert!(parse_json(&body).is_ok());
    }

    #[test]
    fn broken_envelopes_and_data_are_refused() {
        let cases = [
            ("id", json!("nope")),
            ("id", json!("evt_has space")),
            ("occurred_at", json!("yesterday")),
            ("data", json!({"email": "not-an-email", "link": "https://x.example/v"})),
            ("data", json!({"email": "ada@example.com", "link": "javascript:alert(1)"})),
            ("data", json!({"email": "ada@example.com, eve@example.com", "link": "https://x.example/v"})),
            ("data", json!({"link": "https://x.example/v"})),
        ];
        for (field, value) in cases {
            let mut body = verification();
            body[field] = value.clone();
            assert!(parse_json(&body).is_err(), "{field} = {value} should be refused");
        }
        assert!(matches!(parse(b"not json"), Err(EventError::Envelope(_))));
    }

    #[test]
    fn header_breaking_display_names_are_refused() {
        let mut body = verification();
        body["data"]["display_name"] = json!("Ada\r\nBcc: eve@example.com");
        assert!(matches!(parse_json(&body), Err(EventError::Data { .. })));
    }

    #[test]
    fn only_plain_mailboxes_are_recipients() {
        for bad in ["", "Ada <ada@example.com>", "ada@example.com, eve@example.com", "a b@example.com"] {
            let mut body = verification();
            body["data"]["email"] = json!(bad);
            assert!(matches!(parse_json(&body), Err(EventError::Data { .. })), "{bad:?}");
        }
    }
}
