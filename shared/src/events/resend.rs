//! Resend's send-email call, the one provider API the outbox uses: `POST {base}/emails` with
//! `Authorization: Bearer re_…`, a JSON body `{from, to, subject, text, …}` and an
//! `Idempotency-Key` (Resend sends a key's email once within 24 hours and answers repeats with the
//! same id). 200 → `{"id":"…"}`; errors → `{"statusCode","name","message"}`
//! (resend.com/docs/api-reference/emails/send-email, …/errors, …/dashboard/emails/idempotency-keys).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::outbox::Attempt;
use crate::transport::{HttpRequest, HttpTransport, Method, TransportError};

pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// Resend refuses longer keys (`invalid_idempotency_key`).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;
/// Keeps provider error text in `last_error` readable and bounded.
const MAX_ERROR_TEXT: usize = 300;

/// The body of `POST /emails`, with only the fields we send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendEmail {
    /// `Name <address>` or a bare address, on a domain verified with Resend.
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SentEmail {
    pub id: String,
}

/// Resend's error body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct ErrorBody {
    name: String,
    message: String,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ResendError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("resend answered {status} {name}: {message}")]
    Api { status: u16, name: String, message: String },
    #[error("resend answered {status} with an unexpected body: {body}")]
    UnexpectedReply { status: u16, body: String },
}

impl ResendError {
    /// Rejections of the request itself: the same bytes would be refused again. Credentials,
    /// quotas, rate limits, outages and unknown replies are worth retrying.
    pub fn is_permanent(&self) -> bool {
        match self {
            ResendError::Api { status, name, .. } => {
                matches!(status, 400 | 422 | 451) || (*status == 409 && name == "invalid_idempotent_request")
            }
            ResendError::Transport(_) | ResendError::UnexpectedReply { .. } => false,
        }
    }
}

/// The outbox's view of one send.
pub fn to_attempt(result: Result<SentEmail, ResendError>) -> Attempt {
    match result {
        Ok(sent) => Attempt::Delivered { provider_id: sent.id },
        Err(error) if error.is_permanent() => Attempt::Permanent { error: bounded(error.to_string()) },
        Err(error) => Attempt::Transient { error: bounded(error.to_string()) },
    }
}

fn bounded(mut text: String) -> String {
    if text.len() > MAX_ERROR_TEXT {
        let mut end = MAX_ERROR_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

pub struct ResendClient<T> {
    transport: T,
    base_url: String,
    api_key: String,
}

/// Hand-written so the API key never reaches a log.
impl<T> fmt::Debug for ResendClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResendClient").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl<T: HttpTransport> ResendClient<T> {
    /// `base_url` is the API origin, e.g. `https://api.resend.com` (a trailing `/` is ignored).
    pub fn new(transport: T, base_url: impl Into<String>, api_key: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self { transport, base_url, api_key: api_key.into() }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Sends once per `idempotency_key`: repeating a call with the same key and body is safe.
    pub async fn send(&self, email: &SendEmail, idempotency_key: &str) -> Result<SentEmail, ResendError> {
        let body = serde_json::to_vec(email)
            .map_err(|error| ResendError::UnexpectedReply { status: 0, body: format!("cannot encode: {error}") })?;
        let request = HttpRequest::new(Method::Post, format!("{}/emails", self.base_url))
            .header("Authorization", format!("Bearer {}", self.api_key))
            .header("Content-Type", "application/json")
            .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
            .body(body);
        let response = self.transport.send(request).await?;
        if (200..300).contains(&response.status) {
            return serde_json::from_slice::<SentEmail>(&response.body).map_err(|_| ResendError::UnexpectedReply {
                status: response.status,
                body: bounded(String::from_utf8_lossy(&response.body).into_owned()),
            });
        }
        match serde_json::from_slice::<ErrorBody>(&response.body) {
            Ok(error) => Err(ResendError::Api { status: response.status, name: error.name, message: error.message }),
            Err(_) => Err(ResendError::UnexpectedReply {
                status: response.status,
                body: bounded(String::from_utf8_lossy(&response.body).into_owned()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::{FakeTransport, block_on, header, json_body};

    fn email() -> SendEmail {
        SendEmail {
            from: "Marketplace <no-reply@shop.example>".into(),
            to: vec!["ada@example.com".into()],
            subject: "Confirm".into(),
            text: Some("Hi".into()),
            html: None,
            reply_to: None,
            headers: BTreeMap::new(),
        }
    }

    fn client(transport: FakeTransport) -> ResendClient<FakeTransport> {
        ResendClient::new(transport, "https://api.resend.example/", "re_test_key")
    }

    #[test]
    fn send_posts_the_documented_request() {
        let client =
            client(FakeTransport::new().respond_json(200, json!({"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"})));
        let sent = block_on(client.send(&email(), "ntf_01")).unwrap();
        assert_eq!(sent.id, "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794");

        let request = client.transport().only_request();
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "https://api.resend.example/emails");
        assert_eq!(header(&request, "authorization"), Some("Bearer re_test_key"));
        assert_eq!(header(&request, "idempotency-key"), Some("ntf_01"));
        assert_eq!(header(&request, "content-type"), Some("application/json"));
        assert_eq!(
            json_body(&request),
            json!({"from": "Marketplace <no-reply@shop.example>", "to": ["ada@example.com"], "subject": "Confirm", "text": "Hi"})
        );
    }

    #[test]
    fn error_bodies_become_api_errors_classified_by_status_and_name() {
        let cases = [
            (422, "validation_error", true),
            (400, "invalid_idempotency_key", true),
            (409, "invalid_idempotent_request", true),
            (409, "concurrent_idempotent_requests", false),
            (401, "missing_api_key", false),
            (403, "invalid_api_key", false),
            (429, "rate_limit_exceeded", false),
            (500, "application_error", false),
        ];
        for (status, name, permanent) in cases {
            let body = json!({"statusCode": status, "name": name, "message": "m"});
            let client = client(FakeTransport::new().respond_json(status, body));
            let error = block_on(client.send(&email(), "k")).unwrap_err();
            assert_eq!(error, ResendError::Api { status, name: name.into(), message: "m".into() });
            assert_eq!(error.is_permanent(), permanent, "{status} {name}");
        }
    }

    #[test]
    fn odd_replies_and_network_failures_are_transient() {
        let client =
            client(FakeTransport::new().respond(502, "<html>bad gateway</html>").respond(200, "{}").fail("refused"));
        for _ in 0..3 {
            let error = block_on(client.send(&email(), "k")).unwrap_err();
            assert!(!error.is_permanent(), "{error}");
            assert!(matches!(to_attempt(Err(error)), Attempt::Transient { .. }));
        }
    }

    #[test]
    fn attempts_carry_the_provider_id_or_a_bounded_error() {
        let delivered = to_attempt(Ok(SentEmail { id: "e1".into() }));
        assert_eq!(delivered, Attempt::Delivered { provider_id: "e1".into() });
        let long = ResendError::Api { status: 422, name: "validation_error".into(), message: "é".repeat(400) };
        let Attempt::Permanent { error } = to_attempt(Err(long)) else { panic!("permanent") };
        assert!(error.len() <= MAX_ERROR_TEXT + '…'.len_utf8(), "{}", error.len());
        assert!(error.ends_with('…'));
    }

    #[test]
    fn debug_output_hides_the_key() {
        assert!(!format!("{:?}", client(FakeTransport::new())).contains("re_test_key"));
    }
}
