//! Pricing a cart for `GET /api/v1/cart`: lines revalidated against the catalog's current prices and
//! stock, grouped by vendor, with coupons, shipping quotes, tax and totals. Lines that cannot be
//! bought stay in the answer, flagged, and count for nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::basis_points::BasisPoints;
use super::coupon::{Coupon, CouponCode, CouponRejection, CouponScope, CouponUsage};
use super::destination::Destination;
use super::model::Cart;
use super::model::CartLineId;
use super::shipping::{ShippingOption, ShippingOptionId, ShippingQuote};
use super::tax::TaxTable;
use crate::catalog::geo::GeoPoint;
use crate::catalog::money::{Money, MoneyError};
use crate::catalog::{Currency, ProductId, Quantity, VariantId, VendorId};

/// A variant as the catalog has it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogVariant {
    pub price: Money,
    pub available: Quantity,
    pub weight_grams: u32,
    /// `false` once the product is archived or hidden: it can no longer be bought.
    pub on_sale: bool,
}

/// What pricing needs besides the cart, fetched by the Worker.
#[derive(Debug, Clone, Copy)]
pub struct PricingInput<'a> {
    pub catalog: &'a BTreeMap<VariantId, CatalogVariant>,
    /// The definitions of the cart's codes that exist, with their redemptions so far.
    pub coupons: &'a BTreeMap<CouponCode, (Coupon, CouponUsage)>,
    pub shipping_options: &'a [ShippingOption],
    pub vendor_locations: &'a BTreeMap<VendorId, GeoPoint>,
    pub tax: &'a TaxTable,
    pub now: DateTime<Utc>,
}

/// Why a line needs the shopper's attention. Only `PriceChanged` and `InsufficientStock` lines
/// still count towards the totals (at the current price and the requested quantity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum LineFlag {
    PriceChanged {
        old_price: Money,
        new_price: Money,
    },
    InsufficientStock {
        available: Quantity,
    },
    OutOfStock,
    /// Archived, hidden or deleted.
    Unavailable,
    /// Now priced in another currency than the cart.
    CurrencyChanged,
}

impl LineFlag {
    fn excludes(self) -> bool {
        matches!(self, LineFlag::OutOfStock | LineFlag::Unavailable | LineFlag::CurrencyChanged)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineView {
    pub line_id: CartLineId,
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub quantity: Quantity,
    /// The current price (the captured one while the variant cannot be found).
    pub unit_price: Money,
    /// `null` for a line that counts for nothing.
    pub line_total: Option<Money>,
    pub flags: Vec<LineFlag>,
}

/// Subtotal of goods, discount, shipping and tax; `total = subtotal − discount + shipping + tax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub subtotal: Money,
    pub discount: Money,
    pub shipping: Money,
    pub tax: Money,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorView {
    pub vendor_id: VendorId,
    pub lines: Vec<LineView>,
    pub shipping_options: Vec<ShippingQuote>,
    /// The chosen option, if it can serve this cart; shipping counts 0 until one is chosen.
    pub selected_shipping: Option<ShippingOptionId>,
    /// `null` until a destination is set.
    pub tax_rate: Option<BasisPoints>,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CouponOutcome {
    Applied { code: CouponCode, discount: Money },
    Rejected { code: CouponCode, reason: CouponRejection },
}

/// The cart response. `currency` and `totals` are `null` for an empty cart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartView {
    pub currency: Option<Currency>,
    pub vendors: Vec<VendorView>,
    pub coupons: Vec<CouponOutcome>,
    pub destination: Option<Destination>,
    pub totals: Option<Totals>,
}

/// Prices `cart`. Fails only when an amount overflows `i64` (far beyond the cart's limits).
pub fn price(cart: &Cart, input: PricingInput<'_>) -> Result<CartView, MoneyError> {
    let Some(currency) = cart.currency() else {
        return Ok(CartView {
            currency: None,
            vendors: Vec::new(),
            coupons: Vec::new(),
            destination: cart.destination.clone(),
            totals: None,
        });
    };
    let zero = Money::zero(currency);
    let mut vendors: Vec<Draft> = Vec::new();
    for line in &cart.lines {
        let index = match vendors.iter().position(|draft| draft.vendor_id == line.vendor_id) {
            Some(index) => index,
            None => {
                vendors.push(Draft {
                    vendor_id: line.vendor_id.clone(),
                    lines: Vec::new(),
                    subtotal: zero,
                    discount: zero,
                    grams: 0,
                });
                vendors.len() - 1
            }
        };
        let draft = &mut vendors[index];
        let current = input.catalog.get(&line.variant_id);
        let flags = flags(line.quantity, line.unit_price, currency, current);
        let unit_price = current.map_or(line.unit_price, |variant| variant.price);
        let line_total = if flags.iter().any(|flag| flag.excludes()) {
            None
        } else {
            let total = unit_price.checked_mul(line.quantity.get())?;
            draft.subtotal = draft.subtotal.checked_add(total)?;
            let grams = current.map_or(0, |variant| u64::from(variant.weight_grams) * u64::from(line.quantity.get()));
            draft.grams = draft.grams.checked_add(grams).ok_or(MoneyError::Overflow)?;
            Some(total)
        };
        draft.lines.push(LineView {
            line_id: line.line_id.clone(),
            variant_id: line.variant_id.clone(),
            product_id: line.product_id.clone(),
            quantity: line.quantity,
            unit_price,
            line_total,
            flags,
        });
    }
    let coupons = apply_coupons(cart, &input, currency, &mut vendors)?;
    let destination = cart.destination.as_ref();
    let mut views = Vec::with_capacity(vendors.len());
    for draft in vendors {
        let origin = input.vendor_locations.get(&draft.vendor_id).copied();
        let shipping_options = input
            .shipping_options
            .iter()
            .filter(|option| option.vendor_id == draft.vendor_id)
            .map(|option| option.quote(currency, draft.grams, origin, destination.and_then(|d| d.location)))
            .collect::<Result<Vec<_>, _>>()?;
        let chosen = cart.shipping.get(&draft.vendor_id);
        let selected = shipping_options.iter().find(|quote| Some(&quote.id) == chosen && quote.price.is_some());
        let shipping = selected.and_then(|quote| quote.price).unwrap_or(zero);
        let selected_shipping = selected.map(|quote| quote.id.clone());
        let tax_rate = destination.map(|destination| input.tax.rate_for(destination));
        let taxable = draft.subtotal.checked_sub(draft.discount)?;
        let tax = tax_rate.map_or(Ok(zero), |rate| rate.of(taxable))?;
        let total = taxable.checked_add(shipping)?.checked_add(tax)?;
        let totals = Totals { subtotal: draft.subtotal, discount: draft.discount, shipping, tax, total };
        views.push(VendorView {
            vendor_id: draft.vendor_id,
            lines: draft.lines,
            shipping_options,
            selected_shipping,
            tax_rate,
            totals,
        });
    }
    let totals = grand_totals(&views, zero)?;
    Ok(CartView {
        currency: Some(currency),
        vendors: views,
        coupons,
        destination: cart.destination.clone(),
        totals: Some(totals),
    })
}

/// A vendor's group while pricing.
struct Draft {
    vendor_id: VendorId,
    lines: Vec<LineView>,
    subtotal: Money,
    discount: Money,
    grams: u64,
}

fn flags(quantity: Quantity, captured: Money, currency: Currency, current: Option<&CatalogVariant>) -> Vec<LineFlag> {
    let Some(variant) = current.filter(|variant| variant.on_sale) else { return vec![LineFlag::Unavailable] };
    if variant.price.currency != currency {
        return vec![LineFlag::CurrencyChanged];
    }
    let mut flags = Vec::new();
    if variant.price != captured {
        flags.push(LineFlag::PriceChanged { old_price: captured, new_price: variant.price });
    }
    if variant.available.is_zero() {
        flags.push(LineFlag::OutOfStock);
    } else if variant.available < quantity {
        flags.push(LineFlag::InsufficientStock { available: variant.available });
    }
    flags
}

/// Vendor coupons first, each on its shop's goods; then one platform coupon on what they left,
/// shared among the shops in proportion. One coupon per scope.
fn apply_coupons(
    cart: &Cart,
    input: &PricingInput<'_>,
    currency: Currency,
    vendors: &mut [Draft],
) -> Result<Vec<CouponOutcome>, MoneyError> {
    let mut outcomes: Vec<Option<CouponOutcome>> = vec![None; cart.coupons.len()];
    let found = |code: &CouponCode| input.coupons.get(code).filter(|(coupon, _)| coupon.code == *code);
    let is_platform = |code: &CouponCode| found(code).is_some_and(|(coupon, _)| coupon.scope == CouponScope::Platform);
    // Vendor-scoped (and unknown) codes in the first pass, platform ones in the second.
    let order = cart
        .coupons
        .iter()
        .enumerate()
        .filter(|(_, code)| !is_platform(code))
        .chain(cart.coupons.iter().enumerate().filter(|(_, code)| is_platform(code)));
    let mut used_scopes: Vec<&CouponScope> = Vec::new();
    for (index, code) in order {
        let outcome = match found(code) {
            None => Err(CouponRejection::Unknown),
            Some((coupon, usage)) => match coupon.check(input.now, *usage, currency) {
                Err(rejection) => Err(rejection),
                Ok(()) if used_scopes.contains(&&coupon.scope) => Err(CouponRejection::NotCombinable),
                Ok(()) => {
                    let outcome = discount(coupon, vendors, currency)?;
                    if outcome.is_ok() {
                        used_scopes.push(&coupon.scope);
                    }
                    outcome
                }
            },
        };
        outcomes[index] = Some(match outcome {
            Ok(discount) => CouponOutcome::Applied { code: code.clone(), discount },
            Err(reason) => CouponOutcome::Rejected { code: code.clone(), reason },
        });
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// Applies one coupon that passed its checks, booking the discount on the vendors' groups.
fn discount(
    coupon: &Coupon,
    vendors: &mut [Draft],
    currency: Currency,
) -> Result<Result<Money, CouponRejection>, MoneyError> {
    let remaining = |draft: &Draft| draft.subtotal.checked_sub(draft.discount);
    match &coupon.scope {
        CouponScope::Vendor { vendor_id } => {
            let Some(draft) = vendors.iter_mut().find(|draft| &draft.vendor_id == vendor_id) else {
                return Ok(Err(CouponRejection::WrongVendor));
            };
            let amount = coupon.discount(draft.subtotal, remaining(draft)?)?;
            if let Ok(amount) = amount {
                draft.discount = draft.discount.checked_add(amount)?;
            }
            Ok(amount)
        }
        CouponScope::Platform => {
            let zero = Money::zero(currency);
            let eligible = vendors.iter().try_fold(zero, |sum, draft| sum.checked_add(draft.subtotal))?;
            let left: Vec<i64> =
                vendors.iter().map(|draft| remaining(draft).map(|m| m.amount_minor)).collect::<Result<_, _>>()?;
            let left_total = Money::new(
                left.iter().try_fold(0i64, |sum, part| sum.checked_add(*part)).ok_or(MoneyError::Overflow)?,
                currency,
            );
            let amount = coupon.discount(eligible, left_total)?;
            if let Ok(amount) = amount {
                for (draft, share) in vendors.iter_mut().zip(allocate(amount.amount_minor, &left)) {
                    draft.discount = draft.discount.checked_add(Money::new(share, currency))?;
                }
            }
            Ok(amount)
        }
    }
}

/// Splits `amount` (at most `Σ weights`, all non-negative) in proportion to `weights`, by largest
/// remainder: the shares sum to `amount` exactly and none exceeds its weight.
fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if total == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(i128, i128)> = weights
        .iter()
        .map(|w| {
            let product = i128::from(amount) * i128::from(*w);
            (product / total, product % total)
        })
        .collect();
    let mut shortfall = i128::from(amount) - exact.iter().map(|(share, _)| share).sum::<i128>();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    // Largest remainder first; ties go to the earlier vendor.
    by_remainder.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    let mut shares: Vec<i64> = exact.iter().map(|(share, _)| *share as i64).collect();
    for index in by_remainder {
        if shortfall == 0 {
            break;
        }
        shares[index] += 1;
        shortfall -= 1;
    }
    shares
}

fn grand_totals(vendors: &[VendorView], zero: Money) -> Result<Totals, MoneyError> {
    let sum =
        |part: fn(&Totals) -> Money| vendors.iter().try_fold(zero, |sum, vendor| sum.checked_add(part(&vendor.totals)));
    Ok(Totals {
        subtotal: sum(|t| t.subtotal)?,
        discount: sum(|t| t.discount)?,
        shipping: sum(|t| t.shipping)?,
        tax: sum(|t| t.tax)?,
        total: sum(|t| t.total)?,
    })
}
