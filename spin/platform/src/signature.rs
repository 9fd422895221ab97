//! The signed-request guard (DESIGN §5): `Upstash-Signature` checked with `shared::webhook`,
//! keys and expected URL from variables, replays refused through a Neon table.

use shared::api::{ApiError, ErrorCode};
use shared::neon::NeonClient;
use shared::transport::HttpTransport;
use shared::webhook::{
    self, Keys, SIGNATURE_HEADER, SeenJtiStore, SignatureError, SigningKey, StoreError, VerifiedSignature,
};
use thiserror::Error;

use crate::config::{self, ConfigError, Var};
use crate::respond::{Received, unix_now};

/// Expired rows deleted per insert: keeps the table small without a separate sweep.
const EXPIRED_ROWS_PER_INSERT: u32 = 5;

/// A `schema.table` holding seen token ids, checked when the constant is built so it can be
/// spliced into SQL: `(jti text primary key, expires_at timestamptz not null)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayTable(&'static str);

impl ReplayTable {
    /// Use in a `const` so a bad name fails the build: lower-case `schema.table` only.
    pub const fn new(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        let mut dots = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'.' {
                assert!(i > 0 && i + 1 < bytes.len(), "replay table: empty schema or table");
                dots += 1;
            } else {
                assert!(
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_',
                    "replay table: only a-z, 0-9, _ and one dot"
                );
            }
            i += 1;
        }
        assert!(dots == 1, "replay table must be schema.table");
        Self(name)
    }

    pub fn name(self) -> &'static str {
        self.0
    }

    /// One round trip: drop a few expired ids, then claim this one; a row comes back only if
    /// the id was new. `$1` = jti, `$2` = unix seconds after which the row may go.
    pub fn claim_sql(self) -> String {
        let table = self.0;
        format!(
            "WITH expired AS (\
               DELETE FROM {table} WHERE jti IN (\
                 SELECT jti FROM {table} WHERE expires_at < now() \
                 ORDER BY expires_at LIMIT {EXPIRED_ROWS_PER_INSERT} FOR UPDATE SKIP LOCKED)) \
             INSERT INTO {table} (jti, expires_at) VALUES ($1, to_timestamp($2::bigint)) \
             ON CONFLICT (jti) DO NOTHING RETURNING jti"
        )
    }
}

/// `shared::webhook`'s replay store over Neon.
pub struct NeonSeenJtiStore<'a, T> {
    client: &'a NeonClient<T>,
    table: ReplayTable,
}

impl<'a, T> NeonSeenJtiStore<'a, T> {
    pub fn new(client: &'a NeonClient<T>, table: ReplayTable) -> Self {
        Self { client, table }
    }
}

impl<T: HttpTransport> SeenJtiStore for NeonSeenJtiStore<'_, T> {
    async fn first_seen(&self, jti: &str, expires_at_unix: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .query(&self.table.claim_sql(), &[&jti, &expires_at_unix])
            .await
            .map_err(|error| StoreError(error.to_string()))?;
        Ok(!result.is_empty())
    }
}

/// Why a request was not let through. Nothing of the request has been processed.
#[derive(Debug, Error)]
pub enum Rejection {
    /// The signature is missing, invalid, stale, for another URL or body, or replayed: 401.
    #[error(transparent)]
    Signature(SignatureError),
    /// The token was cryptographically valid but the replay table could not be reached: 503.
    #[error(transparent)]
    ReplayStore(StoreError),
    /// Keys or base URL are not configured: 500.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Rejection {
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Rejection::Signature(error) => error.to_api_error(),
            Rejection::ReplayStore(error) => SignatureError::Store(error.clone()).to_api_error(),
            Rejection::Config(_) => ApiError::new(ErrorCode::Misconfigured, "service is misconfigured"),
        }
    }
}

/// Lets a request through only with a valid, unused `Upstash-Signature` for
/// `public_base_url` + its path and query and its exact body. The `jti` is recorded in `table`.
pub async fn require_signature(request: &Received, table: ReplayTable) -> Result<VerifiedSignature, Rejection> {
    let result = verify(request, table).await;
    if let Err(rejection) = &result {
        // Operators need the reason; the caller gets it too, minus configuration details.
        eprintln!(
            "signature rejected [{}] {} {}: {rejection}",
            request.request_id,
            request.parts.method,
            request.path_and_query()
        );
    }
    result
}

async fn verify(request: &Received, table: ReplayTable) -> Result<VerifiedSignature, Rejection> {
    let header = match request.parts.headers.get(SIGNATURE_HEADER) {
        None => return Err(Rejection::Signature(SignatureError::Missing)),
        Some(value) => {
            value.to_str().map_err(|_| Rejection::Signature(SignatureError::Malformed("header is not ASCII".into())))?
        }
    };
    let keys = Keys {
        current: SigningKey::new(config::get(Var::WebhookKeyCurrent).await?),
        next: config::get_optional(Var::WebhookKeyNext).await?.map(SigningKey::new),
    };
    let url = expected_url(&config::get(Var::PublicBaseUrl).await?, request.path_and_query());
    let neon = config::neon_client().await?;
    let store = NeonSeenJtiStore::new(&neon, table);
    webhook::verify(&keys, Some(header), &url, &request.body, unix_now(), &store).await.map_err(|error| match error {
        SignatureError::Store(error) => Rejection::ReplayStore(error),
        other => Rejection::Signature(other),
    })
}

/// The `sub` a signer must have used: our public origin plus the path and query as received.
pub fn expected_url(public_base_url: &str, path_and_query: &str) -> String {
    format!("{}{path_and_query}", public_base_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use shared::transport::{HttpRequest, HttpResponse, TransportError};

    use super::*;

    const TABLE: ReplayTable = ReplayTable::new("orders.received_signatures");

    #[test]
    fn expected_url_joins_origin_and_path_without_double_slash() {
        assert_eq!(
            expected_url("http://127.0.0.1:3000/", "/orders/health?x=1"),
            "http://127.0.0.1:3000/orders/health?x=1"
        );
        assert_eq!(expected_url("https://core.example", "/orders/1"), "https://core.example/orders/1");
    }

    #[test]
    fn claim_sql_inserts_once_and_prunes_expired_rows() {
        let sql = TABLE.claim_sql();
        assert!(sql.contains("INSERT INTO orders.received_signatures (jti, expires_at)"));
        assert!(sql.contains("ON CONFLICT (jti) DO NOTHING RETURNING jti"));
        assert!(sql.contains("LIMIT 5 FOR UPDATE SKIP LOCKED"));
    }

    /// Answers every request with one canned Neon reply and records what was sent.
    struct CannedNeon {
        reply: &'static str,
        sent: std::cell::RefCell<Vec<HttpRequest>>,
    }

    impl HttpTransport for CannedNeon {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
            self.sent.borrow_mut().push(request);
            Ok(HttpResponse { status: 200, headers: Vec::new(), body: self.reply.as_bytes().to_vec() })
        }
    }

    fn insert_reply(rows: &'static str) -> CannedNeon {
        let reply = match rows {
            "one" => {
                r#"{"fields":[{"name":"jti","dataTypeID":25}],"rows":[["jwt_1"]],"command":"INSERT","rowCount":1,"rowAsArray":true}"#
            }
            _ => {
                r#"{"fields":[{"name":"jti","dataTypeID":25}],"rows":[],"command":"INSERT","rowCount":0,"rowAsArray":true}"#
            }
        };
        CannedNeon { reply, sent: Default::default() }
    }

    /// The canned transport never pends, so polling once per step is enough (no runtime needed).
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
    }

    #[test]
    fn store_reports_first_sight_only_when_a_row_comes_back() {
        let client = NeonClient::new(insert_reply("one"), "http://neon/sql", "postgresql://u:p@h/db");
        let store = NeonSeenJtiStore::new(&client, TABLE);
        assert_eq!(block_on(store.first_seen("jwt_1", 1_800_000_030)), Ok(true));
        let body: serde_json::Value = serde_json::from_slice(&client.transport().sent.borrow()[0].body).unwrap();
        assert_eq!(body["query"], TABLE.claim_sql());
        assert_eq!(body["params"], serde_json::json!(["jwt_1", "1800000030"]));

        let client = NeonClient::new(insert_reply("none"), "http://neon/sql", "postgresql://u:p@h/db");
        let store = NeonSeenJtiStore::new(&client, TABLE);
        assert_eq!(block_on(store.first_seen("jwt_1", 1_800_000_030)), Ok(false));
    }

    #[test]
    fn rejections_map_to_documented_codes() {
        let code = |r: Rejection| r.to_api_error().code;
        assert_eq!(code(Rejection::Signature(SignatureError::Missing)), ErrorCode::SignatureMissing);
        assert_eq!(code(Rejection::Signature(SignatureError::BadSignature)), ErrorCode::SignatureInvalid);
        assert_eq!(
            code(Rejection::Signature(SignatureError::Replayed { jti: "j".into() })),
            ErrorCode::SignatureReplayed
        );
        assert_eq!(code(Rejection::ReplayStore(StoreError("down".into()))), ErrorCode::DependencyUnavailable);
        assert_eq!(Rejection::Signature(SignatureError::BodyMismatch).to_api_error().status(), 401);
    }
}
