//! A vendor's shipping options, each priced for one cart: flat, by weight band, or local delivery
//! priced by distance from the shop. An option that cannot serve the cart says why.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::catalog::geo::GeoPoint;
use crate::catalog::ids::prefixed_id;
use crate::catalog::money::{Money, MoneyError};
use crate::catalog::validation::Reason;
use crate::catalog::{Currency, VendorId};
use thiserror::Error;

prefixed_id!(
    /// `ship_…`: one of a vendor's shipping options.
    ShippingOptionId,
    "ship"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightBand {
    /// Inclusive upper bound of the parcel's weight.
    pub up_to_grams: u32,
    pub price: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShippingRate {
    Flat {
        price: Money,
    },
    /// The lightest band the parcel fits in; heavier than every band, the option does not apply.
    WeightBands {
        bands: Vec<WeightBand>,
    },
    /// `base + per_km × ⌈distance⌉` from the shop's location, within `max_radius_km`.
    LocalDelivery {
        base: Money,
        per_km: Money,
        max_radius_km: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippingOption {
    pub id: ShippingOptionId,
    pub vendor_id: VendorId,
    pub rate: ShippingRate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShippingUnavailable {
    /// Heavier than the heaviest weight band.
    TooHeavy,
    /// Local delivery needs the destination's coordinates.
    NeedsLocation,
    /// The shop has no location to measure from.
    VendorHasNoLocation,
    /// Farther than the delivery radius.
    OutOfRange,
    /// The option is priced in another currency than the cart.
    CurrencyMismatch,
}

/// One option as the cart response shows it: a price, or why it cannot be chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingQuote {
    pub id: ShippingOptionId,
    pub kind: ShippingKind,
    pub price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<ShippingUnavailable>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShippingKind {
    Flat,
    WeightBands,
    LocalDelivery,
}

impl ShippingOption {
    /// The price to ship `weight_grams` of goods from a shop at `origin` to `destination`.
    pub fn quote(
        &self,
        currency: Currency,
        weight_grams: u64,
        origin: Option<GeoPoint>,
        destination: Option<GeoPoint>,
    ) -> Result<ShippingQuote, MoneyError> {
        let (kind, price) = match &self.rate {
            ShippingRate::Flat { price } => (ShippingKind::Flat, Ok(*price)),
            ShippingRate::WeightBands { bands } => (ShippingKind::WeightBands, by_weight(bands, weight_grams)),
            ShippingRate::LocalDelivery { base, per_km, max_radius_km } => {
                (ShippingKind::LocalDelivery, by_distance(*base, *per_km, *max_radius_km, origin, destination)?)
            }
        };
        let price = price.and_then(|price| {
            if price.currency == currency { Ok(price) } else { Err(ShippingUnavailable::CurrencyMismatch) }
        });
        Ok(ShippingQuote { id: self.id.clone(), kind, price: price.ok(), unavailable: price.err() })
    }
}

/// A vendor configures a handful of options (standard, express, local); more is a misconfiguration.
pub const MAX_OPTIONS_PER_VENDOR: usize = 10;
/// Weight tables in practice have a few steps; this bounds the JSON stored per option.
pub const MAX_WEIGHT_BANDS: usize = 20;
/// Local delivery is by the shop's own couriers: a city and its surroundings.
pub const MAX_DELIVERY_RADIUS_KM: f64 = 500.0;

/// Why a vendor's rate cannot be saved; the names are stable (`details` of `VAL_3002`).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum ShippingRateError {
    #[error("prices cannot be negative")]
    NegativePrice,
    #[error("a rate's prices must all be in one currency")]
    MixedCurrencies,
    #[error("weight bands: 1 to {MAX_WEIGHT_BANDS}, each with its own upper bound")]
    Bands,
    #[error("the delivery radius must be above 0 and at most {MAX_DELIVERY_RADIUS_KM} km")]
    Radius,
}

impl Reason for ShippingRateError {
    fn reason(&self) -> &'static str {
        match self {
            ShippingRateError::NegativePrice => "negative_price",
            ShippingRateError::MixedCurrencies => "mixed_currencies",
            ShippingRateError::Bands => "bands",
            ShippingRateError::Radius => "radius",
        }
    }
}

impl ShippingRate {
    /// The checks a vendor's input must pass before it is stored.
    pub fn validate(&self) -> Result<(), ShippingRateError> {
        let prices: Vec<Money> = match self {
            ShippingRate::Flat { price } => vec![*price],
            ShippingRate::WeightBands { bands } => {
                let mut bounds: Vec<u32> = bands.iter().map(|band| band.up_to_grams).collect();
                bounds.sort_unstable();
                bounds.dedup();
                if bands.is_empty() || bands.len() > MAX_WEIGHT_BANDS || bounds.len() != bands.len() {
                    return Err(ShippingRateError::Bands);
                }
                bands.iter().map(|band| band.price).collect()
            }
            ShippingRate::LocalDelivery { base, per_km, max_radius_km } => {
                if !(max_radius_km.is_finite() && *max_radius_km > 0.0 && *max_radius_km <= MAX_DELIVERY_RADIUS_KM) {
                    return Err(ShippingRateError::Radius);
                }
                vec![*base, *per_km]
            }
        };
        if prices.iter().any(|price| price.is_negative()) {
            return Err(ShippingRateError::NegativePrice);
        }
        if prices.windows(2).any(|pair| pair[0].currency != pair[1].currency) {
            return Err(ShippingRateError::MixedCurrencies);
        }
        Ok(())
    }
}

fn by_weight(bands: &[WeightBand], weight_grams: u64) -> Result<Money, ShippingUnavailable> {
    bands
        .iter()
        .filter(|band| u64::from(band.up_to_grams) >= weight_grams)
        .min_by_key(|band| band.up_to_grams)
        .map(|band| band.price)
        .ok_or(ShippingUnavailable::TooHeavy)
}

fn by_distance(
    base: Money,
    per_km: Money,
    max_radius_km: f64,
    origin: Option<GeoPoint>,
    destination: Option<GeoPoint>,
) -> Result<Result<Money, ShippingUnavailable>, MoneyError> {
    let Some(origin) = origin else { return Ok(Err(ShippingUnavailable::VendorHasNoLocation)) };
    let Some(destination) = destination else { return Ok(Err(ShippingUnavailable::NeedsLocation)) };
    let km = origin.distance_km(destination);
    // A NaN radius compares as `None` and refuses rather than accepts.
    if !matches!(km.partial_cmp(&max_radius_km), Some(Ordering::Less | Ordering::Equal)) {
        return Ok(Err(ShippingUnavailable::OutOfRange));
    }
    // Started kilometres are billed; the distance is at most half the Earth's circumference.
    let billed_km = km.ceil() as u32;
    Ok(Ok(base.checked_add(per_km.checked_mul(billed_km)?)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::fixtures::eur;

    fn option(rate: ShippingRate) -> ShippingOption {
        ShippingOption {
            id: ShippingOptionId::parse("ship_01JC00000000000000000000S1").unwrap(),
            vendor_id: VendorId::parse("ven_01JC00000000000000000000A1").unwrap(),
            rate,
        }
    }

    fn price(
        option: &ShippingOption,
        grams: u64,
        origin: Option<GeoPoint>,
        to: Option<GeoPoint>,
    ) -> Result<Money, ShippingUnavailable> {
        let quote = option.quote(Currency::EUR, grams, origin, to).unwrap();
        match (quote.price, quote.unavailable) {
            (Some(price), None) => Ok(price),
            (None, Some(reason)) => Err(reason),
            other => panic!("a quote has a price or a reason, not {other:?}"),
        }
    }

    #[test]
    fn flat_rate_ignores_weight_and_place() {
        let flat = option(ShippingRate::Flat { price: eur(499) });
        assert_eq!(price(&flat, 50_000, None, None), Ok(eur(499)));
        let usd = option(ShippingRate::Flat { price: Money::new(499, Currency::parse("USD").unwrap()) });
        assert_eq!(price(&usd, 0, None, None), Err(ShippingUnavailable::CurrencyMismatch));
    }

    #[test]
    fn weight_bands_pick_the_lightest_band_that_fits() {
        let bands = vec![
            WeightBand { up_to_grams: 5_000, price: eur(900) },
            WeightBand { up_to_grams: 1_000, price: eur(450) },
        ];
        let banded = option(ShippingRate::WeightBands { bands });
        assert_eq!(price(&banded, 0, None, None), Ok(eur(450)));
        assert_eq!(price(&banded, 1_000, None, None), Ok(eur(450)));
        assert_eq!(price(&banded, 1_001, None, None), Ok(eur(900)));
        assert_eq!(price(&banded, 5_001, None, None), Err(ShippingUnavailable::TooHeavy));
    }

    #[test]
    fn local_delivery_bills_started_kilometres_within_the_radius() {
        let lisbon = GeoPoint::new(38.7223, -9.1393).unwrap();
        // Cascais: just inside a 25 km radius.
        let cascais = GeoPoint::new(38.6979, -9.4215).unwrap();
        let porto = GeoPoint::new(41.1579, -8.6291).unwrap();
        let local = option(ShippingRate::LocalDelivery { base: eur(300), per_km: eur(50), max_radius_km: 25.0 });
        let km = lisbon.distance_km(cascais);
        assert!((24.0..25.0).contains(&km), "{km}");
        assert_eq!(price(&local, 0, Some(lisbon), Some(cascais)), Ok(eur(300 + 50 * 25)));
        assert_eq!(price(&local, 0, Some(lisbon), Some(lisbon)), Ok(eur(300)));
        assert_eq!(price(&local, 0, Some(lisbon), Some(porto)), Err(ShippingUnavailable::OutOfRange));
        assert_eq!(price(&local, 0, Some(lisbon), None), Err(ShippingUnavailable::NeedsLocation));
        assert_eq!(price(&local, 0, None, Some(lisbon)), Err(ShippingUnavailable::VendorHasNoLocation));
        let nan = option(ShippingRate::LocalDelivery { base: eur(300), per_km: eur(50), max_radius_km: f64::NAN });
        assert_eq!(price(&nan, 0, Some(lisbon), Some(lisbon)), Err(ShippingUnavailable::OutOfRange));
    }

    #[test]
    fn vendor_rates_are_checked_before_they_are_stored() {
        let band = |grams, minor| WeightBand { up_to_grams: grams, price: eur(minor) };
        assert_eq!(ShippingRate::Flat { price: eur(500) }.validate(), Ok(()));
        assert_eq!(ShippingRate::Flat { price: eur(-1) }.validate(), Err(ShippingRateError::NegativePrice));
        assert_eq!(ShippingRate::WeightBands { bands: vec![] }.validate(), Err(ShippingRateError::Bands));
        let same_bound = ShippingRate::WeightBands { bands: vec![band(1000, 300), band(1000, 400)] };
        assert_eq!(same_bound.validate(), Err(ShippingRateError::Bands));
        let mixed = ShippingRate::WeightBands {
            bands: vec![
                band(1000, 300),
                WeightBand { up_to_grams: 2000, price: Money::new(1, Currency::parse("USD").unwrap()) },
            ],
        };
        assert_eq!(mixed.validate(), Err(ShippingRateError::MixedCurrencies));
        for radius in [0.0, -1.0, f64::NAN, 501.0] {
            let local = ShippingRate::LocalDelivery { base: eur(100), per_km: eur(50), max_radius_km: radius };
            assert_eq!(local.validate(), Err(ShippingRateError::Radius), "{radius}");
        }
        assert_eq!(ShippingRateError::Radius.reason(), "radius");
    }
}
