//! Routes requests by the table in `routes.rs`, checks access, stamps every response with
//! `x-request-id` and renders errors as the envelope.

use crate::auth::{self, TokenSettings};
use crate::routes::{self, Lookup, Target};
use crate::{config::Config, forward, health, storefront};
use shared::api::{ApiError, ErrorCode};
use worker::{Env, Request, Response, Result};
use worker_platform::respond;

pub async fn handle(request: Request, env: Env) -> Result<Response> {
    let request_id = respond::request_id(&request);
    let response = if is_api(&request) {
        match route(&request, &env, &request_id).await {
            Ok(response) => response,
            Err(error) => respond::error(&error, &request_id)?,
        }
    } else {
        storefront::handle(request, &env, &request_id).await?
    };
    respond::with_request_id(response, &request_id)
}

/// `/api/…` and the few other paths in the route table (JWKS, the core's deliveries) answer JSON;
/// every other path is a storefront page.
fn is_api(request: &Request) -> bool {
    let path = request.path();
    path.starts_with("/api/") || !matches!(routes::find(&request.method(), &path), Lookup::NotFound)
}

pub(crate) async fn route(request: &Request, env: &Env, request_id: &str) -> std::result::Result<Response, ApiError> {
    let path = request.path();
    let route = match routes::find(&request.method(), &path) {
        Lookup::Found(route) => route,
        Lookup::WrongMethod => {
            return Err(ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed here", request.method()),
            ));
        }
        Lookup::NotFound => return Err(ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}"))),
    };
    let identity = auth::authorize(request, env, route.access, &token_settings(env)).await?;
    match route.target {
        Target::Health => {
            let config = Config::from_env(env)?;
            let report = health::check_all(&config).await;
            respond::json_of(report.http_status(), &report)
        }
        Target::Identity => forward::to_service("IDENTITY", request, env, identity.as_ref(), request_id).await,
        Target::Catalog => forward::to_service("CATALOG", request, env, identity.as_ref(), request_id).await,
        Target::Cart => forward::to_service("CART", request, env, identity.as_ref(), request_id).await,
        Target::Events => forward::to_service("EVENTS", request, env, identity.as_ref(), request_id).await,
        Target::Spin(component) => {
            let config = Config::from_env(env)?;
            forward::to_spin(component, request, &config, identity.as_ref(), request_id).await
        }
    }
}

fn token_settings(env: &Env) -> TokenSettings {
    let var = |name: &str, default: &str| env.var(name).map(|value| value.to_string()).unwrap_or(default.to_owned());
    TokenSettings {
        issuer: var("JWT_ISSUER", shared::identity::access_token::DEFAULT_ISSUER),
        audience: var("JWT_AUDIENCE", shared::identity::access_token::DEFAULT_AUDIENCE),
    }
}
