//! Access-token checks at the edge: tokens are verified locally with identity's public keys
//! (JWKS fetched through the `IDENTITY` binding and cached per isolate), so no request waits on
//! the identity Worker just to learn who is calling.

use crate::routes::Access;
use shared::api::{ApiError, ErrorCode};
use shared::identity::access_token::{AccessTokenVerifier, TokenError, VerifiedIdentity, bearer_token};
use shared::identity::jwks::Jwks;
use std::cell::RefCell;
use worker::{Env, Request};
use worker_platform::clock;

/// Keys rotate rarely; an unknown `kid` refetches at once, so this only bounds staleness.
const JWKS_TTL_MS: u64 = 5 * 60 * 1000;
const JWKS_URL: &str = "https://identity.internal/.well-known/jwks.json";

thread_local! {
    // Workers run one request at a time per isolate thread; the cache lives as long as the isolate.
    static VERIFIER: RefCell<Option<(AccessTokenVerifier, u64)>> = const { RefCell::new(None) };
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
    match cached_verifier(env, settings, false).await?.verify(token, now) {
        // A key we have not seen may be newly rotated in: look once more before refusing.
        Err(TokenError::UnknownKey { .. }) => {
            cached_verifier(env, settings, true).await?.verify(token, now).map_err(|error| error.to_api_error())
        }
        result => result.map_err(|error| error.to_api_error()),
    }
}

async fn cached_verifier(env: &Env, settings: &TokenSettings, refresh: bool) -> Result<AccessTokenVerifier, ApiError> {
    let now = clock::now_ms();
    if !refresh
        && let Some(verifier) = VERIFIER.with_borrow(|cached| {
            cached.as_ref().filter(|(_, fetched)| now.saturating_sub(*fetched) < JWKS_TTL_MS).map(|(v, _)| v.clone())
        })
    {
        return Ok(verifier);
    }
    let jwks = fetch_jwks(env).await?;
    let verifier = AccessTokenVerifier::from_jwks(&jwks)
        .map_err(|error| unavailable(format!("identity's JWKS is unusable: {error}")))?
        .with_issuer(&settings.issuer)
        .with_audience(&settings.audience);
    VERIFIER.set(Some((verifier.clone(), now)));
    Ok(verifier)
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
