//! Lua scripts run by SHA1, loading them on first use.

use sha1::{Digest, Sha1};

use super::UpstashClient;
use super::command::Arg;
use super::error::UpstashError;
use super::value::RedisValue;
use crate::transport::HttpTransport;

/// A Lua script and its SHA1, the name Redis caches it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    source: String,
    sha1: String,
}

impl Script {
    pub fn new(source: impl Into<String>) -> Self {
        let source = source.into();
        let digest = Sha1::digest(source.as_bytes());
        let sha1 = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        Self { source, sha1 }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Lower-case hex, as `SCRIPT LOAD` returns it.
    pub fn sha1(&self) -> &str {
        &self.sha1
    }

    /// `EVALSHA` first (small request); on `NOSCRIPT`, `EVAL`, which also caches the script.
    pub async fn run<T, K, A>(
        &self,
        client: &UpstashClient<T>,
        keys: impl IntoIterator<Item = K>,
        args: impl IntoIterator<Item = A>,
    ) -> Result<RedisValue, UpstashError>
    where
        T: HttpTransport,
        K: Into<Arg>,
        A: Into<Arg>,
    {
        let keys: Vec<Arg> = keys.into_iter().map(Into::into).collect();
        let args: Vec<Arg> = args.into_iter().map(Into::into).collect();
        match client.evalsha(&self.sha1, keys.clone(), args.clone()).await {
            Err(error) if error.is_noscript() => client.eval(&self.source, keys, args).await,
            result => result,
        }
    }
}
