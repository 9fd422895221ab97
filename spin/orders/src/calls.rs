//! The saga's signed calls to its sibling components (`inventory`, `payments`) on this app's own
//! origin, and how their answers count for the saga: a 2xx is done, a 4xx a refusal retrying cannot
//! change (its error is what the shopper is told), anything else may pass.

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{ApiError, ErrorCode, ErrorEnvelope};
use shared::saga::Outcome;
use shared::transport::HttpResponse;
use spin_platform::config::{self, Var};
use spin_platform::signed::{self, SignedCallError};

use crate::COMPONENT;

pub enum Answer<T> {
    Done(T),
    Refused(ApiError),
    /// An outage, a timeout or our misconfiguration: try again later.
    Failed(String),
}

impl<T> Answer<T> {
    /// The saga's view of it, with the value the caller makes of a success.
    pub fn outcome(self, done: impl FnOnce(T) -> Outcome) -> (Outcome, Option<ApiError>) {
        match self {
            Answer::Done(value) => (done(value), None),
            Answer::Refused(error) => (Outcome::refused(&error), Some(error)),
            Answer::Failed(error) => (Outcome::Transient { error }, None),
        }
    }
}

pub async fn post<T: DeserializeOwned>(path: &str, body: &impl Serialize) -> Answer<T> {
    let body = match serde_json::to_vec(body) {
        Ok(body) => body,
        Err(error) => return Answer::Failed(format!("cannot encode the body for {path}: {error}")),
    };
    let url = match url(path).await {
        Ok(url) => url,
        Err(error) => return Answer::Failed(error.to_string()),
    };
    read(path, signed::post_json(COMPONENT, &url, &body).await)
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Answer<T> {
    let url = match url(path).await {
        Ok(url) => url,
        Err(error) => return Answer::Failed(error.to_string()),
    };
    read(path, signed::get(COMPONENT, &url).await)
}

async fn url(path: &str) -> Result<String, config::ConfigError> {
    Ok(format!("{}{path}", config::get(Var::PublicBaseUrl).await?.trim_end_matches('/')))
}

fn read<T: DeserializeOwned>(path: &str, answer: Result<HttpResponse, SignedCallError>) -> Answer<T> {
    let response = match answer {
        Ok(response) => response,
        Err(error) => return Answer::Failed(format!("{path}: {error}")),
    };
    let status = response.status;
    let envelope = || serde_json::from_slice::<ErrorEnvelope>(&response.body).ok();
    match status {
        200..=299 => serde_json::from_slice(&response.body).map(Answer::Done).unwrap_or_else(|error| {
            Answer::Failed(format!("{path} answered {status} with an unreadable body: {error}"))
        }),
        // A signature refused or a route missing is our deployment's fault, not the shopper's.
        400..=499 if status != 401 && status != 408 && status != 429 => match envelope() {
            Some(envelope) if envelope.error.code == ErrorCode::RouteNotFound => {
                Answer::Failed(format!("{path}: no such route ({status})"))
            }
            Some(envelope) => {
                let body = envelope.error;
                let mut error = ApiError::new(body.code, body.message);
                error.details = body.details;
                Answer::Refused(error)
            }
            None => Answer::Failed(format!("{path} answered {status} without an error envelope")),
        },
        _ => Answer::Failed(format!(
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&response.body).chars().take(300).collect::<String>()
        )),
    }
}
