use thiserror::Error;

use crate::transport::TransportError;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum UpstashError {
    /// Redis rejected the command (`{"error":"ERR …"}`), e.g. `WRONGTYPE`, `NOSCRIPT`.
    #[error("redis error: {0}")]
    Redis(String),
    /// HTTP 401: the token is missing, wrong, or read-only for a write.
    #[error("Upstash refused the token: {0}")]
    Unauthorized(String),
    #[error("Upstash HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("malformed Upstash response: {0}")]
    Decode(String),
    /// The REST API carries arguments as JSON strings, so bytes must be UTF-8.
    #[error("argument {index} is not valid UTF-8 and cannot be sent over the REST API")]
    NonUtf8Argument { index: usize },
}

impl UpstashError {
    pub fn redis_message(&self) -> Option<&str> {
        match self {
            UpstashError::Redis(message) => Some(message),
            _ => None,
        }
    }

    /// `EVALSHA` of a script the server has not cached; @upstash/redis matches it the same way.
    pub fn is_noscript(&self) -> bool {
        self.redis_message().is_some_and(|message| message.to_ascii_lowercase().contains("noscript"))
    }

    pub fn is_wrong_type(&self) -> bool {
        self.redis_message().is_some_and(|message| message.starts_with("WRONGTYPE"))
    }

    /// Nothing reached Redis, or the server failed: safe to retry idempotent commands.
    pub fn is_transient(&self) -> bool {
        match self {
            UpstashError::Transport(_) => true,
            UpstashError::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}
