//! The order pages' wording: statuses, the timeline ("who did what, when") and dates, as a buyer
//! reads them.

use chrono::{DateTime, Utc};

use crate::catalog::VariantOptions;
use crate::orders::OrderStatus;
use crate::orders::api::TimelineEvent;

/// "3 Mar 2025, 14:05 UTC": unambiguous across locales, and honest about the zone.
pub fn format_time(at: &DateTime<Utc>) -> String {
    at.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// "3 Mar 2025".
pub fn format_date(at: &DateTime<Utc>) -> String {
    at.format("%-d %b %Y").to_string()
}

/// An order's status in the buyer's words.
pub fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "Awaiting payment",
        OrderStatus::Confirmed => "Paid",
        OrderStatus::Processing => "Being prepared",
        OrderStatus::Shipped => "Shipped",
        OrderStatus::Delivered => "Delivered",
        OrderStatus::Completed => "Completed",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Refunded => "Refunded",
    }
}

/// A group's status (`pending`, `confirmed`, `cancelled`) in the buyer's words.
pub fn group_status_label(status: &str) -> &'static str {
    match status {
        "pending" => "Awaiting payment",
        "confirmed" => "Paid",
        "cancelled" => "Cancelled",
        _ => "Being processed",
    }
}

/// While a group waits for its payment, its page refreshes itself until the payment lands.
pub fn group_awaits_payment(status: &str) -> bool {
    status == "pending"
}

/// "1 shop" / "3 shops".
pub fn shops_count(count: usize) -> String {
    if count == 1 { "1 shop".to_owned() } else { format!("{count} shops") }
}

/// A variant's options as an order keeps them (`{"colour":"Blue","size":"M"}`), described as the
/// product page describes them (`VariantOptions::described`); "" for none or unreadable.
pub fn options_text(options: &serde_json::Value) -> String {
    serde_json::from_value::<VariantOptions>(options.clone()).map(|options| options.described()).unwrap_or_default()
}

/// Who did it, as the buyer sees it: the marketplace (checkout, payment, sweeps: `system`) or the
/// shop's staff (a user id). Buyers do not move orders themselves.
pub fn actor_label(actor: &str) -> &'static str {
    if actor == "system" { "Marketplace" } else { "The shop" }
}

/// What a timeline entry says happened.
pub fn event_text(event: &TimelineEvent) -> String {
    let text = |key: &str| event.data.get(key).and_then(|value| value.as_str()).map(str::to_owned);
    match (event.kind.as_str(), event.to_status) {
        ("created", _) => "Order placed".to_owned(),
        ("status_changed", Some(to)) => match to {
            OrderStatus::Pending => "Waiting for payment".to_owned(),
            OrderStatus::Confirmed => "Payment received".to_owned(),
            OrderStatus::Processing => "The shop started preparing the order".to_owned(),
            OrderStatus::Shipped => "Shipped".to_owned(),
            OrderStatus::Delivered => "Delivered".to_owned(),
            OrderStatus::Completed => "Completed".to_owned(),
            OrderStatus::Cancelled => "Cancelled".to_owned(),
            OrderStatus::Refunded => "Refunded in full".to_owned(),
        },
        ("shipment", _) => match (text("carrier"), text("tracking_number")) {
            (Some(carrier), Some(tracking)) => format!("Handed to {carrier}, tracking number {tracking}"),
            _ => "Shipment details added".to_owned(),
        },
        ("cancellation", _) => match text("reason") {
            Some(reason) => format!("Cancelled: {reason}"),
            None => "Cancellation recorded".to_owned(),
        },
        (kind, _) => kind.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn event(kind: &str, to: Option<OrderStatus>, data: serde_json::Value) -> TimelineEvent {
        TimelineEvent {
            kind: kind.into(),
            from_status: None,
            to_status: to,
            actor: "system".into(),
            data,
            at: Utc.with_ymd_and_hms(2025, 3, 3, 14, 5, 9).unwrap(),
        }
    }

    #[test]
    fn times_are_readable_and_say_utc() {
        let at = Utc.with_ymd_and_hms(2025, 3, 3, 14, 5, 9).unwrap();
        assert_eq!(format_time(&at), "3 Mar 2025, 14:05 UTC");
        assert_eq!(format_date(&at), "3 Mar 2025");
        let late = Utc.with_ymd_and_hms(2024, 12, 31, 23, 59, 0).unwrap();
        assert_eq!(format_time(&late), "31 Dec 2024, 23:59 UTC");
    }

    #[test]
    fn every_status_has_words_and_only_pending_groups_wait() {
        let labels: std::collections::BTreeSet<_> = OrderStatus::ALL.into_iter().map(status_label).collect();
        assert_eq!(labels.len(), OrderStatus::ALL.len(), "two statuses read the same");
        assert_eq!(status_label(OrderStatus::Confirmed), "Paid");
        assert_eq!(group_status_label("pending"), "Awaiting payment");
        assert_eq!(group_status_label("confirmed"), "Paid");
        assert!(group_awaits_payment("pending"));
        assert!(!group_awaits_payment("confirmed"));
        assert!(!group_awaits_payment("cancelled"));
        assert_eq!(shops_count(1), "1 shop");
        assert_eq!(shops_count(3), "3 shops");
    }

    #[test]
    fn the_timeline_says_who_did_what() {
        assert_eq!(event_text(&event("created", Some(OrderStatus::Pending), json!({}))), "Order placed");
        assert_eq!(event_text(&event("status_changed", Some(OrderStatus::Confirmed), json!({}))), "Payment received");
        let shipment = event("shipment", None, json!({"carrier": "DHL", "tracking_number": "JD0142"}));
        assert_eq!(event_text(&shipment), "Handed to DHL, tracking number JD0142");
        let cancel = event("cancellation", None, json!({"reason": "out of stock", "refund_id": null}));
        assert_eq!(event_text(&cancel), "Cancelled: out of stock");
        assert_eq!(event_text(&event("gift_note", None, json!({}))), "gift note");
        assert_eq!(actor_label("system"), "Marketplace");
        assert_eq!(actor_label("usr_01JC0000000000000000000ADM"), "The shop");
    }

    #[test]
    fn options_read_as_name_value_pairs() {
        assert_eq!(options_text(&json!({"colour": "Blue", "size": "M"})), "colour: Blue, size: M");
        assert_eq!(options_text(&json!({})), "");
        assert_eq!(options_text(&json!(null)), "");
    }
}
