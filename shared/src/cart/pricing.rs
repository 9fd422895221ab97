//! Pricing a cart for `GET /api/v1/cart`: lines revalidated against the catalog's current prices and
//! stock, grouped by vendor, with coupons, shipping quotes, tax and totals. Lines that cannot be
//! bought stay in the answer, flagged, and count for nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::basis_points::BasisPoints;
use super::coupon::{Coupon, CouponCode, CouponRejection, CouponScope, CouponUsage};
use super::destination::Destination;
use super::model::{Cart, CartLineId};
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
    let found = |code: &CouponCode| input.coupons.get(code);
    let is_platform = |code: &CouponCode| found(code).is_some_and(|(coupon, _)| coupon.scope == CouponScope::Platform);
    // Vendor-scoped (and unknown) codes first, platform ones last; a stable sort keeps the cart's order.
    let mut order: Vec<(usize, &CouponCode)> = cart.coupons.iter().enumerate().collect();
    order.sort_by_key(|(_, code)| is_platform(code));
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
pub(crate) fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::coupon::CouponValue;
    use crate::cart::destination::{CountryCode, Region};
    use crate::cart::fixtures::{code, coupon, eur, product, variant, vendor};
    use crate::cart::model::AddLine;
    use crate::cart::shipping::{ShippingRate, WeightBand};
    use crate::cart::tax::TaxRate;
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// A cart of `(variant, vendor, quantity, captured price)` lines.
    fn cart(lines: &[(u8, u8, u32, i64)]) -> Cart {
        let mut cart = Cart::default();
        for &(n, shop, quantity, price) in lines {
            let add = AddLine {
                variant_id: variant(n),
                product_id: product(n),
                vendor_id: vendor(shop),
                quantity: Quantity::new(i64::from(quantity)).unwrap(),
                unit_price: eur(price),
            };
            cart.add(add, CartLineId::generate(1_763_700_000_000, [n; 10])).unwrap();
        }
        cart
    }

    fn on_sale(price: i64, available: u32, weight_grams: u32) -> CatalogVariant {
        CatalogVariant {
            price: eur(price),
            available: Quantity::new(i64::from(available)).unwrap(),
            weight_grams,
            on_sale: true,
        }
    }

    fn platform(percent_bp: u32) -> Coupon {
        let value = CouponValue::Percentage { basis_points: BasisPoints::new(percent_bp).unwrap() };
        coupon("EVERYONE", CouponScope::Platform, value)
    }

    fn shop_fixed(text: &str, shop: u8, amount: i64) -> Coupon {
        let scope = CouponScope::Vendor { vendor_id: vendor(shop) };
        coupon(text, scope, CouponValue::Fixed { amount: eur(amount) })
    }

    fn portugal() -> Destination {
        Destination {
            country: CountryCode::parse("PT").unwrap(),
            region: Some(Region::parse("11").unwrap()),
            postcode: None,
            location: Some(GeoPoint::new(38.7223, -9.1393).unwrap()),
        }
    }

    struct World {
        catalog: BTreeMap<VariantId, CatalogVariant>,
        coupons: BTreeMap<CouponCode, (Coupon, CouponUsage)>,
        shipping: Vec<ShippingOption>,
        locations: BTreeMap<VendorId, GeoPoint>,
        tax: TaxTable,
    }

    impl World {
        fn new(catalog: &[(u8, CatalogVariant)]) -> Self {
            World {
                catalog: catalog.iter().map(|(n, variant_data)| (variant(*n), variant_data.clone())).collect(),
                coupons: BTreeMap::new(),
                shipping: Vec::new(),
                locations: BTreeMap::new(),
                tax: TaxTable {
                    rates: vec![TaxRate {
                        country: CountryCode::parse("PT").unwrap(),
                        region: None,
                        rate: BasisPoints::new(2300).unwrap(),
                    }],
                },
            }
        }

        fn with_coupon(mut self, coupon: Coupon, usage: CouponUsage) -> Self {
            self.coupons.insert(coupon.code.clone(), (coupon, usage));
            self
        }

        fn price(&self, cart: &Cart) -> CartView {
            let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
            let input = PricingInput {
                catalog: &self.catalog,
                coupons: &self.coupons,
                shipping_options: &self.shipping,
                vendor_locations: &self.locations,
                tax: &self.tax,
                now,
            };
            price(cart, input).unwrap()
        }
    }

    fn rejection(view: &CartView, text: &str) -> Option<CouponRejection> {
        view.coupons.iter().find_map(|outcome| match outcome {
            CouponOutcome::Rejected { code: c, reason } if *c == code(text) => Some(*reason),
            _ => None,
        })
    }

    #[test]
    fn revalidation_flags_changed_prices_and_missing_stock_and_keeps_every_line() {
        let mut world = World::new(&[(1, on_sale(1200, 10, 0)), (2, on_sale(500, 1, 0)), (3, on_sale(700, 0, 0))]);
        world.catalog.insert(variant(5), CatalogVariant { on_sale: false, ..on_sale(100, 9, 0) });
        world.catalog.insert(
            variant(6),
            CatalogVariant { price: Money::new(100, Currency::parse("USD").unwrap()), ..on_sale(0, 9, 0) },
        );
        let cart =
            cart(&[(1, 1, 2, 1000), (2, 1, 3, 500), (3, 1, 1, 700), (4, 1, 1, 900), (5, 1, 1, 100), (6, 1, 1, 100)]);
        let view = world.price(&cart);
        let lines = &view.vendors[0].lines;
        assert_eq!(lines.len(), 6, "nothing is silently dropped");
        assert_eq!(lines[0].flags, vec![LineFlag::PriceChanged { old_price: eur(1000), new_price: eur(1200) }]);
        assert_eq!(lines[0].line_total, Some(eur(2400)), "charged at the current price");
        assert_eq!(lines[1].flags, vec![LineFlag::InsufficientStock { available: Quantity::new(1).unwrap() }]);
        assert_eq!(lines[2].flags, vec![LineFlag::OutOfStock]);
        assert_eq!(lines[3].flags, vec![LineFlag::Unavailable], "deleted from the catalog");
        assert_eq!(lines[4].flags, vec![LineFlag::Unavailable], "archived");
        assert_eq!(lines[5].flags, vec![LineFlag::CurrencyChanged]);
        assert!(lines[2..].iter().all(|line| line.line_total.is_none()));
        assert_eq!(view.vendors[0].totals.subtotal, eur(2400 + 1500));
    }

    #[test]
    fn every_coupon_rejection_reaches_the_response_and_discounts_nothing() {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        let day = chrono::Duration::days(1);
        let usd = Money::new(100, Currency::parse("USD").unwrap());
        let cases = [
            (
                Coupon { valid_until: Some(now - day), ..shop_fixed("EXPIRED", 1, 100) },
                CouponUsage::default(),
                CouponRejection::Expired,
            ),
            (
                Coupon { valid_from: Some(now + day), ..shop_fixed("EARLY", 1, 100) },
                CouponUsage::default(),
                CouponRejection::NotYetValid,
            ),
            (
                Coupon { min_purchase: Some(eur(10_000)), ..shop_fixed("BIGSPEND", 1, 100) },
                CouponUsage::default(),
                CouponRejection::BelowMinimum,
            ),
            (shop_fixed("OTHERSHOP", 7, 100), CouponUsage::default(), CouponRejection::WrongVendor),
            (
                Coupon { total_limit: Some(10), ..shop_fixed("GONE", 1, 100) },
                CouponUsage { by_customer: 0, total: 10 },
                CouponRejection::UsageLimitReached,
            ),
            (
                Coupon { per_customer_limit: Some(1), ..shop_fixed("ONCE", 1, 100) },
                CouponUsage { by_customer: 1, total: 1 },
                CouponRejection::CustomerLimitReached,
            ),
            (shop_fixed("DOLLARS", 1, 0), CouponUsage::default(), CouponRejection::CurrencyMismatch),
        ];
        for (mut coupon, usage, expected) in cases {
            if coupon.code == code("DOLLARS") {
                coupon.value = CouponValue::Fixed { amount: usd };
            }
            let text = coupon.code.to_string();
            let world = World::new(&[(1, on_sale(1000, 10, 0))]).with_coupon(coupon, usage);
            let mut cart = cart(&[(1, 1, 2, 1000)]);
            cart.apply_coupon(code(&text)).unwrap();
            let view = world.price(&cart);
            assert_eq!(rejection(&view, &text), Some(expected), "{text}");
            assert_eq!(view.totals.unwrap().discount, eur(0), "{text}");
        }
        let mut cart = cart(&[(1, 1, 2, 1000)]);
        cart.apply_coupon(code("NOSUCHCODE")).unwrap();
        assert_eq!(
            rejection(&World::new(&[(1, on_sale(1000, 10, 0))]).price(&cart), "NOSUCHCODE"),
            Some(CouponRejection::Unknown)
        );
    }

    #[test]
    fn vendor_coupons_go_first_and_one_coupon_per_scope() {
        let world = World::new(&[(1, on_sale(1000, 10, 0)), (2, on_sale(3000, 10, 0))])
            .with_coupon(shop_fixed("SHOP1", 1, 400), CouponUsage::default())
            .with_coupon(shop_fixed("SHOP1MORE", 1, 100), CouponUsage::default())
            .with_coupon(platform(1000), CouponUsage::default());
        let mut cart = cart(&[(1, 1, 1, 1000), (2, 2, 1, 3000)]);
        for text in ["EVERYONE", "SHOP1", "SHOP1MORE"] {
            cart.apply_coupon(code(text)).unwrap();
        }
        let view = world.price(&cart);
        // Shop 1: 1000 − 400 = 600 left; shop 2: 3000. 10 % of the 4000 of goods = 400, split 600 : 3000.
        assert_eq!(
            view.coupons,
            vec![
                CouponOutcome::Applied { code: code("EVERYONE"), discount: eur(400) },
                CouponOutcome::Applied { code: code("SHOP1"), discount: eur(400) },
                CouponOutcome::Rejected { code: code("SHOP1MORE"), reason: CouponRejection::NotCombinable },
            ]
        );
        assert_eq!(view.vendors[0].totals.discount, eur(400 + 67));
        assert_eq!(view.vendors[1].totals.discount, eur(333));
    }

    #[test]
    fn shipping_and_tax_per_vendor_make_the_totals() {
        let mut world = World::new(&[(1, on_sale(1000, 10, 400)), (2, on_sale(2500, 10, 0))]);
        let option = |id: u8, shop: u8, rate| ShippingOption {
            id: ShippingOptionId::generate(1, [id; 10]),
            vendor_id: vendor(shop),
            rate,
        };
        let bands = vec![
            WeightBand { up_to_grams: 1_000, price: eur(450) },
            WeightBand { up_to_grams: 5_000, price: eur(900) },
        ];
        world.shipping = vec![
            option(1, 1, ShippingRate::WeightBands { bands }),
            option(2, 1, ShippingRate::Flat { price: eur(1500) }),
            option(3, 2, ShippingRate::LocalDelivery { base: eur(200), per_km: eur(100), max_radius_km: 10.0 }),
        ];
        // Shop 2 is about 3.2 km from the destination: 4 started kilometres.
        world.locations.insert(vendor(2), GeoPoint::new(38.7369, -9.1427 + 0.035).unwrap());
        let mut cart = cart(&[(1, 1, 3, 1000), (2, 2, 1, 2500)]);
        let view = world.price(&cart);
        assert_eq!(view.vendors[0].tax_rate, None, "no destination yet");
        assert_eq!(view.vendors[0].selected_shipping, None);
        assert_eq!(view.totals.unwrap().total, eur(5500));
        assert_eq!(view.vendors[0].shipping_options[0].price, Some(eur(900)), "1.2 kg is in the second band");

        cart.destination = Some(portugal());
        cart.shipping.insert(vendor(1), world.shipping[0].id.clone());
        cart.shipping.insert(vendor(2), world.shipping[2].id.clone());
        let view = world.price(&cart);
        let [first, second] = [&view.vendors[0], &view.vendors[1]];
        let km = GeoPoint::new(38.7369, -9.1077).unwrap().distance_km(GeoPoint::new(38.7223, -9.1393).unwrap());
        assert_eq!(second.totals.shipping, eur(200 + 100 * km.ceil() as i64));
        assert_eq!(
            first.totals,
            Totals { subtotal: eur(3000), discount: eur(0), shipping: eur(900), tax: eur(690), total: eur(4590) }
        );
        assert_eq!(second.totals.tax, eur(575));
        let totals = view.totals.unwrap();
        assert_eq!(totals.total, first.totals.total.checked_add(second.totals.total).unwrap());
    }

    #[test]
    fn the_response_groups_lines_under_vendors() {
        let world = World::new(&[(1, on_sale(1299, 10, 0))]);
        let mut cart = cart(&[(1, 1, 2, 1299)]);
        cart.destination = Some(portugal());
        let json = serde_json::to_value(world.price(&cart)).unwrap();
        let vendor_json = &json["vendors"][0];
        assert_eq!(vendor_json["vendor_id"], serde_json::json!(vendor(1).as_str()));
        let line = &vendor_json["lines"][0];
        assert!(line["line_id"].as_str().unwrap().starts_with("line_"));
        assert_eq!(line["variant_id"], serde_json::json!(variant(1).as_str()));
        assert_eq!(line["quantity"], serde_json::json!(2));
        assert_eq!(line["flags"], serde_json::json!([]));
        assert_eq!(vendor_json["subtotal"], serde_json::json!({"amount_minor": 2598, "currency": "EUR"}));
        assert_eq!(vendor_json["tax"], serde_json::json!({"amount_minor": 598, "currency": "EUR"}));
        assert_eq!(vendor_json["tax_rate"], serde_json::json!(2300));
        assert_eq!(json["totals"]["total"], serde_json::json!({"amount_minor": 3196, "currency": "EUR"}));
        let parsed: CartView = serde_json::from_value(json).unwrap();
        assert_eq!(parsed.vendors[0].lines[0].quantity.get(), 2);

        let flagged = serde_json::to_value(LineFlag::PriceChanged { old_price: eur(1), new_price: eur(2) }).unwrap();
        assert_eq!(flagged["code"], serde_json::json!("price_changed"));
        let empty = serde_json::to_value(world.price(&Cart::default())).unwrap();
        assert_eq!(
            (empty["vendors"].clone(), empty["totals"].clone()),
            (serde_json::json!([]), serde_json::Value::Null)
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let world = World::new(&[(1, on_sale(i64::MAX / 2, 10, 0))]);
        let input = PricingInput {
            catalog: &world.catalog,
            coupons: &world.coupons,
            shipping_options: &world.shipping,
            vendor_locations: &world.locations,
            tax: &world.tax,
            now: Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap(),
        };
        assert_eq!(price(&cart(&[(1, 1, 3, 1)]), input), Err(MoneyError::Overflow));
    }

    proptest! {
        #[test]
        fn allocation_sums_exactly_and_never_exceeds_a_share(weights in proptest::collection::vec(0i64..1_000_000, 1..6), fraction in 0.0f64..=1.0) {
            let amount = (weights.iter().sum::<i64>() as f64 * fraction) as i64;
            let shares = allocate(amount, &weights);
            prop_assert_eq!(shares.iter().sum::<i64>(), amount);
            prop_assert!(shares.iter().zip(&weights).all(|(share, weight)| (0..=*weight).contains(share)));
        }

        #[test]
        fn totals_are_the_sum_of_their_parts(
            lines in proptest::collection::btree_map(0u8..10, (0u8..3, 1u32..=99, 0i64..1_000_000, 0u32..20), 1..8),
            platform_bp in 0u32..=10_000,
            shop_off in 0i64..2_000_000,
            max in proptest::option::of(0i64..500_000),
            with_destination: bool,
        ) {
            let catalog: Vec<(u8, CatalogVariant)> = lines.iter().map(|(n, (_, _, price, stock))| (*n, on_sale(*price, *stock, 100))).collect();
            let mut world = World::new(&catalog)
                .with_coupon(Coupon { max_discount: max.map(eur), ..platform(platform_bp) }, CouponUsage::default())
                .with_coupon(shop_fixed("SHOP0", 0, shop_off), CouponUsage::default());
            world.shipping = vec![ShippingOption { id: ShippingOptionId::generate(1, [1; 10]), vendor_id: vendor(0), rate: ShippingRate::Flat { price: eur(499) } }];
            let rows: Vec<(u8, u8, u32, i64)> = lines.iter().map(|(n, (shop, quantity, price, _))| (*n, *shop, *quantity, *price)).collect();
            let mut cart = cart(&rows);
            cart.apply_coupon(code("EVERYONE")).unwrap();
            cart.apply_coupon(code("SHOP0")).unwrap();
            cart.shipping.insert(vendor(0), world.shipping[0].id.clone());
            if with_destination {
                cart.destination = Some(portugal());
            }
            let view = world.price(&cart);
            let totals = view.totals.unwrap();
            let parts = |f: fn(&Totals) -> i64| view.vendors.iter().map(|vendor| f(&vendor.totals)).sum::<i64>();
            prop_assert_eq!(totals.subtotal.amount_minor, parts(|t| t.subtotal.amount_minor));
            prop_assert_eq!(totals.discount.amount_minor, parts(|t| t.discount.amount_minor));
            prop_assert_eq!(totals.total.amount_minor, parts(|t| t.total.amount_minor));
            prop_assert_eq!(totals.total.amount_minor, totals.subtotal.amount_minor - totals.discount.amount_minor + totals.shipping.amount_minor + totals.tax.amount_minor);
            let applied: i64 = view.coupons.iter().map(|outcome| match outcome {
                CouponOutcome::Applied { discount, .. } => discount.amount_minor,
                CouponOutcome::Rejected { .. } => 0,
            }).sum();
            prop_assert_eq!(applied, totals.discount.amount_minor);
            for vendor in &view.vendors {
                let t = vendor.totals;
                prop_assert!((0..=t.subtotal.amount_minor).contains(&t.discount.amount_minor));
                let lines_sum: i64 = vendor.lines.iter().filter_map(|line| line.line_total).map(|m| m.amount_minor).sum();
                prop_assert_eq!(t.subtotal.amount_minor, lines_sum);
                prop_assert!(t.tax.amount_minor >= 0);
            }
            if let Some(CouponOutcome::Applied { discount, .. }) = view.coupons.iter().find(|o| matches!(o, CouponOutcome::Applied { code: c, .. } if *c == code("EVERYONE"))) {
                prop_assert!(max.is_none_or(|max| discount.amount_minor <= max));
            }
        }
    }
}
