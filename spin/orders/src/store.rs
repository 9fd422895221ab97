//! The order API's statements. Reads build the answer as JSON in SQL, in the shape of
//! `shared::orders::api`'s types, so one round trip answers a page or an order with its lines and
//! timeline. Every statement filters by the caller from the token (the buyer, or the vendor).

use serde::Deserialize;
use serde::de::DeserializeOwned;
use shared::catalog::VendorId;
use shared::neon::{BatchOptions, DecodeError, NeonClient, NeonError, Query, QueryResult};
use shared::orders::api::{GroupDetail, GroupSummary, OrderDetail, OrderSummary, PageCursor};
use shared::orders::{BuyerId, OrderGroupId, OrderId, OrderState, OrderStatus, Shipment};
use spin_platform::SpinTransport;

pub type Neon = NeonClient<SpinTransport>;

/// The shop's name for the buyer's pages, read from the catalog's shop record (the name it has
/// now: shops rename rarely, and a buyer looks for the shop as it is called today).
const VENDOR_NAME: &str = "(SELECT v.name FROM catalog.vendors v WHERE v.id = o.vendor_id)";

/// `{"amount_minor", "currency"}` of a money column.
fn money(column: &str, currency: &str) -> String {
    format!("json_build_object('amount_minor', {column}, 'currency', {currency})")
}

/// An order (alias `o`) as `OrderDetail`, its commission columns only for the vendor.
fn order_detail(with_commission: bool) -> String {
    let commission = if with_commission {
        format!(
            ", 'commission', CASE WHEN l.commission_frozen_at IS NOT NULL THEN json_build_object( \
                'rate_bp', l.commission_rate_bp, 'source', l.commission_source, 'base', {}, 'amount', {}, \
                'vendor_share', {}, 'frozen_at', l.commission_frozen_at) END",
            money("l.commission_base_minor", "l.currency"),
            money("l.commission_minor", "l.currency"),
            money("l.vendor_share_minor", "l.currency"),
        )
    } else {
        String::new()
    };
    format!(
        "json_build_object('id', o.id, 'group_id', o.group_id, 'vendor_id', o.vendor_id, \
            'vendor_name', {vendor_name}, 'status', o.status, 'subtotal', {subtotal}, 'discount', {discount}, 'shipping', {shipping}, 'tax', {tax}, 'total', {total}, \
            'refunded', {refunded}, 'shipping_option_id', o.shipping_option_id, 'carrier', o.carrier, \
            'tracking_number', o.tracking_number, 'created_at', o.created_at, 'updated_at', o.updated_at, \
            'lines', (SELECT coalesce(json_agg(json_build_object('variant_id', l.variant_id, 'title', l.title, \
                'sku', l.sku, 'options', l.options, 'quantity', l.quantity, 'unit_price', {unit}, \
                'line_total', {line}{commission}) ORDER BY l.variant_id), '[]'::json) \
                FROM orders.order_lines l WHERE l.order_id = o.id), \
            'timeline', (SELECT coalesce(json_agg(json_build_object('kind', e.kind, 'from_status', e.from_status, \
                'to_status', e.to_status, 'actor', e.actor, 'data', e.data, 'at', e.created_at) \
                ORDER BY e.created_at, e.id), '[]'::json) FROM orders.order_events e WHERE e.order_id = o.id))",
        vendor_name = VENDOR_NAME,
        subtotal = money("o.subtotal_minor", "o.currency"),
        discount = money("o.discount_minor", "o.currency"),
        shipping = money("o.shipping_minor", "o.currency"),
        tax = money("o.tax_minor", "o.currency"),
        total = money("o.total_minor", "o.currency"),
        refunded = money("o.refunded_minor", "o.currency"),
        unit = money("l.unit_price_minor", "l.currency"),
        line = money("l.subtotal_minor", "l.currency"),
    )
}

/// A group's own columns (alias `g`), without its orders.
fn group_columns() -> String {
    format!(
        "'id', g.id, 'status', g.status, 'currency', g.currency, 'subtotal', {}, 'discount', {}, 'shipping', {}, \
         'tax', {}, 'total', {}, 'created_at', g.created_at",
        money("g.subtotal_minor", "g.currency"),
        money("g.discount_minor", "g.currency"),
        money("g.shipping_minor", "g.currency"),
        money("g.tax_minor", "g.currency"),
        money("g.total_minor", "g.currency"),
    )
}

/// The keyset condition for `alias` rows older than the cursor (`$n` the micros, `$n+1` the id).
fn older_than(alias: &str, micros: usize) -> String {
    format!(
        "(${micros}::bigint IS NULL OR ({alias}.created_at, {alias}.id) < \
          ('epoch'::timestamptz + ${micros}::bigint * interval '1 microsecond', ${}::text))",
        micros + 1
    )
}

/// One page of the buyer's groups, newest first, and whether more follow.
pub async fn buyer_groups(
    neon: &Neon,
    buyer: &BuyerId,
    after: Option<&PageCursor<OrderGroupId>>,
    limit: u16,
) -> Result<(Vec<GroupSummary>, bool), NeonError> {
    let sql = format!(
        "SELECT coalesce(json_agg(page.summary ORDER BY page.created_at DESC, page.id DESC), '[]'::json) FROM ( \
             SELECT g.id, g.created_at, json_build_object({group}, \
                 'orders', (SELECT coalesce(json_agg(json_build_object('id', o.id, 'vendor_id', o.vendor_id, \
                     'vendor_name', {vendor_name}, 'status', o.status, 'total', {total}) ORDER BY o.vendor_id), '[]'::json) \
                     FROM orders.orders o WHERE o.group_id = g.id)) AS summary \
             FROM orders.order_groups g WHERE g.buyer_id = $1 AND {older} \
             ORDER BY g.created_at DESC, g.id DESC LIMIT $4::integer) page",
        group = group_columns(),
        vendor_name = VENDOR_NAME,
        total = money("o.total_minor", "o.currency"),
        older = older_than("g", 2),
    );
    let (micros, id) = (after.map(|a| a.created_at_micros), after.map(|a| &a.id));
    let result = neon.query(&sql, &[buyer, &micros, &id, &(i64::from(limit) + 1)]).await?;
    page(&result, limit)
}

/// The buyer's group with its orders, lines and timelines; `None` when it is not theirs.
pub async fn buyer_group(neon: &Neon, buyer: &BuyerId, group: &OrderGroupId) -> Result<Option<GroupDetail>, NeonError> {
    let sql = format!(
        "SELECT json_build_object({group}, 'destination', g.destination, 'shipping_address', g.shipping_address, \
             'orders', (SELECT coalesce(json_agg({order} ORDER BY o.vendor_id), '[]'::json) \
                 FROM orders.orders o WHERE o.group_id = g.id)) \
         FROM orders.order_groups g WHERE g.id = $1 AND g.buyer_id = $2",
        group = group_columns(),
        order = order_detail(false),
    );
    optional_json(&neon.query(&sql, &[group, buyer]).await?)
}

/// One page of the vendor's orders (all, or in one status), newest first.
pub async fn vendor_orders(
    neon: &Neon,
    vendor: &VendorId,
    status: Option<OrderStatus>,
    after: Option<&PageCursor<OrderId>>,
    limit: u16,
) -> Result<(Vec<OrderSummary>, bool), NeonError> {
    let sql = format!(
        "SELECT coalesce(json_agg(page.summary ORDER BY page.created_at DESC, page.id DESC), '[]'::json) FROM ( \
             SELECT o.id, o.created_at, json_build_object('id', o.id, 'group_id', o.group_id, 'status', o.status, \
                 'total', {total}, 'created_at', o.created_at, 'updated_at', o.updated_at, \
                 'items', (SELECT coalesce(sum(l.quantity), 0) FROM orders.order_lines l WHERE l.order_id = o.id)) \
                 AS summary \
             FROM orders.orders o WHERE o.vendor_id = $1 AND ($2::text IS NULL OR o.status = $2::text) AND {older} \
             ORDER BY o.created_at DESC, o.id DESC LIMIT $5::integer) page",
        total = money("o.total_minor", "o.currency"),
        older = older_than("o", 3),
    );
    let (micros, id) = (after.map(|a| a.created_at_micros), after.map(|a| &a.id));
    let status = status.map(OrderStatus::as_str);
    let result = neon.query(&sql, &[vendor, &status, &micros, &id, &(i64::from(limit) + 1)]).await?;
    page(&result, limit)
}

/// A vendor's order as the lifecycle needs it, and as the API answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct VendorOrder {
    pub detail: OrderDetail,
    pub buyer_id: BuyerId,
    /// It went through `confirmed`: the buyer paid for it.
    pub paid: bool,
    /// A cancellation's refund and restock are under way (migration 0017).
    pub cancel_requested: bool,
}

impl VendorOrder {
    pub fn state(&self) -> OrderState {
        let detail = &self.detail;
        let shipment = match (&detail.carrier, &detail.tracking_number) {
            (Some(carrier), Some(tracking)) => Some(Shipment { carrier: carrier.clone(), tracking: tracking.clone() }),
            _ => None,
        };
        OrderState {
            buyer: self.buyer_id.clone(),
            vendor_id: detail.vendor_id.clone(),
            status: detail.status,
            shipment,
            total: detail.totals.total,
            paid: self.paid,
            refunded: detail.refunded,
        }
    }
}

/// The vendor's order; `None` when it is not theirs (or does not exist).
pub async fn vendor_order(neon: &Neon, vendor: &VendorId, order: &OrderId) -> Result<Option<VendorOrder>, NeonError> {
    let sql = format!(
        "SELECT json_build_object('detail', {order}, 'buyer_id', o.buyer_id, \
             'paid', EXISTS (SELECT 1 FROM orders.order_events e WHERE e.order_id = o.id AND e.to_status = 'confirmed'), \
             'cancel_requested', o.cancel_requested_at IS NOT NULL) \
         FROM orders.orders o WHERE o.id = $1 AND o.vendor_id = $2",
        order = order_detail(true),
    );
    optional_json(&neon.query(&sql, &[order, vendor]).await?)
}

/// A lifecycle move decided in Rust, written only if the order is still where it was read.
pub struct Move<'a> {
    pub order: &'a OrderId,
    pub vendor: &'a VendorId,
    /// The user id the timeline names (`orders.actor`).
    pub actor: &'a str,
    pub from: &'a OrderState,
    pub to: &'a OrderState,
    /// Also a timeline event of this kind with this data, after the status change's.
    pub note: Option<(&'a str, serde_json::Value)>,
}

/// Writes the move in one transaction; `false` when the order was no longer in `from`'s status
/// (or a cancellation began, for anything but the cancellation itself).
pub async fn apply_move(neon: &Neon, change: &Move<'_>) -> Result<bool, NeonError> {
    let (carrier, tracking) = match &change.to.shipment {
        Some(shipment) => (Some(shipment.carrier.as_str()), Some(shipment.tracking.as_str())),
        None => (None, None),
    };
    let cancelling = change.to.status == OrderStatus::Cancelled;
    let (kind, data) = match &change.note {
        Some((kind, data)) => (Some(*kind), Some(data.to_string())),
        None => (None, None),
    };
    // The note's time is the statement's clock, after the transaction's now() the status
    // change's event carries, so the timeline lists it second.
    let update = Query::new(
        "WITH moved AS ( \
             UPDATE orders.orders SET status = $4, carrier = $5, tracking_number = $6, refunded_minor = $7::bigint \
             WHERE id = $1 AND vendor_id = $2 AND status = $3 AND ($8::boolean OR cancel_requested_at IS NULL) \
             RETURNING id, vendor_id), \
         noted AS ( \
             INSERT INTO orders.order_events (id, order_id, vendor_id, kind, actor, data, created_at) \
             SELECT public.new_ulid_id('oev'), moved.id, moved.vendor_id, $9::text, $10, $11::jsonb, clock_timestamp() \
             FROM moved WHERE $9::text IS NOT NULL RETURNING 1) \
         SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM noted) AS noted",
        &[
            change.order,
            change.vendor,
            &change.from.status.as_str(),
            &change.to.status.as_str(),
            &carrier,
            &tracking,
            &change.to.refunded.amount_minor,
            &cancelling,
            &kind,
            &change.actor,
            &data,
        ],
    );
    let queries = [Query::new("SELECT set_config('orders.actor', $1, true)", &[&change.actor]), update];
    let results = neon.batch(&queries, BatchOptions::default()).await?;
    let result = results.last().ok_or_else(|| decode("the move's batch answered nothing"))?;
    let moved: i64 = result.one()?.get("moved")?;
    Ok(moved > 0)
}

/// Marks a cancellation as begun, if the order is still in `status`; `false` when it moved.
pub async fn request_cancel(
    neon: &Neon,
    order: &OrderId,
    vendor: &VendorId,
    status: OrderStatus,
) -> Result<bool, NeonError> {
    let result = neon
        .query(
            "UPDATE orders.orders SET cancel_requested_at = coalesce(cancel_requested_at, now()) \
             WHERE id = $1 AND vendor_id = $2 AND status = $3 RETURNING id",
            &[order, vendor, &status.as_str()],
        )
        .await?;
    Ok(!result.is_empty())
}

/// `limit + 1` rows asked for: the first `limit`, and whether there was one more.
fn page<T: DeserializeOwned>(result: &QueryResult, limit: u16) -> Result<(Vec<T>, bool), NeonError> {
    let mut rows: Vec<T> = json_column(result)?;
    let more = rows.len() > usize::from(limit);
    rows.truncate(usize::from(limit));
    Ok((rows, more))
}

fn optional_json<T: DeserializeOwned>(result: &QueryResult) -> Result<Option<T>, NeonError> {
    if result.is_empty() { Ok(None) } else { json_column(result).map(Some) }
}

fn json_column<T: DeserializeOwned>(result: &QueryResult) -> Result<T, NeonError> {
    Ok(result.json()?)
}

fn decode(message: &str) -> NeonError {
    NeonError::Decode(DecodeError::Body(message.to_owned()))
}
