//! Maps method and path to a handler, stamps every response with `x-request-id`, and renders
//! failures as the error envelope. Paths are the public ones: the gateway forwards them unchanged.

use shared::api::ErrorCode;
use worker::{Env, Method, Request, Response, Result};
use worker_platform::respond;

use crate::config::Config;
use crate::respond::{Failure, Outcome};
use crate::store::Store;
use crate::{handlers, images};

const PRODUCT_PREFIX: &str = "/api/v1/products/";

pub async fn handle(request: Request, env: Env) -> Result<Response> {
    let request_id = respond::request_id(&request);
    let path = request.path();
    // Images answer with bytes, 201 or 204 rather than a JSON 200, so they route on their own.
    let response = if let Some(endpoint) = images::find(&path) {
        images::handle(request, &env, endpoint, &request_id).await
    } else {
        match route(&request, &env).await {
            Ok(reply) => reply.into_response(),
            Err(failure) => failure.into_response(&request_id),
        }
    };
    respond::with_request_id(response?, &request_id)
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

async fn route(request: &Request, env: &Env) -> Outcome {
    let path = request.path();
    let endpoint = find(&path).ok_or_else(|| Failure::new(ErrorCode::RouteNotFound, format!("no route for {path}")))?;
    // Every catalog route is a read.
    if request.method() != Method::Get {
        return Err(Failure::new(ErrorCode::MethodNotAllowed, "use GET"));
    }
    let query = request.url().map_err(Failure::internal)?.query().unwrap_or_default().to_owned();
    let config = Config::from_env(env)?;
    let store = Store::new(&config);
    match endpoint {
        Endpoint::Products => handlers::list(&store, &config, &query).await,
        Endpoint::Product(id) => handlers::product(&store, id).await,
        Endpoint::Categories => handlers::categories(&store).await,
        Endpoint::Search => handlers::search(&store, &config, &query).await,
        Endpoint::Suggest => handlers::suggest(&store, &query).await,
    }
}
