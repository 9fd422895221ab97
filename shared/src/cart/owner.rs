//! Whose cart a request reaches: an account's (the user id from the verified access token) or a
//! guest's (an id in a cookie signed with HMAC-SHA256). Those are the only two sources, so a client
//! can neither forge a cart id nor guess another shopper's: a bad signature means no cart at all.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;

use crate::catalog::ids::prefixed_id;
use crate::hmac_key::{HmacKey, HmacKeyError};

prefixed_id!(
    /// `gcart_…`: a guest's cart, named only by its signed cookie.
    GuestCartId,
    "gcart"
);

pub const COOKIE_NAME: &str = "cart";
/// Issue 5: guest carts live 30 days after their last change.
pub const GUEST_TTL_SECS: u64 = 30 * 24 * 60 * 60;
/// Account carts are "kept"; DESIGN §3 wants a TTL on every key, so a year after the last change.
pub const ACCOUNT_TTL_SECS: u64 = 365 * 24 * 60 * 60;

/// Signs and checks guest cookies: `gcart_01J….<base64url(HMAC-SHA256(key, id))>`.
#[derive(Debug, Clone)]
pub struct CookieKey(HmacKey);

impl CookieKey {
    pub fn new(bytes: &[u8]) -> Result<Self, HmacKeyError> {
        HmacKey::new(bytes).map(Self)
    }

    /// The `CART_COOKIE_KEY` secret: base64url, padded or not.
    pub fn from_base64url(text: &str) -> Result<Self, HmacKeyError> {
        HmacKey::from_base64url(text).map(Self)
    }

    pub fn sign(&self, id: &GuestCartId) -> String {
        let tag = self.0.mac(id.as_str().as_bytes()).finalize().into_bytes();
        format!("{}.{}", id.as_str(), URL_SAFE_NO_PAD.encode(tag))
    }

    /// The id, if the value is one this key signed (compared in constant time).
    pub fn verify(&self, value: &str) -> Option<GuestCartId> {
        let (id, signature) = value.split_once('.')?;
        let id = GuestCartId::parse(id).ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.0.mac(id.as_str().as_bytes()).verify_slice(&signature).ok()?;
        Some(id)
    }
}

/// Our cookie's value in a `Cookie` request header, if present.
pub fn cookie_value(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// HttpOnly (scripts cannot read it), SameSite=Lax (not sent on cross-site POSTs), Path=/ (the
/// storefront pages and the API share it), Secure whenever the site is served over https.
pub fn set_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={value}; Max-Age={GUEST_TTL_SECS}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

/// Expires the cookie (after a merge into an account's cart).
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}")
}

/// The cart a request works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartOwner {
    /// A verified user id (`usr_…`).
    Account(String),
    Guest(GuestCartId),
}

impl CartOwner {
    /// The Upstash key; the two kinds cannot collide.
    pub fn key(&self) -> String {
        match self {
            CartOwner::Account(user_id) => format!("cart:user:{user_id}"),
            CartOwner::Guest(id) => format!("cart:guest:{id}"),
        }
    }

    pub fn ttl_secs(&self) -> u64 {
        match self {
            CartOwner::Account(_) => ACCOUNT_TTL_SECS,
            CartOwner::Guest(_) => GUEST_TTL_SECS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CookieKey {
        CookieKey::new(&[byte; 32]).unwrap()
    }

    fn guest(n: u8) -> GuestCartId {
        GuestCartId::generate(1_763_700_000_000, [n; 10])
    }

    #[test]
    fn a_signed_cookie_names_its_cart_and_nothing_else_does() {
        let signed = key(1).sign(&guest(1));
        assert_eq!(key(1).verify(&signed), Some(guest(1)));
        assert_eq!(key(2).verify(&signed), None, "another key");
        let (_, signature) = signed.split_once('.').unwrap();
        let moved = format!("{}.{signature}", guest(2));
        assert_eq!(key(1).verify(&moved), None, "a signature moved to another id");
        for bad in ["", "gcart_x", guest(1).as_str(), &format!("{}.", guest(1)), "a.b.c"] {
            assert_eq!(key(1).verify(bad), None, "{bad}");
        }
        assert_eq!(CookieKey::new(&[0; 31]).map(|_| ()), Err(HmacKeyError));
        assert_eq!(format!("{:?}", key(1)), "CookieKey(HmacKey(…))");
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_over_https() {
        let set = set_cookie("v", true);
        for part in ["cart=v", "Path=/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age=2592000"] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        assert!(!set_cookie("v", false).contains("Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
        assert_eq!(cookie_value("a=1; cart=xyz.sig; b=2"), Some("xyz.sig"));
        assert_eq!(cookie_value("carts=1"), None);
    }

    #[test]
    fn account_and_guest_keys_differ_and_guests_expire_sooner() {
        let account = CartOwner::Account("usr_01JC000000000000000000000A".into());
        let guest = CartOwner::Guest(guest(1));
        assert!(account.key().starts_with("cart:user:"));
        assert!(guest.key().starts_with("cart:guest:gcart_"));
        assert!(guest.ttl_secs() < account.ttl_secs());
    }
}
