//! The public edge Worker. The entry point only hands off to the router.

mod auth;
mod config;
mod forward;
mod health;
mod router;
mod routes;
mod storefront;

use worker::{Context, Env, Request, Response, Result, event};

#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: Context) -> Result<Response> {
    router::handle(request, env).await
}
