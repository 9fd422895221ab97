//! The shopper storefront (DESIGN §2): HTML pages rendered here at the edge, readable without
//! JavaScript, with a small script that only enhances them. Pages read and write through the same
//! `/api/v1` routes a client would use (`Visit::get` and `Visit::send`, in `api.rs`), in this isolate, so access checks,
//! caching and validation stay where they are.

mod api;
mod assets;
mod errors;
mod field;
mod form;
mod layout;
mod page_cache;
mod pages;
mod visit;

use worker::{Env, Method, Request, Response, Result};

use errors::PageError;
use visit::{Page, Visit};

pub async fn handle(mut request: Request, env: &Env, request_id: &str) -> Result<Response> {
    let visit = Visit::new(&request, env, request_id);
    let page = match route(&mut request, &visit).await {
        Ok(page) => page,
        Err(error) => errors::page(&visit, &error),
    };
    page.into_response(&visit)
}

async fn route(request: &mut Request, visit: &Visit<'_>) -> std::result::Result<Page, PageError> {
    let path = request.path();
    let method = request.method();
    if method == Method::Post {
        form::check_same_origin(request)?;
    }
    if let Some(asset) = path.strip_prefix("/assets/") {
        return assets::serve(asset);
    }
    let query = request.url().map_err(PageError::internal)?.query().unwrap_or_default().to_owned();
    match (method, path.as_str()) {
        (Method::Get, "/") => pages::home::show(visit).await,
        (Method::Get, "/search") => pages::search::show(visit, &query).await,
        (Method::Get, "/local") => pages::local::show(visit, &query).await,
        (Method::Get, path) if path.starts_with("/c/") => pages::category::show(visit, &path[3..], &query).await,
        (Method::Get, path) if path.starts_with("/products/") => {
            pages::product::show(visit, &path["/products/".len()..], &query).await
        }
        (Method::Get, path) if path.starts_with("/v/") => pages::vendor::show(visit, &path[3..], &query).await,
        (Method::Get, "/cart") => pages::cart::show(visit).await,
        (Method::Post, "/cart/add") => pages::cart::add(visit, &form::read(request).await?).await,
        (Method::Post, "/cart/update") => pages::cart::update(visit, &form::read(request).await?).await,
        (Method::Post, "/cart/remove") => pages::cart::remove(visit, &form::read(request).await?).await,
        (Method::Post, "/cart/shipping") => pages::cart::shipping(visit, &form::read(request).await?).await,
        (Method::Post, "/cart/destination") => pages::cart::destination(visit, &form::read(request).await?).await,
        (Method::Post, "/cart/coupon") => pages::cart::apply_coupon(visit, &form::read(request).await?).await,
        (Method::Get, "/checkout") => pages::checkout::show(visit).await,
        (Method::Post, "/checkout/pay") => pages::checkout::pay(visit, &form::read(request).await?).await,
        (Method::Post, "/cart/coupon/remove") => pages::cart::remove_coupon(visit, &form::read(request).await?).await,
        (Method::Get, "/account") => pages::account::show(visit, &query).await,
        (Method::Get, "/account/login") => pages::account::login_form(visit, &query).await,
        (Method::Post, "/account/login") => pages::account::login(visit, &form::read(request).await?).await,
        (Method::Get, "/account/register") => pages::account::register_form(visit, &query).await,
        (Method::Post, "/account/register") => pages::account::register(visit, &form::read(request).await?).await,
        (Method::Post, "/account/logout") => pages::account::logout(visit).await,
        (Method::Get, "/account/forgot-password") => pages::account::forgot_form(visit, &query).await,
        (Method::Post, "/account/forgot-password") => pages::account::forgot(visit, &form::read(request).await?).await,
        (Method::Get, "/account/reset-password") => pages::account::reset_form(visit, &query).await,
        (Method::Post, "/account/reset-password") => pages::account::reset(visit, &form::read(request).await?).await,
        (Method::Get, "/account/verify-email") => pages::account::verify_form(visit, &query).await,
        (Method::Post, "/account/verify-email") => pages::account::verify(visit, &form::read(request).await?).await,
        (Method::Post, "/account/2fa/enroll") => pages::account::enroll(visit).await,
        (Method::Post, "/account/2fa/confirm") => pages::account::confirm(visit, &form::read(request).await?).await,
        (Method::Post, "/account/2fa/disable") => pages::account::disable(visit, &form::read(request).await?).await,
        (Method::Get, "/orders") => pages::orders::list(visit, &query).await,
        (Method::Get, path) if path.starts_with("/orders/") => {
            pages::orders::show(visit, &path["/orders/".len()..], &query).await
        }
        (Method::Get | Method::Head, _) => Err(PageError::NotFound),
        _ => Err(PageError::MethodNotAllowed),
    }
}
