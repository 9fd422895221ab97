//! Requests and answers of the inventory component. Internal routes (signed, called by the orders
//! saga, the catalog Worker and the edge cron) take these types as their JSON bodies; the vendor
//! routes reach the component through the gateway (`crate::forwarding`).
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /inventory/reservations` | [`ReserveRequest`] | [`Reservation`]; short stock: 409 `BIZ_5003`, `details.short` = [`Shortage`]s |
//! | `POST /inventory/reservations/release` | [`ReferenceRequest`] | [`Reservation`] |
//! | `POST /inventory/reservations/release-vendor` | [`VendorReleaseRequest`] | [`Reservation`] of that vendor's rows |
//! | `POST /inventory/reservations/consume` | [`ReferenceRequest`] | [`Reservation`]; nothing held: 409 `RES_4003` |
//! | `POST /inventory/stock/set` | [`SetStockRequest`] | [`StockRow`] |
//! | `POST /inventory/stock/initial` | [`InitialStockRequest`] | [`StockRows`] |
//! | `POST /inventory/sweep` | [`SweepRequest`]: references to expire | [`SweepReport`] |
//! | `GET /api/v1/vendor/stock` (gateway) | `?cursor=&limit=` | `{"items": [StockRow], "next_cursor"}` |
//! | `PUT /api/v1/vendor/stock/{variant_id}` (gateway) | [`VendorStockUpdate`] | [`StockRow`] |

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{LocationId, ReservationId, ReservationReference};
use crate::catalog::validation::FieldErrors;
use crate::catalog::{Quantity, VariantId, VendorId};
use crate::events::edge::DeliveryReport;
#[cfg(doc)]
use crate::events::outbox::SweepRequest;

/// The same bound as `inventory.requested_items`: a checkout has far fewer lines.
pub const MAX_ITEMS: usize = 500;

/// One variant and how many units of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveItem {
    pub variant_id: VariantId,
    pub quantity: Quantity,
}

/// Hold `items` for `reference` until `expires_at`, all of them or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveRequest {
    pub reference: ReservationReference,
    pub items: Vec<ReserveItem>,
    pub expires_at: DateTime<Utc>,
}

impl ReserveRequest {
    /// What serde cannot see: at least one item and at most `MAX_ITEMS`, no zero quantities, and an
    /// expiry after `now`. The same variant twice is allowed (the quantities add up).
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        match self.items.len() {
            0 => errors.push("items", "empty"),
            n if n > MAX_ITEMS => errors.push("items", "too_many"),
            _ => {}
        }
        for (index, item) in self.items.iter().enumerate() {
            if item.quantity.is_zero() {
                errors.push(format!("items[{index}].quantity"), "out_of_range");
            }
        }
        if self.expires_at <= now {
            errors.push("expires_at", "not_in_future");
        }
        errors.into_result(())
    }
}

/// Release or consume: which reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceRequest {
    pub reference: ReservationReference,
}

/// One vendor's rows of a reservation back on the shelf (a vendor's paid order cancelled before
/// shipping; the checkout reserves every vendor's items under one reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorReleaseRequest {
    pub reference: ReservationReference,
    pub vendor_id: VendorId,
}

/// `inventory.reservations.status`: every row of one reference has the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Held until it expires, is released or is consumed.
    Active,
    Released,
    /// The checkout was paid: the units left the shelf.
    Consumed,
    /// Nobody paid in time; the sweep put the units back.
    Expired,
    /// A consumed reservation undone before anything shipped: the units are back on the shelf.
    Restocked,
}

/// One row of a reservation: a variant's units held at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationLine {
    pub id: ReservationId,
    pub variant_id: VariantId,
    pub location_id: LocationId,
    pub vendor_id: VendorId,
    pub quantity: u32,
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
}

/// A reference and its rows, as every reservation route answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub reference: ReservationReference,
    /// `None` when the reference holds nothing (an unknown reference released).
    pub status: Option<ReservationStatus>,
    pub lines: Vec<ReservationLine>,
}

impl Reservation {
    pub fn new(reference: ReservationReference, lines: Vec<ReservationLine>) -> Self {
        Self { reference, status: lines.first().map(|line| line.status), lines }
    }

    /// Units held per variant (over every location), in variant order.
    pub fn quantities(&self) -> Vec<(VariantId, u32)> {
        let mut totals = std::collections::BTreeMap::<VariantId, u32>::new();
        for line in &self.lines {
            *totals.entry(line.variant_id.clone()).or_default() += line.quantity;
        }
        totals.into_iter().collect()
    }
}

/// One variant a reservation could not get (`details.short` of `BIZ_5003`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortage {
    pub variant_id: VariantId,
    pub requested: u32,
    pub available: u32,
}

/// One variant's stock at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRow {
    pub variant_id: VariantId,
    pub location_id: LocationId,
    pub vendor_id: VendorId,
    pub on_hand: u32,
    pub reserved: u32,
    /// `on_hand - reserved`: what can still be sold.
    pub available: u32,
    pub low_stock_threshold: Option<u32>,
    /// Raised by every change; the catalog keeps the newest it has seen.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// What the catalog's read model keeps of a stock row (`inventory.stock_changed`'s data carries
/// more, which it ignores).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub variant_id: VariantId,
    pub vendor_id: VendorId,
    pub location_id: LocationId,
    pub available: u32,
    pub version: i64,
}

impl From<&StockRow> for StockLevel {
    fn from(row: &StockRow) -> Self {
        Self {
            variant_id: row.variant_id.clone(),
            vendor_id: row.vendor_id.clone(),
            location_id: row.location_id.clone(),
            available: row.available,
            version: row.version,
        }
    }
}

/// The catalog's internal route for stock levels takes these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockLevels {
    pub levels: Vec<StockLevel>,
}

/// A stock count on behalf of a vendor, from a trusted caller (the catalog Worker, which took the
/// vendor from the verified token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetStockRequest {
    pub vendor_id: VendorId,
    pub variant_id: VariantId,
    pub on_hand: Quantity,
    /// The vendor's default location when absent.
    #[serde(default)]
    pub location_id: Option<LocationId>,
}

/// Stock for variants the catalog just created: set only where inventory holds nothing yet, so a
/// retried create never overwrites a count made since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitialStockRequest {
    pub vendor_id: VendorId,
    pub items: Vec<InitialStock>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitialStock {
    pub variant_id: VariantId,
    pub on_hand: Quantity,
}

impl InitialStockRequest {
    pub fn check(&self) -> Result<(), FieldErrors> {
        match self.items.len() {
            0 => Err(FieldErrors::single("items", "empty")),
            n if n > MAX_ITEMS => Err(FieldErrors::single("items", "too_many")),
            _ => Ok(()),
        }
    }
}

/// The stock rows of the variants asked about, every location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRows {
    pub items: Vec<StockRow>,
}

/// `PUT /api/v1/vendor/stock/{variant_id}`: the vendor comes from the token, so a body naming one
/// is refused (unknown field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorStockUpdate {
    pub on_hand: Quantity,
    #[serde(default)]
    pub location_id: Option<LocationId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// References whose reservations had expired and were released by this sweep.
    pub expired: Vec<ReservationReference>,
    /// The outbox delivery to the edge that followed.
    pub events: DeliveryReport,
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn reserve(items: serde_json::Value, expires_at: &str) -> ReserveRequest {
        serde_json::from_value(
            json!({"reference": "grp_01JC0000000000000000000001", "items": items, "expires_at": expires_at}),
        )
        .unwrap()
    }

    #[test]
    fn a_reservation_needs_items_and_a_future_expiry() {
        let one = json!([{"variant_id": "var_01JC0000000000000000000001", "quantity": 2}]);
        let later = (now() + TimeDelta::minutes(15)).to_rfc3339();
        assert_eq!(reserve(one.clone(), &later).check(now()), Ok(()));

        let errors = reserve(json!([]), &now().to_rfc3339()).check(now()).unwrap_err();
        assert_eq!(errors.reason_for("items"), Some("empty"));
        assert_eq!(errors.reason_for("expires_at"), Some("not_in_future"));

        let zero = json!([{"variant_id": "var_01JC0000000000000000000001", "quantity": 0}]);
        assert_eq!(
            reserve(zero, &later).check(now()).unwrap_err().reason_for("items[0].quantity"),
            Some("out_of_range")
        );

        let many: Vec<_> =
            (0..=MAX_ITEMS).map(|_| json!({"variant_id": "var_01JC0000000000000000000001", "quantity": 1})).collect();
        assert_eq!(reserve(json!(many), &later).check(now()).unwrap_err().reason_for("items"), Some("too_many"));
    }

    #[test]
    fn requests_refuse_fields_they_do_not_know() {
        let with_vendor = json!({"on_hand": 3, "vendor_id": "ven_01JC0000000000000000000001"});
        assert!(serde_json::from_value::<VendorStockUpdate>(with_vendor).is_err());
        assert!(serde_json::from_value::<VendorStockUpdate>(json!({"on_hand": -1})).is_err());
        let update: VendorStockUpdate = serde_json::from_value(json!({"on_hand": 3})).unwrap();
        assert_eq!((update.on_hand.get(), update.location_id), (3, None));
    }

    #[test]
    fn a_reservation_takes_its_status_from_its_rows_and_sums_per_variant() {
        let line = |id: &str, variant: &str, location: &str, quantity| ReservationLine {
            id: ReservationId::parse(id).unwrap(),
            variant_id: VariantId::parse(variant).unwrap(),
            location_id: LocationId::parse(location).unwrap(),
            vendor_id: VendorId::parse("ven_01JC0000000000000000000001").unwrap(),
            quantity,
            status: ReservationStatus::Active,
            expires_at: now(),
        };
        let reference = ReservationReference::parse("grp_1").unwrap();
        let reservation = Reservation::new(
            reference.clone(),
            vec![
                line(
                    "rsv_01JC0000000000000000000001",
                    "var_01JC0000000000000000000001",
                    "loc_01JC0000000000000000000001",
                    2,
                ),
                line(
                    "rsv_01JC0000000000000000000002",
                    "var_01JC0000000000000000000001",
                    "loc_01JC0000000000000000000002",
                    3,
                ),
            ],
        );
        assert_eq!(reservation.status, Some(ReservationStatus::Active));
        assert_eq!(reservation.quantities(), vec![(VariantId::parse("var_01JC0000000000000000000001").unwrap(), 5)]);
        assert_eq!(Reservation::new(reference, Vec::new()).status, None);
    }

    #[test]
    fn the_stock_changed_event_reads_as_a_stock_level() {
        let data = json!({"variant_id": "var_01JC0000000000000000000001", "vendor_id": "ven_01JC0000000000000000000001",
            "location_id": "loc_01JC0000000000000000000001", "on_hand": 9, "reserved": 2, "available": 7, "version": 4});
        let level: StockLevel = serde_json::from_value(data).unwrap();
        assert_eq!((level.available, level.version), (7, 4));
    }
}
