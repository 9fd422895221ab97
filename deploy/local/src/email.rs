//! A local email sink that speaks the part of Resend's HTTP API we use, plus an inbox to read it.
//!
//! `POST /emails` as Resend documents it (resend.com/docs/api-reference/emails/send-email and the
//! resend/resend-openapi spec): `Authorization: Bearer <key>`, JSON `{from, to (string or array,
//! max 50), subject, html?, text?, reply_to?, headers?}` → 200 `{"id":"<uuid>"}`. Errors have
//! Resend's body `{"statusCode","name","message"}` with the names and texts of its errors page
//! (resend.com/docs/api-reference/errors): `missing_api_key` 401, `invalid_api_key` 403,
//! `invalid_idempotency_key` 400, `invalid_idempotent_request` 409, `missing_required_field` 422,
//! `validation_error` 422 for a field with a bad value (what the live API answers, e.g. for a
//! malformed `to`), `not_found` 404, `method_not_allowed` 405.
//!
//! `Idempotency-Key` (…/dashboard/emails/idempotency-keys): 1–256 characters; within 24 hours
//! a repeat with the same key and body gets the first answer and sends nothing, with another body
//! 409. Only sent emails are remembered, so a rejected request can be fixed and retried under its
//! key. Requests are handled one at a time, so `concurrent_idempotent_requests` never arises.
//!
//! The inbox (ours, not Resend's): `GET /inbox` (newest first), `GET /inbox?to=addr`, `DELETE /inbox`.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::http_server::{self, Body, BodyError};

/// Resend's documented cap on an email including attachments ("40MB").
pub const MAX_REQUEST_BYTES: usize = 40 * 1024 * 1024;
/// Resend: "Max 50" recipients in `to`.
pub const MAX_RECIPIENTS: usize = 50;
/// Resend: "Idempotency keys can be up to 256 characters".
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;
/// Resend remembers a key "in the last 24 hours".
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Oldest messages are dropped past this, so a long dev session cannot grow without bound.
pub const MAX_INBOX: usize = 10_000;

const ADDRESS_FORMAT: &str =
    "The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.";

/// One accepted email as the inbox shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEmail {
    pub id: String,
    pub created_at: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
    pub reply_to: Vec<String>,
    pub headers: BTreeMap<String, String>,
    pub idempotency_key: Option<String>,
}

struct Remembered {
    request: Json,
    id: String,
    at: Instant,
}

#[derive(Default)]
struct State {
    /// Oldest first.
    inbox: Vec<StoredEmail>,
    idempotency: HashMap<String, Remembered>,
}

pub struct Gateway {
    api_key: String,
    log: bool,
    state: Mutex<State>,
    ids: IdSource,
}

/// An error in Resend's shape.
struct Rejection {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl Rejection {
    fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        Self { status, name, message: message.into() }
    }

    fn missing(field: &str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "missing_required_field", format!("Missing `{field}` field."))
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_error", message)
    }

    fn into_response(self) -> Response<Body> {
        let body = json!({ "statusCode": self.status.as_u16(), "name": self.name, "message": self.message });
        http_server::json(self.status, body.to_string())
    }
}

impl Gateway {
    pub fn new(api_key: &str, log: bool) -> Self {
        Self { api_key: api_key.to_owned(), log, state: Mutex::new(State::default()), ids: IdSource::new() }
    }

    pub async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        match (parts.uri.path(), &parts.method) {
            ("/emails", &Method::POST) => {
                let body = match http_server::read_body(body, MAX_REQUEST_BYTES).await {
                    Ok(body) => body,
                    Err(BodyError::TooLarge { .. }) => {
                        return Rejection::invalid(format!("Request body exceeds {MAX_REQUEST_BYTES} bytes."))
                            .into_response();
                    }
                    Err(BodyError::Read(error)) => return Rejection::invalid(error.to_string()).into_response(),
                };
                match self.send(&parts.headers, &body) {
                    Ok(id) => http_server::json(StatusCode::OK, json!({ "id": id }).to_string()),
                    Err(rejection) => rejection.into_response(),
                }
            }
            ("/emails", _) => Rejection::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method is not allowed for the requested path.",
            )
            .into_response(),
            ("/inbox", &Method::GET) => {
                let to = parts.uri.query().and_then(|query| {
                    url::form_urlencoded::parse(query.as_bytes())
                        .find(|(key, _)| key == "to")
                        .map(|(_, v)| v.into_owned())
                });
                let emails = self.inbox(to.as_deref());
                http_server::json(StatusCode::OK, json!({ "emails": emails }).to_string())
            }
            ("/inbox", &Method::DELETE) => {
                let deleted = self.clear();
                http_server::json(StatusCode::OK, json!({ "deleted": deleted }).to_string())
            }
            ("/inbox", _) => {
                Rejection::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Use GET or DELETE on /inbox.")
                    .into_response()
            }
            _ => Rejection::new(StatusCode::NOT_FOUND, "not_found", "The requested endpoint does not exist.")
                .into_response(),
        }
    }

    /// Checks in Resend's order: credentials, idempotency key, body. Returns the email id.
    fn send(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<String, Rejection> {
        self.authorize(headers)?;
        let key = idempotency_key(headers)?;
        let request: Json = serde_json::from_slice(body)
            .map_err(|error| Rejection::invalid(format!("The request body is not valid JSON: {error}")))?;
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(key) = &key {
            state.idempotency.retain(|_, remembered| remembered.at.elapsed() < IDEMPOTENCY_WINDOW);
            if let Some(remembered) = state.idempotency.get(key) {
                return if remembered.request == request {
                    Ok(remembered.id.clone())
                } else {
                    Err(Rejection::new(
                        StatusCode::CONFLICT,
                        "invalid_idempotent_request",
                        "Same idempotency key used with a different request payload.",
                    ))
                };
            }
        }
        let email = validate(&request, self.ids.next(), key.clone())?;
        if self.log {
            eprintln!("email: {} → {} {:?}", email.id, email.to.join(", "), email.subject);
        }
        let id = email.id.clone();
        if let Some(key) = key {
            state.idempotency.insert(key, Remembered { request, id: id.clone(), at: Instant::now() });
        }
        state.inbox.push(email);
        let excess = state.inbox.len().saturating_sub(MAX_INBOX);
        state.inbox.drain(..excess);
        Ok(id)
    }

    fn authorize(&self, headers: &http::HeaderMap) -> Result<(), Rejection> {
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .filter(|key| !key.is_empty());
        match bearer {
            None => Err(Rejection::new(
                StatusCode::UNAUTHORIZED,
                "missing_api_key",
                "Missing API key in the authorization header.",
            )),
            Some(key) if key == self.api_key => Ok(()),
            Some(_) => Err(Rejection::new(StatusCode::FORBIDDEN, "invalid_api_key", "API key is invalid.")),
        }
    }

    /// Newest first; `to` matches a recipient's address case-insensitively.
    pub fn inbox(&self, to: Option<&str>) -> Vec<StoredEmail> {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let wanted = to.map(|to| bare_address(to).to_ascii_lowercase());
        state
            .inbox
            .iter()
            .rev()
            .filter(|email| {
                wanted.as_ref().is_none_or(|wanted| {
                    email.to.iter().any(|recipient| bare_address(recipient).eq_ignore_ascii_case(wanted))
                })
            })
            .cloned()
            .collect()
    }

    /// Empties the inbox (idempotency keys stay: they are the provider's memory, not the inbox's).
    pub fn clear(&self) -> usize {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut state.inbox).len()
    }
}

fn idempotency_key(headers: &http::HeaderMap) -> Result<Option<String>, Rejection> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    match value.to_str() {
        Ok(key) if (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&key.len()) => Ok(Some(key.to_owned())),
        _ => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "The key must be between 1-256 chars.",
        )),
    }
}

fn validate(request: &Json, id: String, idempotency_key: Option<String>) -> Result<StoredEmail, Rejection> {
    let Some(fields) = request.as_object() else {
        return Err(Rejection::invalid("The request body must be a JSON object."));
    };
    let from = required_string(fields, "from")?;
    if !is_mailbox(&from) {
        return Err(Rejection::invalid(format!("Invalid `from` field. {ADDRESS_FORMAT}")));
    }
    let to = addresses(fields, "to")?.ok_or_else(|| Rejection::missing("to"))?;
    if to.is_empty() {
        return Err(Rejection::missing("to"));
    }
    if to.len() > MAX_RECIPIENTS {
        return Err(Rejection::invalid(format!("Too many recipients in `to` field: the maximum is {MAX_RECIPIENTS}.")));
    }
    let subject = required_string(fields, "subject")?;
    let html = optional_string(fields, "html")?;
    let text = optional_string(fields, "text")?;
    if html.is_none() && text.is_none() {
        return Err(Rejection::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_required_field",
            "Missing `html` or `text` field.",
        ));
    }
    let reply_to = addresses(fields, "reply_to")?.unwrap_or_default();
    let headers = match fields.get("headers") {
        None | Some(Json::Null) => BTreeMap::new(),
        Some(Json::Object(headers)) => headers
            .iter()
            .map(|(name, value)| match value {
                Json::String(value) => Ok((name.clone(), value.clone())),
                _ => Err(Rejection::invalid(format!("The `headers.{name}` field must be a `string`."))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Rejection::invalid("The `headers` field must be an `object`.")),
    };
    Ok(StoredEmail { id, created_at: now_rfc3339(), from, to, subject, html, text, reply_to, headers, idempotency_key })
}

fn required_string(fields: &Map<String, Json>, name: &str) -> Result<String, Rejection> {
    optional_string(fields, name)?.ok_or_else(|| Rejection::missing(name))
}

fn optional_string(fields: &Map<String, Json>, name: &str) -> Result<Option<String>, Rejection> {
    match fields.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(Rejection::invalid(format!("The `{name}` field must be a `string`."))),
    }
}

/// A string or an array of strings, each a valid mailbox; `None` when absent.
fn addresses(fields: &Map<String, Json>, name: &str) -> Result<Option<Vec<String>>, Rejection> {
    let wrong_type = || Rejection::invalid(format!("The `{name}` field must be a `string` or an `array` of strings."));
    let list = match fields.get(name) {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::String(one)) => vec![one.clone()],
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(wrong_type))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(wrong_type()),
    };
    if let Some(bad) = list.iter().find(|address| !is_mailbox(address)) {
        return Err(Rejection::invalid(format!("Invalid `{name}` field: {bad:?}. {ADDRESS_FORMAT}")));
    }
    Ok(Some(list))
}

/// `email@example.com` or `Name <email@example.com>`.
fn is_mailbox(text: &str) -> bool {
    let address = match text.trim_end().strip_suffix('>') {
        Some(rest) => match rest.rsplit_once('<') {
            Some((_, address)) => address,
            None => return false,
        },
        None => text,
    };
    let Some((local, domain)) = address.split_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !address.contains(|c: char| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
}

/// The address inside `Name <address>`, or the text itself.
fn bare_address(text: &str) -> &str {
    text.trim()
        .strip_suffix('>')
        .and_then(|rest| rest.rsplit_once('<'))
        .map_or(text.trim(), |(_, address)| address.trim())
}

fn now_rfc3339() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(seconds, now.subsec_nanos())
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// UUID-v4-shaped ids like Resend's: a per-process random seed hashed with a counter, so ids are
/// unique within a run and unpredictable across runs (no `uuid`/`rand` dependency needed).
struct IdSource {
    seed: std::collections::hash_map::RandomState,
    counter: AtomicU64,
}

impl IdSource {
    fn new() -> Self {
        Self { seed: std::collections::hash_map::RandomState::new(), counter: AtomicU64::new(0) }
    }

    fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let draw = |lane: u64| {
            let mut hasher = self.seed.build_hasher();
            hasher.write_u64(n);
            hasher.write_u64(lane);
            hasher.finish()
        };
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&draw(0).to_be_bytes());
        bytes[8..].copy_from_slice(&draw(1).to_be_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_accept_both_documented_forms() {
        assert!(is_mailbox("ada@example.com"));
        assert!(is_mailbox("Ada Lovelace <ada@example.com>"));
        for bad in ["", "ada", "ada@", "@example.com", "Ada <ada@example.com", "a b@example.com", "a@b, c@d"] {
            assert!(!is_mailbox(bad), "{bad:?}");
        }
        assert_eq!(bare_address("Ada <ada@example.com>"), "ada@example.com");
        assert_eq!(bare_address(" ada@example.com "), "ada@example.com");
    }

    #[test]
    fn ids_look_like_uuid_v4_and_do_not_repeat() {
        let ids = IdSource::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }
}
