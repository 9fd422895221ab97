//! Two-factor authentication: TOTP enrolment, confirmation with recovery codes, disabling, and the
//! second-factor check at login. Codes are rate limited per account and per client address.

use shared::api::ErrorCode;
use shared::identity::api::{Enrolment, RecoveryCodes, TwoFactorCode};
use shared::identity::totp::{TotpSecret, recovery};
use shared::ratelimit::{TWO_FACTOR_BY_ACCOUNT, TWO_FACTOR_BY_IP};
use worker_platform::{clock, forwarded::Principal, random};

use crate::account::signed_in_user;
use crate::limits::Subject;
use crate::respond::{Failure, Outcome, Reply};
use crate::services::Services;
use crate::store::UserRow;

/// The name authenticator apps show next to the account.
const TOTP_ISSUER: &str = "Marketplace";

/// `POST /api/v1/auth/2fa/enroll` → a new pending secret; 2FA is on only after `confirm`.
pub async fn enroll(services: &Services, principal: &Principal) -> Outcome {
    let user = signed_in_user(services, principal).await?;
    if user.totp_enabled {
        return Err(already_enabled());
    }
    let secret = TotpSecret::from_random(random::bytes().map_err(Failure::internal)?);
    if !services.store.set_pending_totp(&user.id, &secret.to_base32()).await? {
        return Err(already_enabled());
    }
    let otpauth_uri = secret.provisioning_uri(TOTP_ISSUER, &user.email);
    Reply::json(200, &Enrolment { secret: secret.to_base32(), otpauth_uri })
}

/// `POST /api/v1/auth/2fa/confirm` {code} → 2FA on, and ten recovery codes shown this once.
pub async fn confirm(services: &Services, principal: &Principal, body: TwoFactorCode) -> Outcome {
    limit_attempts(services, principal.user_id()).await?;
    let user = signed_in_user(services, principal).await?;
    if user.totp_enabled {
        return Err(already_enabled());
    }
    let Some(stored_secret) = user.totp_secret.as_deref() else {
        return Err(Failure::new(ErrorCode::Conflict, "start with /api/v1/auth/2fa/enroll"));
    };
    let secret = TotpSecret::from_base32(stored_secret).map_err(Failure::internal)?;
    let step = secret
        .verify(&body.code, clock::now_unix_seconds(), None)
        .map_err(|error| Failure::invalid_fields(&[("code", error.reason())]))?;
    let codes = recovery::generate(&random::bytes().map_err(Failure::internal)?);
    let hashes: Vec<String> = codes.iter().filter_map(|code| recovery::hash(code)).collect();
    if hashes.len() != codes.len() {
        return Err(Failure::internal("a generated recovery code does not hash"));
    }
    // The secret is matched again in SQL: a concurrent re-enrolment makes this code worthless.
    if !services.store.enable_totp(&user.id, stored_secret, step, &hashes).await? {
        return Err(Failure::new(ErrorCode::Conflict, "the enrolment changed meanwhile; enroll again"));
    }
    refund_attempts(services, principal.user_id()).await;
    Reply::json(200, &RecoveryCodes { recovery_codes: codes })
}

/// `POST /api/v1/auth/2fa/disable` {code} (a TOTP or a recovery code) → 204.
pub async fn disable(services: &Services, principal: &Principal, body: TwoFactorCode) -> Outcome {
    let user = signed_in_user(services, principal).await?;
    if !user.totp_enabled {
        return Err(Failure::new(ErrorCode::Conflict, "two-factor authentication is not on"));
    }
    require_valid_code(services, &user, &body.code).await?;
    services.store.disable_totp(&user.id).await?;
    Ok(Reply::no_content())
}

/// `AUTH_1009`: the account has 2FA and the request carried no usable code.
pub fn code_required() -> Failure {
    Failure::new(ErrorCode::TwoFactorRequired, "a valid two-factor or recovery code is required")
}

fn already_enabled() -> Failure {
    Failure::new(ErrorCode::Conflict, "two-factor authentication is already on")
}

/// Accepts a TOTP code (each time step once) or an unused recovery code (consumed); anything else
/// is `AUTH_1009`. Counted against the 2FA limits first; a success is refunded.
pub async fn require_valid_code(services: &Services, user: &UserRow, code: &str) -> Result<(), Failure> {
    limit_attempts(services, &user.id).await?;
    if !code_is_valid(services, user, code).await? {
        return Err(code_required());
    }
    refund_attempts(services, &user.id).await;
    Ok(())
}

async fn code_is_valid(services: &Services, user: &UserRow, code: &str) -> Result<bool, Failure> {
    let Some(stored_secret) = user.totp_secret.as_deref().filter(|_| user.totp_enabled) else {
        return Ok(false);
    };
    let secret = TotpSecret::from_base32(stored_secret).map_err(Failure::internal)?;
    match secret.verify(code, clock::now_unix_seconds(), user.totp_last_step) {
        // Claimed in SQL so two requests racing with one code cannot both pass.
        Ok(step) => Ok(services.store.claim_totp_step(&user.id, step).await?),
        Err(_) => match recovery::hash(code) {
            Some(hash) => Ok(services.store.use_recovery_code(&user.id, &hash).await?),
            None => Ok(false),
        },
    }
}

async fn limit_attempts(services: &Services, user_id: &str) -> Result<(), Failure> {
    services
        .limiter()
        .check(&[(TWO_FACTOR_BY_ACCOUNT, Subject::User(user_id)), (TWO_FACTOR_BY_IP, Subject::ClientIp)])
        .await
}

async fn refund_attempts(services: &Services, user_id: &str) {
    services
        .limiter()
        .refund(&[(TWO_FACTOR_BY_ACCOUNT, Subject::User(user_id)), (TWO_FACTOR_BY_IP, Subject::ClientIp)])
        .await
}
