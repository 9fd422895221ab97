//! Every SQL statement the cart Worker runs: the catalog through the read-only view
//! `catalog.cart_variants`, and its own `cart` schema (migration 0008, docs/adr/0004). Pricing data
//! comes from one function, `cart.pricing_data` (migration 0015: a function, so its plan is kept
//! per connection), as JSON in the shape of `shared::cart`'s types, parsed here, so a bad row is an
//! error, not a bad price.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use shared::api::{ApiError, ErrorCode};
use shared::cart::{
    Cart, CatalogVariant, Coupon, CouponCode, CouponUsage, PricingInput, ShippingOption, ShippingOptionId, TaxTable,
};
use shared::catalog::geo::GeoPoint;
use shared::catalog::{Money, ProductId, Quantity, VariantId, VendorId};
use shared::neon::{BatchOptions, NeonClient, NeonError, Query};

use worker_platform::fetch::FetchTransport;
use worker_platform::respond::{database_failure, internal};

use crate::config::Config;

/// A variant as the cart sees it (one row of `catalog.cart_variants`).
#[derive(Debug, Clone, Deserialize)]
pub struct Variant {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub vendor_id: VendorId,
    pub price: Money,
    pub available: Quantity,
    pub weight_grams: u32,
    pub on_sale: bool,
    pub vendor_location: Option<GeoPoint>,
}

/// A coupon with its redemptions so far.
#[derive(Debug, Deserialize)]
struct CouponRow {
    coupon: Coupon,
    usage: CouponUsage,
}

/// Everything `shared::cart::price` needs besides the cart, read in one statement.
#[derive(Debug, Default)]
pub struct PricingData {
    /// The rows behind `catalog`, for adding a line.
    pub variants: BTreeMap<VariantId, Variant>,
    pub catalog: BTreeMap<VariantId, CatalogVariant>,
    pub coupons: BTreeMap<CouponCode, (Coupon, CouponUsage)>,
    pub shipping_options: Vec<ShippingOption>,
    pub vendor_locations: BTreeMap<VendorId, GeoPoint>,
    pub tax: TaxTable,
    /// What was asked for, so a cart changed since can tell whether this still prices it.
    asked: Asked,
}

#[derive(Debug, Default)]
struct Asked {
    variants: Vec<VariantId>,
    coupons: Vec<CouponCode>,
    country: Option<String>,
}

impl PricingData {
    /// Whether this data prices `cart` (it may have changed since, e.g. by a concurrent write).
    pub fn covers(&self, cart: &Cart) -> bool {
        cart.lines.iter().all(|line| self.asked.variants.contains(&line.variant_id))
            && cart.coupons.iter().all(|code| self.asked.coupons.contains(code))
            && cart.destination.as_ref().map(|destination| destination.country.as_str().to_owned())
                == self.asked.country
    }

    pub fn input(&self, now: chrono::DateTime<chrono::Utc>) -> PricingInput<'_> {
        PricingInput {
            catalog: &self.catalog,
            coupons: &self.coupons,
            shipping_options: &self.shipping_options,
            vendor_locations: &self.vendor_locations,
            tax: &self.tax,
            now,
        }
    }
}

#[derive(Debug, Deserialize)]
struct PricingRow {
    variants: Vec<Variant>,
    coupons: Vec<CouponRow>,
    shipping: Vec<ShippingOption>,
    tax: TaxTable,
}

pub struct Data {
    neon: NeonClient<FetchTransport>,
}

impl Data {
    pub fn new(config: &Config) -> Self {
        Self { neon: NeonClient::from_config(FetchTransport, config.neon.clone()) }
    }

    /// The variants that exist, whatever their state, in no particular order.
    pub async fn variants(&self, ids: &[VariantId]) -> Result<Vec<Variant>, ApiError> {
        let result = self
            .neon
            .query("SELECT cart.pricing_data($1, '{}', '{}', NULL, NULL) -> 'variants'", &[&ids])
            .await
            .map_err(neon)?;
        single_json(&result)
    }

    /// The cart's variants (and `extra`, about to be added), coupons (with usage by `user_id`), its
    /// vendors' shipping options and the destination country's tax rates: one statement, one round
    /// trip, one snapshot.
    pub async fn pricing(
        &self,
        cart: &Cart,
        extra: Option<&VariantId>,
        user_id: Option<&str>,
    ) -> Result<PricingData, ApiError> {
        let variants: Vec<VariantId> = cart.lines.iter().map(|line| &line.variant_id).chain(extra).cloned().collect();
        let vendors: Vec<&VendorId> = cart.lines.iter().map(|line| &line.vendor_id).collect();
        let country = cart.destination.as_ref().map(|destination| destination.country.as_str());
        let asked = Asked { coupons: cart.coupons.clone(), country: country.map(str::to_owned), variants };
        if asked.variants.is_empty() {
            // An empty cart prices to nothing (`price` reads no data for it): no query.
            return Ok(PricingData { asked, ..PricingData::default() });
        }
        let variants = &asked.variants;
        let result = self
            .neon
            .query(
                "SELECT cart.pricing_data($1, $2, $3, $4, $5)",
                &[variants, &cart.coupons, &vendors, &country, &user_id],
            )
            .await
            .map_err(neon)?;
        let row: PricingRow = single_json(&result)?;
        let mut data = PricingData {
            shipping_options: row.shipping,
            tax: row.tax,
            coupons: row.coupons.into_iter().map(|row| (row.coupon.code.clone(), (row.coupon, row.usage))).collect(),
            asked,
            ..PricingData::default()
        };
        for variant in row.variants {
            if let Some(location) = variant.vendor_location {
                data.vendor_locations.insert(variant.vendor_id.clone(), location);
            }
            data.catalog.insert(
                variant.variant_id.clone(),
                CatalogVariant {
                    price: variant.price,
                    available: variant.available,
                    weight_grams: variant.weight_grams,
                    on_sale: variant.on_sale,
                },
            );
            data.variants.insert(variant.variant_id.clone(), variant);
        }
        Ok(data)
    }

    /// The vendor an option belongs to, if it exists.
    pub async fn shipping_option_vendor(&self, id: &ShippingOptionId) -> Result<Option<VendorId>, ApiError> {
        let result =
            self.neon.query("SELECT vendor_id FROM cart.shipping_options WHERE id = $1", &[id]).await.map_err(neon)?;
        let Some(row) = result.first() else { return Ok(None) };
        let vendor: String = row.get(0).map_err(|error| neon(error.into()))?;
        Ok(VendorId::parse(&vendor).ok())
    }

    pub async fn vendor_shipping_options(&self, vendor_id: &VendorId) -> Result<Vec<ShippingOption>, ApiError> {
        let sql = "SELECT coalesce(json_agg(json_build_object('id', id, 'vendor_id', vendor_id, 'rate', rate) \
                   ORDER BY position, id), '[]'::json) FROM cart.shipping_options WHERE vendor_id = $1";
        let result = self.neon.query(sql, &[vendor_id]).await.map_err(neon)?;
        single_json(&result)
    }

    /// Replaces the vendor's whole set in one transaction (`options` all carry `vendor_id`).
    pub async fn replace_shipping_options(
        &self,
        vendor_id: &VendorId,
        options: &[ShippingOption],
    ) -> Result<(), ApiError> {
        let rates: Vec<serde_json::Value> = options
            .iter()
            .map(|option| serde_json::to_value(&option.rate))
            .collect::<Result<_, _>>()
            .map_err(|error| ApiError::new(ErrorCode::Internal, error.to_string()))?;
        let ids: Vec<&ShippingOptionId> = options.iter().map(|option| &option.id).collect();
        let queries = [
            // One vendor's replacements run one after another: without the lock two concurrent ones
            // each delete only the rows committed before them and both inserts survive (past the limit).
            Query::new("SELECT pg_advisory_xact_lock(hashtext('cart.shipping_options:' || $1))", &[vendor_id]),
            Query::new("DELETE FROM cart.shipping_options WHERE vendor_id = $1", &[vendor_id]),
            Query::new(
                "INSERT INTO cart.shipping_options (id, vendor_id, position, rate) \
                 SELECT id, $1, ordinality - 1, rate FROM unnest($2::text[], $3::jsonb[]) WITH ORDINALITY AS o(id, rate)",
                &[vendor_id, &ids, &rates],
            ),
        ];
        self.neon.batch(&queries, BatchOptions::default()).await.map_err(neon)?;
        Ok(())
    }
}

/// The one JSON column of the one row these statements return.
fn single_json<T: DeserializeOwned>(result: &shared::neon::QueryResult) -> Result<T, ApiError> {
    let row = result.first().ok_or_else(|| internal("a JSON query returned no row"))?;
    let value: serde_json::Value = row.get(0).map_err(|error| neon(error.into()))?;
    T::deserialize(value).map_err(|error| internal(format!("a cart row breaks the model: {error}")))
}

fn neon(error: NeonError) -> ApiError {
    database_failure(&error)
}
