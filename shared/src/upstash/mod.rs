//! Upstash Redis over its REST API (DESIGN §4).
//!
//! `POST {url}` with a JSON array command → `{"result":…}` or `{"error":"…"}` (400; 401 for a
//! bad token). `POST {url}/pipeline` and `POST {url}/multi-exec` take an array of commands and
//! answer an array of `{"result"}|{"error"}`, one per command; multi-exec runs them atomically.
//! With `Upstash-Encoding: base64` every string in a result is base64 except a bare `"OK"`
//! (upstash.com/docs/redis/features/restapi; @upstash/redis `decode()` does the same).

mod command;
mod error;
mod script;
mod value;

use std::fmt;

use serde_json::Value as Json;

pub use command::{Arg, Command, ToCommand, cmd};
pub use error::UpstashError;
pub use script::Script;
pub use value::RedisValue;

use crate::transport::{HttpRequest, HttpResponse, HttpTransport, Method};
use value::decode_result;

/// Longest piece of a reply quoted in an error.
const QUOTE_LIMIT: usize = 200;

pub const HEADER_ENCODING: &str = "Upstash-Encoding";

pub struct UpstashClient<T> {
    transport: T,
    url: String,
    token: String,
    base64: bool,
}

/// Hand-written so the token never reaches a log.
impl<T> fmt::Debug for UpstashClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstashClient").field("url", &self.url).field("base64", &self.base64).finish_non_exhaustive()
    }
}

impl<T: HttpTransport> UpstashClient<T> {
    /// Base64 replies are on: values are binary-safe and decoded transparently.
    pub fn new(transport: T, url: impl Into<String>, token: impl Into<String>) -> Self {
        let url = url.into().trim_end_matches('/').to_owned();
        Self { transport, url, token: token.into(), base64: true }
    }

    /// Plain JSON strings instead of base64 (smaller replies; only right for UTF-8 values).
    #[must_use]
    pub fn with_base64(mut self, base64: bool) -> Self {
        self.base64 = base64;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// One command: `client.command(&cmd("SET").arg("k").arg(1))` or `client.command(&["GET", "k"])`.
    pub async fn command<C: ToCommand + ?Sized>(&self, command: &C) -> Result<RedisValue, UpstashError> {
        let response = self.post(&self.url, command.to_command_json()?).await?;
        match parse_reply(&response)? {
            Json::Object(mut reply) => match reply.remove("error") {
                Some(error) => Err(UpstashError::Redis(error_text(error))),
                None => decode_result(reply.remove("result").unwrap_or(Json::Null), self.base64),
            },
            other => Err(UpstashError::Decode(format!("expected an object, got {}", quote_json(&other)))),
        }
    }

    /// Commands in one round trip, run in order but not atomically; each has its own outcome.
    pub async fn pipeline<C: ToCommand>(
        &self,
        commands: &[C],
    ) -> Result<Vec<Result<RedisValue, UpstashError>>, UpstashError> {
        self.many("pipeline", commands).await
    }

    /// Commands run atomically (MULTI/EXEC without WATCH); each still has its own outcome, as a
    /// runtime error in one command does not undo the others.
    pub async fn multi_exec<C: ToCommand>(
        &self,
        commands: &[C],
    ) -> Result<Vec<Result<RedisValue, UpstashError>>, UpstashError> {
        self.many("multi-exec", commands).await
    }

    pub async fn eval(
        &self,
        script: &str,
        keys: impl IntoIterator<Item = impl Into<Arg>>,
        args: impl IntoIterator<Item = impl Into<Arg>>,
    ) -> Result<RedisValue, UpstashError> {
        self.command(&script_command("EVAL", script, keys, args)).await
    }

    pub async fn evalsha(
        &self,
        sha1: &str,
        keys: impl IntoIterator<Item = impl Into<Arg>>,
        args: impl IntoIterator<Item = impl Into<Arg>>,
    ) -> Result<RedisValue, UpstashError> {
        self.command(&script_command("EVALSHA", sha1, keys, args)).await
    }

    async fn many<C: ToCommand>(
        &self,
        path: &str,
        commands: &[C],
    ) -> Result<Vec<Result<RedisValue, UpstashError>>, UpstashError> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let body = commands.iter().map(ToCommand::to_command_json).collect::<Result<Vec<_>, _>>()?;
        let response = self.post(&format!("{}/{path}", self.url), Json::Array(body)).await?;
        let replies = match parse_reply(&response)? {
            Json::Array(replies) => replies,
            Json::Object(mut reply) if reply.contains_key("error") => {
                return Err(UpstashError::Redis(error_text(reply.remove("error").unwrap_or_default())));
            }
            other => {
                return Err(UpstashError::Decode(format!("expected an array, got {}", quote_json(&other))));
            }
        };
        if replies.len() != commands.len() {
            return Err(UpstashError::Decode(format!("{} replies for {} commands", replies.len(), commands.len())));
        }
        replies.into_iter().map(|reply| self.entry(reply)).collect()
    }

    /// One `{"result"}|{"error"}` entry: the outer `Result` is a malformed entry.
    fn entry(&self, reply: Json) -> Result<Result<RedisValue, UpstashError>, UpstashError> {
        let Json::Object(mut reply) = reply else {
            return Err(UpstashError::Decode(format!("expected an object, got {}", quote_json(&reply))));
        };
        if let Some(error) = reply.remove("error") {
            return Ok(Err(UpstashError::Redis(error_text(error))));
        }
        match reply.remove("result") {
            Some(result) => Ok(decode_result(result, self.base64)),
            None => Err(UpstashError::Decode("entry has neither result nor error".into())),
        }
    }

    async fn post(&self, url: &str, body: Json) -> Result<HttpResponse, UpstashError> {
        let mut request = HttpRequest::new(Method::Post, url)
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if self.base64 {
            request = request.header(HEADER_ENCODING, "base64");
        }
        Ok(self.transport.send(request).await?)
    }
}

fn script_command(
    verb: &str,
    script: &str,
    keys: impl IntoIterator<Item = impl Into<Arg>>,
    args: impl IntoIterator<Item = impl Into<Arg>>,
) -> Command {
    let keys: Vec<Arg> = keys.into_iter().map(Into::into).collect();
    Command::new(verb).arg(script).arg(keys.len()).args(keys).args(args)
}

/// The JSON body of a 2xx reply, or the error the status means (a 400 carries `{"error"}`).
fn parse_reply(response: &HttpResponse) -> Result<Json, UpstashError> {
    let json: Option<Json> = serde_json::from_slice(&response.body).ok();
    let error_message = || match &json {
        Some(Json::Object(reply)) => reply.get("error").cloned().map(error_text),
        _ => None,
    };
    let body_text = || quote(&String::from_utf8_lossy(&response.body));
    match response.status {
        200..=299 => json.ok_or_else(|| UpstashError::Decode(format!("not JSON: {}", body_text()))),
        401 | 403 => Err(UpstashError::Unauthorized(error_message().unwrap_or_else(body_text))),
        400 => Err(match error_message() {
            Some(message) => UpstashError::Redis(message),
            None => UpstashError::Http { status: 400, body: body_text() },
        }),
        status => Err(UpstashError::Http { status, body: error_message().unwrap_or_else(body_text) }),
    }
}

fn error_text(error: Json) -> String {
    match error {
        Json::String(text) => text,
        other => other.to_string(),
    }
}

fn quote_json(json: &Json) -> String {
    quote(&json.to_string())
}

fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
