//! Access-token checks at the edge: tokens are verified locally with identity's public keys
//! (JWKS fetched through the `IDENTITY` binding and cached per isolate), so no request waits on
//! the identity Worker just to learn who is calling. The isolate remembers the tokens it has
//! accepted until the JWKS is fetched again, so a client's next request skips the signature check.

use crate::routes::Access;
use shared::api::{ApiError, ErrorCode};
use shared::identity::access_token::{
    AccessTokenVerifier, RememberingVerifier, TokenError, VerifiedIdentity, bearer_token,
};
use shared::identity::jwks::Jwks;
use std::cell::RefCell;
use worker::{Env, Request};
use worker_platform::clock;

/// Keys rotate rarely; an unknown `kid` refetches at once, so this only bounds staleness.
const JWKS_TTL_MS: u64 = 5 * 60 * 1000;
const JWKS_URL: &str = "https://identity.internal/.well-known/jwks.json";
/// Tokens an isolate remembers: half a megabyte at most.
const REMEMBERED_TOKENS: usize = 512;

thread_local! {
    // Workers run one request at a time per isolate thread; the cache lives as long as the isolate.
    static VERIFIER: RefCell<Option<(RememberingVerifier, u64)>> = const { RefCell::new(None) };
}

pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
}

/// Who is calling, if the route needs to know; errors are the 401/403 to answer with.
pub async fn authorize(
    request: &Request,
    env: &Env,
    access: Access,
    settings: &TokenSettings,
) -> Result<Option<VerifiedIdentity>, ApiError> {
    if access == Access::Public {
        return Ok(None);
    }
    let header = request.headers().get("authorization").ok().flatten();
    if access == Access::Optional && header.is_none() {
        return Ok(None);
    }
    let token = bearer_token(header.as_deref()).map_err(|error| error.to_api_error())?;
    let identity = verify(env, token, settings).await?;
    if let Access::AnyRole(roles) = access
        && !identity.has_any_role(roles)
    {
        return Err(ApiError::new(ErrorCode::Forbidden, "your role does not allow this"));
    }
    Ok(Some(identity))
}

async fn verify(env: &Env, token: &str, settings: &TokenSettings) -> Result<VerifiedIdentity, ApiError> {
    let now = clock::now_unix_seconds();
    load_verifier(env, settings, false).await?;
    match verify_loaded(token, now) {
        // A key we have not seen may be newly rotated in: look once more before refusing.
        Err(TokenError::UnknownKey { .. }) => {
            load_verifier(env, settings, true).await?;
            verify_loaded(token, now).map_err(|error| error.to_api_error())
        }
        result => result.map_err(|error| error.to_api_error()),
    }
}

fn verify_loaded(token: &str, now: i64) -> Result<VerifiedIdentity, TokenError> {
    VERIFIER.with_borrow_mut(|cached| match cached {
        Some((verifier, _)) => verifier.verify(token, now),
        // Not reached after `load_verifier`; refusing is the safe answer.
        None => Err(TokenError::UnknownKey { kid: None }),
    })
}

/// Fetches the JWKS unless the isolate holds a fresh one (or `refresh` asks for it anyway).
async fn load_verifier(env: &Env, settings: &TokenSettings, refresh: bool) -> Result<(), ApiError> {
    let now = clock::now_ms();
    let fresh = VERIFIER
        .with_borrow(|cached| cached.as_ref().is_some_and(|(_, fetched)| now.saturating_sub(*fetched) < JWKS_TTL_MS));
    if fresh && !refresh {
        return Ok(());
    }
    let jwks = fetch_jwks(env).await?;
    let verifier = AccessTokenVerifier::from_jwks(&jwks)
        .map_err(|error| unavailable(format!("identity's JWKS is unusable: {error}")))?
        .with_issuer(&settings.issuer)
        .with_audience(&settings.audience);
    VERIFIER.set(Some((RememberingVerifier::new(verifier, REMEMBERED_TOKENS), now)));
    Ok(())
}

async fn fetch_jwks(env: &Env) -> Result<Jwks, ApiError> {
    let identity = env.service("IDENTITY").map_err(|error| unavailable(error.to_string()))?;
    let mut response = identity.fetch(JWKS_URL, None).await.map_err(|error| unavailable(error.to_string()))?;
    if response.status_code() != 200 {
        return Err(unavailable(format!("identity answered {} for its JWKS", response.status_code())));
    }
    let text = response.text().await.map_err(|error| unavailable(error.to_string()))?;
    Jwks::parse(&text).map_err(|error| unavailable(format!("identity's JWKS is unusable: {error}")))
}

fn unavailable(reason: String) -> ApiError {
    ApiError::new(ErrorCode::DependencyUnavailable, format!("cannot check access tokens: {reason}"))
}
