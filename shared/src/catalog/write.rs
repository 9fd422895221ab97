//! The vendor and platform-admin write API's rules, pure: request bodies as sent, validated into
//! the catalog's newtypes with one `VAL_3002` naming every bad field; the vendor's own product
//! list query; and what a violated database constraint means to the caller (idempotency keys and
//! request fingerprints are `crate::idempotency`). The vendor id is never part of a body: it comes
//! from the token.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize};

use super::cursor::{CursorKey, Position, query_fingerprint};
use super::geo::GeoPoint;
use super::ids::{CategoryId, ProductId, VendorId};
use super::list_query::{DEFAULT_LIMIT, MAX_LIMIT, Sort, known_params, parse_cursor, parse_limit};
use super::model::Product;
use super::money::{Currency, Money, VariantPricing};
use super::options::VariantOptions;
use super::quantity::Quantity;
use super::sku::Sku;
use super::slug::{MAX_SLUG_LEN, Slug};
use super::status::ProductStatus;
use super::text::{Description, ProductTitle, VendorCity, VendorName, clean_line};
use super::validation::FieldErrors;
use crate::api::{ApiError, ErrorCode};

/// Far above any real product (a 100-variant product is ~20 KB); what the Worker reads at most.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Shopify's historical limit per product; a larger grid is a catalog modelling problem.
pub const MAX_VARIANTS: usize = 100;
/// One or two sentences a vendor can act on.
pub const MAX_MODERATION_REASON_CHARS: usize = 500;
/// Variants weigh at most 1,000 kg (a parcel carrier's freight limit is far below).
pub const MAX_WEIGHT_GRAMS: i64 = 1_000_000;

/// `"amount_minor"` + `"currency"`, checked field by field so both can be named.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyInput {
    pub amount_minor: i64,
    pub currency: String,
}

/// One variant as sent (create, or `POST …/variants`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    pub sku: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub price: Option<MoneyInput>,
    pub compare_at_price: Option<MoneyInput>,
    pub weight_grams: Option<i64>,
    pub stock: Option<i64>,
}

/// `POST /api/v1/vendor/products` as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProductInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category_id: Option<String>,
    pub slug: Option<String>,
    pub status: Option<String>,
    /// The option names every variant sets (`["Size","Colour"]`); optional, checked when sent.
    pub options: Option<Vec<String>>,
    #[serde(default)]
    pub variants: Vec<VariantInput>,
}

/// A product's slug: the vendor's own (a clash is a conflict), or derived from the title (a clash
/// takes `alternative`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlugChoice {
    Given(Slug),
    Derived(Slug),
}

impl SlugChoice {
    pub fn preferred(&self) -> &Slug {
        match self {
            SlugChoice::Given(slug) | SlugChoice::Derived(slug) => slug,
        }
    }

    /// The slug to take when `preferred` is already used by this vendor: a derived slug gets the end
    /// of the new product's id (unique); a given one has none.
    pub fn alternative(&self, id: &ProductId) -> Option<Slug> {
        let SlugChoice::Derived(slug) = self else { return None };
        let suffix = id.as_str().get(id.as_str().len() - 8..)?.to_ascii_lowercase();
        let keep = MAX_SLUG_LEN - suffix.len() - 1;
        let base = match slug.as_str().get(..keep) {
            Some(cut) if slug.as_str().len() > keep => cut.trim_end_matches('-'),
            _ => slug.as_str(),
        };
        Slug::parse(&format!("{base}-{suffix}")).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVariant {
    pub sku: Sku,
    pub options: VariantOptions,
    pub pricing: VariantPricing,
    pub weight_grams: u32,
    pub stock: Quantity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub title: ProductTitle,
    pub description: Description,
    pub category_id: CategoryId,
    pub slug: SlugChoice,
    pub status: ProductStatus,
    /// Every variant's (the schema prices a product in one currency).
    pub currency: Currency,
    pub variants: Vec<NewVariant>,
}

impl CreateProductInput {
    pub fn validate(&self) -> Result<NewProduct, FieldErrors> {
        let mut errors = FieldErrors::new();
        let title = required(&mut errors, "title", self.title.as_deref(), ProductTitle::parse);
        let description =
            errors.check("description", Description::parse(self.description.as_deref().unwrap_or_default()));
        let category_id = required(&mut errors, "category_id", self.category_id.as_deref(), CategoryId::parse);
        let slug = match (&self.slug, &title) {
            (Some(slug), _) => errors.check("slug", Slug::parse(slug)).map(SlugChoice::Given),
            // Titles with no Latin letter or digit (`茶碗`) still need a slug.
            (None, Some(title)) => {
                Slug::slugify(title.as_str()).or_else(|| Slug::parse("product").ok()).map(SlugChoice::Derived)
            }
            (None, None) => None,
        };
        let status = match self.status.as_deref() {
            None => Some(ProductStatus::Draft),
            Some(status) => match errors.check("status", ProductStatus::parse(status)) {
                Some(ProductStatus::Archived) => {
                    errors.push("status", "not_allowed_on_create");
                    None
                }
                other => other,
            },
        };
        let names = self.options.as_ref().and_then(|names| option_names(&mut errors, names));
        if self.variants.is_empty() {
            errors.push("variants", "required");
        } else if self.variants.len() > MAX_VARIANTS {
            errors.push("variants", "too_many");
        }
        let mut variants = Vec::with_capacity(self.variants.len());
        for (index, input) in self.variants.iter().take(MAX_VARIANTS).enumerate() {
            if let Some(variant) = input.validate(&format!("variants[{index}]."), &mut errors) {
                variants.push((index, variant));
            }
        }
        let currency = variants.first().map(|(_, variant)| variant.pricing.price.currency);
        check_variants_agree(&mut errors, &variants, names.as_ref());
        let (Some(title), Some(description), Some(category_id), Some(slug), Some(status), Some(currency)) =
            (title, description, category_id, slug, status, currency)
        else {
            return Err(errors);
        };
        errors.into_result(NewProduct {
            title,
            description,
            category_id,
            slug,
            status,
            currency,
            variants: variants.into_iter().map(|(_, variant)| variant).collect(),
        })
    }
}

/// Distinct (ignoring case), at most three, each a valid name.
fn option_names(errors: &mut FieldErrors, names: &[String]) -> Option<BTreeSet<String>> {
    let pairs: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "-")).collect();
    errors.check("options", VariantOptions::parse(pairs)).map(|options| lower_names(&options))
}

fn lower_names(options: &VariantOptions) -> BTreeSet<String> {
    options.iter().map(|(name, _)| name.as_str().to_lowercase()).collect()
}

/// One currency, one set of option names, no two variants alike, no SKU twice.
fn check_variants_agree(errors: &mut FieldErrors, variants: &[(usize, NewVariant)], names: Option<&BTreeSet<String>>) {
    let Some((_, first)) = variants.first() else { return };
    let expected_names = names.cloned().unwrap_or_else(|| lower_names(&first.options));
    let mut skus = BTreeSet::new();
    let mut combinations = BTreeSet::new();
    for (index, variant) in variants {
        if variant.pricing.price.currency != first.pricing.price.currency {
            errors.push(format!("variants[{index}].price.currency"), "currency_mismatch");
        }
        if lower_names(&variant.options) != expected_names {
            errors.push(format!("variants[{index}].options"), "options_mismatch");
        } else if !combinations.insert(variant.options.to_json().to_string().to_lowercase()) {
            errors.push(format!("variants[{index}].options"), "duplicate");
        }
        if !skus.insert(variant.sku.clone()) {
            errors.push(format!("variants[{index}].sku"), "duplicate");
        }
    }
}

impl VariantInput {
    /// Fields are named with `prefix` (`variants[2].`), or bare for the variant routes.
    pub fn validate(&self, prefix: &str, errors: &mut FieldErrors) -> Option<NewVariant> {
        let field = |name: &str| format!("{prefix}{name}");
        let sku = required(errors, &field("sku"), self.sku.as_deref(), Sku::parse);
        let options = errors.check(&field("options"), VariantOptions::try_from(self.options.clone()));
        let price = match &self.price {
            Some(price) => money(errors, &field("price"), price),
            None => {
                errors.push(field("price"), "required");
                None
            }
        };
        let compare_at = self.compare_at_price.as_ref().map(|was| money(errors, &field("compare_at_price"), was));
        let pricing = match (price, compare_at) {
            (Some(price), None) => errors.check(&field("price"), VariantPricing::new(price, None)),
            (Some(price), Some(Some(was))) => {
                errors.check(&field("compare_at_price"), VariantPricing::new(price, Some(was)))
            }
            _ => None,
        };
        let weight_grams = weight(errors, &field("weight_grams"), self.weight_grams.unwrap_or(0));
        let stock = errors.check(&field("stock"), Quantity::new(self.stock.unwrap_or(0)));
        Some(NewVariant { sku: sku?, options: options?, pricing: pricing?, weight_grams: weight_grams?, stock: stock? })
    }

    /// `POST /api/v1/vendor/products/{id}/variants`.
    pub fn validate_alone(&self) -> Result<NewVariant, FieldErrors> {
        let mut errors = FieldErrors::new();
        let variant = self.validate("", &mut errors);
        match variant {
            Some(variant) if errors.is_empty() => Ok(variant),
            _ => Err(errors),
        }
    }
}

fn money(errors: &mut FieldErrors, field: &str, input: &MoneyInput) -> Option<Money> {
    let currency = errors.check(&format!("{field}.currency"), Currency::parse(&input.currency))?;
    Some(Money::new(input.amount_minor, currency))
}

fn weight(errors: &mut FieldErrors, field: &str, grams: i64) -> Option<u32> {
    let grams = u32::try_from(grams).ok().filter(|grams| i64::from(*grams) <= MAX_WEIGHT_GRAMS);
    if grams.is_none() {
        errors.push(field, "out_of_range");
    }
    grams
}

fn required<T, E: super::validation::Reason>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Option<T> {
    match value {
        Some(value) => errors.check(field, parse(value)),
        None => {
            errors.push(field, "required");
            None
        }
    }
}

/// A field a PATCH may clear: absent (keep), `null` (clear) or a value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PATCH /api/v1/vendor/products/{id}` as sent: every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductPatchInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category_id: Option<String>,
    pub slug: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    pub title: Option<ProductTitle>,
    pub description: Option<Description>,
    pub category_id: Option<CategoryId>,
    pub slug: Option<Slug>,
    pub status: Option<ProductStatus>,
}

impl ProductPatchInput {
    pub fn validate(&self) -> Result<ProductPatch, FieldErrors> {
        let mut errors = FieldErrors::new();
        let patch = ProductPatch {
            title: self.title.as_deref().and_then(|title| errors.check("title", ProductTitle::parse(title))),
            description: self
                .description
                .as_deref()
                .and_then(|text| errors.check("description", Description::parse(text))),
            category_id: self.category_id.as_deref().and_then(|id| errors.check("category_id", CategoryId::parse(id))),
            slug: self.slug.as_deref().and_then(|slug| errors.check("slug", Slug::parse(slug))),
            status: self.status.as_deref().and_then(|status| errors.check("status", ProductStatus::parse(status))),
        };
        errors.into_result(patch)
    }
}

impl ProductPatch {
    /// `archive`: the same write as a PATCH of the status.
    pub fn archive() -> Self {
        Self { status: Some(ProductStatus::Archived), ..Self::default() }
    }
}

/// The statuses a product may be in for a change to `to` to be allowed (`shared::catalog::status`
/// rules), so the database checks the move in the same statement that makes it.
pub fn allowed_sources(to: ProductStatus) -> Vec<ProductStatus> {
    ProductStatus::ALL.into_iter().filter(|from| from.transition(to, 1).is_ok()).collect()
}

/// Why a status change the database refused was refused, from the product's state at the time.
pub fn refused_transition(from: ProductStatus, to: ProductStatus, variant_count: usize) -> FieldErrors {
    match from.transition(to, variant_count) {
        Err(error) => FieldErrors::single("status", super::validation::Reason::reason(&error)),
        // Allowed now: a concurrent change made it so; the caller may retry.
        Ok(_) => FieldErrors::single("status", "changed_concurrently"),
    }
}

/// `PATCH …/variants/{variant_id}` as sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantPatchInput {
    pub sku: Option<String>,
    pub options: Option<BTreeMap<String, String>>,
    pub price: Option<MoneyInput>,
    #[serde(default, deserialize_with = "present")]
    pub compare_at_price: Option<Option<MoneyInput>>,
    pub weight_grams: Option<i64>,
    pub stock: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariantPatch {
    pub sku: Option<Sku>,
    pub options: Option<VariantOptions>,
    pub price: Option<Money>,
    /// `Some(None)` clears it.
    pub compare_at: Option<Option<Money>>,
    pub weight_grams: Option<u32>,
    pub stock: Option<Quantity>,
}

impl VariantPatchInput {
    /// Checks what can be checked without the stored variant; the compare-at rule against a stored
    /// price is the database's (`variants_compare_at_minor_check`, mapped by `constraint_error`).
    pub fn validate(&self) -> Result<VariantPatch, FieldErrors> {
        let mut errors = FieldErrors::new();
        let sku = self.sku.as_deref().and_then(|sku| errors.check("sku", Sku::parse(sku)));
        let options =
            self.options.clone().and_then(|options| errors.check("options", VariantOptions::try_from(options)));
        let price = self.price.as_ref().and_then(|price| money(&mut errors, "price", price));
        let compare_at = match &self.compare_at_price {
            None => None,
            Some(None) => Some(None),
            Some(Some(was)) => money(&mut errors, "compare_at_price", was).map(Some),
        };
        if let Some(price) = price {
            let pricing = VariantPricing::new(price, compare_at.flatten());
            if let Err(error) = pricing {
                let field = if compare_at.flatten().is_some() { "compare_at_price" } else { "price" };
                errors.check::<(), _>(field, Err(error));
            }
        } else if let Some(Some(was)) = compare_at {
            errors.check("compare_at_price", VariantPricing::new(Money::zero(was.currency), Some(was)));
        }
        let weight_grams = self.weight_grams.and_then(|grams| weight(&mut errors, "weight_grams", grams));
        let stock = self.stock.and_then(|stock| errors.check("stock", Quantity::new(stock)));
        errors.into_result(VariantPatch { sku, options, price, compare_at, weight_grams, stock })
    }
}

/// `PUT /api/v1/admin/products/{id}/moderation` as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModerationInput {
    pub hidden: bool,
    pub reason: Option<String>,
}

/// A platform admin's decision on a product; hiding it needs a reason the vendor can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moderation {
    pub hidden: bool,
    pub reason: Option<String>,
}

impl ModerationInput {
    pub fn validate(&self) -> Result<Moderation, FieldErrors> {
        let mut errors = FieldErrors::new();
        let reason = match (&self.reason, self.hidden) {
            (Some(reason), _) => errors.check("reason", clean_line(reason, MAX_MODERATION_REASON_CHARS)),
            (None, true) => {
                errors.push("reason", "required");
                None
            }
            (None, false) => None,
        };
        errors.into_result(Moderation { hidden: self.hidden, reason })
    }
}

/// A product as its own vendor sees it: every status, and a platform admin's moderation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VendorProduct {
    #[serde(flatten)]
    pub product: Product,
    pub moderation: Moderation,
}

/// `POST /api/v1/admin/vendors` as sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVendorInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// Optional: a shop without one shows no "Based in".
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewVendor {
    pub name: VendorName,
    pub slug: Slug,
    pub city: Option<VendorCity>,
    pub location: Option<GeoPoint>,
}

impl NewVendorInput {
    pub fn validate(&self) -> Result<NewVendor, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = required(&mut errors, "name", self.name.as_deref(), VendorName::parse);
        let slug = match (&self.slug, &name) {
            (Some(slug), _) => errors.check("slug", Slug::parse(slug)),
            (None, Some(name)) => {
                let slug = Slug::slugify(name.as_str());
                if slug.is_none() {
                    errors.push("slug", "required");
                }
                slug
            }
            (None, None) => None,
        };
        let city = match &self.city {
            Some(city) => errors.check("city", VendorCity::parse(city)).map(Some),
            None => Some(None),
        };
        let location = match (self.latitude, self.longitude) {
            (Some(lat), Some(lng)) => errors.check("latitude", GeoPoint::new(lat, lng)).map(Some),
            (None, None) => Some(None),
            (Some(_), None) => {
                errors.push("longitude", "required");
                None
            }
            (None, Some(_)) => {
                errors.push("latitude", "required");
                None
            }
        };
        match (name, slug, city, location) {
            (Some(name), Some(slug), Some(city), Some(location)) if errors.is_empty() => {
                Ok(NewVendor { name, slug, city, location })
            }
            _ => Err(errors),
        }
    }
}

/// `GET /api/v1/vendor/products?status=&cursor=&limit=`: the vendor's own products, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorListQuery {
    pub status: Option<ProductStatus>,
    pub limit: u8,
    pub cursor: Option<String>,
}

impl VendorListQuery {
    pub fn parse(query: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let params = known_params(query, &["status", "limit", "cursor"], &mut errors);
        let status = params.get("status").and_then(|s| errors.check("status", ProductStatus::parse(s)));
        let limit =
            params.get("limit").and_then(|l| errors.check("limit", parse_limit(l, MAX_LIMIT))).unwrap_or(DEFAULT_LIMIT);
        let cursor = params.get("cursor").and_then(|c| errors.check("cursor", parse_cursor(c)));
        errors.into_result(Self { status, limit, cursor })
    }

    /// Binds a cursor to the vendor and the status filter, so it moves to neither another list
    /// nor another vendor's.
    fn fingerprint(&self, vendor: &VendorId) -> u64 {
        let status = self.status.map_or("", ProductStatus::as_str);
        query_fingerprint(&format!("vendor-products\n{vendor}\n{status}"))
    }

    pub fn decode_cursor(&self, key: &CursorKey, vendor: &VendorId) -> Result<Option<Position>, FieldErrors> {
        let Some(cursor) = &self.cursor else { return Ok(None) };
        key.decode(cursor, Sort::Newest, self.fingerprint(vendor))
            .map(Some)
            .map_err(|error| FieldErrors::single("cursor", super::validation::Reason::reason(&error)))
    }

    pub fn next_cursor(&self, key: &CursorKey, vendor: &VendorId, last: &Position) -> String {
        key.encode(self.fingerprint(vendor), last)
    }
}

/// `GET /api/v1/admin/vendors?cursor=&limit=`: every vendor by id. The cursor is the last id
/// (vendor ids are no secret to platform admins), so it needs no signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminVendorQuery {
    pub after: Option<VendorId>,
    pub limit: u8,
}

impl AdminVendorQuery {
    pub fn parse(query: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let params = known_params(query, &["limit", "cursor"], &mut errors);
        let after = params.get("cursor").and_then(|c| errors.check("cursor", VendorId::parse(c)));
        let limit =
            params.get("limit").and_then(|l| errors.check("limit", parse_limit(l, MAX_LIMIT))).unwrap_or(DEFAULT_LIMIT);
        errors.into_result(Self { after, limit })
    }
}

/// What a violated constraint means to the caller, by the constraint's name (migrations 0005,
/// 0006). `None`: a constraint the API's validation should have kept from firing, so a bug.
pub fn constraint_error(constraint: &str) -> Option<ApiError> {
    let conflict = |field: &str, reason: &str, message: &str| {
        ApiError::new(ErrorCode::Conflict, message).with_details(serde_json::json!({ "fields": { field: reason } }))
    };
    let invalid = |field: &str, reason: &'static str| FieldErrors::single(field, reason).to_api_error();
    Some(match constraint {
        "products_category_id_fkey" => invalid("category_id", "unknown"),
        "products_vendor_id_slug_key" => conflict("slug", "taken", "this vendor already has a product with that slug"),
        "variants_vendor_id_sku_key" => conflict("sku", "taken", "this vendor already has a variant with that SKU"),
        "variants_product_id_options_key" => {
            conflict("options", "taken", "the product already has a variant with these options")
        }
        "variants_product_id_vendor_id_currency_fkey" => invalid("price.currency", "currency_mismatch"),
        "variants_check" => invalid("compare_at_price", "compare_at_not_higher"),
        "vendors_slug_key" => conflict("slug", "taken", "a vendor already has that slug"),
        "products_vendor_id_fkey" | "idempotency_keys_vendor_id_fkey" => {
            ApiError::new(ErrorCode::Forbidden, "this vendor is not registered in the catalog")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
