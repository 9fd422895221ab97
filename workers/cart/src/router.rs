//! Maps method and path to a handler, reads the (bounded) body, opens the cart session, and sets
//! `Set-Cookie`, `Cache-Control: no-store` and `x-request-id` on every answer. Paths are the public
//! ones: the gateway forwards them unchanged. `/internal/order-placed` is for the events Worker's
//! binding only: the gateway routes nothing there.

use shared::api::{ApiError, ErrorCode};
use shared::cart::{KeyedRequest, ORDER_PLACED_PATH};
use shared::catalog::VendorId;
use shared::idempotency::{IdempotencyKey, request_fingerprint};
use worker::{Env, Method, Request, Response, Result};
use worker_platform::forwarded;
use worker_platform::{request as body, respond};

use crate::config::Config;
use crate::data::Data;
use crate::handlers::{self, Context};
use crate::placed;
use crate::session::Session;
use crate::store::Store;

/// The largest request is a vendor's shipping options (10 options × 20 weight bands ≈ 16 KB of
/// JSON); cart bodies are a few hundred bytes. Larger bodies get `VAL_3001` unread.
const BODY_LIMIT: usize = 32 * 1024;

const CART: &str = "/api/v1/cart";
const CHECKOUT: &str = "/api/v1/checkout";
const VENDOR_OPTIONS: &str = "/api/v1/vendor/shipping-options";

pub async fn handle(mut request: Request, env: Env) -> Result<Response> {
    let request_id = respond::request_id(&request);
    let mut cookie = None;
    let response = match route(&mut request, &env, &mut cookie).await {
        Ok(response) => response,
        Err(error) => respond::error(&error, &request_id)?,
    };
    let mut response = respond::with_request_id(response, &request_id)?;
    let headers = response.headers_mut();
    headers.set("cache-control", "no-store")?;
    if let Some(cookie) = cookie {
        headers.set("set-cookie", &cookie)?;
    }
    Ok(response)
}

enum Endpoint<'a> {
    /// A vendor's shipping options (vendor routes need a token; cart routes do not).
    VendorOptions,
    Cart(CartEndpoint<'a>),
}

enum CartEndpoint<'a> {
    Cart,
    /// Checking the account's cart out (`crate::checkout`).
    Checkout,
    Lines,
    Line(&'a str),
    Coupons,
    Coupon(&'a str),
    Shipping(&'a str),
    Destination,
}

fn find(path: &str) -> Option<Endpoint<'_>> {
    if path == VENDOR_OPTIONS {
        return Some(Endpoint::VendorOptions);
    }
    if path == CHECKOUT {
        return Some(Endpoint::Cart(CartEndpoint::Checkout));
    }
    let rest = path.strip_prefix(CART)?;
    let one = |prefix: &str| rest.strip_prefix(prefix).filter(|id| !id.is_empty() && !id.contains('/'));
    let endpoint = match rest {
        "" => Some(CartEndpoint::Cart),
        "/lines" => Some(CartEndpoint::Lines),
        "/coupons" => Some(CartEndpoint::Coupons),
        "/destination" => Some(CartEndpoint::Destination),
        _ => one("/lines/")
            .map(CartEndpoint::Line)
            .or_else(|| one("/coupons/").map(CartEndpoint::Coupon))
            .or_else(|| one("/shipping/").map(CartEndpoint::Shipping)),
    };
    endpoint.map(Endpoint::Cart)
}

fn allowed(endpoint: &Endpoint<'_>, method: &Method) -> bool {
    use Method::{Delete, Get, Patch, Post, Put};
    match endpoint {
        Endpoint::VendorOptions => matches!(method, Get | Put),
        Endpoint::Cart(CartEndpoint::Cart) => *method == Get,
        Endpoint::Cart(CartEndpoint::Lines | CartEndpoint::Coupons | CartEndpoint::Checkout) => *method == Post,
        Endpoint::Cart(CartEndpoint::Line(_)) => matches!(method, Patch | Delete),
        Endpoint::Cart(CartEndpoint::Coupon(_)) => *method == Delete,
        Endpoint::Cart(CartEndpoint::Shipping(_) | CartEndpoint::Destination) => *method == Put,
    }
}

async fn route(
    request: &mut Request,
    env: &Env,
    cookie: &mut Option<String>,
) -> std::result::Result<Response, ApiError> {
    let path = request.path();
    let method = request.method();
    if path == ORDER_PLACED_PATH {
        // The events Worker's binding only (see `placed`); no session, no cookie.
        if method != Method::Post {
            return Err(ApiError::new(ErrorCode::MethodNotAllowed, "use POST"));
        }
        let body = body::read_body(request, BODY_LIMIT).await?;
        let config = Config::from_env(env)?;
        return placed::order_placed(&Store::new(&config), &body).await;
    }
    let endpoint =
        find(&path).ok_or_else(|| ApiError::new(ErrorCode::RouteNotFound, format!("no route for {path}")))?;
    if !allowed(&endpoint, &method) {
        return Err(ApiError::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed here")));
    }
    let body = body::read_body(request, BODY_LIMIT).await?;
    let config = Config::from_env(env)?;
    let data = Data::new(&config);
    let endpoint = match endpoint {
        Endpoint::Cart(endpoint) => endpoint,
        Endpoint::VendorOptions => {
            // The vendor comes from the verified token only, never from the request.
            let principal = forwarded::principal(request)?;
            let vendor_id = VendorId::parse(principal.acting_vendor()?)
                .map_err(|_| ApiError::new(ErrorCode::Forbidden, "this needs a vendor account"))?;
            return match method {
                Method::Put => handlers::replace_vendor_options(&data, &vendor_id, &body).await,
                _ => handlers::vendor_options(&data, &vendor_id).await,
            };
        }
    };
    let store = Store::new(&config);
    let session = Session::open(request, &config, &store, &data).await?;
    // The checkout keeps its key itself (in the orders saga), not in the cart.
    let keyed = !matches!(endpoint, CartEndpoint::Checkout);
    let request_key = if keyed { keyed_request(request, &method, &path, &body)? } else { None };
    let mut ctx = Context { config, store, data, session, request_key };
    let outcome = match endpoint {
        CartEndpoint::Cart => handlers::show(&ctx).await,
        CartEndpoint::Checkout => crate::checkout::checkout(&ctx, request, &body).await,
        CartEndpoint::Lines => handlers::add_line(&mut ctx, &body).await,
        CartEndpoint::Line(id) if method == Method::Patch => handlers::set_quantity(&ctx, id, &body).await,
        CartEndpoint::Line(id) => handlers::remove_line(&ctx, id).await,
        CartEndpoint::Coupons => handlers::apply_coupon(&ctx, &body).await,
        CartEndpoint::Coupon(code) => handlers::remove_coupon(&ctx, code).await,
        CartEndpoint::Shipping(vendor) => handlers::choose_shipping(&ctx, vendor, &body).await,
        CartEndpoint::Destination => handlers::set_destination(&mut ctx, &body).await,
    };
    if outcome.is_ok() && method != Method::Get && keyed {
        ctx.session.renew_guest_cookie(&ctx.config);
    }
    *cookie = ctx.session.cookie.take();
    outcome
}

/// A POST's `Idempotency-Key` (DESIGN §8), fingerprinted with the path and the body, so the same key
/// sent to another endpoint or with another body is a reuse, not a retry.
fn keyed_request(
    request: &Request,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<Option<KeyedRequest>, ApiError> {
    let header = request.headers().get(IdempotencyKey::HEADER).ok().flatten();
    let (Method::Post, Some(header)) = (method, header) else { return Ok(None) };
    let key = IdempotencyKey::parse(&header).map_err(|errors| errors.to_api_error())?;
    // A body that is not JSON is refused by the handler before anything is written.
    let body: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let fingerprint = request_fingerprint(&serde_json::json!({ "path": path, "body": body }));
    Ok(Some(KeyedRequest { key: key.as_str().to_owned(), fingerprint }))
}
