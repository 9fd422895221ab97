//! Neon's SQL-over-HTTP protocol (DESIGN §4): one POST per query or per all-or-nothing batch.
//!
//! Wire format as Neon's proxy implements it (neondatabase/neon
//! `proxy/src/serverless/sql_over_http.rs`): body `{"query","params"}` or `{"queries":[…]}`;
//! headers `Neon-Connection-String`, `Neon-Raw-Text-Output: true` (every value in its Postgres
//! text form), `Neon-Array-Mode: true` (rows as arrays), and for batches
//! `Neon-Batch-Isolation-Level` / `Neon-Batch-Read-Only` / `Neon-Batch-Deferrable` (only the
//! literal `true` counts). Reply `{"fields","rows","command","rowCount","rowAsArray"}`, or
//! `{"results":[…]}` for a batch.

mod array;
mod error;
mod param;
mod row;
mod time;
mod value;

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value as Json};

pub use array::{ArrayElement, ArrayParseError, parse_array_literal};
pub use error::{DecodeError, NeonError, PostgresError, sqlstate};
pub use param::{Bytea, Param, ToSql};
pub use row::{ColumnIndex, Field, FromValue, QueryResult, Row, RowError, ValueError};
pub use time::MaybeInfinite;
pub use value::{Value, decode, oid};

use crate::transport::{HttpRequest, HttpTransport, Method};

/// A statement with its bound parameters, for `batch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    sql: String,
    params: Vec<Param>,
}

impl Query {
    pub fn new(sql: impl Into<String>, params: &[&dyn ToSql]) -> Self {
        Self { sql: sql.into(), params: params.iter().map(|p| p.to_param()).collect() }
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    fn to_json(&self) -> Json {
        let mut body = Map::new();
        body.insert("query".into(), Json::String(self.sql.clone()));
        body.insert("params".into(), Json::Array(self.params.iter().map(Param::to_json).collect()));
        Json::Object(body)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Postgres' default.
    #[default]
    ReadCommitted,
    RepeatableRead,
    Serializable,
    ReadUncommitted,
}

impl IsolationLevel {
    /// The `Neon-Batch-Isolation-Level` header value.
    pub fn header_value(self) -> &'static str {
        match self {
            IsolationLevel::ReadCommitted => "ReadCommitted",
            IsolationLevel::RepeatableRead => "RepeatableRead",
            IsolationLevel::Serializable => "Serializable",
            IsolationLevel::ReadUncommitted => "ReadUncommitted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchOptions {
    pub isolation: IsolationLevel,
    pub read_only: bool,
    /// Only meaningful with `Serializable` and `read_only`.
    pub deferrable: bool,
}

pub const HEADER_CONNECTION_STRING: &str = "Neon-Connection-String";
pub const HEADER_RAW_TEXT_OUTPUT: &str = "Neon-Raw-Text-Output";
pub const HEADER_ARRAY_MODE: &str = "Neon-Array-Mode";
pub const HEADER_BATCH_ISOLATION_LEVEL: &str = "Neon-Batch-Isolation-Level";
pub const HEADER_BATCH_READ_ONLY: &str = "Neon-Batch-Read-Only";
pub const HEADER_BATCH_DEFERRABLE: &str = "Neon-Batch-Deferrable";

/// Where and as whom to connect: `url` is the full endpoint (it ends in `/sql`).
#[derive(Clone, PartialEq, Eq)]
pub struct NeonConfig {
    pub url: String,
    /// `postgresql://user:password@host/db`, sent as `Neon-Connection-String`.
    pub connection_string: String,
}

/// Hand-written so the connection string (it holds the password) never reaches a log.
impl fmt::Debug for NeonConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeonConfig").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Client for one database. `url` is the full endpoint, e.g. `https://api.<region host>/sql`
/// in production or the local gateway's address in development.
pub struct NeonClient<T> {
    transport: T,
    url: String,
    connection_string: String,
}

/// Hand-written, like `NeonConfig`'s, to keep the password out of logs.
impl<T> fmt::Debug for NeonClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeonClient").field("url", &self.url).finish_non_exhaustive()
    }
}

impl<T: HttpTransport> NeonClient<T> {
    pub fn new(transport: T, url: impl Into<String>, connection_string: impl Into<String>) -> Self {
        Self { transport, url: url.into(), connection_string: connection_string.into() }
    }

    pub fn from_config(transport: T, config: NeonConfig) -> Self {
        Self::new(transport, config.url, config.connection_string)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Runs one statement in its own implicit transaction.
    pub async fn query(&self, sql: &str, params: &[&dyn ToSql]) -> Result<QueryResult, NeonError> {
        self.execute(&Query::new(sql, params)).await
    }

    pub async fn execute(&self, query: &Query) -> Result<QueryResult, NeonError> {
        let body = self.send(self.request(query.to_json())).await?;
        let reply: ResultReply = parse_body(&body)?;
        reply.decode()
    }

    /// Runs the statements in one transaction: all commit, or the first error rolls all back
    /// and is the only thing returned.
    pub async fn batch(&self, queries: &[Query], options: BatchOptions) -> Result<Vec<QueryResult>, NeonError> {
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let mut body = Map::new();
        body.insert("queries".into(), Json::Array(queries.iter().map(Query::to_json).collect()));
        let mut request =
            self.request(Json::Object(body)).header(HEADER_BATCH_ISOLATION_LEVEL, options.isolation.header_value());
        if options.read_only {
            request = request.header(HEADER_BATCH_READ_ONLY, "true");
        }
        if options.deferrable {
            request = request.header(HEADER_BATCH_DEFERRABLE, "true");
        }
        let body = self.send(request).await?;
        let reply: BatchReply = parse_body(&body)?;
        if reply.results.len() != queries.len() {
            return Err(
                DecodeError::Body(format!("{} results for {} queries", reply.results.len(), queries.len())).into()
            );
        }
        reply.results.into_iter().map(ResultReply::decode).collect()
    }

    fn request(&self, body: Json) -> HttpRequest {
        HttpRequest::new(Method::Post, self.url.as_str())
            .header("Content-Type", "application/json")
            .header(HEADER_CONNECTION_STRING, self.connection_string.as_str())
            .header(HEADER_RAW_TEXT_OUTPUT, "true")
            .header(HEADER_ARRAY_MODE, "true")
            .body(body.to_string())
    }

    async fn send(&self, request: HttpRequest) -> Result<Vec<u8>, NeonError> {
        let response = self.transport.send(request).await?;
        if (200..300).contains(&response.status) {
            Ok(response.body)
        } else {
            Err(error::error_from_response(&response))
        }
    }
}

fn parse_body<'a, R: Deserialize<'a>>(body: &'a [u8]) -> Result<R, DecodeError> {
    serde_json::from_slice(body).map_err(|error| DecodeError::Body(error.to_string()))
}

#[derive(Deserialize)]
struct BatchReply {
    results: Vec<ResultReply>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultReply {
    fields: Vec<Field>,
    rows: Vec<Vec<Option<String>>>,
    command: String,
    row_count: Option<u64>,
    #[serde(default)]
    row_as_array: Option<bool>,
}

impl ResultReply {
    fn decode(self) -> Result<QueryResult, NeonError> {
        if self.row_as_array == Some(false) {
            return Err(DecodeError::Body("rows are objects; array mode was not honoured".into()).into());
        }
        let rows = self.rows.into_iter().map(|row| decode_row(&self.fields, row)).collect::<Result<_, _>>()?;
        Ok(QueryResult { fields: self.fields, rows, command: self.command, row_count: self.row_count })
    }
}

fn decode_row(fields: &[Field], row: Vec<Option<String>>) -> Result<Vec<Value>, DecodeError> {
    if row.len() != fields.len() {
        return Err(DecodeError::Body(format!("row has {} values for {} fields", row.len(), fields.len())));
    }
    fields
        .iter()
        .zip(row)
        .map(|(field, text)| match text {
            None => Ok(Value::Null),
            Some(text) => decode(field.data_type_id, &text),
        })
        .collect()
}

#[cfg(test)]
mod tests;
