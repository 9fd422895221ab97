//! The vendor order API (roles vendor_admin / vendor_staff): the vendor is the one the verified
//! token names; every statement filters by it, so another vendor's order is the same 404 as an
//! unknown one.
//!
//! Each move is decided by `OrderState::apply` on the row as read, then written only if the row
//! is still in that status (`store::apply_move`); the timeline names the user through
//! `orders.actor`. Repeating a move that already happened answers the order as it is.

use shared::api::{ApiError, ErrorCode};
use shared::catalog::VendorId;
use shared::forwarding::Forwarded;
use shared::orders::api::{CancelRequest, Page, PageCursor, ShipRequest, VendorOrderListQuery};
use shared::orders::{Actor, OrderAction, OrderId, Shipment};
use spin_platform::config;

use crate::api::{Failure, Reply};
use crate::cancel;
use crate::store::{self, Move, Neon, VendorOrder};

/// Reads and writes lost to a concurrent change of the same order before answering 409.
pub const ATTEMPTS: usize = 3;

/// The caller's vendor and user id (the actor the timeline names).
pub struct Caller {
    pub vendor: VendorId,
    pub user: String,
}

impl Caller {
    fn of(call: &Forwarded) -> Result<Self, Failure> {
        let principal = call.principal()?;
        let vendor = VendorId::parse(principal.acting_vendor()?)
            .map_err(|_| ApiError::new(ErrorCode::Forbidden, "the token names no valid vendor"))?;
        Ok(Self { vendor, user: principal.user_id().to_owned() })
    }

    pub fn actor(&self) -> Actor {
        Actor::Vendor(self.vendor.clone())
    }
}

/// `GET /api/v1/vendor/orders?status=&cursor=&limit=`: own orders, newest first.
pub async fn list(call: &Forwarded) -> Result<Reply, Failure> {
    let caller = Caller::of(call)?;
    let query = VendorOrderListQuery::parse(&call.query)?;
    let neon = config::neon_client().await?;
    let (items, more) =
        store::vendor_orders(&neon, &caller.vendor, query.status, query.after.as_ref(), query.limit).await?;
    let next_cursor = more
        .then(|| items.last())
        .flatten()
        .map(|last| PageCursor { created_at_micros: last.created_at.timestamp_micros(), id: last.id.clone() }.encode());
    Reply::json(&Page { items, next_cursor })
}

/// `GET /api/v1/vendor/orders/{order_id}`: with lines (and their frozen commission) and timeline.
pub async fn get(call: &Forwarded, order: &str) -> Result<Reply, Failure> {
    let caller = Caller::of(call)?;
    let order = order_id(order)?;
    let neon = config::neon_client().await?;
    Reply::json(&load(&neon, &caller, &order).await?.detail)
}

/// `POST /api/v1/vendor/orders/{order_id}/{processing|ship|deliver|cancel}`.
pub async fn act(call: &Forwarded, order: &str, action: &str) -> Result<Reply, Failure> {
    let caller = Caller::of(call)?;
    let order = order_id(order)?;
    let action = match action {
        "processing" => OrderAction::StartProcessing,
        "ship" => {
            let body: ShipRequest = call.json()?;
            OrderAction::Ship(Shipment { carrier: body.carrier, tracking: body.tracking_number })
        }
        "deliver" => OrderAction::Deliver,
        "cancel" => {
            // An empty body is a cancel without a reason.
            let body: CancelRequest = if call.body.as_deref().is_none_or(|body| body.trim().is_empty()) {
                CancelRequest::default()
            } else {
                call.json()?
            };
            let neon = config::neon_client().await?;
            return Reply::json(&cancel::run(&neon, &caller, &order, &body).await?);
        }
        other => {
            return Err(Failure::Api(ApiError::new(ErrorCode::RouteNotFound, format!("no order action {other:?}"))));
        }
    };
    let neon = config::neon_client().await?;
    Reply::json(&transition(&neon, &caller, &order, action).await?.detail)
}

/// Processing, ship, deliver: read, decide, write if unchanged; again on a lost race.
async fn transition(
    neon: &Neon,
    caller: &Caller,
    order: &OrderId,
    action: OrderAction,
) -> Result<VendorOrder, Failure> {
    for _ in 0..ATTEMPTS {
        let current = load(neon, caller, order).await?;
        let state = current.state();
        let next = state.apply(&caller.actor(), action.clone())?;
        if next == state {
            return Ok(current);
        }
        if current.cancel_requested {
            return Err(Failure::conflict("cancellation_in_progress", "the order is being cancelled"));
        }
        let note = match &next.shipment {
            Some(shipment) if next.shipment != state.shipment => Some((
                "shipment",
                serde_json::json!({"carrier": shipment.carrier, "tracking_number": shipment.tracking}),
            )),
            _ => None,
        };
        let change = Move { order, vendor: &caller.vendor, actor: &caller.user, from: &state, to: &next, note };
        if store::apply_move(neon, &change).await? {
            return load(neon, caller, order).await;
        }
    }
    Err(Failure::conflict("concurrent_change", "the order changed while this request ran; retry"))
}

/// The caller's order, or 404.
pub async fn load(neon: &Neon, caller: &Caller, order: &OrderId) -> Result<VendorOrder, Failure> {
    store::vendor_order(neon, &caller.vendor, order).await?.ok_or_else(|| Failure::not_found("order"))
}

/// A malformed id names nothing: the same 404 as an unknown one.
fn order_id(text: &str) -> Result<OrderId, Failure> {
    OrderId::parse(text).map_err(|_| Failure::not_found("order"))
}
