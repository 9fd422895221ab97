//! Who gets what of a paid order group: what each vendor is owed and the platform's share.
//!
//! Decisions (one per order, i.e. per vendor):
//! - The vendor is the seller of record: it owns the goods, the **shipping** it charged (it ships)
//!   and the **tax** collected on its sale (it remits it). None of those carry commission.
//! - The vendor's own coupon lowers its price: commission is on the goods after it.
//! - A platform coupon is the platform's promotion: the vendor is owed as if it had not been used,
//!   and the platform pays the difference out of its commission (`platform` can go negative when a
//!   promotion costs more than the group's commission; the platform then tops up from its balance).
//!
//! So, per order: `charged = goods − platform_discount + shipping + tax` (the buyer's total),
//! `payable = goods − commission + shipping + tax`, and the platform keeps
//! `commission − platform_discount`. The payables and the platform's share always sum to the
//! amount charged.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::commission::CommissionLine;
use crate::catalog::money::MoneyError;
use crate::catalog::{Money, VendorId};
use crate::orders::{OrderGroup, OrderGroupId, OrderId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorSplit {
    pub order_id: OrderId,
    pub vendor_id: VendorId,
    /// What the buyer paid for this order (its `totals.total`).
    pub charged: Money,
    /// Goods after the vendor's own coupon: the commission base.
    pub goods: Money,
    pub commission: Money,
    pub platform_discount: Money,
    pub shipping: Money,
    pub tax: Money,
    /// Owed to the vendor: `goods − commission + shipping + tax`.
    pub payable: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub group_id: OrderGroupId,
    /// The group's total, the one payment taken.
    pub charged: Money,
    pub vendors: Vec<VendorSplit>,
    /// `Σ commission − Σ platform_discount`; negative when promotions cost more than commission.
    pub platform: Money,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// The commission lines are not those of this group (one per order line, nothing else).
    #[error("the commission lines do not match order {0}")]
    CommissionMismatch(OrderId),
    /// A split sent to be recorded whose figures do not add up the way [`split`] makes them.
    #[error("the split does not add up: {0}")]
    Inconsistent(&'static str),
    #[error("an amount overflows")]
    Amount(#[from] MoneyError),
}

impl Split {
    /// Checks a split received from another service before it is booked: one currency, one entry
    /// per order, no negative part, each order's figures as [`split`] computes them, the orders'
    /// charges summing to the total and the platform keeping exactly the rest.
    pub fn check(&self) -> Result<(), SplitError> {
        let currency = self.charged.currency;
        let zero = Money::zero(currency);
        if self.vendors.is_empty() {
            return Err(SplitError::Inconsistent("a split has at least one order"));
        }
        let mut orders: Vec<&OrderId> = self.vendors.iter().map(|vendor| &vendor.order_id).collect();
        orders.sort();
        orders.dedup();
        if orders.len() != self.vendors.len() {
            return Err(SplitError::Inconsistent("an order appears twice"));
        }
        for vendor in &self.vendors {
            let parts = [
                vendor.charged,
                vendor.goods,
                vendor.commission,
                vendor.platform_discount,
                vendor.shipping,
                vendor.tax,
                vendor.payable,
            ];
            if parts.iter().any(|part| part.currency != currency) {
                return Err(SplitError::Inconsistent("every amount is in the group's currency"));
            }
            if parts.iter().any(|part| part.is_negative()) {
                return Err(SplitError::Inconsistent("no amount of an order is negative"));
            }
            if vendor.commission.amount_minor > vendor.goods.amount_minor
                || vendor.platform_discount.amount_minor > vendor.goods.amount_minor
            {
                return Err(SplitError::Inconsistent("commission and platform discount are at most the goods"));
            }
            let extras = vendor.shipping.checked_add(vendor.tax)?;
            if vendor.payable != vendor.goods.checked_sub(vendor.commission)?.checked_add(extras)? {
                return Err(SplitError::Inconsistent("payable = goods − commission + shipping + tax"));
            }
            if vendor.charged != vendor.goods.checked_sub(vendor.platform_discount)?.checked_add(extras)? {
                return Err(SplitError::Inconsistent("charged = goods − platform discount + shipping + tax"));
            }
        }
        let charged = self.vendors.iter().try_fold(zero, |sum, vendor| sum.checked_add(vendor.charged))?;
        if charged != self.charged {
            return Err(SplitError::Inconsistent("the orders' charges sum to the group's"));
        }
        let commission = self.vendors.iter().try_fold(zero, |sum, vendor| sum.checked_add(vendor.commission))?;
        let promotions = self.vendors.iter().try_fold(zero, |sum, vendor| sum.checked_add(vendor.platform_discount))?;
        if self.platform != commission.checked_sub(promotions)? {
            return Err(SplitError::Inconsistent("the platform keeps its commission less its promotions"));
        }
        Ok(())
    }

    pub fn order(&self, order_id: &OrderId) -> Option<&VendorSplit> {
        self.vendors.iter().find(|vendor| &vendor.order_id == order_id)
    }
}

/// Splits `group` given the commission frozen on its lines (`commission::assess`).
pub fn split(group: &OrderGroup, commission: &[CommissionLine]) -> Result<Split, SplitError> {
    let zero = Money::zero(group.currency);
    let mut vendors = Vec::with_capacity(group.orders.len());
    for order in &group.orders {
        let lines: Vec<&CommissionLine> = commission.iter().filter(|line| line.order_id == order.id).collect();
        let matches = lines.len() == order.lines.len()
            && order.lines.iter().zip(&lines).all(|(line, frozen)| line.variant_id == frozen.variant_id);
        if !matches {
            return Err(SplitError::CommissionMismatch(order.id.clone()));
        }
        let goods = lines.iter().try_fold(zero, |sum, line| sum.checked_add(line.base))?;
        let fee = lines.iter().try_fold(zero, |sum, line| sum.checked_add(line.commission))?;
        let payable = goods.checked_sub(fee)?.checked_add(order.totals.shipping)?.checked_add(order.totals.tax)?;
        vendors.push(VendorSplit {
            order_id: order.id.clone(),
            vendor_id: order.vendor_id.clone(),
            charged: order.totals.total,
            goods,
            commission: fee,
            platform_discount: order.platform_discount,
            shipping: order.totals.shipping,
            tax: order.totals.tax,
            payable,
        });
    }
    if let Some(stray) = commission.iter().find(|line| group.order(&line.order_id).is_none()) {
        return Err(SplitError::CommissionMismatch(stray.order_id.clone()));
    }
    let commission_total = vendors.iter().try_fold(zero, |sum, vendor| sum.checked_add(vendor.commission))?;
    let promotions = vendors.iter().try_fold(zero, |sum, vendor| sum.checked_add(vendor.platform_discount))?;
    Ok(Split {
        group_id: group.id.clone(),
        charged: group.totals.total,
        vendors,
        platform: commission_total.checked_sub(promotions)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::BasisPoints;
    use crate::orders::fixtures::{self, Shop, World, eur};
    use crate::payments::commission::{CommissionRules, assess};
    use proptest::prelude::*;

    fn rules(bp: u32) -> CommissionRules {
        CommissionRules {
            default: BasisPoints::new(bp).unwrap(),
            by_category: Default::default(),
            by_vendor: Default::default(),
        }
    }

    #[test]
    fn vendors_keep_shipping_and_tax_and_the_platform_pays_its_promotion() {
        let world = World::new()
            .shop(Shop::new(1).flat_shipping(500))
            .shop(Shop::new(2).flat_shipping(0))
            .platform_percent_coupon("EVERYONE", 1000);
        let cart = world.cart(&[(1, 1, 1, 10_000), (2, 2, 1, 10_000)], &["EVERYONE"]);
        let group = world.checkout(&world.price_cart(&cart)).unwrap();
        let lines = assess(&group, &rules(1200), &Default::default()).unwrap();
        let split = split(&group, &lines).unwrap();
        let one = &split.vendors[0];
        // 100.00 of goods, 10.00 platform coupon, 23 % tax on 90.00, 5.00 shipping.
        assert_eq!(
            (one.goods, one.platform_discount, one.tax, one.shipping),
            (eur(10_000), eur(1_000), eur(2_070), eur(500))
        );
        assert_eq!(one.charged, eur(10_000 - 1_000 + 500 + 2_070));
        // 12 % of the full 100.00: the coupon is the platform's, not the vendor's.
        assert_eq!(one.commission, eur(1_200));
        assert_eq!(one.payable, eur(10_000 - 1_200 + 500 + 2_070));
        assert_eq!(split.platform, eur(2 * 1_200 - 2 * 1_000));
        assert_eq!(split.charged, group.totals.total);
    }

    #[test]
    fn a_promotion_larger_than_the_commission_makes_the_platform_share_negative() {
        let world = World::new().shop(Shop::new(1)).platform_percent_coupon("HALF", 5000);
        let cart = world.cart(&[(1, 1, 1, 10_000)], &["HALF"]);
        let group = world.checkout(&world.price_cart(&cart)).unwrap();
        let split = split(&group, &assess(&group, &rules(1000), &Default::default()).unwrap()).unwrap();
        assert_eq!(split.platform, eur(1_000 - 5_000));
        assert_eq!(split.vendors[0].payable, eur(9_000 + 1_150), "90 % of the goods and the tax on the 50.00 paid");
    }

    #[test]
    fn refuses_commission_lines_of_another_group_or_missing_ones() {
        let world = World::new().shop(Shop::new(1)).shop(Shop::new(2));
        let group = world.checkout(&world.price_cart(&world.cart(&[(1, 1, 1, 100), (2, 2, 1, 100)], &[]))).unwrap();
        let mut lines = assess(&group, &rules(1000), &Default::default()).unwrap();
        let mut stray = lines[0].clone();
        stray.order_id = OrderId::generate(1, [1; 10]);
        lines.push(stray.clone());
        assert_eq!(split(&group, &lines), Err(SplitError::CommissionMismatch(stray.order_id)));
        lines.truncate(1);
        assert_eq!(split(&group, &lines), Err(SplitError::CommissionMismatch(group.orders[1].id.clone())));
    }

    #[test]
    fn a_tampered_split_is_refused() {
        let world = World::new().shop(Shop::new(1).flat_shipping(500)).shop(Shop::new(2));
        let group =
            world.checkout(&world.price_cart(&world.cart(&[(1, 1, 1, 10_000), (2, 2, 2, 2_500)], &[]))).unwrap();
        let good = split(&group, &assess(&group, &rules(1000), &Default::default()).unwrap()).unwrap();
        assert_eq!(good.check(), Ok(()));
        assert_eq!(good.order(&group.orders[1].id), Some(&good.vendors[1]));
        let tampered: [fn(&mut Split); 6] = [
            |s| s.vendors[0].payable.amount_minor += 1,
            |s| s.vendors[0].commission.amount_minor -= 1,
            |s| s.charged.amount_minor += 1,
            |s| s.platform.amount_minor += 1,
            |s| s.vendors.push(s.vendors[0].clone()),
            |s| s.vendors.clear(),
        ];
        for (n, tamper) in tampered.iter().enumerate() {
            let mut bad = good.clone();
            tamper(&mut bad);
            assert!(matches!(bad.check(), Err(SplitError::Inconsistent(_))), "tampering {n} passed");
        }
    }

    proptest! {
        #[test]
        fn every_computed_split_passes_its_check(group in fixtures::order_group(), bp in 0u32..=10_000) {
            let split = split(&group, &assess(&group, &rules(bp), &Default::default()).unwrap()).unwrap();
            prop_assert_eq!(split.check(), Ok(()));
        }

        #[test]
        fn the_split_sums_to_the_amount_charged(group in fixtures::order_group(), bp in 0u32..=10_000) {
            let split = split(&group, &assess(&group, &rules(bp), &Default::default()).unwrap()).unwrap();
            let payables: i64 = split.vendors.iter().map(|v| v.payable.amount_minor).sum();
            prop_assert_eq!(payables + split.platform.amount_minor, split.charged.amount_minor);
            prop_assert_eq!(split.charged, group.totals.total);
            for vendor in &split.vendors {
                prop_assert!(vendor.payable.amount_minor >= vendor.shipping.amount_minor + vendor.tax.amount_minor);
                prop_assert_eq!(
                    vendor.charged.amount_minor,
                    vendor.goods.amount_minor - vendor.platform_discount.amount_minor + vendor.shipping.amount_minor + vendor.tax.amount_minor
                );
            }
        }
    }
}
