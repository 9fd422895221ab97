//! The catalog Worker (issue 4): the public read path — product lists, product detail, the
//! category tree, search with facets and autocomplete. Reached only through the gateway's `CATALOG`
//! service binding. The entry point only hands off to the router.
//!
//! Reads are cached at the edge and in Upstash (`cache`); the write path calls `cache::invalidate`.

pub mod cache;
mod config;
mod handlers;
mod respond;
mod router;
mod store;

use worker::{Context, Env, Request, Response, Result, event};

#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: Context) -> Result<Response> {
    router::handle(request, env).await
}
