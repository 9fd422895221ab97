//! An order group (one per checkout) and its orders (one per vendor), built from the cart as
//! `shared::cart::price` priced it: the checkout charges exactly what the shopper was shown.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::address::ShippingAddress;
use super::ids::{BuyerId, OrderGroupId, OrderId};
use crate::api::{ApiError, ErrorCode};
use crate::cart::{
    BasisPoints, CartView, Coupon, CouponCode, CouponOutcome, CouponScope, CouponUsage, Destination, LineFlag,
    ShippingOptionId, Totals, VendorView,
};
use crate::catalog::money::MoneyError;
use crate::catalog::validation::Reason;
use crate::catalog::{Currency, Money, ProductId, Quantity, VariantId, VendorId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub quantity: Quantity,
    /// The price charged: the catalog's at checkout.
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub line_total: Money,
}

/// What one vendor ships and is paid for. `totals.discount = vendor_discount + platform_discount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub vendor_id: VendorId,
    pub lines: Vec<OrderLine>,
    pub shipping_option: ShippingOptionId,
    pub tax_rate: BasisPoints,
    pub totals: Totals,
    /// The vendor's own coupon: the vendor gives it up.
    pub vendor_discount: Money,
    /// This order's share of a platform coupon: the platform pays it (see `payments::split`).
    pub platform_discount: Money,
}

/// A coupon that discounted the group; checkout counts one redemption of each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCoupon {
    pub code: CouponCode,
    /// `None` for a platform coupon.
    pub vendor_id: Option<VendorId>,
    pub discount: Money,
}

/// One checkout. `totals` are the sums of the orders' totals; `totals.total` is what is charged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderGroup {
    pub id: OrderGroupId,
    pub buyer: BuyerId,
    pub currency: Currency,
    pub destination: Destination,
    pub orders: Vec<Order>,
    pub coupons: Vec<AppliedCoupon>,
    pub totals: Totals,
    /// Who and where to deliver to (absent in groups from clients that sent none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
}

/// Why a cart cannot be checked out as it is; the shopper fixes the cart (or re-reads it) and retries.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CheckoutRefusal {
    #[error("the cart is empty")]
    EmptyCart,
    #[error("choose where to ship to first")]
    NoDestination,
    #[error("a line cannot be bought as it is")]
    LineNeedsAttention { variant_id: VariantId, flag: LineFlag },
    #[error("choose a shipping option for every shop")]
    ShippingNotChosen { vendor_id: VendorId },
    /// The total differs from the one the shopper confirmed: prices, stock or coupons changed.
    #[error("the total is now {actual}, not {expected}")]
    TotalChanged { expected: Money, actual: Money },
    /// An applied coupon is no longer in the definitions pricing used (a caller bug or a race).
    #[error("coupon {0} is not among the coupon definitions")]
    CouponUnknown(CouponCode),
    #[error("an amount overflows")]
    Amount(#[from] MoneyError),
    /// The cart was priced (tax, shipping) for another country or postcode than the address.
    #[error("the delivery address is not where the cart was priced for")]
    AddressNotDestination,
}

impl Reason for CheckoutRefusal {
    fn reason(&self) -> &'static str {
        match self {
            CheckoutRefusal::EmptyCart => "empty_cart",
            CheckoutRefusal::NoDestination => "no_destination",
            CheckoutRefusal::LineNeedsAttention { .. } => "line_needs_attention",
            CheckoutRefusal::ShippingNotChosen { .. } => "shipping_not_chosen",
            CheckoutRefusal::TotalChanged { .. } => "total_changed",
            CheckoutRefusal::CouponUnknown(_) => "coupon_unknown",
            CheckoutRefusal::Amount(_) => "amount_overflow",
            CheckoutRefusal::AddressNotDestination => "address_not_destination",
        }
    }
}

impl CheckoutRefusal {
    /// The response: short stock is `BIZ_5003` like in the cart, a changed total a conflict (the
    /// shopper re-reads the cart), what the shopper must still choose a validation failure;
    /// `details.reason` is the stable name. An overflow or unknown coupon is our fault.
    pub fn to_api_error(&self) -> ApiError {
        let code = match self {
            CheckoutRefusal::LineNeedsAttention {
                flag: LineFlag::OutOfStock | LineFlag::InsufficientStock { .. },
                ..
            } => ErrorCode::OutOfStock,
            CheckoutRefusal::TotalChanged { .. } => ErrorCode::Conflict,
            CheckoutRefusal::CouponUnknown(_) | CheckoutRefusal::Amount(_) => {
                return ApiError::new(ErrorCode::Internal, "internal error");
            }
            _ => ErrorCode::ValidationFailed,
        };
        let mut details = serde_json::json!({ "reason": self.reason() });
        match self {
            CheckoutRefusal::LineNeedsAttention { variant_id, flag } => {
                details["variant_id"] = serde_json::json!(variant_id);
                details["flag"] = serde_json::json!(flag);
            }
            CheckoutRefusal::ShippingNotChosen { vendor_id } => details["vendor_id"] = serde_json::json!(vendor_id),
            CheckoutRefusal::TotalChanged { expected, actual } => {
                details["expected"] = serde_json::json!(expected);
                details["actual"] = serde_json::json!(actual);
            }
            _ => {}
        }
        ApiError::new(code, self.to_string()).with_details(details)
    }
}

impl OrderGroup {
    /// Builds the group from `view`, the cart priced just now with `coupons` (the same definitions
    /// given to `cart::price`). `expected_total` is the total the shopper confirmed: a line whose
    /// price changed since it was added is fine if the shopper saw the new total, so the total is
    /// compared, not the flag. Lines that cannot be bought (flagged out of stock, short of stock,
    /// unavailable) refuse the checkout rather than being dropped silently.
    pub fn from_cart(
        id: OrderGroupId,
        buyer: BuyerId,
        view: &CartView,
        coupons: &BTreeMap<CouponCode, (Coupon, CouponUsage)>,
        expected_total: Money,
    ) -> Result<OrderGroup, CheckoutRefusal> {
        let Some(currency) = view.currency.filter(|_| !view.vendors.is_empty()) else {
            return Err(CheckoutRefusal::EmptyCart);
        };
        let destination = view.destination.clone().ok_or(CheckoutRefusal::NoDestination)?;
        let applied = applied_coupons(view, coupons)?;
        let orders =
            view.vendors.iter().map(|vendor| order(&id, vendor, &applied, currency)).collect::<Result<Vec<_>, _>>()?;
        // Each order keeps its vendor's totals as priced, so the group's are the cart's grand totals.
        let totals = view.totals.ok_or(CheckoutRefusal::EmptyCart)?;
        if totals.total != expected_total {
            return Err(CheckoutRefusal::TotalChanged { expected: expected_total, actual: totals.total });
        }
        Ok(OrderGroup { id, buyer, currency, destination, orders, coupons: applied, totals, shipping_address: None })
    }

    /// Delivers to `address`, which must be where the cart was priced for (its destination).
    pub fn with_shipping_address(mut self, address: Option<ShippingAddress>) -> Result<Self, CheckoutRefusal> {
        if let Some(address) = &address
            && !address.matches(&self.destination)
        {
            return Err(CheckoutRefusal::AddressNotDestination);
        }
        self.shipping_address = address;
        Ok(self)
    }

    pub fn order(&self, id: &OrderId) -> Option<&Order> {
        self.orders.iter().find(|order| &order.id == id)
    }
}

fn applied_coupons(
    view: &CartView,
    coupons: &BTreeMap<CouponCode, (Coupon, CouponUsage)>,
) -> Result<Vec<AppliedCoupon>, CheckoutRefusal> {
    view.coupons
        .iter()
        .filter_map(|outcome| match outcome {
            CouponOutcome::Applied { code, discount } => Some((code, *discount)),
            CouponOutcome::Rejected { .. } => None,
        })
        .map(|(code, discount)| {
            let (coupon, _) = coupons.get(code).ok_or_else(|| CheckoutRefusal::CouponUnknown(code.clone()))?;
            let vendor_id = match &coupon.scope {
                CouponScope::Platform => None,
                CouponScope::Vendor { vendor_id } => Some(vendor_id.clone()),
            };
            Ok(AppliedCoupon { code: code.clone(), vendor_id, discount })
        })
        .collect()
}

fn order(
    group: &OrderGroupId,
    vendor: &VendorView,
    applied: &[AppliedCoupon],
    currency: Currency,
) -> Result<Order, CheckoutRefusal> {
    let mut lines = Vec::with_capacity(vendor.lines.len());
    for line in &vendor.lines {
        let blocking = line.flags.iter().find(|flag| !matches!(flag, LineFlag::PriceChanged { .. }));
        match (blocking, line.line_total) {
            (None, Some(line_total)) => lines.push(OrderLine {
                variant_id: line.variant_id.clone(),
                product_id: line.product_id.clone(),
                quantity: line.quantity,
                unit_price: line.unit_price,
                line_total,
            }),
            (flag, _) => {
                return Err(CheckoutRefusal::LineNeedsAttention {
                    variant_id: line.variant_id.clone(),
                    flag: flag.copied().unwrap_or(LineFlag::Unavailable),
                });
            }
        }
    }
    let shipping_option = vendor
        .selected_shipping
        .clone()
        .ok_or_else(|| CheckoutRefusal::ShippingNotChosen { vendor_id: vendor.vendor_id.clone() })?;
    let tax_rate = vendor.tax_rate.ok_or(CheckoutRefusal::NoDestination)?;
    // Pricing gives each scope one coupon, so a vendor has at most one of its own.
    let vendor_discount = applied
        .iter()
        .find(|coupon| coupon.vendor_id.as_ref() == Some(&vendor.vendor_id))
        .map_or(Money::zero(currency), |coupon| coupon.discount);
    let platform_discount = vendor.totals.discount.checked_sub(vendor_discount)?;
    Ok(Order {
        id: OrderId::for_vendor(group, &vendor.vendor_id),
        vendor_id: vendor.vendor_id.clone(),
        lines,
        shipping_option,
        tax_rate,
        totals: vendor.totals,
        vendor_discount,
        platform_discount,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{self, Shop, World};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_order_per_vendor_with_its_lines_shipping_tax_and_discounts() {
        let world = World::new()
            .shop(Shop::new(1).flat_shipping(499).fixed_coupon("SHOP1", 500))
            .shop(Shop::new(2).flat_shipping(300))
            .platform_percent_coupon("EVERYONE", 1000);
        let cart = world.cart(&[(1, 1, 2, 1000), (2, 1, 1, 2500), (3, 2, 3, 700)], &["SHOP1", "EVERYONE"]);
        let view = world.price_cart(&cart);
        let group = world.checkout(&view).unwrap();
        assert_eq!(group.orders.len(), 2);
        let (one, two) = (&group.orders[0], &group.orders[1]);
        assert_eq!(one.lines.len(), 2);
        assert_eq!(one.lines[0].line_total, fixtures::eur(2000));
        // Shop 1: 4500 of goods and its own 500 off. The platform's 10 % of all goods (660) is
        // shared in proportion to what the shops' coupons left (4000 and 2100).
        assert_eq!(one.totals.subtotal, fixtures::eur(4500));
        assert_eq!(one.vendor_discount, fixtures::eur(500));
        assert_eq!(one.platform_discount, fixtures::eur(433));
        assert_eq!(two.vendor_discount, fixtures::eur(0));
        assert_eq!(two.platform_discount, fixtures::eur(227));
        // 23 % on what is left of the goods, shipping not taxed (as the cart prices it).
        assert_eq!(one.totals.tax, BasisPoints::new(2300).unwrap().of(fixtures::eur(4500 - 933)).unwrap());
        assert_eq!(one.totals.shipping, fixtures::eur(499));
        assert_eq!(one.id, OrderId::for_vendor(&group.id, &one.vendor_id));
        assert_eq!(group.totals.total, view.totals.unwrap().total);
        assert_eq!(group.coupons.len(), 2);
        assert_eq!(group.coupons.iter().filter(|c| c.vendor_id.is_none()).count(), 1);
    }

    #[test]
    fn refuses_what_the_shopper_must_fix_first() {
        let world = World::new().shop(Shop::new(1).flat_shipping(499));
        let cart = world.cart(&[(1, 1, 2, 1000)], &[]);

        let mut view = world.price_cart(&cart);
        view.destination = None;
        assert_eq!(world.checkout(&view), Err(CheckoutRefusal::NoDestination));

        let mut view = world.price_cart(&cart);
        view.vendors[0].selected_shipping = None;
        assert!(matches!(world.checkout(&view), Err(CheckoutRefusal::ShippingNotChosen { .. })));

        let short = World::new().shop(Shop::new(1).flat_shipping(499)).stock(1, 1);
        let view = short.price_cart(&cart);
        let refusal = short.checkout(&view).unwrap_err();
        assert!(matches!(
            refusal,
            CheckoutRefusal::LineNeedsAttention { flag: LineFlag::InsufficientStock { .. }, .. }
        ));
        assert_eq!(refusal.reason(), "line_needs_attention");

        let view = world.price_cart(&crate::cart::Cart::default());
        assert_eq!(world.checkout(&view), Err(CheckoutRefusal::EmptyCart));
    }

    #[test]
    fn the_group_delivers_only_where_the_cart_was_priced_for() {
        use crate::orders::{AddressInput, ShippingAddress};
        let world = World::new().shop(Shop::new(1).flat_shipping(499));
        let view = world.price_cart(&world.cart(&[(1, 1, 2, 1000)], &[]));
        let country = view.destination.as_ref().unwrap().country.as_str().to_owned();
        let address = |country: &str| {
            let input = AddressInput { name: "Ana", street: "Rua 1", city: "Lisboa", postcode: "1100-053", country };
            ShippingAddress::parse(input).unwrap()
        };
        let group = world.checkout(&view).unwrap();
        let delivered = group.clone().with_shipping_address(Some(address(&country))).unwrap();
        assert_eq!(delivered.shipping_address, Some(address(&country)));
        let elsewhere = if country == "ES" { "FR" } else { "ES" };
        let refusal = group.clone().with_shipping_address(Some(address(elsewhere))).unwrap_err();
        assert_eq!(refusal, CheckoutRefusal::AddressNotDestination);
        assert_eq!(refusal.to_api_error().code, ErrorCode::ValidationFailed);
        assert_eq!(group.clone().with_shipping_address(None).unwrap(), group);
        // Saga states saved before the address existed still read.
        let mut json = serde_json::to_value(&group).unwrap();
        json.as_object_mut().unwrap().remove("shipping_address");
        assert_eq!(serde_json::from_value::<OrderGroup>(json).unwrap(), group);
    }

    #[test]
    fn refusals_answer_with_stable_codes_and_reasons() {
        let short = CheckoutRefusal::LineNeedsAttention {
            variant_id: fixtures::variant(1),
            flag: LineFlag::InsufficientStock { available: Quantity::new(1).unwrap() },
        };
        let error = short.to_api_error();
        assert_eq!((error.code, error.status()), (ErrorCode::OutOfStock, 409));
        let details = error.details.unwrap();
        assert_eq!(details["reason"], "line_needs_attention");
        assert_eq!(details["flag"]["code"], "insufficient_stock");
        let changed = CheckoutRefusal::TotalChanged { expected: fixtures::eur(100), actual: fixtures::eur(120) };
        let error = changed.to_api_error();
        assert_eq!(error.code, ErrorCode::Conflict);
        assert_eq!(error.details.unwrap()["actual"]["amount_minor"], 120);
        assert_eq!(CheckoutRefusal::NoDestination.to_api_error().code, ErrorCode::ValidationFailed);
        let overflow = CheckoutRefusal::Amount(MoneyError::Overflow).to_api_error();
        assert_eq!((overflow.code, overflow.details), (ErrorCode::Internal, None));
    }

    #[test]
    fn a_changed_price_is_charged_only_if_the_shopper_confirmed_the_new_total() {
        let world = World::new().shop(Shop::new(1).flat_shipping(0)).price(1, 1200);
        // Added at 10.00, now 12.00: the line is flagged, and the current price counts.
        let cart = world.cart(&[(1, 1, 1, 1000)], &[]);
        let view = world.price_cart(&cart);
        let stale_total = fixtures::eur(1000 + 230);
        let group = OrderGroup::from_cart(world.group_id(), fixtures::buyer(), &view, &world.coupons, stale_total);
        assert_eq!(
            group,
            Err(CheckoutRefusal::TotalChanged { expected: stale_total, actual: view.totals.unwrap().total })
        );
        let group = world.checkout(&view).unwrap();
        assert_eq!(group.orders[0].lines[0].unit_price, fixtures::eur(1200));
    }

    proptest! {
        #[test]
        fn the_group_total_is_the_sum_of_its_orders_and_each_order_adds_up(world_cart in fixtures::priced_cart()) {
            let (world, cart) = world_cart;
            let view = world.price_cart(&cart);
            let group = world.checkout(&view).unwrap();
            let sum = |part: fn(&Totals) -> Money| {
                group.orders.iter().map(|order| part(&order.totals).amount_minor).sum::<i64>()
            };
            prop_assert_eq!(group.totals.total.amount_minor, sum(|t| t.total));
            prop_assert_eq!(group.totals, view.totals.unwrap());
            for order in &group.orders {
                let t = order.totals;
                prop_assert_eq!(t.total.amount_minor, t.subtotal.amount_minor - t.discount.amount_minor
                    + t.shipping.amount_minor + t.tax.amount_minor);
                prop_assert_eq!(t.subtotal.amount_minor, order.lines.iter().map(|l| l.line_total.amount_minor).sum::<i64>());
                prop_assert_eq!(order.vendor_discount.amount_minor + order.platform_discount.amount_minor, t.discount.amount_minor);
                prop_assert!(!order.vendor_discount.is_negative() && !order.platform_discount.is_negative());
                prop_assert!(!t.total.is_negative());
            }
            let ids: std::collections::BTreeSet<_> = group.orders.iter().map(|order| &order.id).collect();
            prop_assert_eq!(ids.len(), group.orders.len());
            // The group survives the saga's storage.
            let stored: OrderGroup = serde_json::from_str(&serde_json::to_string(&group).unwrap()).unwrap();
            prop_assert_eq!(stored, group);
        }
    }
}
