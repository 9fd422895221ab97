//! The catalog Worker (issue 4): the public read path — product lists, product detail, the
//! category tree, search with facets and autocomplete — and the vendor and platform-admin API.
//! Reached only through the gateway's `CATALOG` service binding. The entry point only hands off to the router.
//!
//! Reads are cached at the edge and in Upstash (`cache`); the write path calls `cache::invalidate`.

pub mod cache;
mod caller;
mod config;
mod handlers;
mod image_store;
mod images;
mod inventory;
mod private_reads;
mod respond;
mod router;
mod stock;
mod store;
mod write_store;
mod writes;

use worker::{Context, Env, Request, Response, Result, event};

#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: Context) -> Result<Response> {
    router::handle(request, env).await
}
