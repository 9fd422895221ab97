//! The saga's id, and the ids every step derives from it: a crash and a retry can only ever name
//! the same group, orders and payment.

use crate::catalog::ids::prefixed_id;
use crate::ids::derived_entropy;
use crate::orders::OrderGroupId;

prefixed_id!(
    /// `sga_…`: one checkout attempt, made when `POST /checkout` first sees its idempotency key.
    SagaId,
    "sga"
);

impl SagaId {
    /// The order group this checkout creates.
    pub fn group_id(&self) -> OrderGroupId {
        OrderGroupId::generate(self.timestamp_ms(), derived_entropy(&[self.as_str(), "group"]))
    }
}
