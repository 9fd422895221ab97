//! Sessions: login, refresh-token rotation, logout.

use shared::api::ErrorCode;
use shared::identity::api::{LoginRequest, RefreshRequest};
use shared::identity::email::Email;
use shared::identity::password::{self, DUMMY_HASH};
use shared::identity::refresh;
use shared::ratelimit::{LOGIN_BY_ACCOUNT, LOGIN_BY_IP};

use crate::limits::Subject;
use crate::respond::{Failure, Outcome, Reply};
use crate::services::Services;
use crate::store::UserRow;
use crate::tokens;
use crate::two_factor;

/// `POST /api/v1/auth/login` → 200 {access_token, refresh_token, expires_in, token_type}. An unknown
/// email and a wrong password are the same `AUTH_1008`, after the same Argon2id work in Spin.
pub async fn login(services: &Services, body: LoginRequest) -> Outcome {
    let limits = [(LOGIN_BY_IP, Subject::ClientIp), (LOGIN_BY_ACCOUNT, Subject::RawEmail(&body.email))];
    let limiter = services.limiter();
    limiter.check(&limits).await?;

    // A malformed email cannot have an account; it still pays for a verification, like any miss.
    let user = match Email::parse(&body.email) {
        Ok(email) => services.store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let stored_hash = user.as_ref().map_or(DUMMY_HASH, |user| user.password_hash.as_str());
    let matches = services.passwords().verify(&body.password, stored_hash).await?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(Failure::new(ErrorCode::InvalidCredentials, "the email or password is wrong"));
    };
    // Only failed passwords count against the login limits.
    limiter.refund(&limits).await;

    if user.totp_enabled {
        let Some(code) = body.totp.as_deref().filter(|code| !code.trim().is_empty()) else {
            return Err(two_factor::code_required());
        };
        two_factor::require_valid_code(services, &user, code).await?;
    }
    rehash_if_outdated(services, &user, &body.password).await;
    Reply::json(200, &tokens::start_session(services, &user.id).await?)
}

/// Moves an account to today's Argon2id parameters after a successful login; best effort.
async fn rehash_if_outdated(services: &Services, user: &UserRow, password: &str) {
    if !password::needs_rehash(&user.password_hash) {
        return;
    }
    let outcome = match services.passwords().hash(password).await {
        Ok(hash) => {
            services.store.replace_password_hash(&user.id, &user.password_hash, &hash).await.map_err(Failure::from)
        }
        Err(failure) => Err(Failure::from(failure)),
    };
    if let Err(failure) = outcome {
        worker::console_error!("rehash of {} skipped: {}", user.id, failure.error.message);
    }
}

/// `POST /api/v1/auth/refresh` → a new pair; the presented token stops working.
pub async fn refresh(services: &Services, body: RefreshRequest) -> Outcome {
    Reply::json(200, &tokens::rotate(services, &body.refresh_token).await?)
}

/// `POST /api/v1/auth/logout` → 204, revoking the token's whole family. Unknown tokens get the
/// same answer: there is nothing to tell a caller who does not hold a live token.
pub async fn logout(services: &Services, body: RefreshRequest) -> Outcome {
    if let Some(hash) = refresh::hash_presented(&body.refresh_token) {
        services.store.revoke_family_of(&hash).await?;
    }
    Ok(Reply::no_content())
}
