//! The buyer's reads: any signed-in user sees the order groups they bought, never anyone else's.
//! The buyer is the token's user, never a query or body field.

use shared::api::{ApiError, ErrorCode};
use shared::forwarding::Forwarded;
use shared::orders::api::{GroupListQuery, Page, PageCursor};
use shared::orders::{BuyerId, OrderGroupId};
use spin_platform::config;

use crate::api::{Failure, Reply};
use crate::store;

fn buyer(call: &Forwarded) -> Result<BuyerId, Failure> {
    let user = call.principal()?.user_id();
    // Principal checked the `usr_` shape already; a mismatch is the gateway's bug.
    BuyerId::parse(user).map_err(|_| Failure::Api(ApiError::new(ErrorCode::Forbidden, "the token names no buyer")))
}

/// `GET /api/v1/orders?cursor=&limit=`: the buyer's groups, newest first.
pub async fn list(call: &Forwarded) -> Result<Reply, Failure> {
    let buyer = buyer(call)?;
    let query = GroupListQuery::parse(&call.query)?;
    let neon = config::neon_client().await?;
    let (items, more) = store::buyer_groups(&neon, &buyer, query.after.as_ref(), query.limit).await?;
    let next_cursor = more
        .then(|| items.last())
        .flatten()
        .map(|last| PageCursor { created_at_micros: last.created_at.timestamp_micros(), id: last.id.clone() }.encode());
    Reply::json(&Page { items, next_cursor })
}

/// `GET /api/v1/orders/{group_id}`: another buyer's group is the same 404 as an unknown one.
pub async fn get(call: &Forwarded, group: &str) -> Result<Reply, Failure> {
    let buyer = buyer(call)?;
    let group = OrderGroupId::parse(group).map_err(|_| Failure::not_found("order group"))?;
    let neon = config::neon_client().await?;
    match store::buyer_group(&neon, &buyer, &group).await? {
        Some(detail) => Reply::json(&detail),
        None => Err(Failure::not_found("order group")),
    }
}
