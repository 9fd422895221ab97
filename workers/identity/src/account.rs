//! Accounts: sign-up, email verification, password reset, and the signed-in user's profile.

use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::identity::access_token::RoleGrant;
use shared::identity::api::{
    ForgotPasswordRequest, HeldRole, Me, RegisterRequest, ResetPasswordRequest, VerifyEmailRequest,
};
use shared::identity::email::Email;
use shared::identity::one_time_token::{self, OneTimeToken, OneTimeTokenError, Purpose};
use shared::identity::password::Password;
use shared::identity::profile::DisplayName;
use shared::ratelimit::{FORGOT_PASSWORD_BY_ACCOUNT, FORGOT_PASSWORD_BY_IP, REGISTER_BY_IP};
use worker_platform::{clock, forwarded::Principal, random};

use crate::events::{self, EmailRequest};
use crate::limits::{REGISTER_BY_ACCOUNT, Subject};
use crate::respond::{Failure, Outcome, Reply};
use crate::services::Services;
use crate::store::{CreateUserError, NewOneTimeToken, NewUser, UserRow};

/// Where the emailed links land: the storefront's pages (workers/gateway/src/storefront/pages/account.rs).
const VERIFY_EMAIL_PATH: &str = "/account/verify-email";
const RESET_PASSWORD_PATH: &str = "/account/reset-password";

#[derive(Serialize)]
struct UserView<'a> {
    id: &'a str,
    email: &'a str,
    display_name: &'a str,
    email_verified: bool,
}

#[derive(Serialize)]
struct Registered<'a> {
    user: UserView<'a>,
}

/// `POST /api/v1/auth/register` → 201. Saying "email taken" (409) reveals that an account exists;
/// accepted at sign-up and slowed by the register limits.
pub async fn register(services: &Services, body: RegisterRequest) -> Outcome {
    let email = Email::parse(&body.email);
    let password = Password::parse(&body.password);
    let display_name = DisplayName::parse(&body.display_name);
    let (email, password, display_name) = match (email, password, display_name) {
        (Ok(email), Ok(password), Ok(display_name)) => (email, password, display_name),
        (email, password, display_name) => {
            let mut fields = Vec::new();
            if let Err(error) = &email {
                fields.push(("email", error.reason()));
            }
            if let Err(error) = &password {
                fields.push(("password", error.reason()));
            }
            if let Err(error) = &display_name {
                fields.push(("display_name", error.reason()));
            }
            return Err(Failure::invalid_fields(&fields));
        }
    };
    services
        .limiter()
        .check(&[(REGISTER_BY_IP, Subject::ClientIp), (REGISTER_BY_ACCOUNT, Subject::Email(&email))])
        .await?;
    // Checked before hashing so a taken email costs no Argon2id; the insert still decides races.
    if services.store.user_by_email(&email).await?.is_some() {
        return Err(email_taken());
    }
    let password_hash = services.passwords().hash(password.expose()).await?;

    let user_id = random::new_id("usr");
    let token = OneTimeToken::from_random(random::bytes().map_err(Failure::internal)?);
    let user =
        NewUser { id: &user_id, email: &email, display_name: display_name.as_str(), password_hash: &password_hash };
    let verify = NewOneTimeToken {
        hash: &token.hash(),
        purpose: Purpose::VerifyEmail,
        expires_at: Purpose::VerifyEmail.expires_at(clock::now_unix_seconds()),
    };
    match services.store.create_user(user, verify).await {
        Ok(()) => {}
        Err(CreateUserError::EmailTaken) => return Err(email_taken()),
        Err(CreateUserError::Database(error)) => return Err(error.into()),
    }

    let request = EmailRequest {
        email: email.as_str(),
        display_name: display_name.as_str(),
        link: services.link(VERIFY_EMAIL_PATH, token.as_str()),
    };
    // The account exists now: a lost email must not turn into an error the client would retry (409).
    let sent = match events::email_verification_requested(request) {
        Ok(event) => events::send(&services.env, &event).await,
        Err(failure) => Err(failure),
    };
    if let Err(failure) = sent {
        worker::console_error!("verification email for {user_id} not queued: {}", failure.error.message);
    }
    let user =
        UserView { id: &user_id, email: email.as_str(), display_name: display_name.as_str(), email_verified: false };
    Reply::json(201, &Registered { user })
}

fn email_taken() -> Failure {
    Failure::new(ErrorCode::Conflict, "an account with this email already exists")
}

/// `POST /api/v1/auth/verify-email` {token} → 204.
pub async fn verify_email(services: &Services, body: VerifyEmailRequest) -> Outcome {
    let token_hash = usable_token(services, &body.token, Purpose::VerifyEmail).await?;
    match services.store.verify_email(&token_hash).await? {
        Some(_) => Ok(Reply::no_content()),
        None => Err(token_refused(OneTimeTokenError::AlreadyUsed)),
    }
}

/// The stored hash of a one-time token that may be used for `purpose` now, or `VAL_3002`.
async fn usable_token(services: &Services, presented: &str, purpose: Purpose) -> Result<String, Failure> {
    let hash = one_time_token::hash_presented(presented).ok_or_else(|| token_refused(OneTimeTokenError::Unknown))?;
    let record = services.store.one_time_token(&hash).await?;
    one_time_token::check(record.as_ref(), purpose, clock::now_unix_seconds()).map_err(token_refused)?;
    Ok(hash)
}

/// One message for every reason (clients show "link invalid or expired"); the reason is in details.
fn token_refused(error: OneTimeTokenError) -> Failure {
    ApiError::new(ErrorCode::ValidationFailed, "the link is invalid or has expired")
        .with_details(serde_json::json!({ "fields": { "token": error.reason() } }))
        .into()
}

#[derive(Serialize)]
struct Accepted {
    status: &'static str,
}

/// `POST /api/v1/auth/forgot-password` → 202 whatever the email. The lookup and the email happen
/// after the response (`waitUntil`), so a known address answers exactly like an unknown one, in
/// body and in time.
pub async fn forgot_password(services: Services, body: ForgotPasswordRequest, ctx: &worker::Context) -> Outcome {
    let email = Email::parse(&body.email).map_err(|error| Failure::invalid_fields(&[("email", error.reason())]))?;
    services
        .limiter()
        .check(&[(FORGOT_PASSWORD_BY_IP, Subject::ClientIp), (FORGOT_PASSWORD_BY_ACCOUNT, Subject::Email(&email))])
        .await?;
    ctx.wait_until(async move {
        if let Err(failure) = send_reset_link(&services, &email).await {
            worker::console_error!("password reset not sent: {}", failure.error.message);
        }
    });
    Reply::json(202, &Accepted { status: "accepted" })
}

async fn send_reset_link(services: &Services, email: &Email) -> Result<(), Failure> {
    let Some(user) = services.store.user_by_email(email).await? else { return Ok(()) };
    let token = OneTimeToken::from_random(random::bytes().map_err(Failure::internal)?);
    let expires_at = Purpose::ResetPassword.expires_at(clock::now_unix_seconds());
    let stored = NewOneTimeToken { hash: &token.hash(), purpose: Purpose::ResetPassword, expires_at };
    services.store.create_one_time_token(&user.id, stored).await?;
    let request = EmailRequest {
        email: &user.email,
        display_name: &user.display_name,
        link: services.link(RESET_PASSWORD_PATH, token.as_str()),
    };
    events::send(&services.env, &events::password_reset_requested(request)?).await
}

/// `POST /api/v1/auth/reset-password` {token, password} → 204; the token works once, and every
/// session of the user ends (all refresh families revoked, in the same statement).
pub async fn reset_password(services: &Services, body: ResetPasswordRequest) -> Outcome {
    let password =
        Password::parse(&body.password).map_err(|error| Failure::invalid_fields(&[("password", error.reason())]))?;
    // The token is checked before hashing so a guessed token costs no Argon2id.
    let token_hash = usable_token(services, &body.token, Purpose::ResetPassword).await?;
    let password_hash = services.passwords().hash(password.expose()).await?;
    match services.store.reset_password(&token_hash, &password_hash).await? {
        Some(_) => Ok(Reply::no_content()),
        None => Err(token_refused(OneTimeTokenError::AlreadyUsed)),
    }
}

/// `GET /api/v1/auth/me`: the signed-in user with every role they hold.
pub async fn me(services: &Services, principal: &Principal) -> Outcome {
    let user = signed_in_user(services, principal).await?;
    let grants: Vec<RoleGrant> = services.store.grants(&user.id).await?;
    let roles = grants
        .iter()
        .map(|grant| HeldRole {
            role: grant.role().as_str().to_owned(),
            vendor_id: grant.vendor_id().map(str::to_owned),
        })
        .collect();
    Reply::json(
        200,
        &Me {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            email_verified: user.email_verified,
            roles,
            two_factor_enabled: user.totp_enabled,
        },
    )
}

/// The account behind a verified token; gone accounts make the token useless (`AUTH_1005`).
pub async fn signed_in_user(services: &Services, principal: &Principal) -> Result<UserRow, Failure> {
    services
        .store
        .user_by_id(principal.user_id())
        .await?
        .ok_or_else(|| Failure::new(ErrorCode::TokenInvalid, "the account behind this token no longer exists"))
}
