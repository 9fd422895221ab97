//! Friendly error pages: what went wrong in words a shopper understands, a way on, and the
//! request id to quote; never a stack trace or an error envelope.

use maud::html;
use shared::api::{ApiError, ErrorCode};

use super::layout;
use super::visit::{Caching, Page, Visit};

#[derive(Debug)]
pub enum PageError {
    NotFound,
    MethodNotAllowed,
    /// A form post from another site.
    CrossSite,
    /// The page needs a signed-in shopper; they come back to `return_to` after signing in.
    SignInRequired {
        return_to: String,
    },
    /// A dependency is down; trying again later helps.
    Unavailable,
    /// The API refused or failed in a way the page did not handle itself.
    Api(ApiError),
    /// A bug or a broken answer; logged, shown as "something went wrong".
    Internal,
}

impl PageError {
    pub fn internal(message: impl std::fmt::Display) -> Self {
        worker::console_error!("storefront: {message}");
        PageError::Internal
    }
}

pub fn page(visit: &Visit, error: &PageError) -> Page {
    if let PageError::SignInRequired { return_to } = error {
        let next: String = url_encode(return_to);
        return Page::Redirect(format!("/account/login?next={next}"));
    }
    let (status, title, advice) = match error {
        PageError::NotFound => (404, "We could not find that page", "It may have moved, or the address has a typo."),
        PageError::Api(api) if api.code == ErrorCode::RouteNotFound || api.status() == 404 => {
            (404, "We could not find that page", "It may have moved, or the address has a typo.")
        }
        PageError::MethodNotAllowed => (405, "That action is not available here", "Go back and try again."),
        PageError::CrossSite => {
            (403, "That form came from another site", "For your safety we did not act on it. Try again from our page.")
        }
        PageError::Unavailable => {
            (503, "We are having trouble right now", "Part of the shop is unavailable. Please try again in a moment.")
        }
        PageError::Api(api) if api.status() < 500 => (api.status(), "We could not do that", api.message.as_str()),
        _ => (
            500,
            "Something went wrong on our side",
            "Please try again. If it keeps happening, quote the reference below.",
        ),
    };
    let body = layout::page(
        visit,
        title,
        html! {
            section.notice {
                h1 { (title) }
                p { (advice) }
                p { a href="/" { "Back to the shop" } " · " a href="/search" { "Search products" } }
                p.muted { small { "Reference: " code { (visit.request_id) } } }
            }
        },
    );
    Page::Html { status, body, caching: Caching::Private }
}

/// Percent-encodes a value for a query string.
pub fn url_encode(value: &str) -> String {
    shared::storefront::query_value(value)
}
