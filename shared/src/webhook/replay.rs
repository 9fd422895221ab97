//! Replay defence: each token id (`jti`) is accepted once.

use thiserror::Error;

use crate::transport::HttpTransport;
use crate::upstash::{RedisValue, UpstashClient, cmd};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("replay store failed: {0}")]
pub struct StoreError(pub String);

/// Remembers token ids until they expire. Futures are not `Send`, like `HttpTransport`'s.
#[allow(async_fn_in_trait)]
pub trait SeenJtiStore {
    /// Records `jti` and returns true if it was not seen before; the record may be dropped
    /// after `expires_at_unix`, when the token can no longer pass the expiry check.
    async fn first_seen(&self, jti: &str, expires_at_unix: i64) -> Result<bool, StoreError>;
}

/// Seen ids as Redis keys: `SET <prefix><jti> 1 NX EXAT <expiry>` claims an id atomically.
#[derive(Debug)]
pub struct UpstashSeenJtiStore<'a, T> {
    client: &'a UpstashClient<T>,
    key_prefix: &'a str,
}

impl<'a, T> UpstashSeenJtiStore<'a, T> {
    pub fn new(client: &'a UpstashClient<T>, key_prefix: &'a str) -> Self {
        Self { client, key_prefix }
    }
}

impl<T: HttpTransport> SeenJtiStore for UpstashSeenJtiStore<'_, T> {
    async fn first_seen(&self, jti: &str, expires_at_unix: i64) -> Result<bool, StoreError> {
        let command =
            cmd("SET").arg(format!("{}{jti}", self.key_prefix)).arg("1").arg("NX").arg("EXAT").arg(expires_at_unix);
        match self.client.command(&command).await {
            Ok(RedisValue::Ok) => Ok(true),
            Ok(RedisValue::Nil) => Ok(false),
            Ok(other) => Err(StoreError(format!("unexpected SET reply {other:?}"))),
            Err(error) => Err(StoreError(error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::{FakeTransport, json_body};

    #[tokio::test]
    async fn upstash_store_claims_the_id_with_set_nx_exat() {
        let client = UpstashClient::new(
            FakeTransport::new().respond_json(200, json!({"result": "OK"})).respond_json(200, json!({"result": null})),
            "https://redis.example",
            "t",
        );
        let store = UpstashSeenJtiStore::new(&client, "webhook:jti:");

        assert_eq!(store.first_seen("jwt_1", 1_800_000_000).await, Ok(true));
        assert_eq!(store.first_seen("jwt_1", 1_800_000_000).await, Ok(false));
        assert_eq!(
            json_body(&client.transport().requests()[0]),
            json!(["SET", "webhook:jti:jwt_1", "1", "NX", "EXAT", 1_800_000_000])
        );
    }

    #[tokio::test]
    async fn upstash_store_failures_are_store_errors() {
        let client = UpstashClient::new(FakeTransport::new().fail("down"), "https://redis.example", "t");
        let store = UpstashSeenJtiStore::new(&client, "p:");
        assert!(store.first_seen("jwt_1", 1).await.is_err());
    }
}
