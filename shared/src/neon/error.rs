//! Errors of the Neon client, mapped from the proxy's replies (neondatabase/neon
//! `proxy/src/serverless/sql_over_http.rs`: Postgres errors → 400 with the error fields, response
//! over the limit → 507, request over the limit → 413, internal failures → 500).

use serde_json::{Map, Value as Json};
use thiserror::Error;

use super::row::RowError;
use crate::transport::{HttpResponse, TransportError};

/// Longest piece of a reply quoted in an error (bodies can be megabytes, and may echo data).
const QUOTE_LIMIT: usize = 200;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum NeonError {
    /// Postgres raised an error (non-empty SQLSTATE); a batch rolled back entirely.
    #[error("postgres error {}: {}", .0.code, .0.message)]
    Postgres(Box<PostgresError>),
    /// The proxy refused the request itself (bad connection string, bad header, …): `code` was "".
    #[error("Neon rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("Neon refused the credentials (HTTP {status}): {message}")]
    Unauthorized { status: u16, message: String },
    /// Request or response over Neon's size limit (10 MiB): 413 or 507.
    #[error("request or response too large (HTTP {status}): {message}")]
    TooLarge { status: u16, message: String },
    #[error("Neon server error (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Row(#[from] RowError),
}

/// The fields Neon copies from Postgres' ErrorResponse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostgresError {
    /// SQLSTATE, e.g. `23505`.
    pub code: String,
    pub message: String,
    pub severity: Option<String>,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character offset into the query.
    pub position: Option<u32>,
    pub internal_position: Option<u32>,
    pub internal_query: Option<String>,
    pub where_: Option<String>,
    pub schema: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub data_type: Option<String>,
    pub constraint: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub routine: Option<String>,
}

/// The reply could not be understood.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("malformed Neon response: {0}")]
    Body(String),
    #[error("cannot decode value of type oid {type_oid} from {text:?}: {reason}")]
    Value { type_oid: u32, text: String, reason: String },
}

impl DecodeError {
    pub(crate) fn value(type_oid: u32, text: &str, reason: impl Into<String>) -> Self {
        DecodeError::Value { type_oid, text: quote(text), reason: reason.into() }
    }
}

/// SQLSTATEs from Postgres' Appendix A ("PostgreSQL Error Codes").
pub mod sqlstate {
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const CHECK_VIOLATION: &str = "23514";
    pub const EXCLUSION_VIOLATION: &str = "23P01";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    pub const QUERY_CANCELED: &str = "57014";
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const RAISE_EXCEPTION: &str = "P0001";
    pub const UNDEFINED_TABLE: &str = "42P01";
    /// Class prefixes.
    pub const CLASS_DATA_EXCEPTION: &str = "22";
    pub const CLASS_INTEGRITY_CONSTRAINT_VIOLATION: &str = "23";
    pub const CLASS_CONNECTION_EXCEPTION: &str = "08";
}

impl NeonError {
    pub fn postgres(&self) -> Option<&PostgresError> {
        match self {
            NeonError::Postgres(error) => Some(error),
            _ => None,
        }
    }

    pub fn sqlstate(&self) -> Option<&str> {
        self.postgres().map(|error| error.code.as_str())
    }

    /// The violated constraint's name, to tell e.g. a duplicate email from a duplicate slug.
    pub fn constraint(&self) -> Option<&str> {
        self.postgres().and_then(|error| error.constraint.as_deref())
    }

    fn sqlstate_is(&self, code: &str) -> bool {
        self.sqlstate() == Some(code)
    }

    fn sqlstate_class_is(&self, class: &str) -> bool {
        self.sqlstate().is_some_and(|code| code.starts_with(class))
    }

    pub fn is_unique_violation(&self) -> bool {
        self.sqlstate_is(sqlstate::UNIQUE_VIOLATION)
    }

    pub fn is_foreign_key_violation(&self) -> bool {
        self.sqlstate_is(sqlstate::FOREIGN_KEY_VIOLATION)
    }

    pub fn is_not_null_violation(&self) -> bool {
        self.sqlstate_is(sqlstate::NOT_NULL_VIOLATION)
    }

    pub fn is_check_violation(&self) -> bool {
        self.sqlstate_is(sqlstate::CHECK_VIOLATION)
    }

    pub fn is_exclusion_violation(&self) -> bool {
        self.sqlstate_is(sqlstate::EXCLUSION_VIOLATION)
    }

    /// Any class 23 error: the write broke a declared invariant.
    pub fn is_integrity_constraint_violation(&self) -> bool {
        self.sqlstate_class_is(sqlstate::CLASS_INTEGRITY_CONSTRAINT_VIOLATION)
    }

    /// Any class 22 error: a value was malformed or out of range for its type.
    pub fn is_data_exception(&self) -> bool {
        self.sqlstate_class_is(sqlstate::CLASS_DATA_EXCEPTION)
    }

    /// e.g. a malformed uuid from a URL path: usually a 404 or 422, not a 500.
    pub fn is_invalid_text_representation(&self) -> bool {
        self.sqlstate_is(sqlstate::INVALID_TEXT_REPRESENTATION)
    }

    /// `RAISE EXCEPTION` in a SQL function: how our functions report business-rule failures.
    pub fn is_raise_exception(&self) -> bool {
        self.sqlstate_is(sqlstate::RAISE_EXCEPTION)
    }

    pub fn is_serialization_failure(&self) -> bool {
        self.sqlstate_is(sqlstate::SERIALIZATION_FAILURE)
    }

    pub fn is_deadlock(&self) -> bool {
        self.sqlstate_is(sqlstate::DEADLOCK_DETECTED)
    }

    pub fn is_undefined_table(&self) -> bool {
        self.sqlstate_is(sqlstate::UNDEFINED_TABLE)
    }

    /// Worth retrying later: nothing was committed, or the failure was the server's, not the
    /// query's. A transport error may hide a committed write, so retry only idempotent work.
    pub fn is_transient(&self) -> bool {
        match self {
            NeonError::Transport(_) | NeonError::Server { .. } => true,
            NeonError::Postgres(error) => {
                matches!(
                    error.code.as_str(),
                    sqlstate::SERIALIZATION_FAILURE
                        | sqlstate::DEADLOCK_DETECTED
                        | sqlstate::TOO_MANY_CONNECTIONS
                        | sqlstate::ADMIN_SHUTDOWN // A protocol violation (e.g. a wrong parameter count) is the query's fault, not the link's.
                ) || (error.code.starts_with(sqlstate::CLASS_CONNECTION_EXCEPTION)
                    && error.code != sqlstate::PROTOCOL_VIOLATION)
            }
            _ => false,
        }
    }
}

/// Maps a non-2xx reply to an error; a JSON body with a non-empty `code` is a Postgres error
/// whatever the status (connect errors with a SQLSTATE come back as 500).
pub(crate) fn error_from_response(response: &HttpResponse) -> NeonError {
    let status = response.status;
    let body: Option<Map<String, Json>> = serde_json::from_slice(&response.body).ok();
    let message = body
        .as_ref()
        .and_then(|fields| text_field(fields, "message"))
        .unwrap_or_else(|| quote(&String::from_utf8_lossy(&response.body)));
    if let Some(fields) = &body
        && let Some(code) = text_field(fields, "code").filter(|code| !code.is_empty())
    {
        return NeonError::Postgres(Box::new(postgres_error(fields, code, message)));
    }
    match status {
        401 | 403 => NeonError::Unauthorized { status, message },
        413 | 507 => NeonError::TooLarge { status, message },
        500..=599 => NeonError::Server { status, message },
        _ => NeonError::Rejected { status, message },
    }
}

fn postgres_error(fields: &Map<String, Json>, code: String, message: String) -> PostgresError {
    let text = |key| text_field(fields, key);
    let number = |key| text_field(fields, key).and_then(|value| value.parse().ok());
    PostgresError {
        code,
        message,
        severity: text("severity"),
        detail: text("detail"),
        hint: text("hint"),
        position: number("position"),
        internal_position: number("internalPosition"),
        internal_query: text("internalQuery"),
        where_: text("where"),
        schema: text("schema"),
        table: text("table"),
        column: text("column"),
        data_type: text("dataType"),
        constraint: text("constraint"),
        file: text("file"),
        line: number("line"),
        routine: text("routine"),
    }
}

/// Neon sends strings (positions too); numbers are accepted for other implementations.
fn text_field(fields: &Map<String, Json>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Json::String(text) => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
