//! Maps method and path to a handler, stamps every response with `x-request-id`, and renders
//! failures as the error envelope. Paths are the public ones: the gateway forwards them unchanged.

use shared::api::ErrorCode;
use shared::catalog::ProductId;
use shared::catalog::cache::CachedRead;
use worker::{Env, Method, Request, Response, Result};
use worker_platform::respond;

use crate::cache;
use crate::config::Config;
use crate::handlers;
use crate::respond::Failure;
use crate::store::Store;

const PRODUCT_PREFIX: &str = "/api/v1/products/";

pub async fn handle(request: Request, env: Env) -> Result<Response> {
    let request_id = respond::request_id(&request);
    let response = match route(&request, &env).await {
        Ok(response) => response,
        Err(failure) => failure.into_response(&request_id)?,
    };
    respond::with_request_id(response, &request_id)
}

enum Endpoint<'a> {
    Products,
    Product(&'a str),
    Categories,
    Search,
    Suggest,
}

fn find(path: &str) -> Option<Endpoint<'_>> {
    match path {
        "/api/v1/products" => Some(Endpoint::Products),
        "/api/v1/categories" => Some(Endpoint::Categories),
        "/api/v1/search" => Some(Endpoint::Search),
        "/api/v1/search/suggest" => Some(Endpoint::Suggest),
        _ => path.strip_prefix(PRODUCT_PREFIX).filter(|id| !id.is_empty() && !id.contains('/')).map(Endpoint::Product),
    }
}

async fn route(request: &Request, env: &Env) -> std::result::Result<Response, Failure> {
    let path = request.path();
    let endpoint = find(&path).ok_or_else(|| Failure::new(ErrorCode::RouteNotFound, format!("no route for {path}")))?;
    // Every catalog route is a read.
    if request.method() != Method::Get {
        return Err(Failure::new(ErrorCode::MethodNotAllowed, "use GET"));
    }
    let query = request.url().map_err(Failure::internal)?.query().unwrap_or_default().to_owned();
    let config = Config::from_env(env)?;
    let read = match endpoint {
        Endpoint::Products => CachedRead::Products,
        Endpoint::Product(id) => CachedRead::Product(ProductId::parse(id).map_err(|_| Failure::not_found("product"))?),
        Endpoint::Categories => CachedRead::Categories,
        Endpoint::Search => CachedRead::Search,
        Endpoint::Suggest => CachedRead::Suggest,
    };
    // Every public read goes through both cache layers; only what reaches Neon runs a handler.
    cache::read_through(&config, &read, &query, || async {
        let store = Store::new(&config);
        match &read {
            CachedRead::Products => handlers::list(&store, &config, &query).await,
            CachedRead::Product(id) => handlers::product(&store, id).await,
            CachedRead::Categories => handlers::categories(&store).await,
            CachedRead::Search => handlers::search(&store, &config, &query).await,
            CachedRead::Suggest => handlers::suggest(&store, &query).await,
        }
    })
    .await
}
