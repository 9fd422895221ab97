//! Taking what a placed order bought out of its buyer's cart (`orders.order_placed`, docs/adr/0006
//! §2). Checkout snapshots the cart and leaves it alone; once the orders are confirmed, the events
//! Worker hands the event to the cart Worker's internal route, which applies [`Cart::remove_bought`]
//! in one compare-and-set. Only what was bought goes: a line the buyer added or raised since checkout
//! keeps the difference.

use serde::{Deserialize, Serialize};

use super::model::{Cart, push_latest};
use crate::events::edge::OrderPlaced;

/// The cart Worker's internal route for `orders.order_placed` (a `POST` of [`OrderPlaced`]). Only
/// the events Worker reaches it, through its `CART` service binding: the gateway routes nothing
/// under `/internal/`.
pub const ORDER_PLACED_PATH: &str = "/internal/order-placed";

/// Order groups a cart remembers having taken out: redeliveries come within the outbox's backoff
/// (about 11 hours, `events::outbox::RETRY_DELAYS_SECS`), when a buyer has placed a few orders at most.
pub const REMEMBERED_GROUPS: usize = 10;

/// What [`Cart::remove_bought`] did; also the internal route's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Removal {
    /// Taken out now, and the group recorded.
    Removed,
    /// This group was taken out before (a redelivery): nothing changed.
    AlreadyRemoved,
    /// The cart is empty (or was never written): nothing to take out, and nothing to write.
    EmptyCart,
}

impl Cart {
    /// For each bought line, subtracts the bought quantity from the line of that variant (removing it
    /// at zero, and the vendor's shipping choice with its last line) and drops the redeemed coupon
    /// codes; everything else stays. Applying the same group again changes nothing.
    pub fn remove_bought(&mut self, placed: &OrderPlaced) -> Removal {
        if self.placed_groups.contains(&placed.group_id) {
            return Removal::AlreadyRemoved;
        }
        if *self == Cart::default() {
            // Recording the group would create a cart the buyer does not have.
            return Removal::EmptyCart;
        }
        for bought in &placed.lines {
            let Some(index) = self.lines.iter().position(|line| line.variant_id == bought.variant_id) else {
                continue;
            };
            match self.lines[index].quantity.checked_sub(bought.quantity).filter(|left| !left.is_zero()) {
                Some(left) => self.lines[index].quantity = left,
                None => {
                    self.remove_line_at(index);
                }
            }
        }
        for code in &placed.coupons {
            self.remove_coupon(code);
        }
        push_latest(&mut self.placed_groups, placed.group_id.clone(), REMEMBERED_GROUPS);
        Removal::Removed
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::cart::fixtures::{code, eur, product, variant, vendor};
    use crate::cart::model::{AddLine, CartLineId};
    use crate::cart::shipping::ShippingOptionId;
    use crate::cart::{CountryCode, Destination};
    use crate::catalog::{Quantity, VariantId};
    use crate::events::edge::PlacedLine;
    use crate::orders::{BuyerId, OrderGroupId};

    fn qty(units: u32) -> Quantity {
        Quantity::new(i64::from(units)).unwrap()
    }

    /// Variant `n` of vendor `n % 2`.
    fn cart_of(items: &[(u8, u32)], codes: &[&str]) -> Cart {
        let mut cart = Cart::default();
        for (i, (n, quantity)) in items.iter().enumerate() {
            let add = AddLine {
                variant_id: variant(*n),
                product_id: product(*n),
                vendor_id: vendor(n % 2),
                quantity: qty(*quantity),
                unit_price: eur(i64::from(*n) * 100 + 100),
            };
            cart.add(add, CartLineId::generate(1_763_700_000_000, [i as u8; 10])).unwrap();
        }
        for text in codes {
            cart.apply_coupon(code(text)).unwrap();
        }
        cart
    }

    fn group(n: u8) -> OrderGroupId {
        OrderGroupId::generate(1_763_700_000_000, [n; 10])
    }

    fn placed(group_n: u8, bought: &[(u8, u32)], codes: &[&str]) -> OrderPlaced {
        OrderPlaced {
            group_id: group(group_n),
            buyer_id: BuyerId::parse("usr_01JC0000000000000000000B01").unwrap(),
            total: eur(1_000),
            orders: Vec::new(),
            lines: bought
                .iter()
                .map(|(n, units)| PlacedLine { variant_id: variant(*n), quantity: qty(*units) })
                .collect(),
            coupons: codes.iter().map(|text| code(text)).collect(),
        }
    }

    fn quantities(cart: &Cart) -> BTreeMap<VariantId, u32> {
        cart.lines.iter().map(|line| (line.variant_id.clone(), line.quantity.get())).collect()
    }

    #[test]
    fn what_was_bought_leaves_the_cart_and_what_was_added_since_stays() {
        let mut cart = cart_of(&[(1, 3), (2, 1)], &["SPRING10", "SHOP5"]);
        assert_eq!(cart.remove_bought(&placed(1, &[(1, 2)], &["SPRING10"])), Removal::Removed);
        assert_eq!(quantities(&cart), BTreeMap::from([(variant(1), 1), (variant(2), 1)]));
        assert_eq!(cart.coupons, vec![code("SHOP5")]);
        assert_eq!(cart.placed_groups, vec![group(1)]);
    }

    #[test]
    fn the_same_group_twice_subtracts_once_and_another_group_subtracts_again() {
        let mut cart = cart_of(&[(1, 5)], &[]);
        let order = placed(1, &[(1, 2)], &[]);
        cart.remove_bought(&order);
        let once = cart.clone();
        assert_eq!(cart.remove_bought(&order), Removal::AlreadyRemoved);
        assert_eq!(cart, once);
        assert_eq!(cart.remove_bought(&placed(2, &[(1, 2)], &[])), Removal::Removed);
        assert_eq!(quantities(&cart), BTreeMap::from([(variant(1), 1)]));
    }

    #[test]
    fn a_line_bought_out_goes_with_its_vendors_shipping_choice() {
        // Variants 1 and 3 are vendor 1's, 2 is vendor 0's.
        let mut cart = cart_of(&[(1, 2), (2, 1), (3, 1)], &[]);
        cart.shipping.insert(vendor(1), ShippingOptionId::generate(1, [1; 10]));
        cart.shipping.insert(vendor(0), ShippingOptionId::generate(1, [2; 10]));
        // More bought than the cart holds now (the buyer lowered it since): the line goes.
        cart.remove_bought(&placed(1, &[(1, 5), (2, 1)], &[]));
        assert_eq!(quantities(&cart), BTreeMap::from([(variant(3), 1)]));
        assert_eq!(cart.shipping.keys().collect::<Vec<_>>(), vec![&vendor(1)], "vendor 1 still has a line");
    }

    #[test]
    fn an_empty_cart_is_left_unwritten() {
        let mut cart = Cart::default();
        assert_eq!(cart.remove_bought(&placed(1, &[(1, 1)], &["SPRING10"])), Removal::EmptyCart);
        assert_eq!(cart, Cart::default());
        // A cart holding anything at all records the group, even when nothing bought is in it.
        let mut cart = cart_of(&[(4, 1)], &[]);
        assert_eq!(cart.remove_bought(&placed(1, &[(1, 1)], &[])), Removal::Removed);
        assert_eq!(quantities(&cart), BTreeMap::from([(variant(4), 1)]));
    }

    #[test]
    fn only_the_latest_groups_are_remembered() {
        let mut cart = cart_of(&[(1, 1)], &[]);
        for n in 0..=REMEMBERED_GROUPS as u8 {
            assert_eq!(cart.remove_bought(&placed(n, &[], &[])), Removal::Removed);
        }
        assert_eq!(cart.placed_groups.len(), REMEMBERED_GROUPS);
        assert_eq!(cart.remove_bought(&placed(REMEMBERED_GROUPS as u8, &[], &[])), Removal::AlreadyRemoved);
        assert_eq!(cart.remove_bought(&placed(0, &[], &[])), Removal::Removed);
    }

    #[test]
    fn a_cart_stored_before_groups_were_recorded_still_reads() {
        let stored = serde_json::json!({"lines": [], "coupons": ["SPRING10"], "shipping": {}});
        let cart: Cart = serde_json::from_value(stored).unwrap();
        assert!(cart.placed_groups.is_empty());
        assert!(serde_json::to_value(&cart).unwrap().get("placed_groups").is_none());
    }

    fn cart_items() -> impl Strategy<Value = Vec<(u8, u32)>> {
        proptest::collection::btree_map(0u8..8, 1..=crate::cart::MAX_LINE_QUANTITY, 0..6)
            .prop_map(|map| map.into_iter().collect())
    }

    const CODES: [&str; 4] = ["AAA", "BBB", "CCC", "DDD"];

    proptest! {
        #[test]
        fn removing_what_was_bought_never_goes_negative_is_idempotent_and_spares_the_rest(
            items in cart_items(),
            coupons in proptest::collection::btree_set(0usize..4, 0..4),
            bought in proptest::collection::vec((0u8..8, 1u32..150), 0..6),
            redeemed in proptest::collection::btree_set(0usize..4, 0..4),
        ) {
            let codes: Vec<&str> = coupons.iter().map(|i| CODES[*i]).collect();
            let redeemed: Vec<&str> = redeemed.iter().map(|i| CODES[*i]).collect();
            let mut cart = cart_of(&items, &codes);
            cart.destination = Some(Destination {
                country: CountryCode::parse("PT").unwrap(), region: None, postcode: None, location: None,
            });
            let before = cart.clone();
            let order = placed(7, &bought, &redeemed);
            cart.remove_bought(&order);

            let mut bought_per_variant: BTreeMap<VariantId, u32> = BTreeMap::new();
            for (n, units) in &bought {
                *bought_per_variant.entry(variant(*n)).or_default() += units;
            }
            for line in &before.lines {
                let after = cart.lines.iter().find(|kept| kept.variant_id == line.variant_id);
                match bought_per_variant.get(&line.variant_id) {
                    // Unrelated lines are untouched, down to their id and captured price.
                    None => prop_assert_eq!(after, Some(line)),
                    Some(units) => {
                        let left = line.quantity.get().saturating_sub(*units);
                        prop_assert_eq!(after.map(|kept| kept.quantity.get()), (left > 0).then_some(left));
                    }
                }
            }
            prop_assert!(cart.lines.iter().all(|line| !line.quantity.is_zero()));
            prop_assert!(cart.lines.len() <= before.lines.len());
            let kept_codes: Vec<_> = before.coupons.iter().filter(|c| !redeemed.contains(&c.as_str())).cloned().collect();
            prop_assert_eq!(&cart.coupons, &kept_codes);
            prop_assert_eq!(&cart.destination, &before.destination);

            let once = cart.clone();
            cart.remove_bought(&order);
            prop_assert_eq!(cart, once);
        }
    }
}
