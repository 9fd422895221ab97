//! Typed access to the component variables declared in `spin.toml`: one enum of names, so a
//! typo is a compile error instead of an `undefined` at runtime.

use shared::neon::NeonClient;
use thiserror::Error;

use crate::transport::SpinTransport;

/// The variables components read (`[component.X.variables]` entries of the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// Full SQL endpoint, e.g. `http://127.0.0.1:4444/sql` or `https://api.<region>/sql`.
    NeonUrl,
    /// `postgresql://…`, sent as `Neon-Connection-String`. Secret.
    NeonConnectionString,
    /// This app's public origin without a trailing slash: the `sub` signed requests must carry.
    PublicBaseUrl,
    /// HS256 key for `Upstash-Signature`. Secret.
    WebhookKeyCurrent,
    /// The next key during rotation; empty when none.
    WebhookKeyNext,
    /// The edge's public origin without a trailing slash: where outbox events are delivered
    /// (`shared::events::edge::DELIVERY_PATH`).
    EdgeUrl,
}

impl Var {
    pub fn name(self) -> &'static str {
        match self {
            Var::NeonUrl => "neon_url",
            Var::NeonConnectionString => "neon_connection_string",
            Var::PublicBaseUrl => "public_base_url",
            Var::WebhookKeyCurrent => "webhook_key_current",
            Var::WebhookKeyNext => "webhook_key_next",
            Var::EdgeUrl => "edge_url",
        }
    }
}

/// The component cannot run as configured; maps to `SYS_9002` (never shown with the value).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    #[error("variable {0} is not available to this component: {1}")]
    Unavailable(&'static str, String),
    #[error("variable {0} is empty")]
    Empty(&'static str),
    /// Set, but not a value the component can use (the reason, never the value).
    #[error("variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

/// A required variable: missing or empty is an error.
pub async fn get(var: Var) -> Result<String, ConfigError> {
    named(var.name()).await
}

/// An optional variable: declared but empty (`default = ""`) is `None`.
pub async fn get_optional(var: Var) -> Result<Option<String>, ConfigError> {
    named_optional(var.name()).await
}

/// A required variable of one component only (not in [`Var`]), by its `spin.toml` name.
pub async fn named(name: &'static str) -> Result<String, ConfigError> {
    named_optional(name).await?.ok_or(ConfigError::Empty(name))
}

/// An optional variable of one component only; empty is `None`.
pub async fn named_optional(name: &'static str) -> Result<Option<String>, ConfigError> {
    let value =
        spin_sdk::variables::get(name).await.map_err(|error| ConfigError::Unavailable(name, format!("{error:?}")))?;
    Ok((!value.is_empty()).then_some(value))
}

/// The Neon client for this component's database, over wasi:http.
pub async fn neon_client() -> Result<NeonClient<SpinTransport>, ConfigError> {
    let url = get(Var::NeonUrl).await?;
    let connection_string = get(Var::NeonConnectionString).await?;
    Ok(NeonClient::new(SpinTransport, url, connection_string))
}
