//! Test worlds: shops with shipping and coupons, a catalog, carts priced by the real
//! `cart::price`, and the order groups checkout builds from them. Shared by the orders, saga and
//! payments tests so every money rule is exercised on groups the cart would really produce.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::group::{CheckoutRefusal, OrderGroup};
use super::ids::{BuyerId, OrderGroupId};
// The cart's test values, so checkout's carts name the same ids and amounts as the cart's tests.
use crate::cart::fixtures::coupon;
pub use crate::cart::fixtures::{eur, product, variant, vendor};
use crate::cart::{
    AddLine, BasisPoints, Cart, CartLineId, CartView, CatalogVariant, CountryCode, Coupon, CouponCode, CouponScope,
    CouponUsage, CouponValue, Destination, PricingInput, ShippingOption, ShippingOptionId, ShippingRate, TaxRate,
    TaxTable, price,
};
use crate::catalog::{Quantity, VariantId};

pub fn buyer() -> BuyerId {
    BuyerId::parse("usr_01JC0000000000000000000B01").unwrap()
}

#[derive(Debug, Clone)]
pub struct Shop {
    n: u8,
    shipping: i64,
    coupon: Option<(String, CouponValue)>,
}

impl Shop {
    pub fn new(n: u8) -> Self {
        Shop { n, shipping: 0, coupon: None }
    }

    pub fn flat_shipping(self, minor: i64) -> Self {
        Shop { shipping: minor, ..self }
    }

    pub fn fixed_coupon(self, code: &str, minor: i64) -> Self {
        Shop { coupon: Some((code.to_owned(), CouponValue::Fixed { amount: eur(minor) })), ..self }
    }

    pub fn percent_coupon(self, code: &str, bp: u32) -> Self {
        let value = CouponValue::Percentage { basis_points: BasisPoints::new(bp).unwrap() };
        Shop { coupon: Some((code.to_owned(), value)), ..self }
    }

    fn option(&self) -> ShippingOption {
        ShippingOption {
            id: ShippingOptionId::generate(1_763_700_000_000, [self.n; 10]),
            vendor_id: vendor(self.n),
            rate: ShippingRate::Flat { price: eur(self.shipping) },
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct World {
    shops: Vec<Shop>,
    pub coupons: BTreeMap<CouponCode, (Coupon, CouponUsage)>,
    prices: BTreeMap<u8, i64>,
    stock: BTreeMap<u8, u32>,
}

impl World {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn shop(mut self, shop: Shop) -> Self {
        if let Some((code, value)) = &shop.coupon {
            let scoped = coupon(code, CouponScope::Vendor { vendor_id: vendor(shop.n) }, *value);
            self.coupons.insert(scoped.code.clone(), (scoped, CouponUsage::default()));
        }
        self.shops.push(shop);
        self
    }

    pub fn platform_percent_coupon(mut self, code: &str, bp: u32) -> Self {
        let value = CouponValue::Percentage { basis_points: BasisPoints::new(bp).unwrap() };
        let platform = coupon(code, CouponScope::Platform, value);
        self.coupons.insert(platform.code.clone(), (platform, CouponUsage::default()));
        self
    }

    /// The catalog's current price of `variant` (otherwise the price the cart captured).
    pub fn price(mut self, variant: u8, minor: i64) -> Self {
        self.prices.insert(variant, minor);
        self
    }

    pub fn stock(mut self, variant: u8, units: u32) -> Self {
        self.stock.insert(variant, units);
        self
    }

    pub fn group_id(&self) -> OrderGroupId {
        OrderGroupId::generate(1_763_700_000_000, [9; 10])
    }

    /// A cart of `(variant, shop, quantity, captured price)` lines shipping to Portugal, each shop's
    /// option chosen.
    pub fn cart(&self, lines: &[(u8, u8, u32, i64)], codes: &[&str]) -> Cart {
        let mut cart = Cart::default();
        for (i, &(n, shop, quantity, minor)) in lines.iter().enumerate() {
            let add = AddLine {
                variant_id: variant(n),
                product_id: product(n),
                vendor_id: vendor(shop),
                quantity: Quantity::new(i64::from(quantity)).unwrap(),
                unit_price: eur(minor),
            };
            cart.add(add, CartLineId::generate(1_763_700_000_000 + i as u64, [n; 10])).unwrap();
        }
        for shop in &self.shops {
            cart.shipping.insert(vendor(shop.n), shop.option().id);
        }
        for code in codes {
            cart.apply_coupon(CouponCode::parse(code).unwrap()).unwrap();
        }
        cart.destination = Some(Destination {
            country: CountryCode::parse("PT").unwrap(),
            region: None,
            postcode: None,
            location: None,
        });
        cart
    }

    pub fn price_cart(&self, cart: &Cart) -> CartView {
        let catalog: BTreeMap<VariantId, CatalogVariant> = (0..=u8::MAX)
            .filter_map(|n| {
                let line = cart.lines.iter().find(|line| line.variant_id == variant(n))?;
                let price = self.prices.get(&n).map_or(line.unit_price, |minor| eur(*minor));
                let available = self.stock.get(&n).copied().unwrap_or(1_000);
                let entry = CatalogVariant {
                    price,
                    available: Quantity::new(i64::from(available)).unwrap(),
                    weight_grams: 100,
                    on_sale: true,
                };
                Some((variant(n), entry))
            })
            .collect();
        let options: Vec<ShippingOption> = self.shops.iter().map(Shop::option).collect();
        let tax = TaxTable {
            rates: vec![TaxRate {
                country: CountryCode::parse("PT").unwrap(),
                region: None,
                rate: BasisPoints::new(2300).unwrap(),
            }],
        };
        let input = PricingInput {
            catalog: &catalog,
            coupons: &self.coupons,
            shipping_options: &options,
            vendor_locations: &BTreeMap::new(),
            tax: &tax,
            now: Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap(),
        };
        price(cart, input).unwrap()
    }

    /// Checks out `view` at the total it shows.
    pub fn checkout(&self, view: &CartView) -> Result<OrderGroup, CheckoutRefusal> {
        let expected = view.totals.map_or(eur(0), |totals| totals.total);
        OrderGroup::from_cart(self.group_id(), buyer(), view, &self.coupons, expected)
    }
}

/// A world and a cart in it: 1–4 shops, 1–8 lines, optional shop and platform coupons.
pub fn priced_cart() -> impl Strategy<Value = (World, Cart)> {
    let shop = (0i64..2_000, prop::option::of((any::<bool>(), 1i64..5_000, 1u32..=5_000)));
    let line = (1u32..=5, 0i64..50_000);
    (
        prop::collection::vec(shop, 1..=4),
        prop::collection::vec(line, 1..=8),
        prop::option::of(1u32..=3_000),
        any::<u64>(),
    )
        .prop_map(|(shops, lines, platform, seed)| {
            let mut world = World::new();
            let mut codes = Vec::new();
            for (i, (shipping, coupon)) in shops.iter().enumerate() {
                let mut shop = Shop::new(i as u8).flat_shipping(*shipping);
                if let Some((fixed, amount, bp)) = coupon {
                    let code = format!("SHOP{i}");
                    shop = if *fixed { shop.fixed_coupon(&code, *amount) } else { shop.percent_coupon(&code, *bp) };
                    codes.push(code);
                }
                world = world.shop(shop);
            }
            if let Some(bp) = platform {
                world = world.platform_percent_coupon("EVERYONE", bp);
                codes.push("EVERYONE".to_owned());
            }
            let lines: Vec<(u8, u8, u32, i64)> = lines
                .iter()
                .enumerate()
                .map(|(i, (quantity, minor))| {
                    let shop = ((seed >> (i * 2)) % shops.len() as u64) as u8;
                    (i as u8 + 1, shop, *quantity, *minor)
                })
                .collect();
            let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
            let cart = world.cart(&lines, &codes);
            (world, cart)
        })
}

/// An order group checkout would build.
pub fn order_group() -> impl Strategy<Value = OrderGroup> {
    priced_cart().prop_map(|(world, cart)| world.checkout(&world.price_cart(&cart)).unwrap())
}
