//! Whose cart a request works on, and the guest-into-account merge.
//!
//! Merge on login (issue 5), chosen to need no extra call from clients: the first cart request that
//! carries both a verified user (the gateway's `x-auth-*` headers) and a valid guest cookie merges
//! the guest cart into the account's (`shared::cart::merge`: quantities summed, capped at the line
//! limit and the stock), deletes the guest cart in the same atomic write, and clears the cookie.

use shared::api::ApiError;
use shared::cart::owner::{clear_cookie, cookie_value, set_cookie};
use shared::cart::{Cart, CartOwner, GuestCartId, MergeCap, merge};
use shared::catalog::VariantId;
use worker::Request;
use worker_platform::forwarded::{self, HEADER_USER_ID};
use worker_platform::{clock, random};

use crate::config::Config;
use crate::data::Data;
use crate::store::{Store, Write, Written, until_written};

pub struct Session {
    /// `None`: a guest without a (valid) cookie; a write creates their cart.
    pub owner: Option<CartOwner>,
    pub user_id: Option<String>,
    /// A `Set-Cookie` value the response must carry.
    pub cookie: Option<String>,
    /// Set when this request merged a guest cart: what could not be kept whole (shown once).
    pub merge_caps: Option<Vec<MergeCap>>,
}

impl Session {
    /// A forged, foreign-keyed or malformed cookie counts as none: the caller gets a fresh cart,
    /// never someone else's.
    pub async fn open(request: &Request, config: &Config, store: &Store, data: &Data) -> Result<Self, ApiError> {
        let has_user = request.headers().get(HEADER_USER_ID).ok().flatten().is_some();
        let principal = if has_user { Some(forwarded::principal(request)?) } else { None };
        let guest = request
            .headers()
            .get("cookie")
            .ok()
            .flatten()
            .and_then(|header| cookie_value(&header).and_then(|value| config.cookie_key.verify(value)));
        match (principal, guest) {
            (Some(principal), guest) => {
                let account = CartOwner::Account(principal.user_id().to_owned());
                let (mut cookie, mut merge_caps) = (None, None);
                if let Some(guest) = guest {
                    merge_caps = merge_guest(store, data, &account, &CartOwner::Guest(guest)).await?;
                    cookie = Some(clear_cookie(config.secure_cookies));
                }
                Ok(Self { owner: Some(account), user_id: Some(principal.user_id().to_owned()), cookie, merge_caps })
            }
            (None, guest) => {
                Ok(Self { owner: guest.map(CartOwner::Guest), user_id: None, cookie: None, merge_caps: None })
            }
        }
    }

    /// The cart to write to, creating a guest cart (and its cookie) on a guest's first write.
    pub fn owner_for_write(&mut self, config: &Config) -> Result<CartOwner, ApiError> {
        if let Some(owner) = &self.owner {
            return Ok(owner.clone());
        }
        let entropy = random::bytes().map_err(|error| {
            ApiError::new(shared::api::ErrorCode::Internal, format!("no randomness for a cart id: {error}"))
        })?;
        let id = GuestCartId::generate(clock::now_ms(), entropy);
        self.cookie = Some(set_cookie(&config.cookie_key.sign(&id), config.secure_cookies));
        let owner = CartOwner::Guest(id);
        self.owner = Some(owner.clone());
        Ok(owner)
    }

    /// After a successful write: a guest's cart lives 30 days after its last change, so the cookie
    /// that finds it is sent again with the same lifetime.
    pub fn renew_guest_cookie(&mut self, config: &Config) {
        if self.cookie.is_none()
            && let Some(CartOwner::Guest(id)) = &self.owner
        {
            self.cookie = Some(set_cookie(&config.cookie_key.sign(id), config.secure_cookies));
        }
    }
}

/// Moves the guest's cart into the account's and deletes it, in one compare-and-set over both keys;
/// answers what had to be capped or left out (`None`: there was nothing to merge).
async fn merge_guest(
    store: &Store,
    data: &Data,
    account: &CartOwner,
    guest: &CartOwner,
) -> Result<Option<Vec<MergeCap>>, ApiError> {
    until_written(async || {
        let guest_read = store.load(guest).await?;
        if guest_read.cart == Cart::default() {
            // Nothing to merge (already merged, expired, or never written).
            return Ok(Some(None));
        }
        let account_read = store.load(account).await?;
        let ids: Vec<VariantId> =
            account_read.cart.lines.iter().chain(&guest_read.cart.lines).map(|line| line.variant_id.clone()).collect();
        let stock = data.variants(&ids).await?;
        let merged = merge(account_read.cart.clone(), guest_read.cart.clone(), |id| {
            stock.iter().find(|variant| &variant.variant_id == id).map(|variant| variant.available)
        });
        let writes = [
            Write { owner: account, read: &account_read, cart: Some(&merged.cart) },
            Write { owner: guest, read: &guest_read, cart: None },
        ];
        Ok(match store.write(&writes).await? {
            Written::Yes => Some(Some(merged.capped)),
            Written::Lost(_) => None,
        })
    })
    .await
}
