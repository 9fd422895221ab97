//! An order's lifecycle and who may move it:
//!
//! ```text
//! pending ─confirm→ confirmed ─process→ processing ─ship→ shipped ─deliver→ delivered ─complete→ completed
//!    └──────────────────┴──────────────────────┴─cancel→ cancelled  (never once shipped)
//! ```
//! Refunds move money, not the order: a paid order can be refunded in parts while it is
//! fulfilled; once everything is refunded it is `refunded` (or stays `cancelled`), and nothing more
//! happens to it. "Partially refunded" is therefore an amount (`refunded`), not a place in the
//! lifecycle.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::BuyerId;
use crate::api::{ApiError, ErrorCode};
use crate::catalog::money::MoneyError;
use crate::catalog::validation::Reason;
use crate::catalog::{Money, VendorId};
use crate::newtype::string_newtype;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created by checkout; not paid yet. Only the checkout saga (or the platform) moves it.
    Pending,
    /// Paid: the vendor's to fulfil.
    Confirmed,
    Processing,
    Shipped,
    Delivered,
    /// Delivered and past the return window: final.
    Completed,
    Cancelled,
    /// Everything paid has been given back: final.
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Processing,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
    ];

    /// The `status` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Processing => "processing",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn parse(input: &str) -> Option<OrderStatus> {
        Self::ALL.into_iter().find(|status| status.as_str() == input)
    }

    /// Before shipment an order can still be cancelled.
    pub fn is_before_shipment(self) -> bool {
        matches!(self, OrderStatus::Pending | OrderStatus::Confirmed | OrderStatus::Processing)
    }

    /// Shipped, or further along the fulfilment path.
    pub fn has_shipped(self) -> bool {
        matches!(self, OrderStatus::Shipped | OrderStatus::Delivered | OrderStatus::Completed)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest carrier name or tracking number kept; real ones are far shorter (UPS: 18, DHL: 10–39).
pub const MAX_SHIPMENT_TEXT: usize = 64;

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("must be 1 to {MAX_SHIPMENT_TEXT} printable characters")]
pub struct ShipmentTextError;

impl Reason for ShipmentTextError {
    fn reason(&self) -> &'static str {
        "invalid"
    }
}

fn shipment_text(input: &str) -> Result<String, ShipmentTextError> {
    let input = input.trim();
    let fits = (1..=MAX_SHIPMENT_TEXT).contains(&input.chars().count());
    if fits && !input.contains(char::is_control) { Ok(input.to_owned()) } else { Err(ShipmentTextError) }
}

/// `DHL`, `CTT`, `La Poste`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Carrier(String);

impl Carrier {
    pub fn parse(input: &str) -> Result<Self, ShipmentTextError> {
        shipment_text(input).map(Self)
    }
}

string_newtype!(Carrier, ShipmentTextError);

/// The carrier's tracking number, as the vendor typed it (spaces inside kept).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingNumber(String);

impl TrackingNumber {
    pub fn parse(input: &str) -> Result<Self, ShipmentTextError> {
        shipment_text(input).map(Self)
    }
}

string_newtype!(TrackingNumber, ShipmentTextError);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub carrier: Carrier,
    pub tracking: TrackingNumber,
}

/// Who asks for a change; the component derives it from the verified token (or is the system).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Buyer(BuyerId),
    /// Staff or admin of this vendor (the token's `vendor_id`).
    Vendor(VendorId),
    PlatformAdmin,
    /// The platform's own processes: the checkout saga, sweeps, carrier webhooks.
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OrderAction {
    /// The payment succeeded (checkout saga).
    Confirm,
    StartProcessing,
    /// Again while shipped: corrects the carrier or tracking number.
    Ship(Shipment),
    Deliver,
    /// After the return window (a sweep) or by the platform.
    Complete,
    Cancel,
    Refund {
        amount: Money,
    },
}

impl OrderAction {
    pub fn name(&self) -> &'static str {
        match self {
            OrderAction::Confirm => "confirm",
            OrderAction::StartProcessing => "start_processing",
            OrderAction::Ship(_) => "ship",
            OrderAction::Deliver => "deliver",
            OrderAction::Complete => "complete",
            OrderAction::Cancel => "cancel",
            OrderAction::Refund { .. } => "refund",
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// The order is not in a state where this can happen (e.g. ship after cancel).
    #[error("a {from} order cannot {action}")]
    NotAllowed { from: OrderStatus, action: &'static str },
    /// This actor may not do this to this order (someone else's order, or not their role).
    #[error("not allowed to {action} this order")]
    Forbidden { action: &'static str },
    #[error("a refund must be more than zero, in the order's currency")]
    InvalidRefund,
    #[error("at most {refundable} can still be refunded")]
    RefundExceedsPaid { refundable: Money },
    #[error("an amount overflows")]
    Amount(#[from] MoneyError),
}

impl Reason for TransitionError {
    fn reason(&self) -> &'static str {
        match self {
            TransitionError::NotAllowed { .. } => "transition_not_allowed",
            TransitionError::Forbidden { .. } => "forbidden",
            TransitionError::InvalidRefund => "invalid_refund",
            TransitionError::RefundExceedsPaid { .. } => "refund_exceeds_paid",
            TransitionError::Amount(_) => "amount_overflow",
        }
    }
}

impl TransitionError {
    /// The response: a move the order's state does not allow is a conflict, a move the actor may
    /// not make is forbidden (another vendor's order should already be a 404 by the vendor filter),
    /// a bad refund amount a validation failure; `details.reason` is the stable name.
    pub fn to_api_error(&self) -> ApiError {
        let code = match self {
            TransitionError::NotAllowed { .. } => ErrorCode::Conflict,
            TransitionError::Forbidden { .. } => ErrorCode::Forbidden,
            TransitionError::InvalidRefund | TransitionError::RefundExceedsPaid { .. } => ErrorCode::ValidationFailed,
            TransitionError::Amount(_) => return ApiError::new(ErrorCode::Internal, "internal error"),
        };
        let mut details = serde_json::json!({ "reason": self.reason() });
        match self {
            TransitionError::NotAllowed { from, action } => {
                details["status"] = serde_json::json!(from);
                details["action"] = serde_json::json!(action);
            }
            TransitionError::RefundExceedsPaid { refundable } => details["refundable"] = serde_json::json!(refundable),
            _ => {}
        }
        ApiError::new(code, self.to_string()).with_details(details)
    }
}

/// The mutable part of an order: where it is, how it ships, what was paid and given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    pub buyer: BuyerId,
    pub vendor_id: VendorId,
    pub status: OrderStatus,
    pub shipment: Option<Shipment>,
    /// What the buyer pays for this order (`totals.total`).
    pub total: Money,
    /// Whether the payment went through (set by `Confirm`; a cancelled order may or may not be paid).
    pub paid: bool,
    pub refunded: Money,
}

impl OrderState {
    /// A new order, as checkout creates it.
    pub fn pending(buyer: BuyerId, vendor_id: VendorId, total: Money) -> Self {
        OrderState {
            buyer,
            vendor_id,
            status: OrderStatus::Pending,
            shipment: None,
            total,
            paid: false,
            refunded: Money::zero(total.currency),
        }
    }

    /// What can still be given back.
    pub fn refundable(&self) -> Result<Money, MoneyError> {
        if self.paid { self.total.checked_sub(self.refunded) } else { Ok(Money::zero(self.total.currency)) }
    }

    /// A paid order that was cancelled and not yet refunded in full: the component refunds this.
    pub fn refund_due(&self) -> Result<Option<Money>, MoneyError> {
        let refundable = self.refundable()?;
        Ok((self.status == OrderStatus::Cancelled && refundable.amount_minor > 0).then_some(refundable))
    }

    /// Refunded in part, still in the lifecycle.
    pub fn is_partially_refunded(&self) -> bool {
        self.refunded.amount_minor > 0 && self.refunded.amount_minor < self.total.amount_minor
    }

    /// The state after `actor` does `action`, or why not. Repeating a move that already happened
    /// (confirm, cancel, deliver… again) returns the same state, so retried requests and
    /// compensations are harmless.
    pub fn apply(&self, actor: &Actor, action: OrderAction) -> Result<OrderState, TransitionError> {
        let name = action.name();
        if !self.may(actor, &action) {
            return Err(TransitionError::Forbidden { action: name });
        }
        use OrderStatus::*;
        let not_allowed = || TransitionError::NotAllowed { from: self.status, action: name };
        let to = |status: OrderStatus| Ok(OrderState { status, ..self.clone() });
        match (self.status, action) {
            (Pending, OrderAction::Confirm) => Ok(OrderState { status: Confirmed, paid: true, ..self.clone() }),
            (Confirmed, OrderAction::Confirm) => to(Confirmed),
            (Confirmed | Processing, OrderAction::StartProcessing) => to(Processing),
            (Processing | Shipped, OrderAction::Ship(shipment)) => {
                Ok(OrderState { status: Shipped, shipment: Some(shipment), ..self.clone() })
            }
            (Shipped | Delivered, OrderAction::Deliver) => to(Delivered),
            (Delivered | Completed, OrderAction::Complete) => to(Completed),
            (Pending | Confirmed | Processing | Cancelled, OrderAction::Cancel) => to(Cancelled),
            (status, OrderAction::Refund { amount }) if status != Pending && status != Refunded && self.paid => {
                self.refund(amount)
            }
            _ => Err(not_allowed()),
        }
    }

    fn refund(&self, amount: Money) -> Result<OrderState, TransitionError> {
        if amount.currency != self.total.currency || amount.amount_minor <= 0 {
            return Err(TransitionError::InvalidRefund);
        }
        let refundable = self.refundable()?;
        if amount.amount_minor > refundable.amount_minor {
            return Err(TransitionError::RefundExceedsPaid { refundable });
        }
        let refunded = self.refunded.checked_add(amount)?;
        // A cancelled order stays cancelled: the refund is the cancellation's consequence.
        let status = if refunded == self.total && self.status != OrderStatus::Cancelled {
            OrderStatus::Refunded
        } else {
            self.status
        };
        Ok(OrderState { status, refunded, ..self.clone() })
    }

    /// Who may do what, whatever the status:
    /// - confirm: the system (the checkout saga, on the provider's success webhook);
    /// - process, ship: the order's vendor, the platform;
    /// - deliver: the order's vendor, the platform, the system (a carrier webhook);
    /// - complete: the platform, the system (after the return window);
    /// - cancel: the buyer while confirmed (not yet processed), the vendor until shipped, the
    ///   platform, the system (saga compensation); a pending order is the saga's, so only the
    ///   system and the platform cancel it;
    /// - refund: the order's vendor, the platform, the system (cancellations, compensations).
    fn may(&self, actor: &Actor, action: &OrderAction) -> bool {
        let own_vendor = matches!(actor, Actor::Vendor(vendor) if *vendor == self.vendor_id);
        let own_buyer = matches!(actor, Actor::Buyer(buyer) if *buyer == self.buyer);
        let platform = matches!(actor, Actor::PlatformAdmin);
        let system = matches!(actor, Actor::System);
        match action {
            OrderAction::Confirm => system,
            OrderAction::StartProcessing | OrderAction::Ship(_) => own_vendor || platform,
            OrderAction::Deliver => own_vendor || platform || system,
            OrderAction::Complete => platform || system,
            OrderAction::Cancel => match self.status {
                OrderStatus::Pending => platform || system,
                OrderStatus::Confirmed => own_buyer || own_vendor || platform || system,
                _ => own_vendor || platform || system,
            },
            OrderAction::Refund { .. } => own_vendor || platform || system,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{buyer, eur, vendor};
    use super::*;
    use proptest::prelude::*;

    fn shipment(tracking: &str) -> Shipment {
        Shipment { carrier: Carrier::parse("CTT").unwrap(), tracking: TrackingNumber::parse(tracking).unwrap() }
    }

    fn order() -> OrderState {
        OrderState::pending(buyer(), vendor(1), eur(5000))
    }

    fn run(mut state: OrderState, steps: &[(Actor, OrderAction)]) -> OrderState {
        for (actor, action) in steps {
            state = state.apply(actor, action.clone()).unwrap();
        }
        state
    }

    #[test]
    fn the_happy_path_from_pending_to_completed() {
        let shop = Actor::Vendor(vendor(1));
        let state = run(
            order(),
            &[
                (Actor::System, OrderAction::Confirm),
                (shop.clone(), OrderAction::StartProcessing),
                (shop.clone(), OrderAction::Ship(shipment("RR123456785PT"))),
                (shop.clone(), OrderAction::Ship(shipment("RR123456786PT"))),
                (Actor::System, OrderAction::Deliver),
                (Actor::System, OrderAction::Complete),
            ],
        );
        assert_eq!(state.status, OrderStatus::Completed);
        assert!(state.paid);
        assert_eq!(state.shipment, Some(shipment("RR123456786PT")), "the corrected tracking number");
    }

    #[test]
    fn nothing_ships_after_a_cancel_and_nothing_cancels_after_shipping() {
        let shop = Actor::Vendor(vendor(1));
        let cancelled = run(order(), &[(Actor::System, OrderAction::Confirm), (shop.clone(), OrderAction::Cancel)]);
        assert_eq!(
            cancelled.apply(&shop, OrderAction::Ship(shipment("X1"))),
            Err(TransitionError::NotAllowed { from: OrderStatus::Cancelled, action: "ship" })
        );
        assert_eq!(cancelled.refund_due(), Ok(Some(eur(5000))), "it was paid");
        let shipped = run(
            order(),
            &[
                (Actor::System, OrderAction::Confirm),
                (shop.clone(), OrderAction::StartProcessing),
                (shop.clone(), OrderAction::Ship(shipment("X1"))),
            ],
        );
        assert!(matches!(
            shipped.apply(&Actor::PlatformAdmin, OrderAction::Cancel),
            Err(TransitionError::NotAllowed { .. })
        ));
        let unpaid = run(order(), &[(Actor::System, OrderAction::Cancel)]);
        assert_eq!(unpaid.refund_due(), Ok(None));
        assert_eq!(unpaid.apply(&Actor::System, OrderAction::Cancel), Ok(unpaid.clone()), "compensations repeat");
    }

    #[test]
    fn each_actor_only_on_their_own_orders_and_roles() {
        let stranger = Actor::Vendor(vendor(2));
        let confirmed = run(order(), &[(Actor::System, OrderAction::Confirm)]);
        assert_eq!(
            confirmed.apply(&stranger, OrderAction::StartProcessing),
            Err(TransitionError::Forbidden { action: "start_processing" })
        );
        assert!(matches!(
            confirmed.apply(&Actor::Buyer(buyer()), OrderAction::Ship(shipment("X"))),
            Err(TransitionError::Forbidden { .. })
        ));
        assert!(matches!(
            order().apply(&Actor::Vendor(vendor(1)), OrderAction::Confirm),
            Err(TransitionError::Forbidden { .. })
        ));
        // The buyer cancels a confirmed order, but not a pending one (the saga's) nor one being processed.
        assert!(matches!(
            order().apply(&Actor::Buyer(buyer()), OrderAction::Cancel),
            Err(TransitionError::Forbidden { .. })
        ));
        assert_eq!(
            confirmed.apply(&Actor::Buyer(buyer()), OrderAction::Cancel).unwrap().status,
            OrderStatus::Cancelled
        );
        let other_buyer = Actor::Buyer(BuyerId::parse("usr_01JC0000000000000000000B02").unwrap());
        assert!(matches!(confirmed.apply(&other_buyer, OrderAction::Cancel), Err(TransitionError::Forbidden { .. })));
        let processing = confirmed.apply(&Actor::Vendor(vendor(1)), OrderAction::StartProcessing).unwrap();
        assert!(matches!(
            processing.apply(&Actor::Buyer(buyer()), OrderAction::Cancel),
            Err(TransitionError::Forbidden { .. })
        ));
    }

    #[test]
    fn partial_refunds_keep_the_order_moving_until_everything_is_back() {
        let shop = Actor::Vendor(vendor(1));
        let confirmed = run(order(), &[(Actor::System, OrderAction::Confirm)]);
        let part = confirmed.apply(&shop, OrderAction::Refund { amount: eur(1500) }).unwrap();
        assert_eq!(
            (part.status, part.refunded, part.is_partially_refunded()),
            (OrderStatus::Confirmed, eur(1500), true)
        );
        assert_eq!(
            part.apply(&shop, OrderAction::Refund { amount: eur(3501) }),
            Err(TransitionError::RefundExceedsPaid { refundable: eur(3500) })
        );
        assert_eq!(part.apply(&shop, OrderAction::Refund { amount: eur(0) }), Err(TransitionError::InvalidRefund));
        assert!(matches!(part.apply(&shop, OrderAction::Ship(shipment("X"))), Err(TransitionError::NotAllowed { .. })));
        let processing = part.apply(&shop, OrderAction::StartProcessing).unwrap();
        let shipped = processing.apply(&shop, OrderAction::Ship(shipment("X"))).unwrap();
        let all = shipped.apply(&Actor::PlatformAdmin, OrderAction::Refund { amount: eur(3500) }).unwrap();
        assert_eq!(all.status, OrderStatus::Refunded);
        assert!(matches!(all.apply(&shop, OrderAction::Deliver), Err(TransitionError::NotAllowed { .. })));
        assert!(matches!(
            order().apply(&Actor::System, OrderAction::Refund { amount: eur(1) }),
            Err(TransitionError::NotAllowed { .. })
        ));
    }

    #[test]
    fn refusals_answer_with_stable_codes() {
        let shipped_after_cancel = TransitionError::NotAllowed { from: OrderStatus::Cancelled, action: "ship" };
        let error = shipped_after_cancel.to_api_error();
        assert_eq!((error.code, error.status()), (ErrorCode::Conflict, 409));
        assert_eq!(
            error.details.unwrap(),
            serde_json::json!({"reason": "transition_not_allowed", "status": "cancelled", "action": "ship"})
        );
        assert_eq!(TransitionError::Forbidden { action: "ship" }.to_api_error().status(), 403);
        let too_much = TransitionError::RefundExceedsPaid { refundable: eur(3500) }.to_api_error();
        assert_eq!(too_much.code, ErrorCode::ValidationFailed);
        assert_eq!(too_much.details.unwrap()["refundable"]["amount_minor"], 3500);
    }

    #[test]
    fn statuses_and_shipment_texts_parse() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), serde_json::json!(status.as_str()));
        }
        assert_eq!(OrderStatus::parse("lost"), None);
        assert_eq!(TrackingNumber::parse("  RR 1234 PT ").unwrap().as_str(), "RR 1234 PT");
        assert_eq!(Carrier::parse(""), Err(ShipmentTextError));
        assert_eq!(Carrier::parse("DHL\n"), Ok(Carrier::parse("DHL").unwrap()));
        assert_eq!(TrackingNumber::parse("a\u{7}b"), Err(ShipmentTextError));
        assert_eq!(TrackingNumber::parse(&"9".repeat(MAX_SHIPMENT_TEXT + 1)), Err(ShipmentTextError));
    }

    fn actor() -> impl Strategy<Value = Actor> {
        prop_oneof![
            Just(Actor::Buyer(buyer())),
            Just(Actor::Vendor(vendor(1))),
            Just(Actor::Vendor(vendor(2))),
            Just(Actor::PlatformAdmin),
            Just(Actor::System),
        ]
    }

    fn action() -> impl Strategy<Value = OrderAction> {
        prop_oneof![
            Just(OrderAction::Confirm),
            Just(OrderAction::StartProcessing),
            Just(OrderAction::Ship(shipment("RR1"))),
            Just(OrderAction::Deliver),
            Just(OrderAction::Complete),
            Just(OrderAction::Cancel),
            (-100i64..6_000).prop_map(|minor| OrderAction::Refund { amount: eur(minor) }),
        ]
    }

    proptest! {
        /// Whatever anyone tries, in any order, the history stays possible.
        #[test]
        fn no_sequence_of_moves_reaches_an_impossible_state(moves in prop::collection::vec((actor(), action()), 0..40)) {
            let mut state = order();
            let mut history = vec![state.status];
            for (actor, action) in moves {
                let before = state.clone();
                let Ok(after) = state.apply(&actor, action.clone()) else { continue };
                prop_assert!(allowed(before.status, after.status), "{} → {}", before.status, after.status);
                if before.status != after.status {
                    history.push(after.status);
                }
                // A shop or buyer acts only on its own order.
                match &actor {
                    Actor::Vendor(v) => prop_assert_eq!(v, &before.vendor_id),
                    Actor::Buyer(b) => prop_assert_eq!(b, &before.buyer),
                    _ => {}
                }
                prop_assert!(after.refunded.amount_minor >= 0 && after.refunded.amount_minor <= after.total.amount_minor);
                prop_assert!(after.paid || after.refunded.amount_minor == 0, "only paid money comes back");
                prop_assert_eq!(after.shipment.is_some(), history.contains(&OrderStatus::Shipped));
                state = after;
            }
            let cancelled = history.iter().position(|s| *s == OrderStatus::Cancelled);
            let shipped = history.iter().position(|s| *s == OrderStatus::Shipped);
            prop_assert!(!(cancelled.is_some() && shipped.is_some()), "shipped and cancelled: {history:?}");
            if let Some(at) = history.iter().position(|s| *s == OrderStatus::Refunded) {
                prop_assert_eq!(at, history.len() - 1, "refunded is final: {:?}", history);
            }
        }
    }

    /// The arrows of the module's diagram, plus staying put and a full refund.
    fn allowed(from: OrderStatus, to: OrderStatus) -> bool {
        use OrderStatus::*;
        from == to
            || matches!(
                (from, to),
                (Pending, Confirmed)
                    | (Confirmed, Processing)
                    | (Processing, Shipped)
                    | (Shipped, Delivered)
                    | (Delivered, Completed)
                    | (Pending | Confirmed | Processing, Cancelled)
                    | (Confirmed | Processing | Shipped | Delivered | Completed, Refunded)
            )
    }
}
