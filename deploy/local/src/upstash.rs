//! Upstash's Redis REST protocol over a real Redis.
//!
//! Shapes pinned from Upstash's REST docs (upstash/docs redis/features/restapi.mdx: envelopes,
//! status codes, `/pipeline`, `/multi-exec`, `Upstash-Encoding: base64` with the bare-"OK" rule,
//! path form, `_token`), its troubleshooting pages (the WRONGPASS text for a bad token, the
//! "max request size exceeded" text) and the @upstash/redis client (pkg/http.ts decodes every
//! string but a top-level "OK"). Where Upstash's docs are silent, serverless-redis-http
//! (hiett/serverless-redis-http) is the reference.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Cmd, Pipeline, ServerError, Value};
use serde_json::{Value as Json, json};
use tokio::sync::Mutex;

use crate::http_server::{self, Body, BodyError};

/// Upstash's max request size on the Free and Pay-as-you-go plans ("10MB", troubleshooting page
/// max_request_size_exceeded); its error text reports the limit in bytes of 1024².
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// What Upstash answers for a missing or wrong token (troubleshooting page http_unauthorized).
const UNAUTHORIZED: &str = "WRONGPASS invalid or missing auth token";
/// How long one shared-connection command may take before the request fails.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Commands that would take over or reconfigure the shared multiplexed connection.
const UNAVAILABLE: &[&str] = &[
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "SUNSUBSCRIBE",
    "MONITOR",
    "SELECT",
    "QUIT",
    "RESET",
    "HELLO",
    "AUTH",
    "SYNC",
    "PSYNC",
];
/// Commands that can park a connection; they get one of their own.
const BLOCKING: &[&str] =
    &["BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT", "WAITAOF"];
/// Transaction state on the shared connection would leak into other requests; `/multi-exec`
/// is the only way in.
const TRANSACTION_CONTROL: &[&str] = &["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"];

pub struct Gateway {
    client: redis::Client,
    token: String,
    shared: Mutex<Option<MultiplexedConnection>>,
}

/// A response body and status before encoding.
struct Reply {
    status: StatusCode,
    body: Json,
}

impl Reply {
    fn error(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, body: json!({ "error": message.into() }) }
    }
}

impl Gateway {
    pub fn new(redis_url: &str, token: &str) -> anyhow::Result<Self> {
        Ok(Self { client: redis::Client::open(redis_url)?, token: token.to_owned(), shared: Mutex::new(None) })
    }

    pub async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let reply = self.reply(request).await;
        match serde_json::to_vec(&reply.body) {
            Ok(body) => http_server::json(reply.status, body),
            Err(_) => http_server::json(StatusCode::INTERNAL_SERVER_ERROR, "{\"error\":\"ERR\"}"),
        }
    }

    async fn reply(&self, request: Request<Incoming>) -> Reply {
        let (parts, body) = request.into_parts();
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::POST | Method::PUT) {
            return Reply::error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
        }
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|query| url::form_urlencoded::parse(query.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        if !self.authorized(&parts.headers, &query) {
            return Reply::error(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
        }
        let base64 =
            parts.headers.get("upstash-encoding").is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"base64"));
        let body = match http_server::read_body(body, MAX_REQUEST_BYTES).await {
            Ok(body) => body,
            Err(BodyError::TooLarge { limit, actual }) => {
                let actual = actual.map_or_else(|| format!("more than {limit}"), |n| n.to_string());
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "ERR max request size exceeded. Limit: {limit} bytes, Actual: {actual} bytes. \
                         See https://upstash.com/docs/redis/troubleshooting/max_request_size_exceeded for details"
                    ),
                );
            }
            Err(BodyError::Read(error)) => {
                return Reply::error(StatusCode::BAD_REQUEST, format!("ERR {error}"));
            }
        };

        let path = parts.uri.path();
        let result = match path {
            "/" | "" => match parse_command_json(&body) {
                Ok(command) => self.single(command, base64).await,
                Err(message) => Err(Reply::error(StatusCode::BAD_REQUEST, message)),
            },
            "/pipeline" => match parse_commands_json(&body) {
                Ok(commands) => self.pipeline(commands, base64).await,
                Err(message) => Err(Reply::error(StatusCode::BAD_REQUEST, message)),
            },
            "/multi-exec" => match parse_commands_json(&body) {
                Ok(commands) => self.multi_exec(commands, base64).await,
                Err(message) => Err(Reply::error(StatusCode::BAD_REQUEST, message)),
            },
            _ => {
                let command = command_from_path(path, &body, &query);
                self.single(command, base64).await
            }
        };
        result.unwrap_or_else(|reply| reply)
    }

    /// `Authorization: Bearer <token>` or `?_token=<token>`.
    fn authorized(&self, headers: &http::HeaderMap, query: &[(String, String)]) -> bool {
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let query_token = query.iter().find(|(key, _)| key == "_token").map(|(_, value)| value.as_str());
        bearer.or(query_token) == Some(self.token.as_str())
    }

    async fn single(&self, command: Vec<Vec<u8>>, base64: bool) -> Result<Reply, Reply> {
        check_available(&command)?;
        let blocking = is_blocking(&command);
        let mut pipe = Pipeline::new();
        pipe.add_command(to_cmd(&command));
        let mut replies = self.send(&pipe, 1, blocking).await?;
        let value = replies.pop().unwrap_or(Value::Nil);
        Ok(match value {
            Value::ServerError(error) => Reply::error(StatusCode::BAD_REQUEST, error_text(&error)),
            value => Reply { status: StatusCode::OK, body: json!({ "result": to_json(value, base64, true) }) },
        })
    }

    /// Not atomic: each command's result or error, in order.
    async fn pipeline(&self, commands: Vec<Vec<Vec<u8>>>, base64: bool) -> Result<Reply, Reply> {
        let mut pipe = Pipeline::with_capacity(commands.len());
        let mut blocking = false;
        for command in &commands {
            check_available(command)?;
            blocking |= is_blocking(command);
            pipe.add_command(to_cmd(command));
        }
        let replies = self.send(&pipe, commands.len(), blocking).await?;
        Ok(Reply { status: StatusCode::OK, body: Json::Array(replies.into_iter().map(|v| entry(v, base64)).collect()) })
    }

    /// MULTI, the commands, EXEC — sent as one batch so nothing interleaves on the shared
    /// connection. A command Redis rejects while queueing discards the whole transaction.
    async fn multi_exec(&self, commands: Vec<Vec<Vec<u8>>>, base64: bool) -> Result<Reply, Reply> {
        let mut pipe = Pipeline::with_capacity(commands.len() + 2);
        pipe.add_command(redis::cmd("MULTI"));
        for command in &commands {
            check_available(command)?;
            pipe.add_command(to_cmd(command));
        }
        pipe.add_command(redis::cmd("EXEC"));
        let replies = self.send(&pipe, commands.len() + 2, false).await?;
        let queue_error = replies.iter().find_map(|reply| match reply {
            Value::ServerError(error) => Some(error_text(error)),
            _ => None,
        });
        Ok(match replies.into_iter().last() {
            Some(Value::Array(results)) => Reply {
                status: StatusCode::OK,
                body: Json::Array(results.into_iter().map(|v| entry(v, base64)).collect()),
            },
            Some(Value::ServerError(error)) => {
                Reply::error(StatusCode::BAD_REQUEST, queue_error.unwrap_or_else(|| error_text(&error)))
            }
            _ => Reply::error(StatusCode::BAD_REQUEST, "EXECABORT Transaction discarded"),
        })
    }

    /// Sends a pipeline and returns one raw reply per command (server errors inline).
    /// A shared connection found dead is replaced and the batch retried once.
    async fn send(&self, pipe: &Pipeline, count: usize, blocking: bool) -> Result<Vec<Value>, Reply> {
        if blocking {
            let mut conn = self.connect(None).await?;
            return conn.send_packed_commands(pipe, 0, count).await.map_err(unavailable);
        }
        let (mut conn, fresh) = self.shared().await?;
        match conn.send_packed_commands(pipe, 0, count).await {
            Ok(replies) => Ok(replies),
            Err(error) => {
                self.forget_shared().await;
                if fresh || !error.is_connection_dropped() {
                    return Err(unavailable(error));
                }
                let (mut conn, _) = self.shared().await?;
                conn.send_packed_commands(pipe, 0, count).await.map_err(unavailable)
            }
        }
    }

    /// The shared connection (and whether it was just made), connecting if there is none.
    async fn shared(&self) -> Result<(MultiplexedConnection, bool), Reply> {
        let mut shared = self.shared.lock().await;
        if let Some(conn) = shared.as_ref() {
            return Ok((conn.clone(), false));
        }
        let conn = self.connect(Some(RESPONSE_TIMEOUT)).await?;
        *shared = Some(conn.clone());
        Ok((conn, true))
    }

    async fn forget_shared(&self) {
        *self.shared.lock().await = None;
    }

    async fn connect(&self, response_timeout: Option<Duration>) -> Result<MultiplexedConnection, Reply> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(response_timeout);
        self.client.get_multiplexed_async_connection_with_config(&config).await.map_err(unavailable)
    }
}

/// Redis is unreachable: a server-side failure, as serverless-redis-http reports it (500).
fn unavailable(error: redis::RedisError) -> Reply {
    Reply::error(StatusCode::INTERNAL_SERVER_ERROR, format!("ERR unable to reach the Redis server: {error}"))
}

/// Rejects what cannot run on a shared connection (or would break `/multi-exec` framing).
fn check_available(command: &[Vec<u8>]) -> Result<(), Reply> {
    let Some(name) = command.first() else {
        return Err(Reply::error(StatusCode::BAD_REQUEST, "ERR empty command"));
    };
    let is = |candidate: &str| name.eq_ignore_ascii_case(candidate.as_bytes());
    let display = String::from_utf8_lossy(name).to_lowercase();
    if TRANSACTION_CONTROL.iter().any(|control| is(control)) {
        return Err(Reply::error(
            StatusCode::BAD_REQUEST,
            format!("ERR '{display}' is not supported over REST, use /multi-exec"),
        ));
    }
    let client_reply = is("CLIENT") && command.get(1).is_some_and(|sub| sub.eq_ignore_ascii_case(b"REPLY"));
    if client_reply || UNAVAILABLE.iter().any(|unavailable| is(unavailable)) {
        return Err(Reply::error(StatusCode::BAD_REQUEST, format!("ERR Command is not available: '{display}'")));
    }
    Ok(())
}

fn is_blocking(command: &[Vec<u8>]) -> bool {
    let Some(name) = command.first() else {
        return false;
    };
    let is = |candidate: &str| name.eq_ignore_ascii_case(candidate.as_bytes());
    BLOCKING.iter().any(|blocking| is(blocking))
        || ((is("XREAD") || is("XREADGROUP")) && command.iter().any(|arg| arg.eq_ignore_ascii_case(b"BLOCK")))
}

fn to_cmd(command: &[Vec<u8>]) -> Cmd {
    let mut cmd = Cmd::new();
    for arg in command {
        cmd.arg(arg.as_slice());
    }
    cmd
}

/// `["SET","k","v","EX",60]`: strings as bytes, numbers as their decimal text.
fn parse_command_json(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let value: Json = serde_json::from_slice(body).map_err(|error| format!("ERR failed to parse command: {error}"))?;
    command_from_json(&value)
}

fn parse_commands_json(body: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let value: Json = serde_json::from_slice(body).map_err(|error| format!("ERR failed to parse commands: {error}"))?;
    let Json::Array(commands) = value else {
        return Err("ERR expected an array of command arrays".to_owned());
    };
    if commands.is_empty() {
        return Err("ERR empty command list".to_owned());
    }
    commands.iter().map(command_from_json).collect()
}

fn command_from_json(value: &Json) -> Result<Vec<Vec<u8>>, String> {
    let Json::Array(args) = value else {
        return Err("ERR expected a command array".to_owned());
    };
    if args.is_empty() {
        return Err("ERR empty command".to_owned());
    }
    args.iter()
        .map(|arg| match arg {
            Json::String(text) => Ok(text.clone().into_bytes()),
            Json::Number(number) => Ok(number.to_string().into_bytes()),
            other => Err(format!("ERR command arguments must be strings or numbers, got {other}")),
        })
        .collect()
}

/// `/set/foo/bar?EX=100`, with a POST body appended as the value before the query arguments.
fn command_from_path(path: &str, body: &Bytes, query: &[(String, String)]) -> Vec<Vec<u8>> {
    let mut segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    let mut command: Vec<Vec<u8>> = segments.into_iter().map(http_server::percent_decode).collect();
    if !body.is_empty() {
        command.push(body.to_vec());
    }
    for (key, value) in query {
        if key != "_token" {
            command.push(key.clone().into_bytes());
            command.push(value.clone().into_bytes());
        }
    }
    command
}

/// `{"result":…}` or, for a command's error, `{"error":…}`.
fn entry(value: Value, base64: bool) -> Json {
    match value {
        Value::ServerError(error) => json!({ "error": error_text(&error) }),
        value => json!({ "result": to_json(value, base64, true) }),
    }
}

/// The error line as Redis sent it, e.g. `NOSCRIPT No matching script. Please use EVAL.`
fn error_text(error: &ServerError) -> String {
    match error.details() {
        Some(details) => format!("{} {details}", error.code()),
        None => error.code().to_owned(),
    }
}

/// Redis reply → JSON: nil → null, integers → numbers, arrays stay nested. With base64 every
/// string is encoded except a top-level "OK" status; without it invalid UTF-8 becomes U+FFFD.
fn to_json(value: Value, base64: bool, top: bool) -> Json {
    let string = |bytes: &[u8]| -> Json {
        if base64 {
            Json::String(BASE64.encode(bytes))
        } else {
            Json::String(String::from_utf8_lossy(bytes).into_owned())
        }
    };
    match value {
        Value::Nil => Json::Null,
        Value::Int(number) => Json::from(number),
        Value::BulkString(bytes) => string(&bytes),
        Value::SimpleString(text) => string(text.as_bytes()),
        Value::Okay if top || !base64 => Json::String("OK".to_owned()),
        Value::Okay => string(b"OK"),
        Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
            Json::Array(items.into_iter().map(|item| to_json(item, base64, false)).collect())
        }
        // RESP3-only shapes; the shared connection speaks RESP2, kept for completeness.
        Value::Attribute { data, .. } => to_json(*data, base64, top),
        Value::Map(pairs) => Json::Array(
            pairs
                .into_iter()
                .flat_map(|(key, value)| [to_json(key, base64, false), to_json(value, base64, false)])
                .collect(),
        ),
        Value::Double(number) => string(number.to_string().as_bytes()),
        Value::Boolean(flag) => Json::from(i64::from(flag)),
        Value::VerbatimString { text, .. } => string(text.as_bytes()),
        Value::BigNumber(digits) => string(&digits),
        Value::ServerError(error) => Json::String(error_text(&error)),
        _ => Json::Null,
    }
}
