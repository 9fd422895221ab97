//! The cart page's view decisions: the priced cart (`cart::CartView`) joined with what the catalog
//! says about each product, grouped per shop, with every flag and refusal in words, and what still
//! stands between the shopper and the checkout.

use std::collections::BTreeMap;

use crate::cart::shipping::ShippingKind;
use crate::cart::{
    CartLineId, CartView, CouponCode, CouponOutcome, LineFlag, MAX_LINE_QUANTITY, ShippingOptionId,
    ShippingUnavailable, Totals,
};
use crate::catalog::{Money, Product, ProductId, Quantity, VariantId, VendorId};

use super::browse::product_path;
use super::refusal::capitalised;

/// What the cart pages show of one product in the cart, from its catalog read
/// (`GET /api/v1/products/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductInfo {
    pub title: String,
    /// The product page (`/products/{product}--{shop}`), when the catalog names the shop.
    pub href: Option<String>,
    pub vendor_name: Option<String>,
    /// Each variant's options as the product page shows them (`Colour: Blue, Size: L`); empty for
    /// a product's only form.
    pub variants: BTreeMap<VariantId, String>,
}

impl From<&Product> for ProductInfo {
    fn from(product: &Product) -> Self {
        ProductInfo {
            title: product.title.as_str().to_owned(),
            href: product.vendor.as_ref().map(|vendor| product_path(&product.slug, &vendor.slug)),
            vendor_name: product.vendor.as_ref().map(|vendor| vendor.name.as_str().to_owned()),
            variants: product
                .variants
                .iter()
                .map(|variant| (variant.id.clone(), variant.options.described()))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayLine {
    pub line_id: CartLineId,
    pub title: String,
    /// The product page, when the catalog still has the product.
    pub href: Option<String>,
    pub variant: Option<String>,
    pub quantity: Quantity,
    pub unit_price: Money,
    /// `None` for a line that counts for nothing (out of stock, unavailable).
    pub line_total: Option<Money>,
    /// What the shopper should know about the line, in words.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingChoice {
    pub id: ShippingOptionId,
    pub label: &'static str,
    pub price: Option<Money>,
    /// Why it cannot be chosen now.
    pub unavailable: Option<&'static str>,
    pub selected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorGroup {
    pub vendor_id: VendorId,
    pub vendor_name: String,
    pub lines: Vec<DisplayLine>,
    pub shipping: Vec<ShippingChoice>,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponLine {
    pub code: CouponCode,
    pub discount: Option<Money>,
    /// Why it gives nothing now.
    pub refused: Option<String>,
}

/// Groups the priced cart per shop for display, in the cart's order.
pub fn vendor_groups(view: &CartView, products: &BTreeMap<ProductId, ProductInfo>) -> Vec<VendorGroup> {
    view.vendors
        .iter()
        .enumerate()
        .map(|(index, vendor)| {
            let vendor_name = vendor
                .lines
                .iter()
                .find_map(|line| products.get(&line.product_id).and_then(|product| product.vendor_name.clone()))
                .unwrap_or_else(|| format!("Shop {}", index + 1));
            let lines = vendor
                .lines
                .iter()
                .map(|line| {
                    let product = products.get(&line.product_id);
                    DisplayLine {
                        line_id: line.line_id.clone(),
                        title: product.map_or_else(|| "A product no longer listed".to_owned(), |p| p.title.clone()),
                        href: product.and_then(|p| p.href.clone()),
                        variant: product
                            .and_then(|p| p.variants.get(&line.variant_id))
                            .filter(|label| !label.is_empty())
                            .cloned(),
                        quantity: line.quantity,
                        unit_price: line.unit_price,
                        line_total: line.line_total,
                        notes: line.flags.iter().map(|flag| flag_note(*flag)).collect(),
                    }
                })
                .collect();
            let shipping = vendor
                .shipping_options
                .iter()
                .map(|quote| ShippingChoice {
                    id: quote.id.clone(),
                    label: shipping_label(quote.kind),
                    price: quote.price,
                    unavailable: quote.unavailable.map(unavailable_reason),
                    selected: vendor.selected_shipping.as_ref() == Some(&quote.id),
                })
                .collect();
            VendorGroup { vendor_id: vendor.vendor_id.clone(), vendor_name, lines, shipping, totals: vendor.totals }
        })
        .collect()
}

pub fn coupon_lines(view: &CartView) -> Vec<CouponLine> {
    view.coupons
        .iter()
        .map(|outcome| match outcome {
            CouponOutcome::Applied { code, discount } => {
                CouponLine { code: code.clone(), discount: Some(*discount), refused: None }
            }
            CouponOutcome::Rejected { code, reason } => {
                CouponLine { code: code.clone(), discount: None, refused: Some(capitalised(&reason.to_string())) }
            }
        })
        .collect()
}

/// Units in the cart (the header's count).
pub fn item_count(view: &CartView) -> u32 {
    view.vendors.iter().flat_map(|vendor| &vendor.lines).map(|line| line.quantity.get()).sum()
}

/// What must change before checking out, in words; empty when the cart can be checked out.
/// `groups` are the cart's shops as shown ([`vendor_groups`]), for their names.
pub fn checkout_blockers(view: &CartView, groups: &[VendorGroup]) -> Vec<String> {
    let mut blockers = Vec::new();
    if view.vendors.is_empty() {
        blockers.push("Your cart is empty.".to_owned());
        return blockers;
    }
    if view.destination.is_none() {
        blockers.push("Tell us where to deliver, so we can work out shipping and tax.".to_owned());
    }
    for vendor in &view.vendors {
        if vendor.selected_shipping.is_none() {
            let name = groups.iter().find(|group| group.vendor_id == vendor.vendor_id);
            let name = name.map_or("each shop", |group| group.vendor_name.as_str());
            blockers.push(format!("Choose how {name} should ship your items."));
        }
        if vendor.lines.iter().any(|line| line.flags.iter().any(|flag| blocks_checkout(*flag))) {
            blockers.push("Some items cannot be bought as they are: change or remove them.".to_owned());
        }
    }
    blockers.dedup();
    blockers
}

/// The price changing is fine (the shopper sees the new total); stock and availability are not.
fn blocks_checkout(flag: LineFlag) -> bool {
    !matches!(flag, LineFlag::PriceChanged { .. })
}

pub fn flag_note(flag: LineFlag) -> String {
    match flag {
        LineFlag::PriceChanged { old_price, new_price } => {
            format!("The price changed from {old_price} to {new_price}.")
        }
        LineFlag::InsufficientStock { available } => {
            format!("Only {} left: lower the quantity to check out.", available.get())
        }
        LineFlag::OutOfStock => "Out of stock: remove it to check out.".to_owned(),
        LineFlag::Unavailable => "No longer available: remove it to check out.".to_owned(),
        LineFlag::CurrencyChanged => "Now sold in another currency: remove it to check out.".to_owned(),
    }
}

pub fn shipping_label(kind: ShippingKind) -> &'static str {
    match kind {
        ShippingKind::Flat => "Standard delivery",
        ShippingKind::WeightBands => "Delivery by weight",
        ShippingKind::LocalDelivery => "Local delivery by the shop",
    }
}

fn unavailable_reason(reason: ShippingUnavailable) -> &'static str {
    match reason {
        ShippingUnavailable::TooHeavy => "the order is too heavy for it",
        ShippingUnavailable::NeedsLocation => "it needs your delivery location",
        ShippingUnavailable::VendorHasNoLocation => "the shop has not set its location",
        ShippingUnavailable::OutOfRange => "you are outside its delivery area",
        ShippingUnavailable::CurrencyMismatch => "it is priced in another currency",
    }
}

/// A quantity as typed in the cart or on a product page: a whole number from 1 to 99.
pub fn parse_quantity(input: &str) -> Result<Quantity, &'static str> {
    let units: u32 = input.trim().parse().map_err(|_| "Enter a whole number of items.")?;
    if (1..=MAX_LINE_QUANTITY).contains(&units) {
        Quantity::new(i64::from(units)).map_err(|_| "Enter a whole number of items.")
    } else {
        Err("Choose between 1 and 99 of an item.")
    }
}

/// `path` with `name=value` added to its query.
pub fn with_query(path: &str, name: &str, value: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}{name}={}", super::query_value(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::shipping::ShippingQuote;
    use crate::cart::{CountryCode, CouponRejection, Destination, LineView, VendorView};
    use crate::catalog::Currency;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::EUR)
    }

    fn id<T>(make: fn(u64, crate::ids::Entropy) -> T, n: u8) -> T {
        make(1_700_000_000_000, [n; 10])
    }

    fn line(n: u8, product: u8, quantity: i64, unit: i64, flags: Vec<LineFlag>) -> LineView {
        let counts = !flags
            .iter()
            .any(|flag| matches!(flag, LineFlag::OutOfStock | LineFlag::Unavailable | LineFlag::CurrencyChanged));
        LineView {
            line_id: id(CartLineId::generate, n),
            variant_id: id(VariantId::generate, n),
            product_id: id(ProductId::generate, product),
            quantity: Quantity::new(quantity).unwrap(),
            unit_price: eur(unit),
            line_total: counts.then(|| eur(unit * quantity)),
            flags,
        }
    }

    fn totals(subtotal: i64, shipping: i64) -> Totals {
        Totals {
            subtotal: eur(subtotal),
            discount: eur(0),
            shipping: eur(shipping),
            tax: eur(0),
            total: eur(subtotal + shipping),
        }
    }

    fn vendor(n: u8, lines: Vec<LineView>, chosen: bool) -> VendorView {
        let option = id(ShippingOptionId::generate, n);
        let subtotal = lines.iter().filter_map(|line| line.line_total).map(|m| m.amount_minor).sum();
        VendorView {
            vendor_id: id(VendorId::generate, n),
            lines,
            shipping_options: vec![
                ShippingQuote {
                    id: option.clone(),
                    kind: ShippingKind::Flat,
                    price: Some(eur(499)),
                    unavailable: None,
                },
                ShippingQuote {
                    id: id(ShippingOptionId::generate, n + 100),
                    kind: ShippingKind::LocalDelivery,
                    price: None,
                    unavailable: Some(ShippingUnavailable::NeedsLocation),
                },
            ],
            selected_shipping: chosen.then_some(option),
            tax_rate: None,
            totals: totals(subtotal, if chosen { 499 } else { 0 }),
        }
    }

    fn view(vendors: Vec<VendorView>, destination: bool) -> CartView {
        CartView {
            currency: Some(Currency::EUR),
            vendors,
            coupons: Vec::new(),
            destination: destination.then(|| Destination {
                country: CountryCode::parse("PT").unwrap(),
                region: None,
                postcode: None,
                location: None,
            }),
            totals: None,
        }
    }

    fn product(title: &str, vendor: Option<&str>, variant: (u8, &str)) -> ProductInfo {
        ProductInfo {
            title: title.to_owned(),
            href: Some(format!("/products/{}--shop", title.to_lowercase().replace(' ', "-"))),
            vendor_name: vendor.map(str::to_owned),
            variants: BTreeMap::from([(id(VariantId::generate, variant.0), variant.1.to_owned())]),
        }
    }

    #[test]
    fn lines_are_grouped_per_shop_with_titles_variants_and_shipping() {
        let cart = view(
            vec![
                vendor(1, vec![line(1, 1, 2, 1000, vec![]), line(2, 2, 1, 500, vec![])], true),
                vendor(2, vec![line(3, 3, 1, 700, vec![LineFlag::OutOfStock])], false),
            ],
            true,
        );
        let products = BTreeMap::from([
            (id(ProductId::generate, 1), product("Blue Mug", Some("North Ceramics"), (1, "Colour: Blue"))),
            (id(ProductId::generate, 2), product("Plate", None, (2, ""))),
        ]);
        let groups = vendor_groups(&cart, &products);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].vendor_name, "North Ceramics");
        assert_eq!(groups[0].lines[0].title, "Blue Mug");
        assert_eq!(groups[0].lines[0].href.as_deref(), Some("/products/blue-mug--shop"));
        assert_eq!(groups[0].lines[0].variant.as_deref(), Some("Colour: Blue"));
        assert_eq!(groups[0].lines[1].variant, None);
        assert_eq!(groups[0].lines[0].line_total, Some(eur(2000)));
        assert_eq!(groups[0].totals.total, eur(2500 + 499));
        assert!(groups[0].shipping[0].selected);
        assert_eq!(groups[0].shipping[1].unavailable, Some("it needs your delivery location"));
        // A shop the catalog does not name yet, and a product it no longer lists.
        assert_eq!(groups[1].vendor_name, "Shop 2");
        assert_eq!(groups[1].lines[0].title, "A product no longer listed");
        assert_eq!(groups[1].lines[0].href, None);
        assert_eq!(groups[1].lines[0].notes, ["Out of stock: remove it to check out."]);
        assert!(!groups[1].shipping.iter().any(|choice| choice.selected));
        assert_eq!(item_count(&cart), 4);
    }

    #[test]
    fn a_product_read_gives_the_page_of_its_shop_and_each_variant_described() {
        let product: Product = serde_json::from_value(serde_json::json!({
            "id": id(ProductId::generate, 1).to_string(),
            "vendor_id": "ven_01JC00000000000000000000A1",
            "vendor": { "name": "North Ceramics", "slug": "north-ceramics" },
            "title": "Stoneware Mug",
            "slug": "stoneware-mug",
            "description": "Hand-thrown.",
            "category_id": "cat_01JC00000000000000000000C1",
            "status": "active",
            "rating": null,
            "images": [],
            "variants": [{
                "id": id(VariantId::generate, 1).to_string(),
                "sku": "NC-MUG-1",
                "options": { "Colour": "Blue", "Size": "L" },
                "price": { "amount_minor": 1500, "currency": "EUR" },
                "weight_grams": 350,
                "available": 3
            }],
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let info = ProductInfo::from(&product);
        assert_eq!(info.href.as_deref(), Some("/products/stoneware-mug--north-ceramics"));
        assert_eq!(info.vendor_name.as_deref(), Some("North Ceramics"));
        assert_eq!(info.title, "Stoneware Mug");
        assert_eq!(info.variants[&id(VariantId::generate, 1)], "Colour: Blue, Size: L");
    }

    #[test]
    fn blockers_say_what_stands_before_checkout() {
        let ready = view(vec![vendor(1, vec![line(1, 1, 1, 1000, vec![])], true)], true);
        assert!(checkout_blockers(&ready, &[]).is_empty());
        let repriced = LineFlag::PriceChanged { old_price: eur(900), new_price: eur(1000) };
        let repriced = view(vec![vendor(1, vec![line(1, 1, 1, 1000, vec![repriced])], true)], true);
        assert!(checkout_blockers(&repriced, &[]).is_empty(), "a new price is shown, not blocking");
        let blocked = view(
            vec![
                vendor(1, vec![line(1, 1, 1, 1000, vec![])], false),
                vendor(
                    2,
                    vec![line(
                        2,
                        2,
                        3,
                        1000,
                        vec![LineFlag::InsufficientStock { available: Quantity::new(1).unwrap() }],
                    )],
                    true,
                ),
            ],
            false,
        );
        let groups = vendor_groups(&blocked, &BTreeMap::new());
        let blockers = checkout_blockers(&blocked, &groups);
        assert_eq!(blockers.len(), 3, "{blockers:?}");
        assert!(blockers[0].contains("where to deliver"));
        assert!(blockers[1].contains(&format!("how {} should ship", groups[0].vendor_name)), "{blockers:?}");
        assert!(blockers[2].contains("cannot be bought"));
        assert_eq!(checkout_blockers(&view(vec![], true), &[]), ["Your cart is empty."]);
    }

    #[test]
    fn coupons_show_their_discount_or_why_not() {
        let mut cart = view(vec![], true);
        cart.coupons = vec![
            CouponOutcome::Applied { code: CouponCode::parse("save10").unwrap(), discount: eur(250) },
            CouponOutcome::Rejected { code: CouponCode::parse("OLD").unwrap(), reason: CouponRejection::Expired },
        ];
        let lines = coupon_lines(&cart);
        assert_eq!(lines[0].code.as_str(), "SAVE10");
        assert_eq!(lines[0].discount, Some(eur(250)));
        assert_eq!(lines[1].refused.as_deref(), Some("The coupon has expired"));
    }

    #[test]
    fn flags_read_as_sentences() {
        let note = flag_note(LineFlag::PriceChanged { old_price: eur(900), new_price: eur(1000) });
        assert_eq!(note, "The price changed from 9.00 EUR to 10.00 EUR.");
        assert_eq!(
            flag_note(LineFlag::InsufficientStock { available: Quantity::new(2).unwrap() }),
            "Only 2 left: lower the quantity to check out."
        );
    }

    #[test]
    fn quantities_are_whole_numbers_from_1_to_99() {
        assert_eq!(parse_quantity(" 3 ").unwrap().get(), 3);
        assert_eq!(parse_quantity("99").unwrap().get(), 99);
        for bad in ["0", "100", "-1", "1.5", "", "two", "1e2"] {
            assert!(parse_quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_query_value_is_added_encoded() {
        assert_eq!(with_query("/products/mug", "added", "1"), "/products/mug?added=1");
        assert_eq!(with_query("/p?v=1", "cart_error", "Only 2 left"), "/p?v=1&cart_error=Only+2+left");
    }
}
