//! `/account/…`: signing in (with the two-factor step), registering, signing out, password reset,
//! email verification, and the account page with two-factor set-up. Forms post here and answer 303
//! on success; a refusal re-renders the form with the message next to its field, keeping what was
//! typed (never a password, except the two-factor step's hidden copy, which only travels in posts).

use std::collections::BTreeMap;

use maud::{Markup, html};
use shared::api::{ApiError, ErrorCode};
use shared::storefront::account::{after_sign_in, field_message, field_reasons, password_rule};
use shared::storefront::form::Form;
use shared::storefront::local_path;
use shared::storefront::query_value;
use worker::Method;

use crate::storefront::errors::PageError;
use crate::storefront::field::Field;
use crate::storefront::layout;
use shared::identity::api::{
    Enrolment, ForgotPasswordRequest, LoginRequest, Me, RecoveryCodes, RefreshRequest, RegisterRequest,
    ResetPasswordRequest, TwoFactorCode, VerifyEmailRequest,
};
use shared::identity::refresh::TokenPair;

use crate::storefront::visit::{Page, Visit};

/// What went wrong with a form: messages by field name, and one for the whole form.
#[derive(Default)]
struct Problems {
    fields: BTreeMap<String, String>,
    form: Option<String>,
}

impl Problems {
    fn form(message: impl Into<String>) -> Self {
        Problems { fields: BTreeMap::new(), form: Some(message.into()) }
    }

    fn field(name: &str, message: impl Into<String>) -> Self {
        Problems { fields: BTreeMap::from([(name.to_owned(), message.into())]), form: None }
    }

    /// The API's refusal in words: per field when it named fields, else for the whole form.
    fn from_api(error: &ApiError) -> Self {
        let reasons = field_reasons(error);
        if !reasons.is_empty() {
            let fields = reasons.iter().map(|(field, reason)| (field.clone(), field_message(field, reason))).collect();
            return Problems { fields, form: None };
        }
        Problems::form(general_message(error))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// A refusal that names no field, in the shopper's words.
fn general_message(error: &ApiError) -> String {
    match error.code {
        ErrorCode::TooManyAttempts => "Too many attempts. Please wait a few minutes and try again.".into(),
        ErrorCode::InvalidCredentials => "The email or password is wrong.".into(),
        ErrorCode::TwoFactorRequired => "That code is not right. Try the code your app shows now.".into(),
        _ => format!("We could not do that: {}.", error.message),
    }
}

/// The status a refused form is shown with.
fn status_of(error: &ApiError) -> u16 {
    match error.status() {
        status @ 400..=499 => status,
        _ => 422,
    }
}

fn form_error(problems: &Problems) -> Markup {
    html! {
        @if let Some(message) = &problems.form { p.error role="alert" { (message) } }
        @else if !problems.fields.is_empty() { p.error role="alert" { "Please correct the fields marked below." } }
    }
}

fn hidden_next(next: Option<&str>) -> Markup {
    html! { @if let Some(next) = next.and_then(local_path) { input type="hidden" name="next" value=(next); } }
}

fn with_next(path: &str, next: Option<&str>) -> String {
    match next.and_then(local_path) {
        Some(next) => format!("{path}?next={}", query_value(next)),
        None => path.to_owned(),
    }
}

fn html_page(visit: &Visit, status: u16, title: &str, main: Markup) -> Page {
    let body = layout::page(visit, title, html! { section.account-form { (main) } });
    Page::Html { status, body, caching: crate::storefront::visit::Caching::Private }
}

// ---------------------------------------------------------------------------------------------
// Signing in

/// `GET /account/login?next=…`
pub async fn login_form(visit: &Visit<'_>, query: &str) -> Result<Page, PageError> {
    let params = Form::parse_query(query);
    let next = params.get("next");
    let notice = if params.get("reset").is_some() {
        Some("Your password is changed. Sign in with the new one.")
    } else if params.get("signed_out").is_some() {
        Some("You are signed out.")
    } else {
        None
    };
    Ok(login_page(visit, 200, "", next, notice, &Problems::default()))
}

fn login_page(
    visit: &Visit,
    status: u16,
    email: &str,
    next: Option<&str>,
    notice: Option<&str>,
    problems: &Problems,
) -> Page {
    html_page(
        visit,
        status,
        "Sign in",
        html! {
            h1 { "Sign in" }
            @if let Some(notice) = notice { p.ok role="status" { (notice) } }
            (form_error(problems))
            form method="post" action="/account/login" novalidate {
                (hidden_next(next))
                (Field::new("Email", "email", "email").kind("email").value(email).error(problems.get("email")).render())
                (Field::new("Password", "password", "current-password").kind("password").error(problems.get("password")).render())
                button type="submit" { "Sign in" }
            }
            p { a href="/account/forgot-password" { "Forgot your password?" } }
            p { "New here? " a href=(with_next("/account/register", next)) { "Create an account" } }
        },
    )
}

/// The second step for accounts with two-factor authentication: the code, with the email and
/// password carried along in hidden fields of this post-only form.
fn code_page(visit: &Visit, status: u16, form: &Form, problems: &Problems) -> Page {
    let next = form.get("next");
    html_page(
        visit,
        status,
        "Enter your authentication code",
        html! {
            h1 { "Enter your authentication code" }
            p { "Your account has two-factor authentication. Enter the 6-digit code from your authenticator app, or one of your recovery codes." }
            (form_error(problems))
            form method="post" action="/account/login" novalidate {
                (hidden_next(next))
                input type="hidden" name="email" value=(form.get("email").unwrap_or_default());
                input type="hidden" name="password" value=(form.raw("password"));
                (Field::new("Authentication code", "code", "one-time-code").error(problems.get("code")).render())
                button type="submit" { "Verify and sign in" }
            }
            p { a href=(with_next("/account/login", next)) { "Start again" } }
        },
    )
}

/// `POST /account/login`
pub async fn login(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let email = form.get("email").unwrap_or_default();
    let password = form.raw("password");
    let code = form.get("code");
    let next = form.get("next");
    let body = LoginRequest { email: email.to_owned(), password: password.to_owned(), totp: code.map(str::to_owned) };
    let answer: Result<TokenPair, ApiError> = visit.send(Method::Post, "/api/v1/auth/login", Some(&body), None).await?;
    match answer {
        Ok(tokens) => {
            sign_in(visit, &tokens).await;
            Ok(Page::Redirect(after_sign_in(next).to_owned()))
        }
        Err(error) if error.code == ErrorCode::TwoFactorRequired => match code {
            None => Ok(code_page(visit, 200, form, &Problems::default())),
            Some(_) => Ok(code_page(visit, 401, form, &Problems::field("code", general_message(&error)))),
        },
        Err(error) if code.is_some() => {
            Ok(code_page(visit, status_of(&error), form, &Problems::form(general_message(&error))))
        }
        Err(error) => {
            let problems = if error.code == ErrorCode::InvalidCredentials {
                Problems::form(general_message(&error))
            } else {
                Problems::from_api(&error)
            };
            Ok(login_page(visit, status_of(&error), email, next, None, &problems))
        }
    }
}

/// Holds the new session, then reads the cart once with both the token and the guest cookie, so
/// the cart Worker merges the guest's cart into the account's (its answer clears the guest cookie).
async fn sign_in(visit: &Visit<'_>, tokens: &TokenPair) {
    visit.start_session(tokens);
    match visit.send::<(), serde_json::Value>(Method::Get, "/api/v1/cart", None, None).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => worker::console_warn!("storefront: the cart was not merged at sign-in: {}", error.message),
        Err(_) => worker::console_warn!("storefront: the cart was not merged at sign-in"),
    }
}

// ---------------------------------------------------------------------------------------------
// Registering

/// `GET /account/register?next=…`
pub async fn register_form(visit: &Visit<'_>, query: &str) -> Result<Page, PageError> {
    let next = Form::parse_query(query).get("next").map(str::to_owned);
    Ok(register_page(visit, 200, &Form::default(), next.as_deref(), &Problems::default()))
}

fn register_page(visit: &Visit, status: u16, form: &Form, next: Option<&str>, problems: &Problems) -> Page {
    let rule = password_rule();
    html_page(
        visit,
        status,
        "Create an account",
        html! {
            h1 { "Create an account" }
            (form_error(problems))
            form method="post" action="/account/register" novalidate {
                (hidden_next(next))
                (Field::new("Your name", "display_name", "name").value(form.get("display_name").unwrap_or_default()).error(problems.get("display_name")).render())
                (Field::new("Email", "email", "email").kind("email").value(form.get("email").unwrap_or_default()).error(problems.get("email")).render())
                (Field::new("Password", "password", "new-password").kind("password").hint(Some(&rule)).error(problems.get("password")).render())
                button type="submit" { "Create account" }
            }
            p { "Already have an account? " a href=(with_next("/account/login", next)) { "Sign in" } }
        },
    )
}

/// `POST /account/register`: creates the account, then signs in with it.
pub async fn register(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let next = form.get("next");
    let email = form.get("email").unwrap_or_default();
    let password = form.raw("password");
    let body = RegisterRequest {
        email: email.to_owned(),
        password: password.to_owned(),
        display_name: form.get("display_name").unwrap_or_default().to_owned(),
    };
    let answer: Result<serde_json::Value, ApiError> =
        visit.send(Method::Post, "/api/v1/auth/register", Some(&body), None).await?;
    if let Err(error) = answer {
        let problems = if error.code == ErrorCode::Conflict {
            Problems::field("email", "An account with this email already exists. Sign in, or reset your password.")
        } else {
            Problems::from_api(&error)
        };
        return Ok(register_page(visit, status_of(&error), form, next, &problems));
    }
    let login = LoginRequest { email: body.email, password: body.password, totp: None };
    match visit.send::<_, TokenPair>(Method::Post, "/api/v1/auth/login", Some(&login), None).await? {
        Ok(tokens) => {
            sign_in(visit, &tokens).await;
            Ok(Page::Redirect(after_sign_in(next).to_owned()))
        }
        // The account exists; signing in by hand is the way on.
        Err(_) => Ok(Page::Redirect(with_next("/account/login", next))),
    }
}

// ---------------------------------------------------------------------------------------------
// Signing out

/// `POST /account/logout`: revokes the session's refresh token and forgets both cookies.
pub async fn logout(visit: &Visit<'_>) -> Result<Page, PageError> {
    let refresh_token = visit.refresh_token.borrow().clone();
    if let Some(refresh_token) = refresh_token {
        let body = RefreshRequest { refresh_token };
        if let Ok(Err(error)) = visit.send::<_, ()>(Method::Post, "/api/v1/auth/logout", Some(&body), None).await {
            worker::console_warn!("storefront: logout refused: {}", error.message);
        }
    }
    visit.end_session();
    Ok(Page::Redirect("/account/login?signed_out=1".to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Forgotten password

/// `GET /account/forgot-password` (`?sent=1` after asking).
pub async fn forgot_form(visit: &Visit<'_>, query: &str) -> Result<Page, PageError> {
    if Form::parse_query(query).get("sent").is_some() {
        return Ok(html_page(
            visit,
            200,
            "Check your email",
            html! {
                h1 { "Check your email" }
                p role="status" { "If an account uses that address, we have sent it a link to choose a new password. The link works for a limited time." }
                p { a href="/account/login" { "Back to sign in" } }
            },
        ));
    }
    Ok(forgot_page(visit, 200, "", &Problems::default()))
}

fn forgot_page(visit: &Visit, status: u16, email: &str, problems: &Problems) -> Page {
    html_page(
        visit,
        status,
        "Reset your password",
        html! {
            h1 { "Reset your password" }
            p { "Enter the email address of your account and we will send you a link to choose a new password." }
            (form_error(problems))
            form method="post" action="/account/forgot-password" novalidate {
                (Field::new("Email", "email", "email").kind("email").value(email).error(problems.get("email")).render())
                button type="submit" { "Send the link" }
            }
            p { a href="/account/login" { "Back to sign in" } }
        },
    )
}

/// `POST /account/forgot-password`: the same answer whether or not the address has an account.
pub async fn forgot(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let email = form.get("email").unwrap_or_default();
    let answer: Result<serde_json::Value, ApiError> = visit
        .send(
            Method::Post,
            "/api/v1/auth/forgot-password",
            Some(&ForgotPasswordRequest { email: email.to_owned() }),
            None,
        )
        .await?;
    match answer {
        Ok(_) => Ok(Page::Redirect("/account/forgot-password?sent=1".to_owned())),
        Err(error) => Ok(forgot_page(visit, status_of(&error), email, &Problems::from_api(&error))),
    }
}

/// `GET /account/reset-password?token=…`
pub async fn reset_form(visit: &Visit<'_>, query: &str) -> Result<Page, PageError> {
    let token = Form::parse_query(query).get("token").unwrap_or_default().to_owned();
    Ok(reset_page(visit, 200, &token, &Problems::default()))
}

fn reset_page(visit: &Visit, status: u16, token: &str, problems: &Problems) -> Page {
    let rule = password_rule();
    let bad_link = token.is_empty() || problems.get("token").is_some();
    html_page(
        visit,
        status,
        "Choose a new password",
        html! {
            h1 { "Choose a new password" }
            @if bad_link {
                p.error role="alert" { "This link is invalid or has expired." }
                p { a href="/account/forgot-password" { "Ask for a new link" } }
            } @else {
                (form_error(problems))
                form method="post" action="/account/reset-password" novalidate {
                    input type="hidden" name="token" value=(token);
                    (Field::new("New password", "password", "new-password").kind("password").hint(Some(&rule)).error(problems.get("password")).render())
                    button type="submit" { "Change password" }
                }
            }
        },
    )
}

/// `POST /account/reset-password`: every session of the account ends; the shopper signs in anew.
pub async fn reset(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let token = form.get("token").unwrap_or_default();
    let body = ResetPasswordRequest { token: token.to_owned(), password: form.raw("password").to_owned() };
    let answer: Result<(), ApiError> =
        visit.send(Method::Post, "/api/v1/auth/reset-password", Some(&body), None).await?;
    match answer {
        Ok(()) => {
            visit.end_session();
            Ok(Page::Redirect("/account/login?reset=1".to_owned()))
        }
        Err(error) => Ok(reset_page(visit, status_of(&error), token, &Problems::from_api(&error))),
    }
}

// ---------------------------------------------------------------------------------------------
// Email verification

/// `GET /account/verify-email?token=…`: a button, not an automatic verification, so a mail
/// scanner opening the link does not use it up.
pub async fn verify_form(visit: &Visit<'_>, query: &str) -> Result<Page, PageError> {
    if Form::parse_query(query).get("done").is_some() {
        return Ok(html_page(
            visit,
            200,
            "Email address confirmed",
            html! {
                h1 { "Email address confirmed" }
                p role="status" { "Thank you: your email address is confirmed." }
                p { a href="/account" { "Go to your account" } }
            },
        ));
    }
    let token = Form::parse_query(query).get("token").unwrap_or_default().to_owned();
    Ok(verify_page(visit, 200, &token, None))
}

fn verify_page(visit: &Visit, status: u16, token: &str, problem: Option<&str>) -> Page {
    html_page(
        visit,
        status,
        "Confirm your email address",
        html! {
            h1 { "Confirm your email address" }
            @if let Some(problem) = problem {
                p.error role="alert" { (problem) }
                p { a href="/account" { "Go to your account" } }
            } @else if token.is_empty() {
                p.error role="alert" { "This link is invalid or has expired." }
            } @else {
                form method="post" action="/account/verify-email" {
                    input type="hidden" name="token" value=(token);
                    button type="submit" { "Confirm my email address" }
                }
            }
        },
    )
}

/// `POST /account/verify-email`
pub async fn verify(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let token = form.get("token").unwrap_or_default();
    let answer: Result<(), ApiError> = visit
        .send(Method::Post, "/api/v1/auth/verify-email", Some(&VerifyEmailRequest { token: token.to_owned() }), None)
        .await?;
    match answer {
        Ok(()) => Ok(Page::Redirect("/account/verify-email?done=1".to_owned())),
        Err(error) => Ok(verify_page(
            visit,
            status_of(&error),
            token,
            Some("This link is invalid, has expired or was already used."),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The account page and two-factor authentication

/// `GET /account`
pub async fn show(visit: &Visit<'_>, query: &str) -> Result<Page, PageError> {
    let me: Me = visit.get("/api/v1/auth/me").await?;
    let notice = match Form::parse_query(query).get("2fa") {
        Some("off") => Some("Two-factor authentication is off."),
        Some("on") => Some("Two-factor authentication is on."),
        _ => None,
    };
    Ok(account_page(visit, 200, &me, notice, &Problems::default()))
}

fn account_page(visit: &Visit, status: u16, me: &Me, notice: Option<&str>, problems: &Problems) -> Page {
    html_page(
        visit,
        status,
        "Your account",
        html! {
            h1 { "Your account" }
            @if let Some(notice) = notice { p.ok role="status" { (notice) } }
            dl.profile {
                dt { "Name" } dd { (me.display_name) }
                dt { "Email" } dd { (me.email) }
                dt { "Email confirmed" }
                dd { @if me.email_verified { "Yes" } @else { "Not yet — use the link we emailed you." } }
            }
            p { a href="/orders" { "Your orders" } }
            section aria-labelledby="two-factor" {
                h2 #two-factor { "Two-factor authentication" }
                @if me.two_factor_enabled {
                    p { "On: signing in asks for a code from your authenticator app." }
                    (form_error(problems))
                    form method="post" action="/account/2fa/disable" novalidate {
                        (Field::new("Code to turn it off", "code", "one-time-code").hint(Some("A code from your app, or a recovery code.")).error(problems.get("code")).render())
                        button.secondary type="submit" { "Turn off two-factor authentication" }
                    }
                } @else {
                    p { "Off. With it on, signing in also asks for a code from an authenticator app." }
                    form method="post" action="/account/2fa/enroll" {
                        button type="submit" { "Set up two-factor authentication" }
                    }
                }
            }
            section aria-labelledby="sign-out" {
                h2 #sign-out { "Sign out" }
                form method="post" action="/account/logout" {
                    button.secondary type="submit" { "Sign out" }
                }
            }
        },
    )
}

/// `POST /account/2fa/enroll`: a new secret, shown once on the answer (a reload starts over with
/// another secret, which replaces this one).
pub async fn enroll(visit: &Visit<'_>) -> Result<Page, PageError> {
    match visit.send::<(), Enrolment>(Method::Post, "/api/v1/auth/2fa/enroll", None, None).await? {
        Ok(enrolment) => Ok(setup_page(visit, 200, &enrolment, &Problems::default())),
        Err(error) if error.code == ErrorCode::Conflict => Ok(Page::Redirect("/account?2fa=on".to_owned())),
        Err(error) => Err(PageError::Api(error)),
    }
}

fn setup_page(visit: &Visit, status: u16, enrolment: &Enrolment, problems: &Problems) -> Page {
    html_page(
        visit,
        status,
        "Set up two-factor authentication",
        html! {
            h1 { "Set up two-factor authentication" }
            ol {
                li {
                    "In your authenticator app, add an account with this key: "
                    code.secret { (enrolment.secret) }
                }
                li {
                    "Or, if your app takes a link, use: "
                    code.secret { (enrolment.otpauth_uri) }
                }
                li { "Enter the 6-digit code the app shows to finish." }
            }
            (form_error(problems))
            form method="post" action="/account/2fa/confirm" novalidate {
                input type="hidden" name="secret" value=(enrolment.secret);
                input type="hidden" name="otpauth_uri" value=(enrolment.otpauth_uri);
                (Field::new("Code from your app", "code", "one-time-code").error(problems.get("code")).render())
                button type="submit" { "Turn on two-factor authentication" }
            }
            p { a href="/account" { "Cancel" } }
        },
    )
}

/// `POST /account/2fa/confirm`: on, and the recovery codes shown this once.
pub async fn confirm(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let code = form.get("code").unwrap_or_default();
    match visit
        .send::<_, RecoveryCodes>(
            Method::Post,
            "/api/v1/auth/2fa/confirm",
            Some(&TwoFactorCode { code: code.to_owned() }),
            None,
        )
        .await?
    {
        Ok(confirmed) => Ok(html_page(
            visit,
            200,
            "Two-factor authentication is on",
            html! {
                h1 { "Two-factor authentication is on" }
                p { "Keep these recovery codes somewhere safe. Each one signs you in once if you lose your phone. They are shown only now." }
                ul.recovery-codes { @for code in &confirmed.recovery_codes { li { code { (code) } } } }
                p { a.button href="/account" { "Done" } }
            },
        )),
        Err(error) => {
            let enrolment = Enrolment {
                secret: form.get("secret").unwrap_or_default().to_owned(),
                otpauth_uri: form.get("otpauth_uri").unwrap_or_default().to_owned(),
            };
            let problems = match error.code {
                ErrorCode::ValidationFailed => Problems::field("code", field_message("code", "")),
                _ => Problems::form(general_message(&error)),
            };
            Ok(setup_page(visit, status_of(&error), &enrolment, &problems))
        }
    }
}

/// `POST /account/2fa/disable`
pub async fn disable(visit: &Visit<'_>, form: &Form) -> Result<Page, PageError> {
    let code = form.get("code").unwrap_or_default();
    match visit
        .send::<_, ()>(Method::Post, "/api/v1/auth/2fa/disable", Some(&TwoFactorCode { code: code.to_owned() }), None)
        .await?
    {
        Ok(()) => Ok(Page::Redirect("/account?2fa=off".to_owned())),
        Err(error) => {
            let me: Me = visit.get("/api/v1/auth/me").await?;
            let problems = match error.code {
                ErrorCode::TwoFactorRequired => Problems::field("code", "That code is not right."),
                _ => Problems::form(general_message(&error)),
            };
            Ok(account_page(visit, status_of(&error), &me, None, &problems))
        }
    }
}
