//! The public order API's wire types (issue 6): the buyer's order groups and the vendor's orders,
//! answered by the `orders` component behind the gateway (docs/adr/0006).
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/orders?cursor=&limit=` | [`Page`] of [`GroupSummary`], newest first |
//! | `GET /api/v1/orders/{group_id}` | [`GroupDetail`] |
//! | `GET /api/v1/vendor/orders?status=&cursor=&limit=` | [`Page`] of [`OrderSummary`], newest first |
//! | `GET /api/v1/vendor/orders/{order_id}` | [`OrderDetail`] with the frozen commission |
//! | `POST /api/v1/vendor/orders/{order_id}/{processing,ship,deliver,cancel}` | [`OrderDetail`] |
//!
//! Lists page by keyset on `(created_at, id)`. The cursor is the last row's key, base64url and not
//! signed: every query filters by the caller from the token, so a forged cursor only moves within
//! the caller's own rows.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::address::ShippingAddress;
use super::ids::{OrderGroupId, OrderId};
use super::status::{Carrier, OrderStatus, TrackingNumber};
use crate::cart::Totals;
use crate::catalog::validation::FieldErrors;
use crate::catalog::{DateTime, Money, Utc, VariantId, VendorId};

pub const DEFAULT_LIMIT: u16 = 20;
pub const MAX_LIMIT: u16 = 100;
/// A microsecond count, a space and a prefixed ULID, encoded: about 60 characters.
const MAX_CURSOR_CHARS: usize = 96;
/// Longest cancellation reason kept (the refund's reason, `payments.refunds.reason`, holds 500).
pub const MAX_CANCEL_REASON_CHARS: usize = 500;

/// Where a page ended: rows older than this key come next. `created_at` in microseconds since the
/// Unix epoch, Postgres' own precision, so no row is skipped or repeated at a page boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor<Id> {
    pub created_at_micros: i64,
    pub id: Id,
}

impl<Id: AsRef<str> + TryFrom<String>> PageCursor<Id> {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{} {}", self.created_at_micros, self.id.as_ref()))
    }

    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > MAX_CURSOR_CHARS {
            return None;
        }
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let (micros, id) = text.split_once(' ')?;
        Some(Self { created_at_micros: micros.parse().ok()?, id: Id::try_from(id.to_owned()).ok()? })
    }
}

/// `?cursor=&limit=` (and, for the vendor's list, `status=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery<Id> {
    pub limit: u16,
    pub after: Option<PageCursor<Id>>,
    pub status: Option<OrderStatus>,
}

/// The buyer's groups: `status` is not a filter there.
pub type GroupListQuery = ListQuery<OrderGroupId>;
pub type VendorOrderListQuery = ListQuery<OrderId>;

impl<Id: AsRef<str> + TryFrom<String>> ListQuery<Id> {
    /// Unknown parameters are ignored; a bad `limit`, `cursor` or `status` is `VAL_3002` naming it.
    pub fn parse(query: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut list = Self { limit: DEFAULT_LIMIT, after: None, status: None };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "limit" => match value.parse::<u16>() {
                    Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => list.limit = limit,
                    _ => errors.push("limit", "out_of_range"),
                },
                "cursor" if !value.is_empty() => match PageCursor::decode(&value) {
                    Some(cursor) => list.after = Some(cursor),
                    None => errors.push("cursor", "invalid"),
                },
                "status" if !value.is_empty() => match OrderStatus::parse(&value) {
                    Some(status) => list.status = Some(status),
                    None => errors.push("status", "invalid"),
                },
                _ => {}
            }
        }
        errors.into_result(list)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `POST …/ship`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipRequest {
    pub carrier: Carrier,
    pub tracking_number: TrackingNumber,
}

/// `POST …/cancel`; the body may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CancelRequest {
    /// The reason trimmed, `None` when blank; too long is `VAL_3002`.
    pub fn reason(&self) -> Result<Option<&str>, FieldErrors> {
        match self.reason.as_deref().map(str::trim).filter(|reason| !reason.is_empty()) {
            Some(reason) if reason.chars().count() > MAX_CANCEL_REASON_CHARS => {
                Err(FieldErrors::single("reason", "too_long"))
            }
            reason => Ok(reason),
        }
    }
}

/// A group in the buyer's list: its money and its orders at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub id: OrderGroupId,
    /// `pending` while the checkout runs, `confirmed` once paid, `cancelled` when undone.
    pub status: String,
    pub currency: String,
    /// Subtotal, discount, shipping, tax and total, as the cart priced them.
    #[serde(flatten)]
    pub totals: Totals,
    pub created_at: DateTime<Utc>,
    pub orders: Vec<OrderBrief>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBrief {
    pub id: OrderId,
    pub vendor_id: VendorId,
    /// The shop's name as the catalog has it now (absent if the shop record is gone).
    #[serde(default)]
    pub vendor_name: Option<String>,
    pub status: OrderStatus,
    pub total: Money,
}

/// One group with everything of its orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetail {
    pub id: OrderGroupId,
    pub status: String,
    pub currency: String,
    /// Subtotal, discount, shipping, tax and total, as the cart priced them.
    #[serde(flatten)]
    pub totals: Totals,
    /// Where it ships (`shared::cart::Destination`).
    pub destination: serde_json::Value,
    /// Who and where it is delivered to; `null` for groups checked out without one.
    #[serde(default)]
    pub shipping_address: Option<ShippingAddress>,
    pub created_at: DateTime<Utc>,
    pub orders: Vec<OrderDetail>,
}

/// An order in the vendor's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: OrderId,
    pub group_id: OrderGroupId,
    pub status: OrderStatus,
    pub total: Money,
    pub items: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDetail {
    pub id: OrderId,
    pub group_id: OrderGroupId,
    pub vendor_id: VendorId,
    /// The shop's name as the catalog has it now (absent if the shop record is gone).
    #[serde(default)]
    pub vendor_name: Option<String>,
    pub status: OrderStatus,
    /// Subtotal, discount, shipping, tax and total, as the cart priced them.
    #[serde(flatten)]
    pub totals: Totals,
    pub refunded: Money,
    pub shipping_option_id: Option<String>,
    pub carrier: Option<Carrier>,
    pub tracking_number: Option<TrackingNumber>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lines: Vec<LineDetail>,
    /// Oldest first.
    pub timeline: Vec<TimelineEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDetail {
    pub variant_id: VariantId,
    pub title: String,
    pub sku: String,
    pub options: serde_json::Value,
    pub quantity: i64,
    pub unit_price: Money,
    pub line_total: Money,
    /// The commission frozen at the sale: the vendor's view only (`None` for the buyer, and before
    /// the freeze).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission: Option<FrozenCommission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenCommission {
    pub rate_bp: i64,
    /// `vendor`, `category` or `default`: which rule set it.
    pub source: String,
    pub base: Money,
    pub amount: Money,
    pub vendor_share: Money,
    pub frozen_at: DateTime<Utc>,
}

/// A row of `orders.order_events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub kind: String,
    pub from_status: Option<OrderStatus>,
    pub to_status: Option<OrderStatus>,
    /// The user who did it, or `system`.
    pub actor: String,
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn defaults_bounds_and_bad_parameters() {
        let plain = GroupListQuery::parse("").unwrap();
        assert_eq!((plain.limit, plain.after, plain.status), (DEFAULT_LIMIT, None, None));
        let query = VendorOrderListQuery::parse("limit=5&cursor=&status=shipped&other=1").unwrap();
        assert_eq!((query.limit, query.status), (5, Some(OrderStatus::Shipped)));
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=-1", "limit"),
            ("cursor=%%%", "cursor"),
            ("status=lost", "status"),
        ] {
            assert!(VendorOrderListQuery::parse(query).unwrap_err().reason_for(field).is_some(), "{query}");
        }
        // A group's cursor does not page the vendor's orders, nor a cursor without a time.
        let group = PageCursor { created_at_micros: 5, id: OrderGroupId::generate(1, [1; 10]) };
        assert!(VendorOrderListQuery::parse(&format!("cursor={}", group.encode())).is_err());
        let timeless = URL_SAFE_NO_PAD.encode(format!("soon {}", group.id));
        assert!(GroupListQuery::parse(&format!("cursor={timeless}")).is_err());
        assert!(GroupListQuery::parse(&format!("cursor={}", "A".repeat(MAX_CURSOR_CHARS + 1))).is_err());
    }

    #[test]
    fn a_cancel_reason_is_trimmed_and_bounded() {
        assert_eq!(CancelRequest::default().reason(), Ok(None));
        assert_eq!(CancelRequest { reason: Some("   ".into()) }.reason(), Ok(None));
        assert_eq!(CancelRequest { reason: Some(" out of stock ".into()) }.reason(), Ok(Some("out of stock")));
        let long = CancelRequest { reason: Some("x".repeat(MAX_CANCEL_REASON_CHARS + 1)) };
        assert_eq!(long.reason().unwrap_err().reason_for("reason"), Some("too_long"));
        assert!(serde_json::from_str::<CancelRequest>(r#"{"reason":"x","refund":false}"#).is_err());
    }

    #[test]
    fn a_ship_request_needs_both_texts() {
        let ship: ShipRequest = serde_json::from_str(r#"{"carrier":" DHL ","tracking_number":"JD0142"}"#).unwrap();
        assert_eq!((ship.carrier.as_str(), ship.tracking_number.as_str()), ("DHL", "JD0142"));
        for bad in [
            r#"{"carrier":"DHL"}"#,
            r#"{"carrier":"","tracking_number":"1"}"#,
            r#"{"carrier":"DHL","tracking_number":"1","x":1}"#,
        ] {
            assert!(serde_json::from_str::<ShipRequest>(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn a_cursor_reads_back_as_the_key_it_was_made_from(micros in any::<i64>(), ms in 0u64..(1 << 48), entropy in any::<[u8; 10]>()) {
            let cursor = PageCursor { created_at_micros: micros, id: OrderId::generate(ms, entropy) };
            let query = format!("cursor={}&limit=10", cursor.encode());
            prop_assert_eq!(VendorOrderListQuery::parse(&query).unwrap().after, Some(cursor));
        }
    }
}
