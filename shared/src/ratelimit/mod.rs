//! Rate limits on Upstash Redis with @upstash/ratelimit's `slidingWindow` algorithm (DESIGN §4):
//! two fixed windows, the previous one's count weighted by how much of it still overlaps the
//! sliding window. The Lua script is that library's, byte for byte, run with EVALSHA (falling back
//! to EVAL on NOSCRIPT) and with the same keys and arguments, so a TypeScript service using the SDK
//! with prefix `ratelimit:{name}` would share these counters.
//!
//! Keys: `ratelimit:{name}:{identifier}:{window_index}`, with `window_index = now_ms / window_ms`.
//! Identifiers (IP, email) are HMAC-SHA256'd with a server secret first, so Redis never holds a raw
//! email or IP and nobody can test a guessed email against the keys. Each key expires after two
//! windows plus a second (the script's PEXPIRE).
//!
//! No clock in here: callers pass `now_ms` (unix milliseconds).

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::net::IpAddr;
use thiserror::Error;

use crate::api::ApiError;
use crate::api::ErrorCode;
use crate::transport::HttpTransport;
use crate::upstash::{RedisValue, Script, UpstashClient, UpstashError};

/// `slidingWindowLimitScript` from @upstash/ratelimit `src/lua-scripts/single.ts` (v1.1.x).
pub const SLIDING_WINDOW_SCRIPT: &str = include_str!("sliding_window.lua");
/// The hash the SDK pins for it (`src/lua-scripts/hash.ts`); a test checks the copy matches.
pub const SLIDING_WINDOW_SCRIPT_SHA1: &str = "977fb636fb5ceb7e98a96d1b3a1272ba018efdae";
pub const KEY_PREFIX: &str = "ratelimit";
/// Identifier hashes keep 128 bits: collisions are out of reach, keys stay short.
const IDENTIFIER_HASH_BYTES: usize = 16;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 60 * MINUTE_MS;

/// `tokens` requests per sliding `window_ms` for one `name`d action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub name: &'static str,
    pub tokens: u32,
    pub window_ms: u64,
}

// Per-IP limits stay loose enough for a household or office behind one NAT address; per-account
// limits stop slow distributed guessing at one account (OWASP Authentication and Credential
// Stuffing cheat sheets). Refund successful logins (`limit_by` with rate -1) so only failures count.

/// One IP trying many accounts (credential stuffing): 30 per 15 minutes.
pub const LOGIN_BY_IP: Limit = Limit { name: "login_ip", tokens: 30, window_ms: 15 * MINUTE_MS };
/// Many IPs trying one account: 10 per 15 minutes, about 1,000 guesses a day at most, and only
/// from the top of a breached-password list (NIST SP 800-63B §5.2.2 caps failures at 100 before
/// stronger measures; pair with the account's own lockout if needed).
pub const LOGIN_BY_ACCOUNT: Limit = Limit { name: "login_account", tokens: 10, window_ms: 15 * MINUTE_MS };
/// Sign-ups: 5 an hour per IP keeps scripted account creation and email-existence probing slow.
pub const REGISTER_BY_IP: Limit = Limit { name: "register_ip", tokens: 5, window_ms: HOUR_MS };
/// Each request sends an email: 5 an hour per IP, 3 an hour per account, so nobody can flood an
/// inbox or burn the mail quota (OWASP Forgot Password cheat sheet).
pub const FORGOT_PASSWORD_BY_IP: Limit = Limit { name: "forgot_password_ip", tokens: 5, window_ms: HOUR_MS };
pub const FORGOT_PASSWORD_BY_ACCOUNT: Limit = Limit { name: "forgot_password_account", tokens: 3, window_ms: HOUR_MS };
/// A 6-digit code with a ±1 step window has 3 in 10^6 chances per guess (RFC 4226 §7.3 asks for
/// throttling): 5 per 15 minutes is under 0.15% a day for an attacker who already has the password.
pub const TWO_FACTOR_BY_ACCOUNT: Limit = Limit { name: "two_factor_account", tokens: 5, window_ms: 15 * MINUTE_MS };
pub const TWO_FACTOR_BY_IP: Limit = Limit { name: "two_factor_ip", tokens: 20, window_ms: 15 * MINUTE_MS };

/// The outcome of one check, as @upstash/ratelimit reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// End of the current fixed window (unix ms): the SDK's `reset`.
    pub reset_at_ms: u64,
    /// For `Retry-After` when refused: seconds until `reset_at_ms`, at least 1. By then the
    /// request is allowed unless more arrive, because the refused window becomes the previous one
    /// and its count is below the limit or at it with a weight just under one.
    pub retry_after_secs: Option<u64>,
}

impl Decision {
    /// `AUTH_1011` with `{"retryAfter": secs}`, or `None` when allowed.
    pub fn to_api_error(&self) -> Option<ApiError> {
        let retry_after = self.retry_after_secs?;
        Some(
            ApiError::new(ErrorCode::TooManyAttempts, "too many attempts; try again later")
                .with_details(json!({ "retryAfter": retry_after })),
        )
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RateLimitError {
    #[error(transparent)]
    Upstash(#[from] UpstashError),
    #[error("unexpected rate-limit script reply: {0}")]
    UnexpectedReply(String),
}

/// Checks limits against one Upstash database. Whether to fail open or closed when Redis is down
/// is the caller's call (an error comes back; nothing is decided here).
#[derive(Debug)]
pub struct RateLimiter<'a, T> {
    client: &'a UpstashClient<T>,
    identifier_key: Vec<u8>,
    script: Script,
}

impl<'a, T: HttpTransport> RateLimiter<'a, T> {
    /// `identifier_secret` keys the identifier hash (a Worker secret; at least 32 random bytes).
    pub fn new(client: &'a UpstashClient<T>, identifier_secret: &[u8]) -> Self {
        Self { client, identifier_key: identifier_secret.to_vec(), script: Script::new(SLIDING_WINDOW_SCRIPT) }
    }

    /// Counts one request for `identifier` (an email, or `client_ip_identifier`) against `limit`.
    pub async fn limit(&self, limit: &Limit, identifier: &str, now_ms: u64) -> Result<Decision, RateLimitError> {
        self.limit_by(limit, identifier, now_ms, 1).await
    }

    /// Counts `rate` requests; a negative rate refunds earlier ones and is never refused (the SDK's
    /// `limit(id, { rate })`).
    pub async fn limit_by(
        &self,
        limit: &Limit,
        identifier: &str,
        now_ms: u64,
        rate: i64,
    ) -> Result<Decision, RateLimitError> {
        let identifier = hash_identifier(&self.identifier_key, identifier);
        let [current_key, previous_key] = window_keys(limit, &identifier, now_ms);
        // The third key is the SDK's dynamic-limit key; "" turns that feature off, as the SDK does.
        let keys = [current_key, previous_key, String::new()];
        let args = [i64::from(limit.tokens), saturating_i64(now_ms), saturating_i64(limit.window_ms), rate];
        let reply = self.script.run(self.client, keys, args).await?;
        let (remaining, effective_limit) = parse_reply(&reply)?;
        Ok(decision_from_reply(limit, now_ms, remaining, effective_limit))
    }
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// `[remaining, effectiveLimit]`.
fn parse_reply(reply: &RedisValue) -> Result<(i64, i64), RateLimitError> {
    match reply.as_array() {
        Some([remaining, limit]) => match (remaining.as_i64(), limit.as_i64()) {
            (Some(remaining), Some(limit)) => Ok((remaining, limit)),
            _ => Err(RateLimitError::UnexpectedReply(format!("{reply:?}"))),
        },
        _ => Err(RateLimitError::UnexpectedReply(format!("{reply:?}"))),
    }
}

/// `floor(now_ms / window_ms)`, the SDK's `currentWindow`.
pub fn window_index(now_ms: u64, window_ms: u64) -> u64 {
    now_ms / window_ms.max(1)
}

/// `[current, previous]` window keys for an already hashed identifier.
pub fn window_keys(limit: &Limit, hashed_identifier: &str, now_ms: u64) -> [String; 2] {
    let current = i128::from(window_index(now_ms, limit.window_ms));
    let key = |window: i128| format!("{KEY_PREFIX}:{}:{hashed_identifier}:{window}", limit.name);
    // Signed like the SDK's `currentWindow - 1`, which is -1 in the epoch's first window.
    [key(current), key(current - 1)]
}

/// Hex of the first 128 bits of HMAC-SHA256(secret, identifier).
pub fn hash_identifier(secret: &[u8], identifier: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        // HMAC accepts keys of any length; this branch cannot run.
        return String::new();
    };
    mac.update(identifier.as_bytes());
    mac.finalize().into_bytes()[..IDENTIFIER_HASH_BYTES].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The identifier for a client address: IPv4 as is, IPv6 by its /64, since one host usually holds
/// a whole /64 (RFC 6177) and could otherwise rotate through 2^64 addresses. Unparseable input is
/// used trimmed, so it still gets a (hashed) bucket of its own.
pub fn client_ip_identifier(ip: &str) -> String {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => format!("ip4:{v4}"),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip4:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => format!("raw:{}", ip.trim()),
    }
}

/// The script's weighting, in the same IEEE double arithmetic as Redis's Lua:
/// `floor((1 - (now % window) / window) * previous)`.
pub fn weighted_previous(previous: i64, now_ms: u64, window_ms: u64) -> i64 {
    let window_ms = window_ms.max(1);
    let elapsed_fraction = (now_ms % window_ms) as f64 / window_ms as f64;
    ((1.0 - elapsed_fraction) * previous as f64).floor() as i64
}

/// What the script does to one identifier's two counters, for tests and reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptOutcome {
    /// The script's first reply element; negative means refused.
    pub remaining: i64,
    /// The current window's counter afterwards.
    pub current: i64,
}

/// The Lua script in Rust, with no dynamic limit: refuse if the weighted previous count plus the
/// current one has reached `tokens` (only when counting, never when refunding), else add `rate`.
pub fn evaluate(tokens: i64, current: i64, previous: i64, now_ms: u64, window_ms: u64, rate: i64) -> ScriptOutcome {
    let previous = weighted_previous(previous, now_ms, window_ms);
    if rate > 0 && previous + current >= tokens {
        return ScriptOutcome { remaining: -1, current };
    }
    let current = current + rate;
    ScriptOutcome { remaining: tokens - (current + previous), current }
}

/// The SDK's result mapping: allowed when `remaining >= 0`, `remaining` floored at 0, reset at the
/// end of the current fixed window.
pub fn decision_from_reply(limit: &Limit, now_ms: u64, remaining: i64, effective_limit: i64) -> Decision {
    let window_ms = limit.window_ms.max(1);
    let reset_at_ms = window_index(now_ms, window_ms).saturating_add(1).saturating_mul(window_ms);
    let allowed = remaining >= 0;
    let retry_after_secs = (!allowed).then(|| reset_at_ms.saturating_sub(now_ms).div_ceil(1000).max(1));
    Decision {
        allowed,
        limit: u32::try_from(effective_limit.max(0)).unwrap_or(u32::MAX),
        remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
        reset_at_ms,
        retry_after_secs,
    }
}

#[cfg(test)]
mod tests;
