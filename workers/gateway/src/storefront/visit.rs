//! One shopper's request: who they are (the session cookies), what the page sets on the way out,
//! and how the page answers (HTML, a redirect after a form post, or an asset).

use std::cell::RefCell;

use maud::Markup;
use shared::storefront::cookie;
use worker::{Env, Headers, Request, Response, Result};

pub const ACCESS_COOKIE: &str = "sf_access";
pub const REFRESH_COOKIE: &str = "sf_refresh";

pub struct Visit<'a> {
    pub env: &'a Env,
    pub request_id: &'a str,
    /// The browser's `Cookie` header as sent: the cart Worker reads its guest cookie from it.
    pub cookie_header: String,
    pub client_ip: String,
    pub access_token: RefCell<Option<String>>,
    pub refresh_token: Option<String>,
    /// `Set-Cookie` values for the answer: the session's and the cart Worker's guest cookie.
    set_cookies: RefCell<Vec<String>>,
    /// Served over https (production): cookies get `Secure`.
    pub secure: bool,
}

impl<'a> Visit<'a> {
    pub fn new(request: &Request, env: &'a Env, request_id: &'a str) -> Self {
        let header = |name: &str| request.headers().get(name).ok().flatten().unwrap_or_default();
        let cookie_header = header("cookie");
        let access_token = cookie(&cookie_header, ACCESS_COOKIE).map(str::to_owned);
        let refresh_token = cookie(&cookie_header, REFRESH_COOKIE).map(str::to_owned);
        let secure = request.url().is_ok_and(|url| url.scheme() == "https");
        Visit {
            env,
            request_id,
            client_ip: header("cf-connecting-ip"),
            cookie_header,
            access_token: RefCell::new(access_token),
            refresh_token,
            set_cookies: RefCell::new(Vec::new()),
            secure,
        }
    }

    pub fn signed_in(&self) -> bool {
        self.access_token.borrow().is_some() || self.refresh_token.is_some()
    }

    pub fn set_cookie(&self, value: String) {
        self.set_cookies.borrow_mut().push(value);
    }

    /// A cookie only the server reads, for the whole site, not sent on cross-site posts.
    pub fn session_cookie(&self, name: &str, value: &str, max_age_secs: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
    }
}

/// Who may keep a copy of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Personal or changing with every write: never stored.
    Private,
    /// The same for every visitor (public catalog pages).
    Public,
}

pub enum Page {
    Html { status: u16, body: Markup, caching: Caching },
    /// After a form post (303), so reloading does not post again.
    Redirect(String),
    Asset { content_type: &'static str, body: &'static str },
}

impl Page {
    pub fn html(body: Markup) -> Self {
        Page::Html { status: 200, body, caching: Caching::Private }
    }

    pub fn into_response(self, visit: &Visit) -> Result<Response> {
        let headers = Headers::new();
        let response = match self {
            Page::Html { status, body, caching } => {
                headers.set("content-type", "text/html; charset=utf-8")?;
                let policy = match caching {
                    Caching::Private => "private, no-store",
                    Caching::Public => "public, max-age=60",
                };
                headers.set("cache-control", policy)?;
                Response::ok(body.into_string())?.with_status(status)
            }
            Page::Redirect(location) => {
                headers.set("location", &location)?;
                headers.set("cache-control", "no-store")?;
                Response::empty()?.with_status(303)
            }
            Page::Asset { content_type, body } => {
                headers.set("content-type", content_type)?;
                // Asset URLs carry a hash of their content, so a copy never goes stale.
                headers.set("cache-control", "public, max-age=31536000, immutable")?;
                Response::ok(body)?
            }
        };
        headers.set("x-content-type-options", "nosniff")?;
        headers.set("referrer-policy", "same-origin")?;
        for cookie in visit.set_cookies.borrow().iter() {
            headers.append("set-cookie", cookie)?;
        }
        Ok(response.with_headers(headers))
    }
}
