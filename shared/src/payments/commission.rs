//! The platform's commission, computed per order line and frozen at the sale (DESIGN §3): later
//! changes to the rules never touch a line already sold.
//!
//! Rules: a platform default rate, overridden per category, overridden per vendor. Precedence is
//! **vendor > category > default**: a vendor's negotiated rate is a contract with that vendor
//! and holds whatever it sells; a category rate prices a kind of goods for everyone else. Among
//! categories the nearest wins: the product's own, then its parent, and so on up (the order
//! `payments.resolve_commission` uses too).
//!
//! Base: the line's goods after the vendor's own coupon (the price the vendor sold at), before a
//! platform coupon (the platform funds that, see `split`); shipping and tax carry no commission.
//! Rounding: `BasisPoints::of`, half-to-even on the minor unit, the one rule for every rate
//! applied to money. The vendor's share is what is left of the base, so
//! `commission + vendor_share == base` holds exactly on every line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cart::BasisPoints;
use crate::cart::pricing::allocate;
use crate::catalog::money::MoneyError;
use crate::catalog::{CategoryId, Money, ProductId, VariantId, VendorId};
use crate::orders::{Order, OrderGroup, OrderId};

/// Which rule set the rate: kept on the frozen line so a vendor's statement can say why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    Vendor,
    Category,
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionRules {
    pub default: BasisPoints,
    #[serde(default)]
    pub by_category: BTreeMap<CategoryId, BasisPoints>,
    #[serde(default)]
    pub by_vendor: BTreeMap<VendorId, BasisPoints>,
}

impl CommissionRules {
    /// The rate for goods in `categories` (the product's own first, then its ancestors) sold by
    /// `vendor`: vendor > nearest category > default.
    pub fn rate_for(&self, vendor: &VendorId, categories: &[CategoryId]) -> (BasisPoints, RuleSource) {
        if let Some(rate) = self.by_vendor.get(vendor) {
            return (*rate, RuleSource::Vendor);
        }
        if let Some(rate) = categories.iter().find_map(|category| self.by_category.get(category)) {
            return (*rate, RuleSource::Category);
        }
        (self.default, RuleSource::Default)
    }
}

/// One order line's commission as frozen at the sale (the order line's commission columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionLine {
    pub order_id: OrderId,
    pub vendor_id: VendorId,
    pub variant_id: VariantId,
    /// The product's own category at the sale, if it had one.
    pub category_id: Option<CategoryId>,
    pub rate: BasisPoints,
    pub source: RuleSource,
    /// The line's goods less its share of the vendor's coupon.
    pub base: Money,
    pub commission: Money,
    /// `base − commission`.
    pub vendor_share: Money,
}

/// Commission for every line of `group`. `categories` maps the group's products to their category
/// and its ancestors, nearest first, at the time of sale (a product without one pays the vendor's
/// or the default rate).
pub fn assess(
    group: &OrderGroup,
    rules: &CommissionRules,
    categories: &BTreeMap<ProductId, Vec<CategoryId>>,
) -> Result<Vec<CommissionLine>, MoneyError> {
    let mut lines = Vec::new();
    for order in &group.orders {
        let bases = line_bases(order)?;
        for (line, base) in order.lines.iter().zip(bases) {
            let path = categories.get(&line.product_id).map_or(&[][..], Vec::as_slice);
            let (rate, source) = rules.rate_for(&order.vendor_id, path);
            let commission = rate.of(base)?;
            lines.push(CommissionLine {
                order_id: order.id.clone(),
                vendor_id: order.vendor_id.clone(),
                variant_id: line.variant_id.clone(),
                category_id: path.first().cloned(),
                rate,
                source,
                base,
                commission,
                vendor_share: base.checked_sub(commission)?,
            });
        }
    }
    Ok(lines)
}

/// Each line's total less its share of the vendor's coupon, shared in proportion to the line
/// totals by largest remainder, so the bases sum to `subtotal − vendor_discount` exactly.
fn line_bases(order: &Order) -> Result<Vec<Money>, MoneyError> {
    let totals: Vec<i64> = order.lines.iter().map(|line| line.line_total.amount_minor).collect();
    let subtotal = totals.iter().try_fold(0i64, |sum, total| sum.checked_add(*total)).ok_or(MoneyError::Overflow)?;
    // Pricing never discounts more than the goods; clamp all the same, `allocate` needs it.
    let discount = order.vendor_discount.amount_minor.clamp(0, subtotal);
    let shares = allocate(discount, &totals);
    order
        .lines
        .iter()
        .zip(shares)
        .map(|(line, share)| line.line_total.checked_sub(Money::new(share, line.line_total.currency)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::fixtures::{self, Shop, World, eur, vendor};
    use proptest::prelude::*;

    fn bp(bp: u32) -> BasisPoints {
        BasisPoints::new(bp).unwrap()
    }

    fn category(n: u8) -> CategoryId {
        CategoryId::parse(&format!("cat_01JC00000000000000000000{n:02}")).unwrap()
    }

    fn rules() -> CommissionRules {
        CommissionRules {
            default: bp(1000),
            by_category: [(category(1), bp(1500))].into(),
            by_vendor: [(vendor(2), bp(500))].into(),
        }
    }

    #[test]
    fn a_vendor_rate_beats_a_category_rate_which_beats_the_default() {
        let rules = rules();
        assert_eq!(rules.rate_for(&vendor(1), &[]), (bp(1000), RuleSource::Default));
        assert_eq!(rules.rate_for(&vendor(1), &[category(9)]), (bp(1000), RuleSource::Default));
        assert_eq!(rules.rate_for(&vendor(1), &[category(1)]), (bp(1500), RuleSource::Category));
        assert_eq!(rules.rate_for(&vendor(2), &[category(1)]), (bp(500), RuleSource::Vendor));
        // A subcategory without its own rate takes its parent's; its own rate is nearer.
        assert_eq!(rules.rate_for(&vendor(1), &[category(7), category(1)]), (bp(1500), RuleSource::Category));
        let nearer = CommissionRules { by_category: [(category(1), bp(1500)), (category(7), bp(800))].into(), ..rules };
        assert_eq!(nearer.rate_for(&vendor(1), &[category(7), category(1)]), (bp(800), RuleSource::Category));
    }

    #[test]
    fn commission_is_on_goods_after_the_vendors_coupon_rounded_half_to_even() {
        let world = World::new()
            .shop(Shop::new(1).flat_shipping(499).fixed_coupon("SHOP1", 1000))
            .shop(Shop::new(2).flat_shipping(0))
            .platform_percent_coupon("EVERYONE", 1000);
        let cart = world.cart(&[(1, 1, 1, 3000), (2, 1, 1, 1000), (3, 2, 1, 2025)], &["SHOP1", "EVERYONE"]);
        let group = world.checkout(&world.price_cart(&cart)).unwrap();
        let categories = [(fixtures::product(1), vec![category(1)])].into();
        let lines = assess(&group, &rules(), &categories).unwrap();
        assert_eq!(lines.len(), 3);
        // Shop 1's 1000 off is shared 3:1 over its lines; the platform coupon does not lower the base.
        assert_eq!((lines[0].base, lines[0].rate, lines[0].source), (eur(2250), bp(1500), RuleSource::Category));
        assert_eq!((&lines[0].category_id, &lines[1].category_id), (&Some(category(1)), &None));
        assert_eq!(lines[0].commission, eur(338), "15 % of 2250 = 337.5, to the even 338");
        assert_eq!((lines[1].base, lines[1].commission), (eur(750), eur(75)));
        // Shop 2's negotiated 5 %: 101.25 → 101.
        assert_eq!((lines[2].base, lines[2].commission, lines[2].source), (eur(2025), eur(101), RuleSource::Vendor));
        assert_eq!(lines[2].vendor_share, eur(1924));
        assert_eq!(lines[2].order_id, group.orders[1].id);
    }

    proptest! {
        #[test]
        fn commission_and_vendor_share_always_make_the_line(
            group in fixtures::order_group(), default in 0u32..=10_000, override_bp in 0u32..=10_000,
        ) {
            let rules = CommissionRules {
                default: bp(default),
                by_category: [(category(1), bp(override_bp))].into(),
                by_vendor: [(vendor(1), bp(override_bp))].into(),
            };
            let categories =
                [(fixtures::product(1), vec![category(1)]), (fixtures::product(2), vec![category(2), category(1)])].into();
            let lines = assess(&group, &rules, &categories).unwrap();
            prop_assert_eq!(lines.len(), group.orders.iter().map(|order| order.lines.len()).sum::<usize>());
            for line in &lines {
                prop_assert_eq!(line.commission.amount_minor + line.vendor_share.amount_minor, line.base.amount_minor);
                prop_assert!(line.commission.amount_minor >= 0 && line.vendor_share.amount_minor >= 0);
                let exact = i128::from(line.base.amount_minor) * i128::from(line.rate.get());
                prop_assert!((i128::from(line.commission.amount_minor) * 10_000 - exact).abs() * 2 <= 10_000);
            }
            for order in &group.orders {
                let bases: i64 = lines.iter().filter(|l| l.order_id == order.id).map(|l| l.base.amount_minor).sum();
                prop_assert_eq!(bases, order.totals.subtotal.amount_minor - order.vendor_discount.amount_minor);
            }
        }
    }
}
