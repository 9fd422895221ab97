//! The cart as stored: lines with the price each had when added, a destination, coupon codes and a
//! shipping choice per vendor; the limits, adding, and merging a guest cart into an account's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::coupon::CouponCode;
use super::destination::Destination;
use super::shipping::ShippingOptionId;
use crate::catalog::ids::prefixed_id;
use crate::catalog::validation::Reason;
use crate::catalog::{Currency, Money, ProductId, Quantity, VariantId, VendorId};
use crate::orders::OrderGroupId;

/// Product decision: a cart is revalidated against the catalog on every read (one query for all its
/// variants) and stored as one Upstash value; 50 lines keep both small (~10 KB of JSON).
pub const MAX_LINES: usize = 50;
/// Product decision: 99 units of one variant is the usual retail ceiling; larger orders are B2B and
/// go through the vendor. Also bounds a line total far from overflow (99 × `MAX_PRICE_MINOR`).
pub const MAX_LINE_QUANTITY: u32 = 99;
/// Product decision: a platform code plus a few shop codes; more is abuse, not shopping.
pub const MAX_COUPONS: usize = 5;
/// `Idempotency-Key`s a cart remembers: a client retries a lost answer within seconds, when at most a
/// few other writes to the same cart can have happened.
pub const REMEMBERED_REQUESTS: usize = 20;

prefixed_id!(
    /// `line_…`: one line of a cart; stable across quantity changes, so the UI can address it.
    CartLineId,
    "line"
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub line_id: CartLineId,
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub vendor_id: VendorId,
    pub quantity: Quantity,
    /// The price when added (with the currency): a later change is flagged, not silently charged.
    pub unit_price: Money,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    #[serde(default)]
    pub coupons: Vec<CouponCode>,
    /// The chosen option per vendor (the Worker checks it is one of that vendor's options).
    #[serde(default)]
    pub shipping: BTreeMap<VendorId, ShippingOptionId>,
    /// The latest keyed requests, oldest first, kept in the cart so the check and the change are one
    /// atomic write: a retried add cannot add twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<KeyedRequest>,
    /// The latest order groups taken out of this cart, oldest first (`Cart::remove_bought`), kept
    /// here for the same reason as `requests`: a redelivered `orders.order_placed` subtracts nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placed_groups: Vec<OrderGroupId>,
}

/// A request that carried an `Idempotency-Key`, by key and body fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedRequest {
    pub key: String,
    pub fingerprint: String,
}

/// What [`Cart::remember`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remembered {
    /// A new key: apply the request.
    First,
    /// The same request again: it was applied; change nothing.
    Again,
}

/// `POST /api/v1/cart/lines`, after the Worker looked the variant up in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddLine {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub vendor_id: VendorId,
    pub quantity: Quantity,
    pub unit_price: Money,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CartError {
    #[error("a line's quantity must be between 1 and {MAX_LINE_QUANTITY}")]
    QuantityOutOfRange,
    #[error("a cart holds at most {MAX_LINES} lines")]
    TooManyLines,
    #[error("the cart is in {cart}; this item is priced in {item}")]
    CurrencyMismatch { cart: Currency, item: Currency },
    #[error("no such line in this cart")]
    LineNotFound,
    #[error("at most {MAX_COUPONS} coupons per cart")]
    TooManyCoupons,
    #[error("this variant is out of stock")]
    OutOfStock,
    #[error("only {} in stock", available.get())]
    InsufficientStock { available: Quantity },
}

impl Reason for CartError {
    fn reason(&self) -> &'static str {
        match self {
            CartError::QuantityOutOfRange => "quantity_out_of_range",
            CartError::TooManyLines => "too_many_lines",
            CartError::CurrencyMismatch { .. } => "currency_mismatch",
            CartError::LineNotFound => "line_not_found",
            CartError::TooManyCoupons => "too_many_coupons",
            CartError::OutOfStock => "out_of_stock",
            CartError::InsufficientStock { .. } => "insufficient_stock",
        }
    }
}

fn line_quantity(quantity: Quantity) -> Result<Quantity, CartError> {
    if (1..=MAX_LINE_QUANTITY).contains(&quantity.get()) { Ok(quantity) } else { Err(CartError::QuantityOutOfRange) }
}

fn short_of(available: Quantity) -> CartError {
    if available.is_zero() { CartError::OutOfStock } else { CartError::InsufficientStock { available } }
}

/// The sum, capped at the per-line limit (both operands are at most `MAX_QUANTITY`, so no overflow).
fn capped_sum(a: Quantity, b: Quantity) -> (u32, Quantity) {
    let sum = a.get() + b.get();
    (sum, quantity_of(sum.min(MAX_LINE_QUANTITY)))
}

/// Only called with values at most `MAX_LINE_QUANTITY`, which `Quantity` always accepts.
fn quantity_of(units: u32) -> Quantity {
    Quantity::new(i64::from(units)).unwrap_or(Quantity::ZERO)
}

impl Cart {
    /// The cart's one currency: that of its lines (none while empty).
    pub fn currency(&self) -> Option<Currency> {
        self.lines.first().map(|line| line.unit_price.currency)
    }

    pub fn line_mut(&mut self, line_id: &CartLineId) -> Result<&mut CartLine, CartError> {
        self.lines.iter_mut().find(|line| &line.line_id == line_id).ok_or(CartError::LineNotFound)
    }

    /// Adds to the line of the same variant if there is one (quantities summed, capped at
    /// `MAX_LINE_QUANTITY`; `true` when capped), else appends a line with `new_line_id`. Re-adding
    /// refreshes the captured price: the shopper has just seen the current one.
    pub fn add(&mut self, add: AddLine, new_line_id: CartLineId) -> Result<(CartLineId, bool), CartError> {
        line_quantity(add.quantity)?;
        if let Some(cart) = self.currency().filter(|cart| *cart != add.unit_price.currency) {
            return Err(CartError::CurrencyMismatch { cart, item: add.unit_price.currency });
        }
        if let Some(line) = self.lines.iter_mut().find(|line| line.variant_id == add.variant_id) {
            let (sum, capped) = capped_sum(line.quantity, add.quantity);
            line.quantity = capped;
            line.unit_price = add.unit_price;
            return Ok((line.line_id.clone(), sum > MAX_LINE_QUANTITY));
        }
        if self.lines.len() >= MAX_LINES {
            return Err(CartError::TooManyLines);
        }
        let AddLine { variant_id, product_id, vendor_id, quantity, unit_price } = add;
        self.lines.push(CartLine {
            line_id: new_line_id.clone(),
            variant_id,
            product_id,
            vendor_id,
            quantity,
            unit_price,
        });
        Ok((new_line_id, false))
    }

    /// A shopper's add: [`Cart::add`], refused when the variant is out of stock or the line would
    /// hold more than `available` (the stock the catalog reports now), so a shopper is told at once
    /// rather than by a flag on the next read. The merge on login caps at the stock instead: it
    /// cannot refuse.
    pub fn add_in_stock(
        &mut self,
        add: AddLine,
        available: Quantity,
        new_line_id: CartLineId,
    ) -> Result<(CartLineId, bool), CartError> {
        let quantity = line_quantity(add.quantity)?;
        let line = self.lines.iter().find(|line| line.variant_id == add.variant_id);
        let kept = line.map_or(quantity, |line| capped_sum(line.quantity, quantity).1);
        if kept > available {
            return Err(short_of(available));
        }
        self.add(add, new_line_id)
    }

    /// `PATCH /lines/{id}`: sets the quantity (removing a line is `DELETE`, not quantity 0). Raising
    /// it past `available` is refused as an add is; lowering is always allowed.
    pub fn set_quantity(
        &mut self,
        line_id: &CartLineId,
        quantity: Quantity,
        available: Quantity,
    ) -> Result<(), CartError> {
        let quantity = line_quantity(quantity)?;
        let line = self.line_mut(line_id)?;
        if quantity > line.quantity && quantity > available {
            return Err(short_of(available));
        }
        line.quantity = quantity;
        Ok(())
    }

    pub fn remove_line(&mut self, line_id: &CartLineId) -> Result<CartLine, CartError> {
        let index = self.lines.iter().position(|line| &line.line_id == line_id).ok_or(CartError::LineNotFound)?;
        Ok(self.remove_line_at(index))
    }

    pub(super) fn remove_line_at(&mut self, index: usize) -> CartLine {
        let line = self.lines.remove(index);
        // A vendor without lines has nothing to ship.
        if !self.lines.iter().any(|other| other.vendor_id == line.vendor_id) {
            self.shipping.remove(&line.vendor_id);
        }
        line
    }

    /// Whether the code can be used is decided when pricing (it needs the cart's contents and the
    /// coupon's rules); here it is only recorded, once.
    pub fn apply_coupon(&mut self, code: CouponCode) -> Result<(), CartError> {
        if self.coupons.contains(&code) {
            return Ok(());
        }
        if self.coupons.len() >= MAX_COUPONS {
            return Err(CartError::TooManyCoupons);
        }
        self.coupons.push(code);
        Ok(())
    }

    /// Records a keyed request before it is applied. The same key with another body is refused
    /// (`Err`), since the client reused a key by mistake (DESIGN §8).
    pub fn remember(&mut self, request: KeyedRequest) -> Result<Remembered, KeyedRequest> {
        match self.requests.iter().find(|seen| seen.key == request.key) {
            Some(seen) if seen.fingerprint == request.fingerprint => Ok(Remembered::Again),
            Some(seen) => Err(seen.clone()),
            None => {
                push_latest(&mut self.requests, request, REMEMBERED_REQUESTS);
                Ok(Remembered::First)
            }
        }
    }

    pub fn remove_coupon(&mut self, code: &CouponCode) -> bool {
        let before = self.coupons.len();
        self.coupons.retain(|applied| applied != code);
        self.coupons.len() != before
    }
}

/// Why a merged line holds less than the two carts together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeCapReason {
    LineQuantity,
    Stock,
    /// The account's cart was full; the guest's line did not fit.
    LineCount,
    /// The guest's line was in another currency than the account's cart.
    Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeCap {
    pub variant_id: VariantId,
    /// Both carts' quantities together.
    pub requested: u32,
    pub kept: Quantity,
    pub reason: MergeCapReason,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Merged {
    pub cart: Cart,
    pub capped: Vec<MergeCap>,
}

/// On login: the guest's lines join the account's (same variant → quantities summed), then every
/// line is capped at `MAX_LINE_QUANTITY` and at the stock `available` reports. A merge never removes
/// a line the account had: out of stock, it keeps one unit and reads back flagged as unavailable.
/// The account's destination, coupons and shipping choices win; the guest's fill what it lacks.
pub fn merge(account: Cart, guest: Cart, available: impl Fn(&VariantId) -> Option<Quantity>) -> Merged {
    let mut merged = Merged { cart: account, capped: Vec::new() };
    let cart = &mut merged.cart;
    // Sums before capping, so the caps below report what both carts asked for.
    let mut sums: BTreeMap<VariantId, u32> = BTreeMap::new();
    for line in guest.lines {
        let dropped = |reason| MergeCap {
            variant_id: line.variant_id.clone(),
            requested: line.quantity.get(),
            kept: Quantity::ZERO,
            reason,
        };
        if cart.currency().is_some_and(|currency| currency != line.unit_price.currency) {
            merged.capped.push(dropped(MergeCapReason::Currency));
        } else if let Some(existing) = cart.lines.iter_mut().find(|existing| existing.variant_id == line.variant_id) {
            let (sum, capped) = capped_sum(existing.quantity, line.quantity);
            sums.insert(line.variant_id, sum);
            existing.quantity = capped;
        } else if cart.lines.len() >= MAX_LINES {
            merged.capped.push(dropped(MergeCapReason::LineCount));
        } else {
            cart.lines.push(line);
        }
    }
    for line in &mut cart.lines {
        let requested = sums.get(&line.variant_id).copied().unwrap_or(line.quantity.get());
        let stock = available(&line.variant_id).map_or(u32::MAX, |stock| stock.get().max(1));
        let (limit, reason) = if stock < MAX_LINE_QUANTITY {
            (stock, MergeCapReason::Stock)
        } else {
            (MAX_LINE_QUANTITY, MergeCapReason::LineQuantity)
        };
        if requested > limit {
            line.quantity = quantity_of(limit.min(line.quantity.get()));
            merged.capped.push(MergeCap {
                variant_id: line.variant_id.clone(),
                requested,
                kept: line.quantity,
                reason,
            });
        }
    }
    if cart.destination.is_none() {
        cart.destination = guest.destination;
    }
    for code in guest.coupons {
        // Over the limit, the guest's extra codes are simply not carried over.
        let _ = cart.apply_coupon(code);
    }
    for (vendor, option) in guest.shipping {
        cart.shipping.entry(vendor).or_insert(option);
    }
    merged
}

/// Appends `item` to a record the cart keeps of its latest `max` entries, oldest first, dropping
/// the oldest when full (keyed requests, placed order groups).
pub(crate) fn push_latest<T>(entries: &mut Vec<T>, item: T, max: usize) {
    if entries.len() >= max {
        entries.remove(0);
    }
    entries.push(item);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::fixtures::{eur, product, variant, vendor};
    use proptest::prelude::*;

    fn qty(units: u32) -> Quantity {
        Quantity::new(i64::from(units)).unwrap()
    }

    /// Variant `n` of vendor `n % 2`, priced `n` euros.
    fn item(n: u8, quantity: u32) -> AddLine {
        AddLine {
            variant_id: variant(n),
            product_id: product(n),
            vendor_id: vendor(n % 2),
            quantity: qty(quantity),
            unit_price: eur(i64::from(n) * 100),
        }
    }

    fn line_id(n: u32) -> CartLineId {
        CartLineId::generate(1_763_700_000_000 + u64::from(n), [n as u8; 10])
    }

    fn cart_of(items: &[(u8, u32)], salt: u32) -> Cart {
        let mut cart = Cart::default();
        for (i, (n, quantity)) in items.iter().enumerate() {
            cart.add(item(*n, *quantity), line_id(salt + i as u32)).unwrap();
        }
        cart
    }

    #[test]
    fn adding_the_same_variant_sums_into_one_line_capped_at_the_line_limit() {
        let mut cart = Cart::default();
        let (first, capped) = cart.add(item(1, 2), line_id(1)).unwrap();
        assert!(!capped);
        assert_eq!(cart.add(item(1, 3), line_id(2)).unwrap(), (first.clone(), false));
        assert_eq!(cart.lines.len(), 1);
        assert_eq!(cart.lines[0].quantity, qty(5));
        assert_eq!(cart.add(item(1, MAX_LINE_QUANTITY), line_id(3)).unwrap(), (first, true));
        assert_eq!(cart.lines[0].quantity, qty(MAX_LINE_QUANTITY));
    }

    #[test]
    fn refuses_bad_quantities_a_full_cart_and_a_second_currency() {
        let mut cart = Cart::default();
        assert_eq!(cart.add(item(1, 0), line_id(0)), Err(CartError::QuantityOutOfRange));
        assert_eq!(cart.add(item(1, MAX_LINE_QUANTITY + 1), line_id(0)), Err(CartError::QuantityOutOfRange));
        for n in 0..MAX_LINES as u8 {
            cart.add(item(n, 1), line_id(u32::from(n))).unwrap();
        }
        assert_eq!(cart.add(item(200, 1), line_id(999)), Err(CartError::TooManyLines));
        // A full cart still takes more of a variant it holds.
        assert!(cart.add(item(3, 1), line_id(999)).is_ok());
        let usd = Money::new(100, Currency::parse("USD").unwrap());
        let mut priced_in_usd = item(201, 1);
        priced_in_usd.unit_price = usd;
        assert!(matches!(cart.add(priced_in_usd, line_id(998)), Err(CartError::CurrencyMismatch { .. })));
        assert_eq!(CartError::TooManyLines.reason(), "too_many_lines");
    }

    #[test]
    fn a_shoppers_add_never_takes_a_line_past_the_stock() {
        let mut cart = Cart::default();
        assert_eq!(cart.add_in_stock(item(1, 1), qty(0), line_id(0)), Err(CartError::OutOfStock));
        let refused = cart.add_in_stock(item(1, 4), qty(3), line_id(0));
        assert_eq!(refused, Err(CartError::InsufficientStock { available: qty(3) }));
        assert!(cart.lines.is_empty(), "a refused add changes nothing");
        let (line, _) = cart.add_in_stock(item(1, 2), qty(3), line_id(0)).unwrap();
        assert_eq!(
            cart.add_in_stock(item(1, 2), qty(3), line_id(1)),
            Err(CartError::InsufficientStock { available: qty(3) })
        );
        assert_eq!(cart.add_in_stock(item(1, 1), qty(3), line_id(1)), Ok((line, false)));
        assert_eq!(cart.lines[0].quantity, qty(3));
        // The line limit caps first: 60 + 60 keeps 99, which 100 in stock covers and 98 does not.
        let mut cart = cart_of(&[(2, 60)], 10);
        assert_eq!(cart.clone().add_in_stock(item(2, 60), qty(100), line_id(11)).map(|(_, capped)| capped), Ok(true));
        let refused = cart.add_in_stock(item(2, 60), qty(98), line_id(11));
        assert_eq!(refused, Err(CartError::InsufficientStock { available: qty(98) }));
        // A bad quantity is that, whatever the stock.
        assert_eq!(cart.add_in_stock(item(2, 0), qty(0), line_id(12)), Err(CartError::QuantityOutOfRange));
        assert_eq!(CartError::InsufficientStock { available: qty(3) }.reason(), "insufficient_stock");
    }

    #[test]
    fn lines_are_changed_and_removed_by_id_and_shipping_goes_with_the_last_line() {
        let mut cart = cart_of(&[(1, 1), (3, 1)], 0);
        let (one, three) = (cart.lines[0].line_id.clone(), cart.lines[1].line_id.clone());
        cart.shipping.insert(cart.lines[0].vendor_id.clone(), ShippingOptionId::generate(1, [1; 10]));
        cart.set_quantity(&one, qty(7), qty(7)).unwrap();
        assert_eq!(cart.lines[0].quantity, qty(7));
        assert_eq!(cart.set_quantity(&one, qty(8), qty(7)), Err(CartError::InsufficientStock { available: qty(7) }));
        assert_eq!(cart.set_quantity(&one, qty(8), qty(0)), Err(CartError::OutOfStock));
        // Lowering a line is always allowed, even below a stock that has run out since.
        cart.set_quantity(&one, qty(5), qty(0)).unwrap();
        assert_eq!(cart.lines[0].quantity, qty(5));
        assert_eq!(cart.set_quantity(&one, qty(0), qty(9)), Err(CartError::QuantityOutOfRange));
        assert_eq!(cart.set_quantity(&line_id(77), qty(1), qty(9)), Err(CartError::LineNotFound));
        cart.remove_line(&one).unwrap();
        assert_eq!(cart.shipping.len(), 1, "vendor 1 still has a line");
        cart.remove_line(&three).unwrap();
        assert!(cart.shipping.is_empty());
        assert_eq!(cart.remove_line(&three), Err(CartError::LineNotFound));
    }

    #[test]
    fn coupons_are_recorded_once_up_to_the_limit() {
        let mut cart = Cart::default();
        let code = |n: usize| CouponCode::parse(&format!("CODE{n}")).unwrap();
        cart.apply_coupon(code(0)).unwrap();
        cart.apply_coupon(code(0)).unwrap();
        assert_eq!(cart.coupons.len(), 1);
        for n in 1..MAX_COUPONS {
            cart.apply_coupon(code(n)).unwrap();
        }
        assert_eq!(cart.apply_coupon(code(99)), Err(CartError::TooManyCoupons));
        assert!(cart.remove_coupon(&code(0)));
        assert!(!cart.remove_coupon(&code(0)));
    }

    #[test]
    fn merge_sums_quantities_and_reports_each_cap() {
        let account = cart_of(&[(1, 60), (2, 5), (4, 1)], 0);
        let guest = cart_of(&[(1, 60), (2, 5), (3, 2)], 10);
        let variant = |n| item(n, 1).variant_id;
        // Variant 2 has 7 in stock; the others plenty.
        let stock = |id: &VariantId| Some(qty(if *id == variant(2) { 7 } else { 1_000 }));
        let merged = merge(account, guest, stock);
        let quantities: Vec<(VariantId, u32)> =
            merged.cart.lines.iter().map(|line| (line.variant_id.clone(), line.quantity.get())).collect();
        assert_eq!(quantities, vec![(variant(1), 99), (variant(2), 7), (variant(4), 1), (variant(3), 2)]);
        assert_eq!(
            merged.capped,
            vec![
                MergeCap {
                    variant_id: variant(1),
                    requested: 120,
                    kept: qty(99),
                    reason: MergeCapReason::LineQuantity
                },
                MergeCap { variant_id: variant(2), requested: 10, kept: qty(7), reason: MergeCapReason::Stock },
            ]
        );
    }

    #[test]
    fn merge_keeps_out_of_stock_lines_and_reports_what_did_not_fit() {
        let account: Vec<(u8, u32)> = (0..MAX_LINES as u8).map(|n| (n, 1)).collect();
        let mut guest = cart_of(&[(200, 3)], 100);
        guest.destination = Some(Destination {
            country: super::super::CountryCode::parse("PT").unwrap(),
            region: None,
            postcode: None,
            location: None,
        });
        let sold_out = item(0, 1).variant_id;
        let merged = merge(cart_of(&account, 0), guest.clone(), |id| Some(qty(if *id == sold_out { 0 } else { 5 })));
        assert_eq!(merged.cart.lines.len(), MAX_LINES);
        assert_eq!(merged.cart.lines[0].quantity, qty(1), "out of stock keeps one unit, flagged on read");
        assert_eq!(merged.capped.len(), 1);
        assert_eq!(merged.capped[0].reason, MergeCapReason::LineCount);
        assert_eq!(merged.cart.destination, guest.destination);

        let mut in_dollars = item(9, 1);
        in_dollars.unit_price = Money::new(100, Currency::parse("USD").unwrap());
        let mut dollar_cart = Cart::default();
        dollar_cart.add(in_dollars, line_id(500)).unwrap();
        let merged = merge(cart_of(&[(1, 1)], 0), dollar_cart, |_| None);
        assert_eq!(merged.cart.lines.len(), 1);
        assert_eq!(merged.capped[0].reason, MergeCapReason::Currency);
        assert_eq!(merged.capped[0].kept, Quantity::ZERO);
    }

    fn keyed(key: &str, fingerprint: &str) -> KeyedRequest {
        KeyedRequest { key: key.to_owned(), fingerprint: fingerprint.to_owned() }
    }

    #[test]
    fn a_keyed_request_is_applied_once_and_its_key_cannot_carry_another_body() {
        let mut cart = Cart::default();
        assert_eq!(cart.remember(keyed("k1", "add 1")), Ok(Remembered::First));
        assert_eq!(cart.remember(keyed("k1", "add 1")), Ok(Remembered::Again));
        assert_eq!(cart.remember(keyed("k1", "add 2")), Err(keyed("k1", "add 1")));
        assert_eq!(cart.remember(keyed("k2", "add 1")), Ok(Remembered::First));
    }

    #[test]
    fn only_the_latest_keys_are_remembered() {
        let mut cart = Cart::default();
        for n in 0..=REMEMBERED_REQUESTS {
            assert_eq!(cart.remember(keyed(&format!("k{n}"), "body")), Ok(Remembered::First));
        }
        assert_eq!(cart.requests.len(), REMEMBERED_REQUESTS);
        // The oldest was forgotten; the newest is still known.
        assert_eq!(cart.remember(keyed(&format!("k{REMEMBERED_REQUESTS}"), "body")), Ok(Remembered::Again));
        assert_eq!(cart.remember(keyed("k0", "body")), Ok(Remembered::First));
    }

    fn small_cart() -> impl Strategy<Value = Vec<(u8, u32)>> {
        proptest::collection::btree_map(0u8..12, 1..=MAX_LINE_QUANTITY, 0..8).prop_map(|map| map.into_iter().collect())
    }

    fn quantities(cart: &Cart) -> BTreeMap<VariantId, u32> {
        cart.lines.iter().map(|line| (line.variant_id.clone(), line.quantity.get())).collect()
    }

    proptest! {
        #[test]
        fn merging_is_commutative_in_quantities_and_never_exceeds_a_cap(
            a in small_cart(), b in small_cart(), stock in proptest::collection::vec(0u32..150, 12),
        ) {
            let available = |id: &VariantId| {
                (0..12u8).find(|n| item(*n, 1).variant_id == *id).map(|n| qty(stock[usize::from(n)]))
            };
            let ab = merge(cart_of(&a, 0), cart_of(&b, 100), available);
            let ba = merge(cart_of(&b, 100), cart_of(&a, 0), available);
            prop_assert_eq!(quantities(&ab.cart), quantities(&ba.cart));
            let asked: BTreeMap<u8, u32> = a.iter().chain(&b).fold(BTreeMap::new(), |mut sums, (n, q)| {
                *sums.entry(*n).or_default() += q;
                sums
            });
            for (n, requested) in asked {
                let kept = quantities(&ab.cart)[&item(n, 1).variant_id];
                let cap = MAX_LINE_QUANTITY.min(stock[usize::from(n)].max(1));
                prop_assert_eq!(kept, requested.min(cap));
                let reported = ab.capped.iter().find(|c| c.variant_id == item(n, 1).variant_id);
                prop_assert_eq!(reported.map(|c| (c.requested, c.kept.get())), (requested > cap).then_some((requested, kept)));
            }
        }

        #[test]
        fn a_shoppers_adds_never_exceed_the_stock_and_a_refusal_changes_nothing(
            adds in proptest::collection::vec(1..=MAX_LINE_QUANTITY, 1..20), stock in 0u32..150,
        ) {
            let mut cart = Cart::default();
            for (i, quantity) in adds.iter().enumerate() {
                let before = cart.clone();
                match cart.add_in_stock(item(1, *quantity), qty(stock), line_id(i as u32)) {
                    Ok(_) => prop_assert!(cart.lines[0].quantity.get() <= stock.min(MAX_LINE_QUANTITY)),
                    Err(_) => prop_assert_eq!(&cart, &before),
                }
            }
        }

        #[test]
        fn repeated_adds_never_exceed_the_line_limit(adds in proptest::collection::vec(1..=MAX_LINE_QUANTITY, 1..20)) {
            let mut cart = Cart::default();
            let mut expected = 0;
            for (i, quantity) in adds.iter().enumerate() {
                let (_, capped) = cart.add(item(1, *quantity), line_id(i as u32)).unwrap();
                prop_assert_eq!(capped, expected + quantity > MAX_LINE_QUANTITY);
                expected = (expected + quantity).min(MAX_LINE_QUANTITY);
                prop_assert_eq!(cart.lines[0].quantity.get(), expected);
            }
            prop_assert_eq!(cart.lines.len(), 1);
        }
    }
}
