//! What the catalog API answers (DESIGN §8): products with their variants, categories as a tree,
//! shops, pages with a `next_cursor`, and search facets. Every field is a validated type, so a
//! response built from these cannot carry an invalid value, and clients (tests, the dashboard)
//! parse responses with the same types.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::facets::{FacetCount, PriceBucket};
use super::geo::GeoPoint;
use super::ids::{CategoryId, ImageId, ProductId, VariantId, VendorId};
use super::image::{ImageAlt, ImageType};
use super::money::Money;
use super::options::VariantOptions;
use super::quantity::Quantity;
use super::rating::RatingSummary;
use super::sku::Sku;
use super::slug::Slug;
use super::status::ProductStatus;
use super::text::{CategoryName, Description, ProductTitle, VendorCity, VendorName};

/// A shop. `location` drives local search (`near=`); `city` is what shoppers read, as the shop
/// gave it (never derived from `location`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vendor {
    pub id: VendorId,
    pub name: VendorName,
    pub slug: Slug,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<VendorCity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
}

/// The shop a product is sold by, as cards and product pages show it (name, link, distance), read
/// in the same statement as the product so a page never asks once per card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VendorBrief {
    pub name: VendorName,
    pub slug: Slug,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<VendorCity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: CategoryId,
    pub parent_id: Option<CategoryId>,
    pub slug: Slug,
    pub name: CategoryName,
    /// Order among its siblings.
    pub position: u32,
}

/// `GET /api/v1/categories`: each category with its children, siblings by position then name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryNode {
    #[serde(flatten)]
    pub category: Category,
    pub children: Vec<CategoryNode>,
}

/// Deeper trees are a data error (the storefront's menus show three levels).
pub const MAX_CATEGORY_DEPTH: usize = 8;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TreeError {
    #[error("category {0} names a parent that does not exist")]
    MissingParent(CategoryId),
    #[error("categories form a cycle or nest deeper than {MAX_CATEGORY_DEPTH} levels")]
    NotATree,
}

/// Nests a flat list (as the table stores it) into a forest of roots.
pub fn category_tree(categories: Vec<Category>) -> Result<Vec<CategoryNode>, TreeError> {
    let ids: BTreeSet<CategoryId> = categories.iter().map(|category| category.id.clone()).collect();
    if let Some(orphan) = categories.iter().find(|c| c.parent_id.as_ref().is_some_and(|parent| !ids.contains(parent))) {
        return Err(TreeError::MissingParent(orphan.id.clone()));
    }
    let total = categories.len();
    let mut children: BTreeMap<Option<CategoryId>, Vec<Category>> = BTreeMap::new();
    for category in categories {
        children.entry(category.parent_id.clone()).or_default().push(category);
    }
    let mut placed = 0;
    let roots = build_level(&mut children, None, 1, &mut placed)?;
    // Categories on a cycle are never reached from a root.
    if placed == total { Ok(roots) } else { Err(TreeError::NotATree) }
}

fn build_level(
    children: &mut BTreeMap<Option<CategoryId>, Vec<Category>>,
    parent: Option<CategoryId>,
    depth: usize,
    placed: &mut usize,
) -> Result<Vec<CategoryNode>, TreeError> {
    let Some(mut level) = children.remove(&parent) else { return Ok(Vec::new()) };
    if depth > MAX_CATEGORY_DEPTH {
        return Err(TreeError::NotATree);
    }
    level.sort_by(|a, b| a.position.cmp(&b.position).then_with(|| a.name.cmp(&b.name)));
    let mut nodes = Vec::with_capacity(level.len());
    for category in level {
        *placed += 1;
        let grandchildren = build_level(children, Some(category.id.clone()), depth + 1, placed)?;
        nodes.push(CategoryNode { category, children: grandchildren });
    }
    Ok(nodes)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductImage {
    pub id: ImageId,
    /// Where the storefront loads it from (the Worker builds it from the R2 key).
    pub url: String,
    pub content_type: ImageType,
    pub bytes: u32,
    /// Pixels, as the file's header says (checked at upload).
    pub width: u32,
    pub height: u32,
    /// Order in the gallery; the lowest is the main image.
    pub position: u16,
    pub alt: Option<ImageAlt>,
}

/// One purchasable form of a product: its options, price and what can be bought now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub id: VariantId,
    pub sku: Sku,
    pub options: VariantOptions,
    pub price: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_at: Option<Money>,
    pub weight_grams: u32,
    /// Units that can be ordered now (stock less reservations, once inventory owns it).
    pub available: Quantity,
}

/// `GET /api/v1/products/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub vendor_id: VendorId,
    /// Absent in answers cached before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<VendorBrief>,
    pub title: ProductTitle,
    pub slug: Slug,
    pub description: Description,
    pub category_id: CategoryId,
    pub status: ProductStatus,
    pub rating: Option<RatingSummary>,
    pub images: Vec<ProductImage>,
    pub variants: Vec<Variant>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// The cheapest variant's price ("from €12.00"); a product's variants share one currency.
    pub fn price_from(&self) -> Option<Money> {
        self.variants.iter().map(|variant| variant.price).min_by_key(|price| price.amount_minor)
    }

    pub fn in_stock(&self) -> bool {
        self.variants.iter().any(|variant| !variant.available.is_zero())
    }
}

/// A product in a list or search hit: enough for a card, without variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductSummary {
    pub id: ProductId,
    pub vendor_id: VendorId,
    /// Absent in answers cached before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<VendorBrief>,
    pub title: ProductTitle,
    pub slug: Slug,
    pub category_id: CategoryId,
    pub price_from: Option<Money>,
    pub rating: Option<RatingSummary>,
    pub in_stock: bool,
    pub image: Option<ProductImage>,
    pub created_at: DateTime<Utc>,
}

/// `{"items":[…],"next_cursor":…}`; `next_cursor` is `null` on the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Counts over every hit of a search (not only the page shown).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SearchFacets {
    pub categories: Vec<FacetCount<CategoryId>>,
    pub vendors: Vec<FacetCount<VendorId>>,
    pub price: Vec<PriceBucket>,
    /// The name and address of every shop in `vendors`, so a facet can be labelled and linked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vendor_labels: Vec<VendorLabel>,
}

/// A shop as a facet names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorLabel {
    pub id: VendorId,
    pub name: VendorName,
    pub slug: Slug,
}

/// `GET /api/v1/search`: a page of hits plus facets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    pub items: Vec<ProductSummary>,
    pub next_cursor: Option<String>,
    pub facets: SearchFacets,
}

/// `GET /api/v1/search/suggest`: titles completing what is typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub id: ProductId,
    pub title: ProductTitle,
    pub slug: Slug,
    /// The shop's slug: with `slug`, the product's storefront address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_slug: Option<Slug>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::money::Currency;
    use crate::catalog::rating::RatingAverage;
    use serde_json::json;

    fn category(n: u8, parent: Option<u8>, position: u32) -> Category {
        let id = |n: u8| CategoryId::generate(1_700_000_000_000, [n; 10]);
        Category {
            id: id(n),
            parent_id: parent.map(id),
            slug: Slug::parse(&format!("c{n}")).unwrap(),
            name: CategoryName::parse(&format!("C{n}")).unwrap(),
            position,
        }
    }

    #[test]
    fn nests_categories_in_position_order() {
        let tree = category_tree(vec![
            category(3, Some(1), 1),
            category(1, None, 0),
            category(2, Some(1), 0),
            category(4, None, 1),
        ])
        .unwrap();
        let names: Vec<(&str, Vec<&str>)> = tree
            .iter()
            .map(|node| {
                (node.category.name.as_str(), node.children.iter().map(|child| child.category.name.as_str()).collect())
            })
            .collect();
        assert_eq!(names, [("C1", vec!["C2", "C3"]), ("C4", vec![])]);
        let json = serde_json::to_value(&tree[1]).unwrap();
        assert_eq!(json["slug"], "c4");
        assert_eq!(json["children"], json!([]));
        assert_eq!(json["parent_id"], serde_json::Value::Null);
    }

    #[test]
    fn refuses_cycles_and_missing_parents() {
        assert_eq!(category_tree(vec![category(1, Some(2), 0), category(2, Some(1), 0)]), Err(TreeError::NotATree));
        assert!(matches!(category_tree(vec![category(1, Some(9), 0)]), Err(TreeError::MissingParent(_))));
        let chain: Vec<Category> = (1..=10u8).map(|n| category(n, (n > 1).then(|| n - 1), 0)).collect();
        assert_eq!(category_tree(chain), Err(TreeError::NotATree));
    }

    #[test]
    fn a_product_detail_lists_variants_with_availability() {
        let eur = |amount_minor| Money::new(amount_minor, Currency::EUR);
        let variant = |n: u8, price, available| Variant {
            id: VariantId::generate(1_700_000_000_000, [n; 10]),
            sku: Sku::parse(&format!("NC-MUG-{n}")).unwrap(),
            options: VariantOptions::parse([("Colour", "Blue")]).unwrap(),
            price: eur(price),
            compare_at: None,
            weight_grams: 350,
            available: Quantity::new(available).unwrap(),
        };
        let created_at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let product = Product {
            id: ProductId::generate(1_700_000_000_000, [1; 10]),
            vendor_id: VendorId::parse("ven_01JC00000000000000000000A1").unwrap(),
            vendor: None,
            title: ProductTitle::parse("Stoneware Mug").unwrap(),
            slug: Slug::parse("stoneware-mug").unwrap(),
            description: Description::parse("Hand-thrown.").unwrap(),
            category_id: CategoryId::generate(1_700_000_000_000, [2; 10]),
            status: ProductStatus::Active,
            rating: Some(RatingSummary { average: RatingAverage::of(9, 2).unwrap(), count: 2 }),
            images: vec![],
            variants: vec![variant(1, 1_800, 0), variant(2, 1_500, 3)],
            created_at,
            updated_at: created_at,
        };
        assert_eq!(product.price_from(), Some(eur(1_500)));
        assert!(product.in_stock());
        let json = serde_json::to_value(&product).unwrap();
        assert_eq!(json["variants"][1]["available"], 3);
        assert_eq!(json["variants"][1]["price"], json!({"amount_minor": 1500, "currency": "EUR"}));
        assert_eq!(json["variants"][1]["options"], json!({"Colour": "Blue"}));
        assert!(json["variants"][1].get("compare_at").is_none());
        assert_eq!(json["rating"], json!({"average": 4.5, "count": 2}));
        assert_eq!(json["status"], "active");
        assert_eq!(json["created_at"], "2023-11-14T22:13:20Z");
        assert_eq!(serde_json::from_value::<Product>(json).unwrap(), product);
    }

    #[test]
    fn pages_always_carry_next_cursor() {
        let page: Page<Suggestion> = Page { items: vec![], next_cursor: None };
        assert_eq!(serde_json::to_value(page).unwrap(), json!({"items": [], "next_cursor": null}));
    }
}
