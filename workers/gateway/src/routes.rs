//! Every public route, declared once with who may call it and which service answers it, so role
//! checks live in this table instead of being scattered through handlers.

use shared::identity::access_token::Role;
use worker::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any valid access token.
    Authenticated,
    /// A valid access token granting one of these roles.
    AnyRole(&'static [Role]),
    /// Anyone; a token, when sent, must be valid and its user is forwarded (carts: guests and users).
    Optional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Health,
    /// The identity Worker, through the `IDENTITY` service binding.
    Identity,
    /// The catalog Worker, through the `CATALOG` service binding.
    Catalog,
    /// The cart Worker, through the `CART` service binding.
    Cart,
    /// The events Worker, through the `EVENTS` service binding: the core's signed outbox
    /// deliveries (it checks the signature; the route needs no token).
    Events,
    /// A Spin component (its spin.toml route prefix): the call goes in a signed envelope with the
    /// verified caller inside (`shared::forwarding`, docs/adr/0006).
    Spin(&'static str),
}

pub struct Route {
    pub method: Method,
    /// Exact path, or a prefix when it ends in `/*`.
    pub path: &'static str,
    pub access: Access,
    pub target: Target,
}

const fn route(method: Method, path: &'static str, access: Access, target: Target) -> Route {
    Route { method, path, access, target }
}

use Access::{AnyRole, Authenticated, Optional, Public};
use Method::{Delete, Get, Patch, Post, Put};
use Target::{Cart, Catalog, Events, Health, Identity};

pub const ROUTES: &[Route] = &[
    route(Get, "/api/v1/health", Public, Health),
    route(Post, "/api/v1/auth/register", Public, Identity),
    route(Post, "/api/v1/auth/login", Public, Identity),
    route(Post, "/api/v1/auth/refresh", Public, Identity),
    route(Post, "/api/v1/auth/logout", Public, Identity),
    route(Post, "/api/v1/auth/verify-email", Public, Identity),
    route(Post, "/api/v1/auth/forgot-password", Public, Identity),
    route(Post, "/api/v1/auth/reset-password", Public, Identity),
    route(Get, "/api/v1/auth/.well-known/jwks.json", Public, Identity),
    route(Get, "/.well-known/jwks.json", Public, Identity),
    route(Get, "/api/v1/auth/me", Authenticated, Identity),
    route(Post, "/api/v1/auth/2fa/enroll", Authenticated, Identity),
    route(Post, "/api/v1/auth/2fa/confirm", Authenticated, Identity),
    route(Post, "/api/v1/auth/2fa/disable", Authenticated, Identity),
    route(Post, "/api/v1/auth/admin/roles", PLATFORM_ADMIN, Identity),
    route(Delete, "/api/v1/auth/admin/roles", PLATFORM_ADMIN, Identity),
    // The public catalog read path (issue 4).
    route(Get, "/api/v1/products", Public, Catalog),
    route(Get, "/api/v1/products/*", Public, Catalog),
    route(Get, "/api/v1/categories", Public, Catalog),
    route(Get, "/api/v1/search", Public, Catalog),
    route(Get, "/api/v1/search/suggest", Public, Catalog),
    // Shops and products by their readable slugs (the storefront's `/v/…` and `/products/…`).
    route(Get, "/api/v1/vendors/*", Public, Catalog),
    // The vendor API, incl. product images: the catalog Worker takes the vendor id from the token only.
    route(Get, "/api/v1/vendor/products", VENDOR, Catalog),
    route(Post, "/api/v1/vendor/products", VENDOR, Catalog),
    route(Get, "/api/v1/vendor/products/*", VENDOR, Catalog),
    route(Patch, "/api/v1/vendor/products/*", VENDOR, Catalog),
    route(Post, "/api/v1/vendor/products/*", VENDOR, Catalog),
    route(Delete, "/api/v1/vendor/products/*", VENDOR, Catalog),
    route(Get, "/api/v1/images/*", Public, Catalog),
    // Platform admins: vendors (until onboarding exists) and moderation.
    route(Get, "/api/v1/admin/vendors", PLATFORM_ADMIN, Catalog),
    route(Post, "/api/v1/admin/vendors", PLATFORM_ADMIN, Catalog),
    route(Put, "/api/v1/admin/products/*", PLATFORM_ADMIN, Catalog),
    // Carts (issue 5): guests (signed cookie) and signed-in users alike.
    route(Get, "/api/v1/cart", Optional, Cart),
    route(Post, "/api/v1/cart/lines", Optional, Cart),
    route(Patch, "/api/v1/cart/lines/*", Optional, Cart),
    route(Delete, "/api/v1/cart/lines/*", Optional, Cart),
    route(Post, "/api/v1/cart/coupons", Optional, Cart),
    route(Delete, "/api/v1/cart/coupons/*", Optional, Cart),
    route(Put, "/api/v1/cart/shipping/*", Optional, Cart),
    route(Put, "/api/v1/cart/destination", Optional, Cart),
    // Checkout (issue 6): the cart Worker prices the account's cart and hands it to the orders saga.
    route(Post, "/api/v1/checkout", Authenticated, Cart),
    route(Get, "/api/v1/vendor/shipping-options", VENDOR, Cart),
    route(Put, "/api/v1/vendor/shipping-options", VENDOR, Cart),
    // Stock (issue 6): the inventory component; the vendor comes from the token it is handed.
    route(Get, "/api/v1/vendor/stock", VENDOR, INVENTORY),
    route(Put, "/api/v1/vendor/stock/*", VENDOR, INVENTORY),
    // Orders (issue 6): the orders component; the buyer or vendor comes from the token it is handed.
    route(Get, "/api/v1/orders", Authenticated, ORDERS),
    route(Get, "/api/v1/orders/*", Authenticated, ORDERS),
    route(Get, "/api/v1/vendor/orders", VENDOR, ORDERS),
    route(Get, "/api/v1/vendor/orders/*", VENDOR, ORDERS),
    route(Post, "/api/v1/vendor/orders/*", VENDOR, ORDERS),
    // Spin's outbox deliveries (DESIGN §5), signed; workers/events verifies them.
    route(Post, shared::events::edge::DELIVERY_PATH, Public, Events),
];

const INVENTORY: Target = Target::Spin("inventory");
const ORDERS: Target = Target::Spin("orders");

const PLATFORM_ADMIN: Access = AnyRole(&[Role::PlatformAdmin]);

/// Who manages a vendor's products and shipping; which vendor comes from the token (`Principal::acting_vendor`).
const VENDOR: Access = AnyRole(&[Role::VendorAdmin, Role::VendorStaff]);

pub enum Lookup {
    Found(&'static Route),
    /// The path exists, but not for this method.
    WrongMethod,
    NotFound,
}

pub fn find(method: &Method, path: &str) -> Lookup {
    let mut path_known = false;
    for route in ROUTES {
        let matches = match route.path.strip_suffix("/*") {
            Some(prefix) => path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')),
            None => route.path == path,
        };
        if matches {
            if route.method == *method {
                return Lookup::Found(route);
            }
            path_known = true;
        }
    }
    if path_known { Lookup::WrongMethod } else { Lookup::NotFound }
}
