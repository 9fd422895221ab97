//! Events from the core to the edge (DESIGN §5). A Spin component writes them to its outbox
//! (`<schema>.outbox`: `id`, `topic`, `payload`, `created_at`) in the transaction of the change; a
//! sweep claims due rows and POSTs them, signed, to `workers/events` in one batch, and marks them
//! delivered only when the edge answers 2xx. The edge remembers processed event ids, and every
//! handler is idempotent besides, so a redelivery changes nothing.
//!
//! Wire: `POST {edge}/webhooks/core-events` with `{"events":[{"id","type","occurred_at","data"}]}`
//! (each event in the envelope `crate::events` uses for the other direction). An outbox whose
//! events are for another core receiver (payments' for the orders saga) is delivered the same way,
//! in the same batches, to that receiver's URL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EventError, EventId};
use crate::cart::CouponCode;
use crate::catalog::{Money, Quantity, VariantId, VendorId};
use crate::inventory::StockLevel;
use crate::orders::{BuyerId, OrderGroup, OrderGroupId, OrderId};
use crate::transport::HttpTransport;
use crate::upstash::{UpstashClient, UpstashError, cmd};

/// Where the edge receives them (a gateway route to `workers/events`).
pub const DELIVERY_PATH: &str = "/webhooks/core-events";
/// Events per delivery: one sweep's batch. Bounds the edge's work per request (each stock change
/// is a row to apply and a product's cache to purge).
pub const MAX_EVENTS_PER_DELIVERY: usize = 50;
/// How long a claimed event is invisible to other sweeps; longer than one delivery may take.
pub const CLAIM_LEASE_SECS: i64 = 60;
/// How long the edge remembers a processed event id: past the last retry of the outbox backoff
/// (`outbox::RETRY_DELAYS_SECS`, about 11 hours), so no automatic redelivery is processed twice.
pub const PROCESSED_TTL_SECS: i64 = 2 * 24 * 3_600;

/// A variant's availability at a location changed (`inventory.stock_changed`).
pub const STOCK_CHANGED: &str = "inventory.stock_changed";
/// A variant fell to its low-stock threshold (`inventory.low_stock`); no edge handler yet.
pub const LOW_STOCK: &str = "inventory.low_stock";
/// A checkout was paid and its orders confirmed (`orders.order_placed`): the edge takes what was
/// bought out of the buyer's cart; notifications will tell the buyer and the vendors.
pub const ORDER_PLACED: &str = "orders.order_placed";

/// `orders.order_placed`'s data: the group as it was confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub group_id: OrderGroupId,
    pub buyer_id: BuyerId,
    pub total: Money,
    pub orders: Vec<PlacedOrder>,
    /// Every variant bought and how many, over all orders.
    pub lines: Vec<PlacedLine>,
    /// The coupons the group redeemed.
    pub coupons: Vec<CouponCode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedOrder {
    pub order_id: OrderId,
    pub vendor_id: VendorId,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedLine {
    pub variant_id: VariantId,
    pub quantity: Quantity,
}

impl From<&OrderGroup> for OrderPlaced {
    fn from(group: &OrderGroup) -> Self {
        OrderPlaced {
            group_id: group.id.clone(),
            buyer_id: group.buyer.clone(),
            total: group.totals.total,
            orders: group
                .orders
                .iter()
                .map(|order| PlacedOrder {
                    order_id: order.id.clone(),
                    vendor_id: order.vendor_id.clone(),
                    total: order.totals.total,
                })
                .collect(),
            lines: group
                .orders
                .iter()
                .flat_map(|order| &order.lines)
                .map(|line| PlacedLine { variant_id: line.variant_id.clone(), quantity: line.quantity })
                .collect(),
            coupons: group.coupons.iter().map(|coupon| coupon.code.clone()).collect(),
        }
    }
}

/// One delivery: what the sweep sends and the edge reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    pub events: Vec<RawEvent>,
}

/// An outbox row as it travels; `data` stays raw until `type` says what it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEvent {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// The events the edge acts on. Add a variant here and a handler in `workers/events` for each new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeEvent {
    StockChanged(StockLevel),
    OrderPlaced(Box<OrderPlaced>),
}

impl EdgeEvent {
    /// `Ok(None)` for a type the edge does not handle: acknowledged, so the outbox stops sending it.
    pub fn parse(event: &RawEvent) -> Result<Option<Self>, EventError> {
        let typed = |error: serde_json::Error| EventError::Data {
            event_type: event.event_type.clone(),
            message: error.to_string(),
        };
        match event.event_type.as_str() {
            STOCK_CHANGED => {
                serde_json::from_value(event.data.clone()).map(|level| Some(Self::StockChanged(level))).map_err(typed)
            }
            ORDER_PLACED => serde_json::from_value(event.data.clone())
                .map(|placed| Some(Self::OrderPlaced(Box::new(placed))))
                .map_err(typed),
            _ => Ok(None),
        }
    }
}

/// What one sweep's delivery came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReport {
    pub claimed: usize,
    pub delivered: usize,
    /// Due again later (backoff), or parked once the attempts ran out.
    pub failed: usize,
    /// The outbox has no destination configured: nothing was claimed, the events wait.
    #[serde(default)]
    pub unconfigured: bool,
}

impl DeliveryReport {
    /// Two deliveries of one sweep, counted together.
    #[must_use]
    pub fn and(self, other: DeliveryReport) -> DeliveryReport {
        DeliveryReport {
            claimed: self.claimed + other.claimed,
            delivered: self.delivered + other.delivered,
            failed: self.failed + other.failed,
            unconfigured: self.unconfigured || other.unconfigured,
        }
    }
}

/// The edge's memory of processed event ids: one Upstash key per id with a TTL
/// (`PROCESSED_TTL_SECS`), checked for a whole batch in one `MGET` and written in one pipeline once
/// the batch's work is done. Two concurrent deliveries of one event may both process it; the
/// handlers are idempotent, so that costs work, not correctness.
pub struct ProcessedEvents<'a, T> {
    client: &'a UpstashClient<T>,
}

/// Key prefix of processed ids.
const PROCESSED_PREFIX: &str = "events:processed:";

impl<'a, T: HttpTransport> ProcessedEvents<'a, T> {
    pub fn new(client: &'a UpstashClient<T>) -> Self {
        Self { client }
    }

    /// For each id, whether it was processed before.
    pub async fn seen(&self, ids: &[&EventId]) -> Result<Vec<bool>, UpstashError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let reply = self.client.command(&cmd("MGET").args(ids.iter().map(|id| key(id)))).await?;
        let values = reply.into_array().ok_or_else(|| UpstashError::Decode("MGET answered no array".into()))?;
        if values.len() != ids.len() {
            return Err(UpstashError::Decode(format!("MGET answered {} values for {} keys", values.len(), ids.len())));
        }
        Ok(values.iter().map(|value| !value.is_nil()).collect())
    }

    /// Records the ids as processed, each for `PROCESSED_TTL_SECS`.
    pub async fn remember(&self, ids: &[&EventId]) -> Result<(), UpstashError> {
        let commands: Vec<_> =
            ids.iter().map(|id| cmd("SET").arg(key(id)).arg("1").arg("EX").arg(PROCESSED_TTL_SECS)).collect();
        for reply in self.client.pipeline(&commands).await? {
            reply?;
        }
        Ok(())
    }
}

fn key(id: &EventId) -> String {
    format!("{PROCESSED_PREFIX}{id}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::{FakeTransport, json_body};

    #[tokio::test]
    async fn processed_ids_are_one_mget_and_one_pipeline_with_a_ttl() {
        let one = EventId::parse("evt_01JC0000000000000000000001").unwrap();
        let two = EventId::parse("evt_01JC0000000000000000000002").unwrap();
        let client = UpstashClient::new(
            FakeTransport::new()
                .respond_json(200, json!({"result": ["1", null]}))
                .respond_json(200, json!([{"result": "OK"}, {"result": "OK"}])),
            "https://redis.example",
            "t",
        )
        .with_base64(false);
        let processed = ProcessedEvents::new(&client);
        assert_eq!(processed.seen(&[&one, &two]).await.unwrap(), vec![true, false]);
        processed.remember(&[&one, &two]).await.unwrap();
        let requests = client.transport().requests();
        assert_eq!(
            json_body(&requests[0]),
            json!([
                "MGET",
                "events:processed:evt_01JC0000000000000000000001",
                "events:processed:evt_01JC0000000000000000000002"
            ])
        );
        assert_eq!(
            json_body(&requests[1])[1],
            json!(["SET", "events:processed:evt_01JC0000000000000000000002", "1", "EX", PROCESSED_TTL_SECS])
        );
        assert_eq!(processed.seen(&[]).await.unwrap(), Vec::<bool>::new());
    }

    fn raw(event_type: &str, data: serde_json::Value) -> RawEvent {
        RawEvent {
            id: EventId::parse("evt_01JC0000000000000000000001").unwrap(),
            event_type: event_type.into(),
            occurred_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            data,
        }
    }

    #[test]
    fn a_stock_change_parses_into_its_level() {
        let data = json!({"variant_id": "var_01JC0000000000000000000001", "vendor_id": "ven_01JC0000000000000000000001",
            "location_id": "loc_01JC0000000000000000000001", "on_hand": 4, "reserved": 1, "available": 3, "version": 9});
        let Some(EdgeEvent::StockChanged(level)) = EdgeEvent::parse(&raw(STOCK_CHANGED, data)).unwrap() else {
            panic!("a stock change")
        };
        assert_eq!((level.available, level.version), (3, 9));
        assert!(matches!(EdgeEvent::parse(&raw(STOCK_CHANGED, json!({"available": 3}))), Err(EventError::Data { .. })));
    }

    #[test]
    fn an_order_placed_carries_what_was_bought() {
        use crate::orders::fixtures::{Shop, World};
        let world = World::new().shop(Shop::new(1).flat_shipping(450)).shop(Shop::new(2));
        let group = world.checkout(&world.price_cart(&world.cart(&[(1, 1, 2, 1_000), (2, 2, 3, 700)], &[]))).unwrap();
        let placed = OrderPlaced::from(&group);
        let event = raw(ORDER_PLACED, serde_json::to_value(&placed).unwrap());
        let Some(EdgeEvent::OrderPlaced(parsed)) = EdgeEvent::parse(&event).unwrap() else { panic!("an order placed") };
        assert_eq!(*parsed, placed);
        let bought: u32 = group.orders.iter().flat_map(|order| &order.lines).map(|line| line.quantity.get()).sum();
        assert_eq!(placed.lines.iter().map(|line| line.quantity.get()).sum::<u32>(), bought);
        assert_eq!(placed.total, group.totals.total);
    }

    #[test]
    fn types_the_edge_does_not_handle_are_acknowledged() {
        assert_eq!(EdgeEvent::parse(&raw(LOW_STOCK, json!({}))), Ok(None));
        assert_eq!(EdgeEvent::parse(&raw("payments.refunded", json!(1))), Ok(None));
    }

    #[test]
    fn a_batch_reads_the_outbox_envelope() {
        let batch: EventBatch = serde_json::from_value(json!({"events": [{
            "id": "evt_01JC0000000000000000000001", "type": "inventory.low_stock",
            "occurred_at": "2026-05-01T12:00:00.123456+02:00", "data": {"available": 1}
        }]}))
        .unwrap();
        assert_eq!(batch.events[0].occurred_at.timestamp(), 1_777_629_600);
        assert!(serde_json::from_value::<EventBatch>(json!({"events": [], "extra": 1})).is_err());
    }

    #[test]
    fn the_edge_remembers_ids_past_the_last_retry() {
        let retries: i64 = super::super::outbox::RETRY_DELAYS_SECS.iter().sum();
        assert!(PROCESSED_TTL_SECS > retries + CLAIM_LEASE_SECS * 10);
    }

    #[test]
    fn a_sweeps_deliveries_add_up() {
        let one = DeliveryReport { claimed: 50, delivered: 50, failed: 0, unconfigured: false };
        let two = DeliveryReport { claimed: 3, delivered: 0, failed: 3, unconfigured: false };
        assert_eq!(one.and(two), DeliveryReport { claimed: 53, delivered: 50, failed: 3, unconfigured: false });
        assert!(
            DeliveryReport::default()
                .and(DeliveryReport { unconfigured: true, ..DeliveryReport::default() })
                .unconfigured
        );
    }
}
