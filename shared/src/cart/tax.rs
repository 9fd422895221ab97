//! Sales tax by destination, from a table the platform keeps (rates in basis points).

use serde::{Deserialize, Serialize};

use super::basis_points::BasisPoints;
use super::destination::{CountryCode, Destination, Region};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxRate {
    pub country: CountryCode,
    /// `None`: the country-wide rate, used where no region has its own.
    #[serde(default)]
    pub region: Option<Region>,
    pub rate: BasisPoints,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaxTable {
    pub rates: Vec<TaxRate>,
}

impl TaxTable {
    /// The region's own rate, else the country's, else 0 (a destination where no tax is collected).
    pub fn rate_for(&self, destination: &Destination) -> BasisPoints {
        let in_country = || self.rates.iter().filter(|rate| rate.country == destination.country);
        in_country()
            .find(|rate| rate.region.is_some() && rate.region == destination.region)
            .or_else(|| in_country().find(|rate| rate.region.is_none()))
            .map_or(BasisPoints::default(), |rate| rate.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destination(country: &str, region: Option<&str>) -> Destination {
        Destination {
            country: CountryCode::parse(country).unwrap(),
            region: region.map(|region| Region::parse(region).unwrap()),
            postcode: None,
            location: None,
        }
    }

    #[test]
    fn a_region_rate_beats_the_country_rate() {
        let rate = |country: &str, region: Option<&str>, bp| TaxRate {
            country: CountryCode::parse(country).unwrap(),
            region: region.map(|region| Region::parse(region).unwrap()),
            rate: BasisPoints::new(bp).unwrap(),
        };
        // Portugal: 23 % on the mainland, 16 % in the Azores (PT-20).
        let table = TaxTable { rates: vec![rate("PT", Some("20"), 1600), rate("PT", None, 2300)] };
        assert_eq!(table.rate_for(&destination("PT", Some("20"))).get(), 1600);
        assert_eq!(table.rate_for(&destination("PT", Some("11"))).get(), 2300);
        assert_eq!(table.rate_for(&destination("PT", None)).get(), 2300);
        assert_eq!(table.rate_for(&destination("US", Some("CA"))).get(), 0);
    }
}
