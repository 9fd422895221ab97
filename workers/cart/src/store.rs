//! Carts in Upstash: one hash per cart (`v`, a version; `body`, the `shared::cart::Cart` as JSON),
//! with the owner's TTL refreshed on every write.
//!
//! Atomicity: every write is one Lua script (`cas.lua`), a compare-and-set on the version read. The
//! change itself is computed by `shared::cart` in Rust, so the rules (limits, summing, capping)
//! exist once; the script only refuses a write whose cart changed since it was read, and the change
//! is then recomputed on the fresh cart. A refusal means another write to the same cart succeeded in
//! between, so `MAX_ATTEMPTS` bounds the writers racing on one cart, not the load on the platform:
//! 50 parallel "add 1" finish in at most 50 attempts each. One shopper's cart past 64 simultaneous
//! writers gets `RES_4003` (try again). The merge on login uses the same loop over two keys.

use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::cart::{Cart, CartOwner};
use shared::upstash::{Arg, RedisValue, Script, UpstashClient, UpstashError, cmd};
use worker_platform::fetch::FetchTransport;
use worker_platform::random;
use worker_platform::respond::{internal, unavailable};

use crate::config::Config;

const MAX_ATTEMPTS: u32 = 64;
/// After a lost race, wait a random 0..2^min(attempt, 5) ms, so racing writers spread out instead of
/// colliding again at once (each attempt costs the runtime CPU and Upstash a command).
const MAX_BACKOFF_EXPONENT: u32 = 5;

thread_local! {
    static CAS: Script = Script::new(include_str!("cas.lua"));
}

pub struct Store {
    upstash: UpstashClient<FetchTransport>,
}

/// A cart as read, with the version a write must still find.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub cart: Cart,
    /// "" while the cart does not exist.
    version: String,
}

/// One key of a compare-and-set: write `cart` (or delete the key with `None`) if `read` is current.
pub struct Write<'a> {
    pub owner: &'a CartOwner,
    pub read: &'a Snapshot,
    pub cart: Option<&'a Cart>,
}

impl Store {
    pub fn new(config: &Config) -> Self {
        Self { upstash: UpstashClient::new(FetchTransport, &config.upstash.url, &config.upstash.token) }
    }

    /// The stored cart, or an empty one (expired or never written).
    pub async fn load(&self, owner: &CartOwner) -> Result<Snapshot, ApiError> {
        let reply = self.upstash.command(&cmd("HMGET").arg(owner.key()).arg("v").arg("body")).await.map_err(upstash)?;
        Snapshot::decode(owner, reply.into_array().unwrap_or_default())
    }

    /// Applies `change` to the owner's cart atomically (see the module note); `change` runs on the
    /// freshest cart each attempt (it may read the catalog to decide) and its error aborts without
    /// writing, so what is written was always decided on exactly the cart it replaces. A change that
    /// changes nothing writes nothing.
    pub async fn update<T>(
        &self,
        owner: &CartOwner,
        change: impl AsyncFnMut(&mut Cart) -> Result<T, ApiError>,
    ) -> Result<(Cart, T), ApiError> {
        let read = self.load(owner).await?;
        self.update_from(owner, read, change).await
    }

    /// `update` starting from a cart the caller has already read.
    pub async fn update_from<T>(
        &self,
        owner: &CartOwner,
        mut read: Snapshot,
        mut change: impl AsyncFnMut(&mut Cart) -> Result<T, ApiError>,
    ) -> Result<(Cart, T), ApiError> {
        until_written(async || {
            let mut cart = read.cart.clone();
            let outcome = change(&mut cart).await?;
            if cart == read.cart {
                // Nothing to write (a replayed request, the same choice again): the read is the answer.
                return Ok(Some((cart, outcome)));
            }
            match self.write(&[Write { owner, read: &read, cart: Some(&cart) }]).await? {
                Written::Yes => Ok(Some((cart, outcome))),
                Written::Lost(current) => {
                    read = Snapshot::decode(owner, current)?;
                    Ok(None)
                }
            }
        })
        .await
    }

    /// One compare-and-set over every key in `writes`: all written, or none.
    pub async fn write(&self, writes: &[Write<'_>]) -> Result<Written, ApiError> {
        let keys: Vec<String> = writes.iter().map(|write| write.owner.key()).collect();
        let mut args: Vec<Arg> = Vec::with_capacity(writes.len() * 4);
        for write in writes {
            args.push(write.read.version.clone().into());
            args.push(match write.cart {
                Some(cart) => json(cart)?.into(),
                None => String::new().into(),
            });
            args.push(random::new_id("v").into());
            args.push(i64::try_from(write.owner.ttl_secs()).unwrap_or(i64::MAX).into());
        }
        let script = CAS.with(Clone::clone);
        let reply = script.run(&self.upstash, keys, args).await.map_err(upstash)?;
        match reply.into_array() {
            Some(mut current) if current.len() == 3 => Ok(Written::Lost(current.split_off(1))),
            Some(_) => Err(internal("the cart script answered an unexpected shape")),
            None => Ok(Written::Yes),
        }
    }
}

/// Runs `attempt` until it lands its compare-and-set (`Some`), backing off after each lost race
/// (`None`); gives up with `RES_4003` after `MAX_ATTEMPTS`.
pub async fn until_written<T>(mut attempt: impl AsyncFnMut() -> Result<Option<T>, ApiError>) -> Result<T, ApiError> {
    for attempt_number in 0..MAX_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
        let window_ms = 1u64 << attempt_number.min(MAX_BACKOFF_EXPONENT);
        let wait = u64::from(u16::from_le_bytes(random::bytes().unwrap_or_default())) % window_ms;
        worker::Delay::from(std::time::Duration::from_millis(wait)).await;
    }
    Err(ApiError::new(ErrorCode::Conflict, "the cart is being changed by too many requests at once; try again"))
}

pub enum Written {
    Yes,
    /// Another write came first: the first key's `[version, body]` now.
    Lost(Vec<RedisValue>),
}

impl Snapshot {
    /// From `[version, body]`; an absent or empty body is an empty cart.
    pub fn decode(owner: &CartOwner, fields: Vec<RedisValue>) -> Result<Self, ApiError> {
        let mut fields = fields.into_iter().map(RedisValue::into_string);
        let (version, body) = (fields.next().flatten(), fields.next().flatten().filter(|body| !body.is_empty()));
        let cart = match &body {
            Some(body) => serde_json::from_str(body)
                .map_err(|error| internal(format!("stored cart {} is unreadable: {error}", owner.key())))?,
            None => Cart::default(),
        };
        Ok(Snapshot { cart, version: version.filter(|_| body.is_some()).unwrap_or_default() })
    }
}

fn json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|error| internal(error.to_string()))
}

/// Like `respond::database_failure`: an outage when it may pass, a bug otherwise.
fn upstash(error: UpstashError) -> ApiError {
    if error.is_transient() || matches!(error, UpstashError::Unauthorized(_)) {
        unavailable("the cart store", error)
    } else {
        internal(format_args!("upstash: {error}"))
    }
}
