//! The cart Worker (issue 5): guest and signed-in carts in Upstash, revalidated against the catalog
//! on every read and priced by `shared::cart` (coupons, shipping, tax, totals); vendors' shipping
//! options. Reached only through service bindings: the gateway's `CART` (the public cart API) and
//! the events Worker's `CART` (placed orders leave the cart). The entry point only hands off to the
//! router.

mod checkout;
mod config;
mod data;
mod handlers;
mod placed;
mod router;
mod session;
mod store;

use worker::{Context, Env, Request, Response, Result, event};

#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: Context) -> Result<Response> {
    router::handle(request, env).await
}
