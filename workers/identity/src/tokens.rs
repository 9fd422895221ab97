//! Issuing token pairs: an EdDSA access token (shared::identity::access_token) and an opaque
//! refresh token stored hashed and rotated through `identity.rotate_refresh_token`.

use shared::api::{ApiError, ErrorCode};
use shared::identity::access_token::{ACCESS_TOKEN_TTL_SECS, Identity, RoleGrant};
use shared::identity::refresh::{self, RefreshToken, RotationDecision, TokenPair};
use worker_platform::{clock, random};

use crate::respond::Failure;
use crate::services::Services;

/// A new session (login): a new refresh family.
pub async fn start_session(services: &Services, user_id: &str) -> Result<TokenPair, Failure> {
    let access_token = access_token_for(services, user_id).await?;
    let refresh_token = new_refresh_token()?;
    let family_id = refresh::new_family_id(clock::now_ms(), random::bytes().map_err(Failure::internal)?);
    let expires_at = refresh::expires_at(clock::now_unix_seconds());
    services.store.start_refresh_family(user_id, &family_id, &refresh_token.hash(), expires_at).await?;
    Ok(pair(access_token, refresh_token))
}

/// Exchanges a refresh token for a new pair; any failure is `AUTH_1010`, and presenting a token
/// that was already rotated has revoked its whole family (in the same SQL statement).
pub async fn rotate(services: &Services, presented: &str) -> Result<TokenPair, Failure> {
    let invalid = || Failure::from(refresh_invalid());
    let presented_hash = refresh::hash_presented(presented).ok_or_else(invalid)?;
    let next = new_refresh_token()?;
    let expires_at = refresh::expires_at(clock::now_unix_seconds());
    let row = services.store.rotate_refresh_token(&presented_hash, &next.hash(), expires_at).await?;
    let Some(row) = row else { return Err(invalid()) };
    match refresh::decide(row.prior_status, row.expired, &row.family_id) {
        RotationDecision::Rotate { .. } => {
            let access_token = access_token_for(services, &row.user_id).await?;
            Ok(pair(access_token, next))
        }
        decision => {
            if let RotationDecision::ReuseDetected { family_id } = &decision {
                worker::console_warn!("refresh token reuse: family {family_id} of {} revoked", row.user_id);
            }
            Err(decision.to_api_error().unwrap_or_else(refresh_invalid).into())
        }
    }
}

/// What `RotationDecision::to_api_error` answers for every refusal.
fn refresh_invalid() -> ApiError {
    ApiError::new(ErrorCode::RefreshTokenInvalid, "the refresh token is invalid; sign in again")
}

fn new_refresh_token() -> Result<RefreshToken, Failure> {
    Ok(RefreshToken::from_random(random::bytes().map_err(Failure::internal)?))
}

fn pair(access_token: String, refresh_token: RefreshToken) -> TokenPair {
    TokenPair::bearer(access_token, refresh_token.as_str().to_owned(), ACCESS_TOKEN_TTL_SECS)
}

/// Roles are read at every issue, so a grant or revocation reaches the next access token.
async fn access_token_for(services: &Services, user_id: &str) -> Result<String, Failure> {
    let grants = services.store.grants(user_id).await?;
    let identity = Identity::new(user_id, for_one_vendor(grants)).map_err(|error| {
        worker::console_error!("cannot issue a token to {user_id}: {error}");
        Failure::new(ErrorCode::Forbidden, "this account has no role that can sign in")
    })?;
    let jti = random::new_id("at");
    services
        .token_issuer()
        .issue(&identity, clock::now_unix_seconds(), &jti)
        .map_err(|error| Failure::internal(format!("issuing an access token: {error}")))
}

/// A token acts for at most one vendor: keep the non-vendor grants and those of the first vendor
/// (grants come ordered by vendor id). Choosing another vendor per session is not offered yet.
pub fn for_one_vendor(grants: Vec<RoleGrant>) -> Vec<RoleGrant> {
    let vendor = grants.iter().find_map(|grant| grant.vendor_id().map(str::to_owned));
    grants.into_iter().filter(|grant| grant.vendor_id().is_none() || grant.vendor_id() == vendor.as_deref()).collect()
}
