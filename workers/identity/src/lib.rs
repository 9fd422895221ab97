//! The identity Worker (DESIGN §2, §6): accounts, sessions, 2FA and role grants. Reached only
//! through the gateway's `IDENTITY` service binding. The entry point only hands off to the router.

mod account;
mod admin;
mod config;
mod events;
mod jwks;
mod limits;
mod passwords;
mod respond;
mod router;
mod services;
mod session;
mod store;
mod tokens;
mod two_factor;

use worker::{Context, Env, Request, Response, Result, event};

#[event(fetch)]
async fn fetch(request: Request, env: Env, ctx: Context) -> Result<Response> {
    router::handle(request, env, ctx).await
}
