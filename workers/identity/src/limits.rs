//! Rate limits (shared::ratelimit, @upstash/ratelimit's sliding window) by client IP and by
//! account. All limits of a request are counted at once; the longest `Retry-After` wins.
//!
//! When Upstash fails, requests are let through (logged), as @upstash/ratelimit does on timeout:
//! an outage of the cache must not lock every user out, and Argon2id plus the per-account limit
//! resuming with Redis keep guessing slow.

use futures_util::future::join_all;
use shared::identity::email::Email;
use shared::ratelimit::{self, Limit, RateLimiter};
use shared::upstash::UpstashClient;
use worker_platform::clock;
use worker_platform::fetch::FetchTransport;

use crate::respond::Failure;

/// No per-account sign-up limit exists in shared::ratelimit: repeated sign-ups for one address
/// (probing whether it is registered, or mailing someone verification links) get 5 an hour.
pub const REGISTER_BY_ACCOUNT: Limit = Limit { name: "register_account", tokens: 5, window_ms: 60 * 60 * 1000 };

/// What is being limited: a client address or an account (email or user id).
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    ClientIp,
    Email(&'a Email),
    /// Before the email is known to be valid: the trimmed, lower-cased text.
    RawEmail(&'a str),
    User(&'a str),
}

pub struct Limiter<'a> {
    limiter: RateLimiter<'a, FetchTransport>,
    client_ip: &'a str,
}

impl<'a> Limiter<'a> {
    pub fn new(upstash: &'a UpstashClient<FetchTransport>, key: &[u8], client_ip: &'a str) -> Self {
        Self { limiter: RateLimiter::new(upstash, key), client_ip }
    }

    fn identifier(&self, subject: Subject<'_>) -> String {
        match subject {
            Subject::ClientIp => ratelimit::client_ip_identifier(self.client_ip),
            Subject::Email(email) => format!("email:{}", email.as_str()),
            Subject::RawEmail(text) => format!("email:{}", text.trim().to_lowercase()),
            Subject::User(user_id) => format!("user:{user_id}"),
        }
    }

    /// Counts one attempt against every limit; `AUTH_1011` with `Retry-After` if any refuses.
    pub async fn check(&self, limits: &[(Limit, Subject<'_>)]) -> Result<(), Failure> {
        let now_ms = clock::now_ms();
        let checks = limits.iter().map(|(limit, subject)| {
            let identifier = self.identifier(*subject);
            async move { (limit, self.limiter.limit(limit, &identifier, now_ms).await) }
        });
        let mut refused: Option<Failure> = None;
        for (limit, outcome) in join_all(checks).await {
            match outcome {
                Ok(decision) => {
                    if let Some(error) = decision.to_api_error() {
                        let retry_after = decision.retry_after_secs.unwrap_or(1);
                        let longest = refused.as_ref().and_then(|f| f.retry_after_secs).unwrap_or(0).max(retry_after);
                        refused = Some(Failure { error, retry_after_secs: Some(longest) });
                    }
                }
                Err(error) => worker::console_error!("rate limit {} not checked (allowing): {error}", limit.name),
            }
        }
        refused.map_or(Ok(()), Err)
    }

    /// Gives back the attempts of a request that succeeded, so only failures count.
    pub async fn refund(&self, limits: &[(Limit, Subject<'_>)]) {
        let now_ms = clock::now_ms();
        let refunds = limits.iter().map(|(limit, subject)| {
            let identifier = self.identifier(*subject);
            async move { (limit, self.limiter.limit_by(limit, &identifier, now_ms, -1).await) }
        });
        for (limit, outcome) in join_all(refunds).await {
            if let Err(error) = outcome {
                worker::console_error!("rate limit {} not refunded: {error}", limit.name);
            }
        }
    }
}
