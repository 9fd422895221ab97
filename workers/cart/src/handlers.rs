//! One function per endpoint. Every cart answer is the priced cart (`shared::cart::CartView`), so a
//! client never needs a second request to show what changed.

use serde::{Deserialize, Serialize};
use shared::api::{ApiError, ErrorCode};
use shared::cart::shipping::MAX_OPTIONS_PER_VENDOR;
use shared::cart::{
    AddLine, Cart, CartError, CartLineId, CartView, CountryCode, CouponCode, CouponOutcome, Destination, KeyedRequest,
    MergeCap, Postcode, Region, Remembered, ShippingOption, ShippingOptionId, ShippingRate, price,
};
use shared::catalog::geo::GeoPoint;
use shared::catalog::validation::Reason;
use shared::catalog::{FieldErrors, Quantity, VariantId, VendorId};
use shared::idempotency::idempotency_key_reused;
use worker::Response;
use worker_platform::{clock, random, request, respond};

use crate::config::Config;
use crate::data::{Data, PricingData};
use crate::session::Session;
use crate::store::Store;

pub struct Context {
    pub config: Config,
    pub store: Store,
    pub data: Data,
    pub session: Session,
    /// The request's `Idempotency-Key` with its body's fingerprint (POSTs only).
    pub request_key: Option<KeyedRequest>,
}

type Outcome = Result<Response, ApiError>;

/// `GET /api/v1/cart`: revalidated against the catalog and priced.
pub async fn show(ctx: &Context) -> Outcome {
    let cart = match &ctx.session.owner {
        Some(owner) => ctx.store.load(owner).await?.cart,
        None => Cart::default(),
    };
    view(ctx, &cart, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    variant_id: String,
    quantity: i64,
}

/// `POST /api/v1/cart/lines`: adds to the variant's line, or opens one. One Neon statement looks
/// the variant up and prices the cart with it, so an add costs one query, not two.
pub async fn add_line(ctx: &mut Context, body: &[u8]) -> Outcome {
    let body: AddBody = request::json(body)?;
    let variant_id = VariantId::parse(&body.variant_id)
        .map_err(|error| FieldErrors::single("variant_id", error.reason()).to_api_error())?;
    let quantity = Quantity::new(body.quantity).map_err(|_| cart_error(CartError::QuantityOutOfRange))?;
    let existing = match ctx.session.owner.clone() {
        Some(owner) => {
            let read = ctx.store.load(&owner).await?;
            Some((owner, read))
        }
        None => None,
    };
    let before = existing.as_ref().map(|(_, read)| read.cart.clone()).unwrap_or_default();
    if seen_before(&before, ctx.request_key.as_ref())? {
        // A retry of an add that landed: the cart as it is, whatever the variant's stock is now.
        return view(ctx, &before, true).await;
    }
    let data = ctx.data.pricing(&before, Some(&variant_id), ctx.session.user_id.as_deref()).await?;
    let variant = data
        .variants
        .get(&variant_id)
        .filter(|variant| variant.on_sale)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "variant not found"))?;
    let request_key = ctx.request_key.clone();
    let add = async |cart: &mut Cart| {
        if remember(cart, request_key.as_ref())? == Remembered::Again {
            return Ok(true);
        }
        let line = AddLine {
            variant_id: variant.variant_id.clone(),
            product_id: variant.product_id.clone(),
            vendor_id: variant.vendor_id.clone(),
            quantity,
            unit_price: variant.price,
        };
        let line_id = CartLineId::generate(clock::now_ms(), random::bytes().map_err(respond::internal)?);
        cart.add_in_stock(line, variant.available, line_id).map_err(cart_error)?;
        Ok(false)
    };
    let (cart, replayed) = match existing {
        Some((owner, read)) => ctx.store.update_from(&owner, read, add).await?,
        None => {
            let owner = ctx.session.owner_for_write(&ctx.config)?;
            ctx.store.update(&owner, add).await?
        }
    };
    priced_with(ctx, &cart, &data, replayed).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantityBody {
    quantity: i64,
}

/// `PATCH /api/v1/cart/lines/{line_id}`. The catalog is read before the write (raising a line is
/// checked against the stock) and prices the answer, so this costs no more queries than a read.
pub async fn set_quantity(ctx: &Context, line_id: &str, body: &[u8]) -> Outcome {
    let body: QuantityBody = request::json(body)?;
    let quantity = Quantity::new(body.quantity).map_err(|_| cart_error(CartError::QuantityOutOfRange))?;
    let line_id = line(line_id)?;
    let owner = ctx.session.owner.as_ref().ok_or_else(no_cart)?;
    let read = ctx.store.load(owner).await?;
    let data = ctx.data.pricing(&read.cart, None, ctx.session.user_id.as_deref()).await?;
    let (cart, ()) = ctx
        .store
        .update_from(owner, read, async |cart: &mut Cart| {
            let variant_id = cart.line_mut(&line_id).map_err(cart_error)?.variant_id.clone();
            // Gone, hidden or never read (a line added since): nothing to raise it with.
            let available =
                data.catalog.get(&variant_id).filter(|variant| variant.on_sale).map_or(Quantity::ZERO, |v| v.available);
            cart.set_quantity(&line_id, quantity, available).map_err(cart_error)
        })
        .await?;
    priced_with(ctx, &cart, &data, false).await
}

/// `DELETE /api/v1/cart/lines/{line_id}`.
pub async fn remove_line(ctx: &Context, line_id: &str) -> Outcome {
    let line_id = line(line_id)?;
    let cart = change_existing(ctx, async |cart| cart.remove_line(&line_id).map(drop).map_err(cart_error)).await?;
    view(ctx, &cart, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CouponBody {
    code: String,
}

/// `POST /api/v1/cart/coupons`: kept only if it discounts this cart now; otherwise `BIZ_5001` with
/// the reason. It is decided on the very cart it is written into (a concurrent change makes the
/// store decide again), and checked again on every read: a coupon may expire while it sits in a cart.
pub async fn apply_coupon(ctx: &Context, body: &[u8]) -> Outcome {
    let body: CouponBody = request::json(body)?;
    let code =
        CouponCode::parse(&body.code).map_err(|error| FieldErrors::single("code", error.reason()).to_api_error())?;
    let Some(owner) = &ctx.session.owner else { return Err(coupon_rejected(&code, "the cart is empty", "empty_cart")) };
    let (data, user_id, request_key) = (&ctx.data, ctx.session.user_id.as_deref(), ctx.request_key.as_ref());
    let (cart, priced_now) = ctx
        .store
        .update(owner, async |cart: &mut Cart| {
            if remember(cart, request_key)? == Remembered::Again {
                return Ok(None);
            }
            cart.apply_coupon(code.clone()).map_err(cart_error)?;
            let pricing = data.pricing(cart, None, user_id).await?;
            let priced = price(cart, pricing.input(clock::now())).map_err(overflow)?;
            let outcome = priced.coupons.iter().find(|outcome| match outcome {
                CouponOutcome::Applied { code: applied, .. } | CouponOutcome::Rejected { code: applied, .. } => {
                    *applied == code
                }
            });
            match outcome {
                Some(CouponOutcome::Applied { .. }) => Ok(Some(priced)),
                Some(CouponOutcome::Rejected { reason, .. }) => {
                    Err(coupon_rejected(&code, &reason.to_string(), reason.reason()))
                }
                None => Err(coupon_rejected(&code, "the cart is empty", "empty_cart")),
            }
        })
        .await?;
    match priced_now {
        Some(priced) => reply(ctx, &priced, false),
        None => view(ctx, &cart, true).await,
    }
}

fn coupon_rejected(code: &CouponCode, message: &str, reason: &str) -> ApiError {
    ApiError::new(ErrorCode::CouponRejected, message)
        .with_details(serde_json::json!({ "code": code, "reason": reason }))
}

/// `DELETE /api/v1/cart/coupons/{code}`.
pub async fn remove_coupon(ctx: &Context, code: &str) -> Outcome {
    let not_found = || ApiError::new(ErrorCode::NotFound, "this coupon is not in the cart");
    let code = CouponCode::parse(code).map_err(|_| not_found())?;
    let cart =
        change_existing(ctx, async |cart| if cart.remove_coupon(&code) { Ok(()) } else { Err(not_found()) }).await?;
    view(ctx, &cart, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShippingBody {
    option_id: String,
}

/// `PUT /api/v1/cart/shipping/{vendor_id}`: one of that vendor's options, for a vendor in the cart.
pub async fn choose_shipping(ctx: &Context, vendor_id: &str, body: &[u8]) -> Outcome {
    let body: ShippingBody = request::json(body)?;
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such shipping option for this vendor");
    let vendor_id = VendorId::parse(vendor_id).map_err(|_| not_found())?;
    let option_id = ShippingOptionId::parse(&body.option_id)
        .map_err(|error| FieldErrors::single("option_id", error.reason()).to_api_error())?;
    if ctx.data.shipping_option_vendor(&option_id).await?.as_ref() != Some(&vendor_id) {
        return Err(not_found());
    }
    let cart = change_existing(ctx, async |cart| {
        if !cart.lines.iter().any(|line| line.vendor_id == vendor_id) {
            return Err(ApiError::new(ErrorCode::NotFound, "the cart has nothing from this vendor"));
        }
        cart.shipping.insert(vendor_id.clone(), option_id.clone());
        Ok(())
    })
    .await?;
    view(ctx, &cart, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationBody {
    country: String,
    region: Option<String>,
    postcode: Option<String>,
    lat: Option<f64>,
    lng: Option<f64>,
}

/// `PUT /api/v1/cart/destination`.
pub async fn set_destination(ctx: &mut Context, body: &[u8]) -> Outcome {
    let body: DestinationBody = request::json(body)?;
    let mut errors = FieldErrors::new();
    let country = errors.check("country", CountryCode::parse(&body.country));
    let region = body.region.as_deref().map(|region| errors.check("region", Region::parse(region)));
    let postcode = body.postcode.as_deref().map(|postcode| errors.check("postcode", Postcode::parse(postcode)));
    let location = match (body.lat, body.lng) {
        (Some(lat), Some(lng)) => errors.check("lat", GeoPoint::new(lat, lng)),
        (None, None) => None,
        _ => {
            errors.push("lat", "lat_and_lng_together");
            None
        }
    };
    let (Some(country), true) = (country, errors.is_empty()) else { return Err(errors.to_api_error()) };
    let destination = Destination { country, region: region.flatten(), postcode: postcode.flatten(), location };
    let owner = ctx.session.owner_for_write(&ctx.config)?;
    let (cart, _) = ctx
        .store
        .update(&owner, async |cart| {
            cart.destination = Some(destination.clone());
            Ok(())
        })
        .await?;
    view(ctx, &cart, false).await
}

/// `GET /api/v1/vendor/shipping-options`: the calling vendor's own options.
pub async fn vendor_options(data: &Data, vendor_id: &VendorId) -> Outcome {
    let options = data.vendor_shipping_options(vendor_id).await?;
    respond::json_of(200, &serde_json::json!({ "options": options }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionsBody {
    options: Vec<OptionBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionBody {
    /// One of this vendor's option ids to keep it (carts that chose it keep their choice); absent
    /// for a new option.
    id: Option<String>,
    rate: ShippingRate,
}

/// `PUT /api/v1/vendor/shipping-options`: replaces the calling vendor's set (vendor from the token).
pub async fn replace_vendor_options(data: &Data, vendor_id: &VendorId, body: &[u8]) -> Outcome {
    let body: OptionsBody = request::json(body)?;
    if body.options.len() > MAX_OPTIONS_PER_VENDOR {
        return Err(FieldErrors::single("options", "too_many").to_api_error());
    }
    let mut errors = FieldErrors::new();
    for (index, option) in body.options.iter().enumerate() {
        errors.check(&format!("options[{index}].rate"), option.rate.validate());
    }
    if !errors.is_empty() {
        return Err(errors.to_api_error());
    }
    let current = data.vendor_shipping_options(vendor_id).await?;
    let mut options: Vec<ShippingOption> = Vec::with_capacity(body.options.len());
    for option in body.options {
        let id = match option.id {
            // Another vendor's option id is as unknown as a made-up one.
            Some(id) => ShippingOptionId::parse(&id)
                .ok()
                .filter(|id| current.iter().any(|mine| &mine.id == id))
                .filter(|id| options.iter().all(|seen| &seen.id != id))
                .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("shipping option {id} not found")))?,
            None => ShippingOptionId::generate(clock::now_ms(), random::bytes().map_err(respond::internal)?),
        };
        options.push(ShippingOption { id, vendor_id: vendor_id.clone(), rate: option.rate });
    }
    data.replace_shipping_options(vendor_id, &options).await?;
    respond::json_of(200, &serde_json::json!({ "options": options }))
}

/// A change to a cart that must already exist: without one there is no line or coupon to touch.
async fn change_existing(
    ctx: &Context,
    change: impl AsyncFnMut(&mut Cart) -> Result<(), ApiError>,
) -> Result<Cart, ApiError> {
    let owner = ctx.session.owner.as_ref().ok_or_else(no_cart)?;
    Ok(ctx.store.update(owner, change).await?.0)
}

fn no_cart() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "there is no cart yet")
}

/// A malformed line id names no line of this cart.
fn line(line_id: &str) -> Result<CartLineId, ApiError> {
    CartLineId::parse(line_id).map_err(|_| cart_error(CartError::LineNotFound))
}

async fn view(ctx: &Context, cart: &Cart, replayed: bool) -> Outcome {
    let (priced, _) = price_now(ctx, cart).await?;
    reply(ctx, &priced, replayed)
}

/// The cart priced against the catalog now, with the data it was priced with (checkout hands
/// both to the saga).
pub(crate) async fn price_now(ctx: &Context, cart: &Cart) -> Result<(CartView, PricingData), ApiError> {
    let data = ctx.data.pricing(cart, None, ctx.session.user_id.as_deref()).await?;
    Ok((price_with(cart, &data)?, data))
}

/// Priced with `data` read before the write, unless the cart has changed beyond it meanwhile.
async fn priced_with(ctx: &Context, cart: &Cart, data: &PricingData, replayed: bool) -> Outcome {
    if data.covers(cart) { priced(ctx, cart, data, replayed) } else { view(ctx, cart, replayed).await }
}

fn priced(ctx: &Context, cart: &Cart, data: &PricingData, replayed: bool) -> Outcome {
    reply(ctx, &price_with(cart, data)?, replayed)
}

fn price_with(cart: &Cart, data: &PricingData) -> Result<CartView, ApiError> {
    price(cart, data.input(clock::now())).map_err(overflow)
}

/// The priced cart; after a login merge, also what the merge had to cap (`"merge"`, once). A
/// replayed keyed request says so in `Idempotent-Replayed` (Stripe's header).
fn reply(ctx: &Context, cart: &CartView, replayed: bool) -> Outcome {
    #[derive(Serialize)]
    struct Merge<'a> {
        capped: &'a [MergeCap],
    }
    #[derive(Serialize)]
    struct Reply<'a> {
        #[serde(flatten)]
        cart: &'a CartView,
        #[serde(skip_serializing_if = "Option::is_none")]
        merge: Option<Merge<'a>>,
    }
    let merge = ctx.session.merge_caps.as_deref().map(|capped| Merge { capped });
    let mut response = respond::json_of(200, &Reply { cart, merge })?;
    if replayed {
        response.headers_mut().set("idempotent-replayed", "true").map_err(respond::internal)?;
    }
    Ok(response)
}

/// Whether `cart` has already applied this keyed request (a reused key is refused).
fn seen_before(cart: &Cart, request_key: Option<&KeyedRequest>) -> Result<bool, ApiError> {
    Ok(remember(&mut cart.clone(), request_key)? == Remembered::Again)
}

/// Records the keyed request in the cart about to be written; without a key every request is new.
fn remember(cart: &mut Cart, request_key: Option<&KeyedRequest>) -> Result<Remembered, ApiError> {
    match request_key {
        Some(request_key) => cart.remember(request_key.clone()).map_err(|_| idempotency_key_reused()),
        None => Ok(Remembered::First),
    }
}

/// Another shopper's line is as unknown as a made-up one (404); not enough stock is `BIZ_5003` with
/// what there is; every other limit is `BIZ_5002`.
fn cart_error(error: CartError) -> ApiError {
    let (code, available) = match error {
        CartError::LineNotFound => return ApiError::new(ErrorCode::NotFound, error.to_string()),
        CartError::OutOfStock => (ErrorCode::OutOfStock, Some(Quantity::ZERO)),
        CartError::InsufficientStock { available } => (ErrorCode::OutOfStock, Some(available)),
        _ => (ErrorCode::CartLimit, None),
    };
    let mut details = serde_json::json!({ "reason": error.reason() });
    if let Some(available) = available {
        details["available"] = serde_json::json!(available);
    }
    ApiError::new(code, error.to_string()).with_details(details)
}

fn overflow(error: shared::catalog::money::MoneyError) -> ApiError {
    worker::console_error!("pricing overflowed: {error}");
    ApiError::new(ErrorCode::Internal, "internal error")
}
