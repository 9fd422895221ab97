//! Maps method and path to a handler, stamps every response with `x-request-id`, and renders
//! failures as the error envelope. Paths are the public ones: the gateway forwards them unchanged.

use serde::de::DeserializeOwned;
use shared::api::ErrorCode;
use worker::{Context, Env, Method, Request, Response, Result};
use worker_platform::forwarded;
use worker_platform::{request, respond};

use crate::config::Config;
use crate::respond::{Failure, Outcome};
use crate::services::Services;
use crate::{account, admin, jwks, session, two_factor};

/// Every identity body is a few short fields; 16 KiB is generous and bounds parsing work.
const MAX_BODY_BYTES: usize = 16 * 1024;

pub async fn handle(mut request: Request, env: Env, ctx: Context) -> Result<Response> {
    let request_id = respond::request_id(&request);
    let response = match route(&mut request, env, &ctx, &request_id).await {
        Ok(reply) => reply.into_response(),
        Err(failure) => failure.into_response(&request_id),
    };
    respond::with_request_id(response?, &request_id)
}

#[derive(Clone, Copy)]
enum Endpoint {
    Register,
    Login,
    Refresh,
    Logout,
    Me,
    VerifyEmail,
    ForgotPassword,
    ResetPassword,
    TwoFactorEnroll,
    TwoFactorConfirm,
    TwoFactorDisable,
    Jwks,
    GrantRole,
    RevokeRole,
}

/// Every route: (method, path, endpoint).
const ROUTES: &[(Method, &str, Endpoint)] = &[
    (Method::Post, "/api/v1/auth/register", Endpoint::Register),
    (Method::Post, "/api/v1/auth/login", Endpoint::Login),
    (Method::Post, "/api/v1/auth/refresh", Endpoint::Refresh),
    (Method::Post, "/api/v1/auth/logout", Endpoint::Logout),
    (Method::Get, "/api/v1/auth/me", Endpoint::Me),
    (Method::Post, "/api/v1/auth/verify-email", Endpoint::VerifyEmail),
    (Method::Post, "/api/v1/auth/forgot-password", Endpoint::ForgotPassword),
    (Method::Post, "/api/v1/auth/reset-password", Endpoint::ResetPassword),
    (Method::Post, "/api/v1/auth/2fa/enroll", Endpoint::TwoFactorEnroll),
    (Method::Post, "/api/v1/auth/2fa/confirm", Endpoint::TwoFactorConfirm),
    (Method::Post, "/api/v1/auth/2fa/disable", Endpoint::TwoFactorDisable),
    (Method::Get, "/api/v1/auth/.well-known/jwks.json", Endpoint::Jwks),
    (Method::Get, "/.well-known/jwks.json", Endpoint::Jwks),
    (Method::Post, "/api/v1/auth/admin/roles", Endpoint::GrantRole),
    (Method::Delete, "/api/v1/auth/admin/roles", Endpoint::RevokeRole),
];

fn find(method: &Method, path: &str) -> std::result::Result<Endpoint, Failure> {
    let mut allowed = ROUTES.iter().filter(|(_, route_path, _)| *route_path == path).peekable();
    if allowed.peek().is_none() {
        return Err(Failure::new(ErrorCode::RouteNotFound, format!("no route for {path}")));
    }
    let mut methods = Vec::new();
    for (route_method, _, endpoint) in allowed {
        if route_method == method {
            return Ok(*endpoint);
        }
        methods.push(route_method.to_string());
    }
    Err(Failure::new(ErrorCode::MethodNotAllowed, format!("use {}", methods.join(" or "))))
}

async fn route(request: &mut Request, env: Env, ctx: &Context, request_id: &str) -> Outcome {
    let endpoint = find(&request.method(), &request.path())?;
    let config = Config::from_env(&env)?;
    let body = request::read_body(request, MAX_BODY_BYTES).await?;
    let services = Services::new(env, config, request_id.to_owned(), forwarded::client_ip(request));
    let principal = || forwarded::principal(request);
    match endpoint {
        Endpoint::Register => account::register(&services, parse(&body)?).await,
        Endpoint::Login => session::login(&services, parse(&body)?).await,
        Endpoint::Refresh => session::refresh(&services, parse(&body)?).await,
        Endpoint::Logout => session::logout(&services, parse(&body)?).await,
        Endpoint::Me => account::me(&services, &principal()?).await,
        Endpoint::VerifyEmail => account::verify_email(&services, parse(&body)?).await,
        Endpoint::ForgotPassword => account::forgot_password(services, parse(&body)?, ctx).await,
        Endpoint::ResetPassword => account::reset_password(&services, parse(&body)?).await,
        Endpoint::TwoFactorEnroll => two_factor::enroll(&services, &principal()?).await,
        Endpoint::TwoFactorConfirm => two_factor::confirm(&services, &principal()?, parse(&body)?).await,
        Endpoint::TwoFactorDisable => two_factor::disable(&services, &principal()?, parse(&body)?).await,
        Endpoint::Jwks => jwks::serve(&services),
        Endpoint::GrantRole => admin::grant(&services, &principal()?, parse(&body)?).await,
        Endpoint::RevokeRole => admin::revoke(&services, &principal()?, parse(&body)?).await,
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> std::result::Result<T, Failure> {
    Ok(request::json(body)?)
}
