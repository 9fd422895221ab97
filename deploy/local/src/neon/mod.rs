//! Neon's HTTP SQL protocol (`POST /sql`) over a real PostgreSQL.
//!
//! Mirrors the proxy's `sql_over_http` handler (neondatabase/neon, proxy/src/serverless/
//! sql_over_http.rs, http_util.rs, error.rs, json.rs): same headers, payloads, result and error
//! JSON, status codes and limits. Deliberate local differences: the connection string may name
//! an IP host (Neon requires an endpoint hostname) and is where we connect, unless
//! [`Options::upstream`] overrides it.

mod json;
mod pool;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::Value;

use crate::http_server::{self, Body, BodyError};
use pool::Pool;
use wire::{ConnectParams, Connection, DbError, PgError};

/// The proxy's `--sql-over-http-max-request-size-bytes` default (proxy/src/binary/proxy.rs).
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// The proxy's `--sql-over-http-max-response-size-bytes` default (proxy/src/binary/proxy.rs).
pub const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
/// The proxy's `--sql-over-http-pool-max-conns-per-endpoint` default.
const POOL_MAX_IDLE_PER_KEY: usize = 20;
/// The proxy's `--sql-over-http-idle-timeout` default.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The proxy's old `--sql-over-http-timeout` default, applied here as the session's
/// `statement_timeout` so a runaway query ends with Postgres's own 57014 error.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);

const CONN_STRING: &str = "neon-connection-string";
const RAW_TEXT_OUTPUT: &str = "neon-raw-text-output";
const ARRAY_MODE: &str = "neon-array-mode";
const TXN_ISOLATION_LEVEL: &str = "neon-batch-isolation-level";
const TXN_READ_ONLY: &str = "neon-batch-read-only";
const TXN_DEFERRABLE: &str = "neon-batch-deferrable";

#[derive(Clone, Debug)]
pub struct Options {
    /// Session `statement_timeout`; `None` leaves the server default. A connection string's
    /// `options=-c statement_timeout=…` still wins.
    pub statement_timeout: Option<Duration>,
    /// Connect here instead of the connection string's host:port (e.g. a production-shaped
    /// `…neon.tech` string pointed at the local cluster).
    pub upstream: Option<SocketAddr>,
    pub max_request_bytes: usize,
    pub max_response_bytes: usize,
    pub connect_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
            upstream: None,
            max_request_bytes: MAX_REQUEST_BYTES,
            max_response_bytes: MAX_RESPONSE_BYTES,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

pub struct Gateway {
    options: Options,
    pool: Arc<Pool>,
}

impl Gateway {
    pub fn new(options: Options) -> Self {
        Self { options, pool: Pool::new(POOL_MAX_IDLE_PER_KEY, POOL_IDLE_TIMEOUT) }
    }

    pub async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let is_sql = request.uri().path() == "/sql";
        let mut response = match *request.method() {
            Method::POST if is_sql => match self.handle_sql(request).await {
                Ok(response) => response,
                Err(error) => error.into_response(),
            },
            Method::OPTIONS if is_sql => preflight(),
            // The proxy answers every other path with this JSON string.
            _ => http_server::json(StatusCode::BAD_REQUEST, "\"query is not supported\""),
        };
        response.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
        response
    }

    async fn handle_sql(&self, request: Request<Incoming>) -> Result<Response<Body>, SqlError> {
        let (parts, body) = request.into_parts();
        // Same order of checks as the proxy: connection string first, then the Neon-* headers.
        let conn_string = parts
            .headers
            .get(CONN_STRING)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| SqlError::user(format!("invalid header: {CONN_STRING}")))?
            .to_owned();
        let params = self.connect_params(&conn_string)?;
        let headers = Headers::parse(&parts.headers)?;

        let body = http_server::read_body(body, self.options.max_request_bytes).await.map_err(|error| match error {
            BodyError::TooLarge { limit, .. } => {
                SqlError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("request is too large (max is {limit} bytes)"))
            }
            BodyError::Read(error) => SqlError::user(format!("could not read the HTTP request body: {error}")),
        })?;
        let payload: Payload = serde_json::from_slice(&body)
            .map_err(|error| SqlError::user(format!("could not parse the HTTP request body: {error}")))?;

        let mut builder =
            Response::builder().status(StatusCode::OK).header(http::header::CONTENT_TYPE, "application/json");
        if matches!(payload, Payload::Batch(_)) {
            // The proxy echoes the transaction options it applied.
            if headers.read_only {
                builder = builder.header(TXN_READ_ONLY, "true");
            }
            if headers.deferrable {
                builder = builder.header(TXN_DEFERRABLE, "true");
            }
            if let Some(level) = headers.isolation {
                builder = builder.header(TXN_ISOLATION_LEVEL, level.header());
            }
        }

        let output = self.run(&conn_string, &params, &payload, &headers).await?;
        builder
            .body(Body::new(Bytes::from(output)))
            .map_err(|error| SqlError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))
    }

    /// Runs the payload on a pooled connection; a pooled connection that turns out dead before
    /// answering anything (Postgres restarted) is replaced by a fresh one once.
    async fn run(
        &self,
        key: &str,
        params: &ConnectParams,
        payload: &Payload,
        headers: &Headers,
    ) -> Result<Vec<u8>, SqlError> {
        if let Some(mut conn) = self.pool.take(key) {
            conn.reset_read_count();
            match self.execute(&mut conn, payload, headers).await {
                Err(Failure::Pg(error)) if error.is_transport() && !conn.has_read_since_reset() => {}
                result => return self.finish(key, conn, result),
            }
        }
        let mut conn = Connection::connect(params).await.map_err(|error| connect_error(error, &params.user))?;
        let result = self.execute(&mut conn, payload, headers).await;
        self.finish(key, conn, result)
    }

    fn finish(&self, key: &str, conn: Connection, result: Result<Vec<u8>, Failure>) -> Result<Vec<u8>, SqlError> {
        // A connection abandoned mid-query is dropped here, which cancels the query.
        self.pool.give_back(key.to_owned(), conn);
        result.map_err(Failure::into_sql_error)
    }

    async fn execute(&self, conn: &mut Connection, payload: &Payload, headers: &Headers) -> Result<Vec<u8>, Failure> {
        let mut out = Vec::with_capacity(1024);
        match payload {
            Payload::Single(query) => {
                self.query_to_json(conn, query, headers, &mut out).await?;
            }
            Payload::Batch(batch) => {
                conn.simple_query(&headers.begin_statement()).await?;
                out.extend_from_slice(b"{\"results\":[");
                for (i, query) in batch.queries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    if let Err(failure) = self.query_to_json(conn, query, headers, &mut out).await {
                        // First error rolls everything back; only that error is returned.
                        // Mid-stream failures leave unread rows: that connection is dropped
                        // instead, and closing it rolls back.
                        if conn.is_between_queries() {
                            let _ = conn.simple_query("ROLLBACK").await;
                        }
                        return Err(failure);
                    }
                }
                out.extend_from_slice(b"]}");
                conn.simple_query("COMMIT").await?;
            }
        }
        Ok(out)
    }

    /// One result object, field order as the proxy writes it.
    async fn query_to_json(
        &self,
        conn: &mut Connection,
        query: &QueryData,
        headers: &Headers,
        out: &mut Vec<u8>,
    ) -> Result<(), Failure> {
        let columns = conn.start_query(&query.query, &query.params).await?;
        out.extend_from_slice(b"{\"fields\":[");
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"name\":");
            json::push_string(out, &column.name);
            out.extend_from_slice(
                format!(
                    ",\"dataTypeID\":{},\"tableID\":{},\"columnID\":{},\"dataTypeSize\":{},\"dataTypeModifier\":{},\"format\":\"text\"}}",
                    column.type_oid,
                    column.table_oid,
                    column.column_id,
                    column.type_size,
                    column.type_modifier
                )
                .as_bytes(),
            );
        }
        out.extend_from_slice(b"],\"rows\":[");

        let array_mode = query.array_mode.unwrap_or(headers.array_mode);
        let mut first = true;
        while let Some(row) = conn.next_row().await? {
            // Checked before each row, over everything written so far, as the proxy does.
            if out.len() > self.options.max_response_bytes {
                return Err(Failure::ResponseTooLarge(self.options.max_response_bytes));
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(if array_mode { b'[' } else { b'{' });
            let buffer = row.buffer();
            let mut ranges = row.ranges();
            let mut i = 0;
            while let Some(range) =
                fallible_iterator::FallibleIterator::next(&mut ranges).map_err(|_| Failure::Conversion)?
            {
                let column = columns.get(i).ok_or(Failure::Conversion)?;
                if i > 0 {
                    out.push(b',');
                }
                if !array_mode {
                    json::push_string(out, &column.name);
                    out.push(b':');
                }
                match range {
                    None => out.extend_from_slice(b"null"),
                    Some(range) => {
                        let bytes = buffer.get(range).ok_or(Failure::Conversion)?;
                        let text = std::str::from_utf8(bytes).map_err(|_| Failure::Conversion)?;
                        if headers.raw_output {
                            json::push_string(out, text);
                        } else {
                            json::push_typed(out, text, column.type_oid).map_err(|_| Failure::Conversion)?;
                        }
                    }
                }
                i += 1;
            }
            out.push(if array_mode { b']' } else { b'}' });
        }

        // "INSERT 0 2" → INSERT/2, "UPDATE 3" → UPDATE/3, "CREATE TABLE" → CREATE/null.
        let tag = conn.command_tag().unwrap_or_default();
        let mut words = tag.split(' ');
        let command = words.next().unwrap_or_default();
        let count =
            if command == "INSERT" { words.nth(1) } else { words.next() }.and_then(|count| count.parse::<i64>().ok());

        out.extend_from_slice(b"],\"command\":");
        json::push_string(out, command);
        out.extend_from_slice(b",\"rowCount\":");
        match count {
            Some(count) => out.extend_from_slice(count.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(if array_mode { b",\"rowAsArray\":true}" } else { b",\"rowAsArray\":false}" });
        Ok(())
    }

    /// Parses `Neon-Connection-String` the way the proxy's `get_conn_info` does.
    fn connect_params(&self, conn_string: &str) -> Result<ConnectParams, SqlError> {
        let url = url::Url::parse(conn_string)
            .map_err(|error| SqlError::user(format!("invalid connection string: {error}")))?;
        if url.scheme() != "postgres" && url.scheme() != "postgresql" {
            return Err(SqlError::user("incorrect scheme"));
        }
        let mut segments = url.path_segments().ok_or_else(|| SqlError::user("missing database name"))?;
        let database = decode(segments.next().unwrap_or_default())?;
        let user = decode(url.username())?;
        if user.is_empty() {
            return Err(SqlError::user("missing username"));
        }
        let password =
            url.password().ok_or_else(|| SqlError::user("missing authentication credentials: required password"))?;
        let password = decode_bytes(password);
        let host = match url.host() {
            Some(url::Host::Domain(domain)) => domain.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(SqlError::user("missing hostname")),
        };
        let (host, port) = match self.options.upstream {
            Some(upstream) => (upstream.ip().to_string(), upstream.port()),
            // A local stand-in never dials out: production-shaped hosts need `upstream`.
            None if !is_loopback(&host) => {
                return Err(SqlError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "Couldn't connect to compute node: local-cloud only connects to loopback \
                         hosts, not {host} (map it with --pg-addr)"
                    ),
                ));
            }
            None => (host, url.port().unwrap_or(5432)),
        };

        // Our default goes first inside `options` so a `-c statement_timeout=…` from the client,
        // later in the same string, wins (separate startup parameters would override `options`).
        let mut options: Vec<String> = self
            .options
            .statement_timeout
            .map(|timeout| format!("-c statement_timeout={}", timeout.as_millis()))
            .into_iter()
            .collect();
        let mut startup = Vec::new();
        for (key, value) in url.query_pairs() {
            match &*key {
                // `endpoint=`/`project=` select a Neon endpoint; a real server would reject them.
                "options" => options.extend(
                    value
                        .split_whitespace()
                        .filter(|option| !option.starts_with("endpoint=") && !option.starts_with("project="))
                        .map(str::to_owned),
                ),
                "application_name" => startup.push((key.into_owned(), value.into_owned())),
                // libpq-only settings (sslmode, channel_binding, …) are not server parameters.
                _ => {}
            }
        }
        if !options.is_empty() {
            startup.push(("options".to_owned(), options.join(" ")));
        }
        Ok(ConnectParams {
            host,
            port,
            user,
            password,
            database,
            startup,
            connect_timeout: self.options.connect_timeout,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn decode(text: &str) -> Result<String, SqlError> {
    String::from_utf8(decode_bytes(text)).map_err(|error| SqlError::user(format!("invalid username: {error}")))
}

fn decode_bytes(text: &str) -> Vec<u8> {
    http_server::percent_decode(text)
}

fn preflight() -> Response<Body> {
    let mut response = Response::new(Body::default());
    let headers = response.headers_mut();
    headers.insert("allow", HeaderValue::from_static("OPTIONS, POST"));
    headers.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(
            "Authorization, Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, \
             Neon-Pool-Opt-In, Neon-Batch-Read-Only, Neon-Batch-Isolation-Level",
        ),
    );
    headers.insert("access-control-max-age", HeaderValue::from_static("86400"));
    response
}

#[derive(Clone, Copy, Debug)]
enum IsolationLevel {
    ReadUncommitted,
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl IsolationLevel {
    fn header(self) -> &'static str {
        match self {
            Self::ReadUncommitted => "ReadUncommitted",
            Self::ReadCommitted => "ReadCommitted",
            Self::RepeatableRead => "RepeatableRead",
            Self::Serializable => "Serializable",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Self::ReadUncommitted => "READ UNCOMMITTED",
            Self::ReadCommitted => "READ COMMITTED",
            Self::RepeatableRead => "REPEATABLE READ",
            Self::Serializable => "SERIALIZABLE",
        }
    }
}

/// The request's `Neon-*` options. Like the proxy, anything but the exact value `true` is false.
#[derive(Clone, Copy, Debug)]
struct Headers {
    raw_output: bool,
    array_mode: bool,
    isolation: Option<IsolationLevel>,
    read_only: bool,
    deferrable: bool,
}

impl Headers {
    fn parse(headers: &HeaderMap) -> Result<Self, SqlError> {
        let is_true = |name: &str| headers.get(name).is_some_and(|value| value == "true");
        let isolation = match headers.get(TXN_ISOLATION_LEVEL) {
            None => None,
            Some(value) => Some(match value.as_bytes() {
                b"Serializable" => IsolationLevel::Serializable,
                b"ReadUncommitted" => IsolationLevel::ReadUncommitted,
                b"ReadCommitted" => IsolationLevel::ReadCommitted,
                b"RepeatableRead" => IsolationLevel::RepeatableRead,
                _ => return Err(SqlError::user("invalid isolation level")),
            }),
        };
        Ok(Self {
            raw_output: is_true(RAW_TEXT_OUTPUT),
            array_mode: is_true(ARRAY_MODE),
            isolation,
            read_only: is_true(TXN_READ_ONLY),
            deferrable: is_true(TXN_DEFERRABLE),
        })
    }

    fn begin_statement(&self) -> String {
        let mut modes = Vec::new();
        if let Some(level) = self.isolation {
            modes.push(format!("ISOLATION LEVEL {}", level.sql()));
        }
        if self.read_only {
            modes.push("READ ONLY".to_owned());
        }
        if self.deferrable {
            modes.push("DEFERRABLE".to_owned());
        }
        if modes.is_empty() {
            "START TRANSACTION".to_owned()
        } else {
            format!("START TRANSACTION {}", modes.join(", "))
        }
    }
}

/// The request body, as the proxy deserialises it (the enum name shows up in its parse errors).
#[derive(Deserialize)]
#[serde(untagged)]
enum Payload {
    Single(QueryData),
    Batch(BatchQueryData),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryData {
    query: String,
    #[serde(default, deserialize_with = "params_as_text")]
    params: Vec<Option<String>>,
    #[serde(default)]
    array_mode: Option<bool>,
}

#[derive(Deserialize)]
struct BatchQueryData {
    queries: Vec<QueryData>,
}

fn params_as_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Option<String>>, D::Error> {
    let values = Vec::<Value>::deserialize(deserializer)?;
    Ok(values.iter().map(json::param_to_text).collect())
}

/// What went wrong while running queries on a connection.
enum Failure {
    Pg(PgError),
    ResponseTooLarge(usize),
    Conversion,
}

impl From<PgError> for Failure {
    fn from(error: PgError) -> Self {
        Failure::Pg(error)
    }
}

impl Failure {
    fn into_sql_error(self) -> SqlError {
        match self {
            // Every error from a query the client chose to run is a 400, as in the proxy.
            Failure::Pg(PgError::Db(error)) => {
                SqlError { status: StatusCode::BAD_REQUEST, message: error.message.clone(), db: Some(error) }
            }
            Failure::Pg(error) => SqlError::user(error.to_string()),
            Failure::ResponseTooLarge(limit) => {
                SqlError::new(StatusCode::INSUFFICIENT_STORAGE, format!("response is too large (max is {limit} bytes)"))
            }
            Failure::Conversion => {
                SqlError::new(StatusCode::INTERNAL_SERVER_ERROR, "could not parse postgres response")
            }
        }
    }
}

/// Connect failures, classified like the proxy's `HttpConnError`.
fn connect_error(error: PgError, user: &str) -> SqlError {
    match error {
        // The proxy checks passwords itself and never forwards Postgres's auth error.
        PgError::Db(db) if db.code == "28P01" || db.code == "28000" => {
            SqlError::user(format!("password authentication failed for user '{user}'"))
        }
        // A wrong database name is the user's fault (400); other refusals are the compute's (500).
        PgError::Db(db) => SqlError {
            status: if db.code == "3D000" { StatusCode::BAD_REQUEST } else { StatusCode::INTERNAL_SERVER_ERROR },
            message: db.message.clone(),
            db: Some(db),
        },
        _ => SqlError::new(StatusCode::INTERNAL_SERVER_ERROR, "Couldn't connect to compute node"),
    }
}

/// An error response: `{"message","code",…}` with every key present, as the proxy writes it.
struct SqlError {
    status: StatusCode,
    message: String,
    db: Option<Box<DbError>>,
}

impl SqlError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), db: None }
    }

    fn user(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn into_response(self) -> Response<Body> {
        let db = self.db.as_deref();
        let field = |pick: fn(&DbError) -> &Option<String>| -> Value {
            db.and_then(|db| pick(db).clone()).map_or(Value::Null, Value::String)
        };
        // A position in the client's query wins; otherwise report the internal one (tokio-postgres).
        let original = db.is_some_and(|db| db.position.is_some());
        let internal =
            |pick: fn(&DbError) -> &Option<String>| -> Value { if original { Value::Null } else { field(pick) } };
        let fields: [(&str, Value); 17] = [
            ("message", Value::String(self.message)),
            ("code", Value::String(db.map(|db| db.code.clone()).unwrap_or_default())),
            ("detail", field(|db| &db.detail)),
            ("hint", field(|db| &db.hint)),
            ("position", field(|db| &db.position)),
            ("internalPosition", internal(|db| &db.internal_position)),
            ("internalQuery", internal(|db| &db.internal_query)),
            ("severity", field(|db| &db.severity)),
            ("where", field(|db| &db.where_)),
            ("table", field(|db| &db.table)),
            ("column", field(|db| &db.column)),
            ("schema", field(|db| &db.schema)),
            ("dataType", field(|db| &db.datatype)),
            ("constraint", field(|db| &db.constraint)),
            ("file", field(|db| &db.file)),
            ("line", field(|db| &db.line)),
            ("routine", field(|db| &db.routine)),
        ];
        let mut out = Vec::with_capacity(256);
        out.push(b'{');
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::push_string(&mut out, key);
            out.push(b':');
            match value {
                Value::String(text) => json::push_string(&mut out, text),
                _ => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
        http_server::json(self.status, out)
    }
}
