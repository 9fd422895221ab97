//! Local search: shop locations, great-circle distances and the `near=lat,lng&radius_km=` filter.
//! Floats are fine here: a few metres of rounding never changes which shops are near.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validation::Reason;

/// IUGG mean Earth radius R₁ (Moritz, "Geodetic Reference System 1980", 2000).
pub const EARTH_MEAN_RADIUS_KM: f64 = 6_371.008_8;
/// Product decision: a city and its surroundings.
pub const DEFAULT_RADIUS_KM: f64 = 25.0;
/// Product decision: a day trip; beyond it "near" means nothing and the result is every shop.
pub const MAX_RADIUS_KM: f64 = 500.0;
/// Coordinates are kept to 4 decimals (about 11 m): precise enough for a shop, coarse enough that
/// nearby shoppers share cache entries.
const COORDINATE_SCALE: f64 = 1e4;
/// The radius to 0.1 km, for the same reason.
const RADIUS_SCALE: f64 = 10.0;

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum GeoError {
    #[error("expected `lat,lng` in decimal degrees")]
    Invalid,
    #[error("latitude must be within ±90 and longitude within ±180")]
    OutOfRange,
}

impl Reason for GeoError {
    fn reason(&self) -> &'static str {
        match self {
            GeoError::Invalid => "invalid",
            GeoError::OutOfRange => "out_of_range",
        }
    }
}

/// A WGS 84 position in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoint", into = "RawPoint")]
pub struct GeoPoint {
    lat: f64,
    lng: f64,
}

#[derive(Serialize, Deserialize)]
struct RawPoint {
    lat: f64,
    lng: f64,
}

impl GeoPoint {
    pub fn new(lat: f64, lng: f64) -> Result<Self, GeoError> {
        if !lat.is_finite() || !lng.is_finite() {
            return Err(GeoError::Invalid);
        }
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
            return Err(GeoError::OutOfRange);
        }
        Ok(Self { lat, lng })
    }

    /// `lat,lng` (`38.7223,-9.1393`), rounded to 4 decimals.
    pub fn parse(input: &str) -> Result<Self, GeoError> {
        let (lat, lng) = input.split_once(',').ok_or(GeoError::Invalid)?;
        let point =
            Self::new(parse_decimal(lat).ok_or(GeoError::Invalid)?, parse_decimal(lng).ok_or(GeoError::Invalid)?)?;
        Ok(Self { lat: round_to(point.lat, COORDINATE_SCALE), lng: round_to(point.lng, COORDINATE_SCALE) })
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn lng(self) -> f64 {
        self.lng
    }

    /// Great-circle distance on the mean sphere (haversine; error under 0.5 % against WGS 84).
    pub fn distance_km(self, other: GeoPoint) -> f64 {
        let (phi1, phi2) = (self.lat.to_radians(), other.lat.to_radians());
        let d_phi = phi2 - phi1;
        let d_lambda = (other.lng - self.lng).to_radians();
        let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
        2.0 * EARTH_MEAN_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

impl TryFrom<RawPoint> for GeoPoint {
    type Error = GeoError;

    fn try_from(raw: RawPoint) -> Result<Self, Self::Error> {
        Self::new(raw.lat, raw.lng)
    }
}

impl From<GeoPoint> for RawPoint {
    fn from(point: GeoPoint) -> Self {
        RawPoint { lat: point.lat, lng: point.lng }
    }
}

/// Plain decimal notation only: `f64::from_str` would also take `inf`, `NaN` and `1e3`.
fn parse_decimal(text: &str) -> Option<f64> {
    let text = text.trim();
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let plain = !digits.is_empty()
        && digits.len() <= 24
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit());
    if plain { text.parse().ok() } else { None }
}

fn round_to(value: f64, scale: f64) -> f64 {
    (value * scale).round() / scale
}

/// `near=` and `radius_km=`: shops within the radius of a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    pub center: GeoPoint,
    pub radius_km: f64,
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RadiusError {
    #[error("radius_km is not a decimal number")]
    Invalid,
    #[error("radius_km must be above 0 and at most {MAX_RADIUS_KM}")]
    OutOfRange,
}

impl Reason for RadiusError {
    fn reason(&self) -> &'static str {
        match self {
            RadiusError::Invalid => "invalid",
            RadiusError::OutOfRange => "out_of_range",
        }
    }
}

/// A radius in kilometres, `0 < r ≤ 500`, rounded to 0.1 km (and at least 0.1 km).
pub fn parse_radius_km(input: &str) -> Result<f64, RadiusError> {
    let radius = parse_decimal(input).ok_or(RadiusError::Invalid)?;
    if radius <= 0.0 || radius > MAX_RADIUS_KM {
        return Err(RadiusError::OutOfRange);
    }
    Ok(round_to(radius, RADIUS_SCALE).max(1.0 / RADIUS_SCALE))
}

impl Near {
    pub fn contains(&self, point: GeoPoint) -> bool {
        self.center.distance_km(point) <= self.radius_km
    }

    /// A box holding every point within the radius, for an index range scan before the exact
    /// distance check (J. P. Matuschek, "Finding Points Within a Distance of a Latitude/Longitude
    /// Using Bounding Coordinates").
    pub fn bounding_box(&self) -> BoundingBox {
        let angular = self.radius_km / EARTH_MEAN_RADIUS_KM;
        let lat = self.center.lat.to_radians();
        let (min_lat, max_lat) = (lat - angular, lat + angular);
        let half_pi = std::f64::consts::FRAC_PI_2;
        if min_lat <= -half_pi || max_lat >= half_pi {
            // A pole is inside: every longitude is.
            return BoundingBox {
                min_lat: min_lat.max(-half_pi).to_degrees(),
                max_lat: max_lat.min(half_pi).to_degrees(),
                min_lng: -180.0,
                max_lng: 180.0,
            };
        }
        let d_lng = (angular.sin() / lat.cos()).min(1.0).asin().to_degrees();
        let wrap = |lng: f64| {
            if lng < -180.0 {
                lng + 360.0
            } else if lng > 180.0 {
                lng - 360.0
            } else {
                lng
            }
        };
        let (min_lng, max_lng) = if d_lng >= 180.0 {
            (-180.0, 180.0)
        } else {
            (wrap(self.center.lng - d_lng), wrap(self.center.lng + d_lng))
        };
        BoundingBox { min_lat: min_lat.to_degrees(), max_lat: max_lat.to_degrees(), min_lng, max_lng }
    }
}

/// Degrees. When `min_lng > max_lng` the box crosses the antimeridian: longitudes from `min_lng`
/// to 180 and from -180 to `max_lng`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_lat: f64,
    pub max_lat: f64,
    pub min_lng: f64,
    pub max_lng: f64,
}

impl BoundingBox {
    pub fn crosses_antimeridian(&self) -> bool {
        self.min_lng > self.max_lng
    }

    pub fn contains(&self, point: GeoPoint) -> bool {
        let lat_ok = (self.min_lat..=self.max_lat).contains(&point.lat);
        let lng_ok = if self.crosses_antimeridian() {
            point.lng >= self.min_lng || point.lng <= self.max_lng
        } else {
            (self.min_lng..=self.max_lng).contains(&point.lng)
        };
        lat_ok && lng_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn point(lat: f64, lng: f64) -> GeoPoint {
        GeoPoint::new(lat, lng).unwrap()
    }

    /// Where you end up going `distance_km` from `start` on `bearing` (radians), on the sphere.
    fn destination(start: GeoPoint, bearing: f64, distance_km: f64) -> GeoPoint {
        let delta = distance_km / EARTH_MEAN_RADIUS_KM;
        let (phi, lambda) = (start.lat.to_radians(), start.lng.to_radians());
        let phi2 = (phi.sin() * delta.cos() + phi.cos() * delta.sin() * bearing.cos()).asin();
        let lambda2 = lambda + (bearing.sin() * delta.sin() * phi.cos()).atan2(delta.cos() - phi.sin() * phi2.sin());
        let lng = (lambda2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
        point(phi2.to_degrees().clamp(-90.0, 90.0), lng)
    }

    #[test]
    fn known_distances() {
        let lisbon = point(38.7223, -9.1393);
        let paris = point(48.8566, 2.3522);
        // 1,453 km by great circle (e.g. Movable Type's calculator with R = 6371 km).
        assert!((lisbon.distance_km(paris) - 1_453.0).abs() < 2.0, "{}", lisbon.distance_km(paris));
        assert_eq!(lisbon.distance_km(lisbon), 0.0);
        let antipode = point(-38.7223, 170.8607);
        assert!((lisbon.distance_km(antipode) - std::f64::consts::PI * EARTH_MEAN_RADIUS_KM).abs() < 1e-6);
    }

    #[test]
    fn parses_near_and_radius() {
        let center = GeoPoint::parse(" 38.72231234 , -9.1393 ").unwrap();
        assert_eq!((center.lat(), center.lng()), (38.7223, -9.1393));
        assert_eq!(GeoPoint::parse("91,0"), Err(GeoError::OutOfRange));
        assert_eq!(GeoPoint::parse("0,-180.5"), Err(GeoError::OutOfRange));
        for bad in ["", "38.7", "38.7;-9.1", "NaN,0", "inf,0", "1e1,0", "1..2,3", "-,3"] {
            assert_eq!(GeoPoint::parse(bad), Err(GeoError::Invalid), "{bad}");
        }
        assert_eq!(parse_radius_km("12.34"), Ok(12.3));
        assert_eq!(parse_radius_km("0.01"), Ok(0.1));
        assert_eq!(parse_radius_km("0"), Err(RadiusError::OutOfRange));
        assert_eq!(parse_radius_km("500.1"), Err(RadiusError::OutOfRange));
        assert_eq!(parse_radius_km("ten"), Err(RadiusError::Invalid));
    }

    #[test]
    fn boxes_near_the_poles_and_the_antimeridian() {
        let polar = Near { center: point(89.9, 0.0), radius_km: 50.0 }.bounding_box();
        assert_eq!((polar.min_lng, polar.max_lng), (-180.0, 180.0));
        assert!(polar.contains(point(89.95, 179.0)));
        let fiji = Near { center: point(-17.7, 179.9), radius_km: 100.0 }.bounding_box();
        assert!(fiji.crosses_antimeridian());
        assert!(fiji.contains(point(-17.7, -179.8)));
        assert!(!fiji.contains(point(-17.7, 0.0)));
    }

    #[test]
    fn serde_validates_points() {
        assert_eq!(serde_json::to_value(point(1.5, -2.0)).unwrap(), serde_json::json!({"lat": 1.5, "lng": -2.0}));
        assert!(serde_json::from_value::<GeoPoint>(serde_json::json!({"lat": 95.0, "lng": 0.0})).is_err());
    }

    proptest! {
        #[test]
        fn every_point_within_the_radius_is_in_the_box(
            lat in -89.0f64..89.0,
            lng in -180.0f64..180.0,
            radius_km in 0.1f64..500.0,
            bearing in 0.0f64..std::f64::consts::TAU,
            fraction in 0.0f64..0.999,
        ) {
            let near = Near { center: point(lat, lng), radius_km };
            let target = destination(near.center, bearing, radius_km * fraction);
            prop_assert!(near.contains(target));
            prop_assert!(near.bounding_box().contains(target), "{near:?} {target:?} {:?}", near.bounding_box());
        }

        #[test]
        fn distance_is_symmetric_and_bounded(a in -90.0f64..90.0, b in -180.0f64..180.0, c in -90.0f64..90.0, d in -180.0f64..180.0) {
            let (p, q) = (point(a, b), point(c, d));
            prop_assert!((p.distance_km(q) - q.distance_km(p)).abs() < 1e-9);
            prop_assert!(p.distance_km(q) <= std::f64::consts::PI * EARTH_MEAN_RADIUS_KM + 1e-9);
        }
    }
}
