//! Maps method and path to a handler, stamps every response with `x-request-id`, and renders
//! failures as the error envelope. Paths are the public ones: the gateway forwards them unchanged.
//! The vendor and admin routes (`find_private`) are checked first; they never collide with the public ones.
//! `/internal/stock-levels` is for the events Worker's binding only: the gateway routes nothing there.

use shared::api::ErrorCode;
use shared::catalog::cache::CachedRead;
use shared::catalog::{ProductId, Slug};
use worker::{Env, Method, Request, Response, Result};
use worker_platform::respond;

use crate::cache;
use crate::config::Config;
use crate::respond::Failure;
use crate::store::Store;
use crate::writes::{self, Write};
use crate::{handlers, images, private_reads, stock};

const PRODUCT_PREFIX: &str = "/api/v1/products/";
const VENDOR_PREFIX: &str = "/api/v1/vendors/";
const VENDOR_PRODUCTS: &str = "/api/v1/vendor/products";
const ADMIN_PRODUCT_PREFIX: &str = "/api/v1/admin/products/";

pub async fn handle(mut request: Request, env: Env) -> Result<Response> {
    let request_id = respond::request_id(&request);
    let path = request.path();
    // Images answer with bytes, 201 or 204 rather than a JSON 200, so they route on their own.
    let response = if let Some(endpoint) = images::find(&path) {
        images::handle(request, &env, endpoint, &request_id).await?
    } else {
        match route(&mut request, &env).await {
            Ok(response) => response,
            Err(failure) => failure.into_response(&request_id)?,
        }
    };
    respond::with_request_id(response, &request_id)
}

enum Endpoint<'a> {
    Products,
    Product(&'a str),
    Categories,
    Search,
    Suggest,
    /// `/api/v1/vendors/{vendor-slug}`
    Vendor(&'a str),
    /// `/api/v1/vendors/{vendor-slug}/products/{product-slug}`
    VendorProduct(&'a str, &'a str),
}

/// The vendor and admin API: `Err` when the path is known but not for this method.
enum Private<'a> {
    VendorProducts,
    VendorProduct(&'a str),
    Vendors,
    Write(Write<'a>),
}

fn find_private<'a>(method: &Method, path: &'a str) -> Option<Result<Private<'a>, &'static str>> {
    use Method::{Delete, Get, Patch, Post, Put};
    let wrong = |allowed: &'static str| Some(Err(allowed));
    if path == "/api/v1/admin/vendors" {
        return match method {
            Get => Some(Ok(Private::Vendors)),
            Post => Some(Ok(Private::Write(Write::CreateVendor))),
            _ => wrong("use GET or POST"),
        };
    }
    if let Some(id) = path.strip_prefix(ADMIN_PRODUCT_PREFIX).and_then(|rest| rest.strip_suffix("/moderation")) {
        if id.is_empty() || id.contains('/') {
            return None;
        }
        return if *method == Put { Some(Ok(Private::Write(Write::Moderate(id)))) } else { wrong("use PUT") };
    }
    let rest = path.strip_prefix(VENDOR_PRODUCTS)?;
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    if rest.is_empty() {
        return match method {
            Get => Some(Ok(Private::VendorProducts)),
            Post => Some(Ok(Private::Write(Write::CreateProduct))),
            _ => wrong("use GET or POST"),
        };
    }
    if !rest.starts_with('/') || segments.iter().any(|segment| segment.is_empty()) {
        return None;
    }
    Some(match (segments.as_slice(), method) {
        ([id], Get) => Ok(Private::VendorProduct(id)),
        ([id], Patch) => Ok(Private::Write(Write::PatchProduct(id))),
        ([_], _) => Err("use GET or PATCH"),
        ([id, "archive"], Post) => Ok(Private::Write(Write::ArchiveProduct(id))),
        ([_, "archive"], _) => Err("use POST"),
        ([id, "variants"], Post) => Ok(Private::Write(Write::AddVariant(id))),
        ([_, "variants"], _) => Err("use POST"),
        ([id, "variants", variant], Patch) => Ok(Private::Write(Write::PatchVariant(id, variant))),
        ([id, "variants", variant], Delete) => Ok(Private::Write(Write::DeleteVariant(id, variant))),
        ([_, "variants", _], _) => Err("use PATCH or DELETE"),
        _ => return None,
    })
}

fn find(path: &str) -> Option<Endpoint<'_>> {
    match path {
        "/api/v1/products" => Some(Endpoint::Products),
        "/api/v1/categories" => Some(Endpoint::Categories),
        "/api/v1/search" => Some(Endpoint::Search),
        "/api/v1/search/suggest" => Some(Endpoint::Suggest),
        _ => {
            if let Some(rest) = path.strip_prefix(VENDOR_PREFIX) {
                return match rest.split('/').collect::<Vec<_>>().as_slice() {
                    [vendor] if !vendor.is_empty() => Some(Endpoint::Vendor(vendor)),
                    [vendor, "products", product] if !vendor.is_empty() && !product.is_empty() => {
                        Some(Endpoint::VendorProduct(vendor, product))
                    }
                    _ => None,
                };
            }
            path.strip_prefix(PRODUCT_PREFIX).filter(|id| !id.is_empty() && !id.contains('/')).map(Endpoint::Product)
        }
    }
}

async fn route(request: &mut Request, env: &Env) -> std::result::Result<Response, Failure> {
    let path = request.path();
    let query = request.url().map_err(Failure::internal)?.query().unwrap_or_default().to_owned();
    if path == stock::INTERNAL_PATH {
        if request.method() != Method::Post {
            return Err(Failure::new(ErrorCode::MethodNotAllowed, "use POST"));
        }
        let config = Config::from_env(env)?;
        return stock::handle(request, &config).await?.into_response().map_err(Failure::internal);
    }
    if let Some(private) = find_private(&request.method(), &path) {
        let private = private.map_err(|allowed| Failure::new(ErrorCode::MethodNotAllowed, allowed))?;
        let config = Config::from_env(env)?;
        let reply = match private {
            Private::VendorProducts => private_reads::vendor_products(request, &config, &query).await,
            Private::VendorProduct(id) => private_reads::vendor_product(request, &config, id).await,
            Private::Vendors => private_reads::vendors(request, &config, &query).await,
            Private::Write(write) => writes::handle(write, request, &config).await,
        }?;
        return reply.into_response().map_err(Failure::internal);
    }
    let endpoint = find(&path).ok_or_else(|| Failure::new(ErrorCode::RouteNotFound, format!("no route for {path}")))?;
    // Every public catalog route is a read.
    if request.method() != Method::Get {
        return Err(Failure::new(ErrorCode::MethodNotAllowed, "use GET"));
    }
    let config = Config::from_env(env)?;
    let read = match endpoint {
        Endpoint::Products => CachedRead::Products,
        Endpoint::Product(id) => CachedRead::Product(ProductId::parse(id).map_err(|_| Failure::not_found("product"))?),
        Endpoint::Categories => CachedRead::Categories,
        Endpoint::Search => CachedRead::Search,
        Endpoint::Suggest => CachedRead::Suggest,
        Endpoint::Vendor(slug) => CachedRead::Vendor(Slug::parse(slug).map_err(|_| Failure::not_found("shop"))?),
        Endpoint::VendorProduct(vendor, product) => CachedRead::VendorProduct {
            vendor: Slug::parse(vendor).map_err(|_| Failure::not_found("product"))?,
            product: Slug::parse(product).map_err(|_| Failure::not_found("product"))?,
        },
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
            CachedRead::Vendor(slug) => handlers::vendor(&store, slug).await,
            CachedRead::VendorProduct { vendor, product } => handlers::product_by_slug(&store, vendor, product).await,
        }
    })
    .await
}
