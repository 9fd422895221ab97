//! One shopper's request: who they are (the session cookies), what the page sets on the way out,
//! and how the page answers (HTML, a redirect after a form post, or an asset).

use std::cell::{Cell, RefCell};

use maud::Markup;
use shared::catalog::cache::{CacheLayer, X_CACHE};
use shared::identity::refresh::{REFRESH_TOKEN_TTL_SECS, TokenPair};
use shared::storefront::cookie;
use worker::{Env, Headers, Method, Request, Response, Result, Url};

pub const ACCESS_COOKIE: &str = "sf_access";
pub const REFRESH_COOKIE: &str = "sf_refresh";

pub struct Visit<'a> {
    pub env: &'a Env,
    pub request_id: &'a str,
    /// The browser's `Cookie` header as sent: the cart Worker reads its guest cookie from it.
    pub cookie_header: String,
    pub client_ip: String,
    pub access_token: RefCell<Option<String>>,
    pub refresh_token: RefCell<Option<String>>,
    /// The session was rotated (or the rotation refused) during this visit: never twice.
    pub(super) refresh_tried: Cell<bool>,
    /// Where signing in brings the shopper back to: this page, or after a form post the page
    /// that posted it (the same-origin `Referer`), else the home page.
    pub return_to: String,
    /// Seconds after which the page reloads itself (a payment being confirmed).
    refresh_page_after: Cell<Option<u32>>,
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
        let url = request.url().ok();
        let secure = url.as_ref().is_some_and(|url| url.scheme() == "https");
        let return_to = match request.method() {
            Method::Get | Method::Head => url.as_ref().map(path_and_query),
            _ => Url::parse(&header("referer"))
                .ok()
                .filter(|referer| url.as_ref().is_some_and(|url| url.origin() == referer.origin()))
                .map(|referer| path_and_query(&referer)),
        }
        .unwrap_or_else(|| "/".to_owned());
        Visit {
            env,
            request_id,
            client_ip: header("cf-connecting-ip"),
            cookie_header,
            access_token: RefCell::new(access_token),
            refresh_token: RefCell::new(refresh_token),
            refresh_tried: Cell::new(false),
            return_to,
            refresh_page_after: Cell::new(None),
            set_cookies: RefCell::new(Vec::new()),
            secure,
        }
    }

    pub fn signed_in(&self) -> bool {
        self.access_token.borrow().is_some() || self.refresh_token.borrow().is_some()
    }

    /// Holds a new session: both tokens for the rest of this visit, and in the browser's cookies.
    pub fn start_session(&self, tokens: &TokenPair) {
        let access = self.session_cookie(ACCESS_COOKIE, &tokens.access_token, tokens.expires_in);
        let refresh = self.session_cookie(REFRESH_COOKIE, &tokens.refresh_token, REFRESH_TOKEN_TTL_SECS);
        self.replace_session_cookies(access, refresh);
        *self.access_token.borrow_mut() = Some(tokens.access_token.clone());
        *self.refresh_token.borrow_mut() = Some(tokens.refresh_token.clone());
    }

    /// Signs the shopper out of this visit and the browser (the refresh token is revoked elsewhere).
    pub fn end_session(&self) {
        let access = self.session_cookie(ACCESS_COOKIE, "", 0);
        let refresh = self.session_cookie(REFRESH_COOKIE, "", 0);
        self.replace_session_cookies(access, refresh);
        *self.access_token.borrow_mut() = None;
        *self.refresh_token.borrow_mut() = None;
    }

    /// A later session change in the same visit wins: earlier session cookies are dropped.
    fn replace_session_cookies(&self, access: String, refresh: String) {
        let mut cookies = self.set_cookies.borrow_mut();
        let ours = |cookie: &String| {
            cookie.starts_with(&format!("{ACCESS_COOKIE}=")) || cookie.starts_with(&format!("{REFRESH_COOKIE}="))
        };
        cookies.retain(|cookie| !ours(cookie));
        cookies.push(access);
        cookies.push(refresh);
    }

    /// The page reloads itself after `seconds` (`<meta http-equiv="refresh">`, in the layout).
    pub fn refresh_page_after(&self, seconds: u32) {
        self.refresh_page_after.set(Some(seconds));
    }

    pub fn page_refresh(&self) -> Option<u32> {
        self.refresh_page_after.get()
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

fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
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
    Html {
        status: u16,
        body: Markup,
        caching: Caching,
    },
    /// A public page from the page cache (`page_cache`), or just built and kept there; `layer`
    /// becomes `x-cache`. Browsers revalidate, so a purge shows at their next load.
    Stored {
        body: String,
        layer: CacheLayer,
    },
    /// After a form post (303), so reloading does not post again.
    Redirect(String),
    Asset {
        content_type: &'static str,
        body: &'static str,
    },
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
            Page::Stored { body, layer } => {
                headers.set("content-type", "text/html; charset=utf-8")?;
                headers.set("cache-control", "public, no-cache")?;
                headers.set(X_CACHE, layer.header_value())?;
                Response::ok(body)?
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
