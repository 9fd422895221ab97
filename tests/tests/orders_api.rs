//! The order API through the real runtimes (issue 6): the gateway forwards the buyer's reads and
//! the vendor's order API to the orders Spin component in a signed envelope. Order groups are
//! written with SQL as the checkout will write them (it does not exist yet); payments, the Stripe
//! sandbox and inventory are the real components, so a vendor's cancellation is checked end to
//! end: refunded at the provider, reversed in the ledger, units back on the shelf.

mod inventory_support;

use e2e::{TestStack, error_code, fresh_id};
use inventory_support::{World, reserve_body};
use reqwest::Method;
use serde_json::{Value, json};
use shared::neon::{BatchOptions, Query, ToSql};

#[tokio::test]
#[ignore = "needs the Wasm builds: run through `cargo xtask test`"]
async fn buyers_read_their_orders_and_vendors_fulfil_and_cancel_theirs() {
    let stack = TestStack::start("orders-api", true).await.expect("stack starts");
    let world = World::new(&stack).await;
    let buyers = Buyers::of(&world).await;

    let shop = Shop { world: &world, buyers: &buyers };
    shop.a_buyer_pages_through_own_groups_only().await;
    shop.a_vendor_sees_its_own_orders_only().await;
    shop.processing_ship_deliver_is_on_the_timeline_with_the_actor().await;
    shop.disallowed_moves_answer_the_stable_error().await;
    shop.cancelling_a_paid_order_refunds_and_restocks_it().await;
    shop.a_cancel_interrupted_before_the_refund_is_finished_by_its_retry().await;
}

struct Buyers {
    first: (String, String),
    second: (String, String),
}

impl Buyers {
    /// The world's shopper, and vendor B's admin shopping elsewhere (registering more accounts
    /// would hit the register rate limit): (user id, access token) each.
    async fn of(world: &World<'_>) -> Self {
        let (status, me) = world.api(Method::GET, "/api/v1/auth/me", Some(&world.shopper), None).await;
        assert_eq!(status, 200, "{me}");
        let shopper = me["id"].as_str().expect("the shopper's id").to_owned();
        Self { first: (shopper, world.shopper.clone()), second: (world.vendor_b_user.clone(), world.vendor_b.clone()) }
    }
}

struct Shop<'a> {
    world: &'a World<'a>,
    buyers: &'a Buyers,
}

/// A vendor and its lines: (variant, quantity, unit price in cents).
type VendorLines<'a> = (&'a str, &'a [(&'a str, i64, i64)]);

/// One group as checkout writes it: ids of the group and of each vendor's order.
struct Seeded {
    group: String,
    orders: Vec<String>,
    total: i64,
}

impl Shop<'_> {
    async fn a_buyer_pages_through_own_groups_only(&self) {
        let w = self.world;
        let (buyer, token) = &self.buyers.first;
        let mut groups = Vec::new();
        for units in 1..=3 {
            let seeded = self
                .seed(
                    buyer,
                    &[
                        (&w.vendor_a_id, &[(w.variant.as_str(), units, 2_500)]),
                        (&w.vendor_b_id, &[(&fresh_id("var"), 1, 900)]),
                    ],
                )
                .await;
            groups.push(seeded);
        }
        let other = self.seed(&self.buyers.second.0, &[(&w.vendor_a_id, &[(w.variant.as_str(), 1, 2_500)])]).await;

        let (status, first) = w.api(Method::GET, "/api/v1/orders?limit=2", Some(token), None).await;
        assert_eq!(status, 200, "{first}");
        let ids: Vec<&str> =
            first["items"].as_array().expect("items").iter().map(|g| g["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [groups[2].group.as_str(), groups[1].group.as_str()], "newest first: {first}");
        let cursor = first["next_cursor"].as_str().expect("a next page");
        let (status, second) =
            w.api(Method::GET, &format!("/api/v1/orders?limit=2&cursor={cursor}"), Some(token), None).await;
        assert_eq!(status, 200, "{second}");
        assert_eq!(second["items"].as_array().map(Vec::len), Some(1), "{second}");
        assert_eq!(second["items"][0]["id"], json!(groups[0].group));
        assert_eq!(second["next_cursor"], Value::Null);
        let summary = &second["items"][0];
        assert_eq!(summary["total"], json!({"amount_minor": groups[0].total, "currency": "EUR"}), "{summary}");
        assert_eq!(summary["status"], "confirmed");
        assert_eq!(summary["orders"].as_array().map(Vec::len), Some(2), "{summary}");
        assert!(summary["orders"].as_array().unwrap().iter().all(|order| order["status"] == "confirmed"));

        // One group in full: both vendors' orders with their lines and timelines, no commission.
        let path = format!("/api/v1/orders/{}", groups[1].group);
        let (status, detail) = w.api(Method::GET, &path, Some(token), None).await;
        assert_eq!(status, 200, "{detail}");
        let orders = detail["orders"].as_array().expect("orders");
        assert_eq!(orders.len(), 2, "{detail}");
        let mine = orders.iter().find(|order| order["vendor_id"] == json!(w.vendor_a_id)).expect("vendor A's order");
        let line = &mine["lines"][0];
        assert_eq!(
            (line["title"].as_str(), line["sku"].as_str(), line["quantity"].as_i64()),
            (Some("Orders API lantern"), Some("lantern-red"), Some(2))
        );
        assert_eq!(line["options"], json!({"Colour": "Red"}));
        assert_eq!(line["unit_price"], json!({"amount_minor": 2500, "currency": "EUR"}));
        assert_eq!(line["line_total"], json!({"amount_minor": 5000, "currency": "EUR"}));
        assert!(line.get("commission").is_none(), "the buyer does not see the commission: {line}");
        let kinds: Vec<(&str, &str)> = timeline(mine).iter().map(|e| (e.0, e.2)).collect();
        assert_eq!(kinds, [("created", "pending"), ("status_changed", "confirmed")], "{mine}");

        // Another buyer's group is the same 404 as an unknown or malformed one; lists do not mix.
        for path in [
            format!("/api/v1/orders/{}", other.group),
            format!("/api/v1/orders/{}", fresh_id("grp")),
            "/api/v1/orders/grp_nope".into(),
        ] {
            let (status, body) = w.api(Method::GET, &path, Some(token), None).await;
            assert_eq!((status, error_code(&body)), (404, "RES_4004"), "{path}: {body}");
        }
        let (status, body) = w.api(Method::GET, "/api/v1/orders", Some(&self.buyers.second.1), None).await;
        assert_eq!(status, 200, "{body}");
        let ids: Vec<&str> = body["items"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [other.group.as_str()]);
        let (status, body) = w.api(Method::GET, "/api/v1/orders", None, None).await;
        assert_eq!((status, error_code(&body)), (401, "AUTH_1004"), "{body}");
        let (status, body) = w.api(Method::GET, "/api/v1/orders?limit=0", Some(token), None).await;
        assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");
    }

    async fn a_vendor_sees_its_own_orders_only(&self) {
        let w = self.world;
        let all_a = w.stack.all_pages_as(Some(&w.vendor_a), "/api/v1/vendor/orders", "limit=3").await;
        let all_b = w.stack.all_pages_as(Some(&w.vendor_b), "/api/v1/vendor/orders", "limit=3").await;
        assert_eq!((all_a.len(), all_b.len()), (4, 3), "A sold in four groups, B in three");
        let listed = |items: &[Value]| items.iter().map(|o| o["id"].clone()).collect::<Vec<_>>();
        let owned = "SELECT to_json(id) FROM orders.orders WHERE vendor_id = $1 ORDER BY created_at DESC, id DESC";
        assert_eq!(listed(&all_a), rows(w.stack, owned, &[&w.vendor_a_id]).await);
        assert_eq!(listed(&all_b), rows(w.stack, owned, &[&w.vendor_b_id]).await);

        let (status, body) = w.api(Method::GET, "/api/v1/vendor/orders?status=shipped", Some(&w.vendor_a), None).await;
        assert_eq!((status, body["items"].clone()), (200, json!([])), "{body}");
        let (status, body) = w.api(Method::GET, "/api/v1/vendor/orders?status=lost", Some(&w.vendor_a), None).await;
        assert_eq!((status, error_code(&body)), (422, "VAL_3002"), "{body}");

        // B's order is not A's to read or move, and a shopper has no vendor API.
        let b_order = all_b[0]["id"].as_str().unwrap();
        let (status, body) =
            w.api(Method::GET, &format!("/api/v1/vendor/orders/{b_order}"), Some(&w.vendor_a), None).await;
        assert_eq!((status, error_code(&body)), (404, "RES_4004"), "{body}");
        let (status, body) =
            w.api(Method::POST, &format!("/api/v1/vendor/orders/{b_order}/processing"), Some(&w.vendor_a), None).await;
        assert_eq!((status, error_code(&body)), (404, "RES_4004"), "{body}");
        let (status, body) = w.api(Method::GET, "/api/v1/vendor/orders", Some(&self.buyers.first.1), None).await;
        assert_eq!((status, error_code(&body)), (403, "AUTHZ_2001"), "{body}");
        let (_, mine) = w.api(Method::GET, &format!("/api/v1/vendor/orders/{b_order}"), Some(&w.vendor_b), None).await;
        assert_eq!(mine["status"], "confirmed", "{mine}");
        assert_eq!(mine["lines"][0]["commission"]["amount"], json!({"amount_minor": 90, "currency": "EUR"}), "{mine}");
        assert_eq!(mine["lines"][0]["commission"]["vendor_share"], json!({"amount_minor": 810, "currency": "EUR"}));
        assert_eq!(mine["lines"][0]["commission"]["rate_bp"], 1000);
    }

    async fn processing_ship_deliver_is_on_the_timeline_with_the_actor(&self) {
        let w = self.world;
        let seeded = self.seed(&self.buyers.first.0, &[(&w.vendor_a_id, &[(w.variant.as_str(), 1, 2_500)])]).await;
        let order = &seeded.orders[0];
        let path = |action: &str| format!("/api/v1/vendor/orders/{order}/{action}");

        let (status, body) = w.api(Method::POST, &path("processing"), Some(&w.vendor_a), None).await;
        assert_eq!((status, &body["status"]), (200, &json!("processing")), "{body}");
        let ship = json!({"carrier": "DHL", "tracking_number": "JD014600006281230704"});
        let (status, body) = w.api(Method::POST, &path("ship"), Some(&w.vendor_a), Some(ship.clone())).await;
        assert_eq!((status, &body["status"]), (200, &json!("shipped")), "{body}");
        assert_eq!(
            (body["carrier"].as_str(), body["tracking_number"].as_str()),
            (Some("DHL"), Some("JD014600006281230704"))
        );
        let (status, again) = w.api(Method::POST, &path("ship"), Some(&w.vendor_a), Some(ship)).await;
        assert_eq!(
            (status, &again["timeline"]),
            (200, &body["timeline"]),
            "shipping again with the same numbers changes nothing"
        );
        let (status, body) =
            w.api(Method::POST, &path("ship"), Some(&w.vendor_a), Some(json!({"carrier": "DHL"}))).await;
        assert_eq!((status, error_code(&body)), (400, "VAL_3001"), "{body}");
        let (status, body) = w.api(Method::POST, &path("deliver"), Some(&w.vendor_a), None).await;
        assert_eq!((status, &body["status"]), (200, &json!("delivered")), "{body}");
        let (status, again) = w.api(Method::POST, &path("deliver"), Some(&w.vendor_a), None).await;
        assert_eq!((status, &again), (200, &body), "delivering again answers the order as it is");

        let user = w.vendor_a_user.as_str();
        let events = timeline(&body);
        let expected = [
            ("created", "system", "pending"),
            ("status_changed", "system", "confirmed"),
            ("status_changed", user, "processing"),
            ("status_changed", user, "shipped"),
            ("shipment", user, ""),
            ("status_changed", user, "delivered"),
        ];
        let seen: Vec<(&str, &str, &str)> = events.iter().map(|e| (e.0, e.1, e.2)).collect();
        assert_eq!(seen, expected, "{body}");
        let shipment = body["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "shipment").unwrap();
        assert_eq!(shipment["data"], json!({"carrier": "DHL", "tracking_number": "JD014600006281230704"}));

        // What payments' payouts read: the order was delivered, when the timeline says so.
        let delivered = w
            .stack
            .neon()
            .query("SELECT vendor_id FROM orders.delivered_orders WHERE order_id = $1", &[order])
            .await
            .expect("the view");
        assert_eq!(delivered.one().expect("one row").get::<String>("vendor_id").unwrap(), w.vendor_a_id);
    }

    async fn disallowed_moves_answer_the_stable_error(&self) {
        let w = self.world;
        let confirmed = self.seed(&self.buyers.first.0, &[(&w.vendor_a_id, &[(w.variant.as_str(), 1, 2_500)])]).await;
        let path = |order: &str, action: &str| format!("/api/v1/vendor/orders/{order}/{action}");
        let order = &confirmed.orders[0];
        let before = w.api(Method::GET, &format!("/api/v1/vendor/orders/{order}"), Some(&w.vendor_a), None).await.1;

        let (status, body) = w.api(Method::POST, &path(order, "deliver"), Some(&w.vendor_a), None).await;
        assert_eq!((status, error_code(&body)), (409, "RES_4003"), "{body}");
        assert_eq!(
            body["error"]["details"],
            json!({"reason": "transition_not_allowed", "status": "confirmed", "action": "deliver"})
        );
        let (status, body) = w
            .api(
                Method::POST,
                &path(order, "ship"),
                Some(&w.vendor_a),
                Some(json!({"carrier": "DHL", "tracking_number": "1"})),
            )
            .await;
        assert_eq!((status, error_code(&body)), (409, "RES_4003"), "shipping needs processing first: {body}");
        let (status, body) = w.api(Method::POST, &path(order, "refund"), Some(&w.vendor_a), None).await;
        assert_eq!((status, error_code(&body)), (404, "RES_4001"), "{body}");
        let after = w.api(Method::GET, &format!("/api/v1/vendor/orders/{order}"), Some(&w.vendor_a), None).await.1;
        assert_eq!(after, before, "refused moves change nothing");

        // A pending order is the checkout saga's.
        let pending =
            self.seed_with(&self.buyers.first.0, &[(&w.vendor_a_id, &[(w.variant.as_str(), 1, 2_500)])], false).await;
        let (status, body) = w.api(Method::POST, &path(&pending.orders[0], "cancel"), Some(&w.vendor_a), None).await;
        assert_eq!((status, &body["error"]["details"]["reason"]), (409, &json!("checkout_in_progress")), "{body}");
        let (status, body) =
            w.api(Method::POST, &path(&pending.orders[0], "processing"), Some(&w.vendor_a), None).await;
        assert_eq!((status, error_code(&body)), (409, "RES_4003"), "{body}");

        // A shipped order cannot be cancelled.
        let shipped = self.seed(&self.buyers.first.0, &[(&w.vendor_a_id, &[(w.variant.as_str(), 1, 2_500)])]).await;
        let order = &shipped.orders[0];
        w.api(Method::POST, &path(order, "processing"), Some(&w.vendor_a), None).await;
        let (status, _) = w
            .api(
                Method::POST,
                &path(order, "ship"),
                Some(&w.vendor_a),
                Some(json!({"carrier": "CTT", "tracking_number": "RR1"})),
            )
            .await;
        assert_eq!(status, 200);
        let (status, body) =
            w.api(Method::POST, &path(order, "cancel"), Some(&w.vendor_a), Some(json!({"reason": "too late"}))).await;
        assert_eq!((status, error_code(&body)), (409, "RES_4003"), "{body}");
        assert_eq!(body["error"]["details"]["status"], "shipped", "{body}");
    }

    /// A paid, booked order whose units left the shelf: the cancel refunds it at the provider and in
    /// the ledger, puts the units back, and only then is the order cancelled.
    async fn cancelling_a_paid_order_refunds_and_restocks_it(&self) {
        let w = self.world;
        let stack = w.stack;
        let before = w.stock(&w.variant).await;
        let seeded = self
            .seed(
                &self.buyers.first.0,
                &[(&w.vendor_a_id, &[(w.variant.as_str(), 2, 2_500)]), (&w.vendor_b_id, &[(&fresh_id("var"), 1, 900)])],
            )
            .await;
        let (order_a, order_b) = (&seeded.orders[0], &seeded.orders[1]);
        // As the saga does: reserve and consume A's units under the group, pay, book the split.
        let (status, body) =
            w.core("/inventory/reservations", &reserve_body(&seeded.group, &[(w.variant.as_str(), 2)], 900)).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = w.core("/inventory/reservations/consume", &json!({"reference": seeded.group})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(w.stock(&w.variant).await, (before.0 - 2, before.1), "the paid units left the shelf");
        self.pay_and_book(&seeded, &[(&w.vendor_a_id, 5_000), (&w.vendor_b_id, 900)]).await;

        let path = format!("/api/v1/vendor/orders/{order_a}/cancel");
        let (status, cancelled) =
            w.api(Method::POST, &path, Some(&w.vendor_a), Some(json!({"reason": "out of red paint"}))).await;
        assert_eq!((status, &cancelled["status"]), (200, &json!("cancelled")), "{cancelled}");
        assert_eq!(cancelled["refunded"], eur(5_000), "{cancelled}");
        let note = cancelled["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "cancellation")
            .cloned()
            .expect("a cancellation event");
        assert_eq!(
            (note["actor"].as_str(), note["data"]["reason"].as_str()),
            (Some(w.vendor_a_user.as_str()), Some("out of red paint"))
        );
        assert_eq!((note["data"]["refunded"].clone(), note["data"]["units_restocked"].clone()), (eur(5_000), json!(2)));

        // The refund: once, succeeded, commission given back; the ledger still balances.
        let refunds = rows(stack, "SELECT json_build_object('status', status, 'amount', amount_minor, 'commission', commission_reversed_minor) FROM payments.refunds WHERE order_id = $1", &[order_a]).await;
        assert_eq!(refunds, [json!({"status": "succeeded", "amount": 5000, "commission": 500})]);
        assert_eq!(rows(stack, "SELECT json_build_object('currency', currency, 'sum', sum(amount_minor)) FROM payments.ledger_entries GROUP BY currency HAVING sum(amount_minor) <> 0", &[]).await, Vec::<Value>::new(), "every currency sums to zero");
        let payable = rows(stack, "SELECT to_json(coalesce(sum(amount_minor), 0)) FROM payments.ledger_entries WHERE account = 'vendor_payable' AND vendor_id = $1", &[&w.vendor_a_id]).await;
        assert_eq!(payable, [json!(0)], "vendor A is owed nothing for the cancelled order");

        // The units are back, as movements, and the catalog was told.
        assert_eq!(w.stock(&w.variant).await, before, "the units are back on the shelf");
        let restocks = rows(
            stack,
            "SELECT to_json(sum(on_hand_delta)) FROM inventory.movements WHERE kind = 'restock' AND reference = $1",
            &[&seeded.group],
        )
        .await;
        assert_eq!(restocks, [json!(2)]);
        let undelivered =
            rows(stack, "SELECT to_json(count(*)) FROM inventory.outbox WHERE delivered_at IS NULL", &[]).await;
        assert_eq!(undelivered, [json!(0)], "the stock_changed events reached the edge");

        // B's order of the same group is untouched; cancelling A again changes nothing.
        let (_, b) = w.api(Method::GET, &format!("/api/v1/vendor/orders/{order_b}"), Some(&w.vendor_b), None).await;
        assert_eq!((b["status"].as_str(), b["refunded"].clone()), (Some("confirmed"), eur(0)), "{b}");
        let (status, again) = w.api(Method::POST, &path, Some(&w.vendor_a), None).await;
        assert_eq!((status, &again), (200, &cancelled), "{again}");
        assert_eq!(
            rows(stack, "SELECT to_json(count(*)) FROM payments.refunds WHERE order_id = $1", &[order_a]).await,
            [json!(1)]
        );
        assert_eq!(w.stock(&w.variant).await, before);

        // A cancelled order does not ship.
        let (status, body) = w
            .api(
                Method::POST,
                &format!("/api/v1/vendor/orders/{order_a}/ship"),
                Some(&w.vendor_a),
                Some(json!({"carrier": "DHL", "tracking_number": "1"})),
            )
            .await;
        assert_eq!((status, &body["error"]["details"]["reason"]), (409, &json!("transition_not_allowed")), "{body}");
    }

    /// A cancel whose refund cannot be made yet leaves the order where it was, not shippable, and
    /// the same cancel retried once the payment is booked finishes it.
    async fn a_cancel_interrupted_before_the_refund_is_finished_by_its_retry(&self) {
        let w = self.world;
        let seeded = self.seed(&self.buyers.first.0, &[(&w.vendor_a_id, &[(w.variant.as_str(), 1, 2_500)])]).await;
        let order = &seeded.orders[0];
        let path = |action: &str| format!("/api/v1/vendor/orders/{order}/{action}");
        let (status, _) = w.api(Method::POST, &path("processing"), Some(&w.vendor_a), None).await;
        assert_eq!(status, 200);

        // The payment is not booked yet (as if payments were behind): the refund step fails.
        let (status, body) = w.api(Method::POST, &path("cancel"), Some(&w.vendor_a), None).await;
        assert_eq!((status, error_code(&body)), (503, "EXT_6001"), "{body}");
        let details = &body["error"]["details"];
        assert_eq!(
            (details["reason"].as_str(), details["service"].as_str()),
            (Some("compensation_failed"), Some("payments"))
        );
        let (_, now) = w.api(Method::GET, &format!("/api/v1/vendor/orders/{order}"), Some(&w.vendor_a), None).await;
        assert_eq!((now["status"].as_str(), now["refunded"].clone()), (Some("processing"), eur(0)), "{now}");
        let ship = json!({"carrier": "DHL", "tracking_number": "1"});
        let (status, body) = w.api(Method::POST, &path("ship"), Some(&w.vendor_a), Some(ship)).await;
        assert_eq!((status, &body["error"]["details"]["reason"]), (409, &json!("cancellation_in_progress")), "{body}");

        self.pay_and_book(&seeded, &[(&w.vendor_a_id, 2_500)]).await;
        let (status, body) = w.api(Method::POST, &path("cancel"), Some(&w.vendor_a), None).await;
        assert_eq!((status, &body["status"], &body["refunded"]), (200, &json!("cancelled"), &eur(2_500)), "{body}");
        let note = body["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "cancellation").cloned();
        assert_eq!(note.expect("a cancellation event")["data"]["reason"], "cancelled by the vendor");
        let refunds =
            rows(w.stack, "SELECT to_json(count(*)) FROM payments.refunds WHERE order_id = $1", &[order]).await;
        assert_eq!(refunds, [json!(1)]);
    }

    /// Pays the group by card at the sandbox and books its split (10 % commission), as the saga's
    /// payment and ledger steps do; `charged` per vendor, in the order of the group's orders.
    async fn pay_and_book(&self, seeded: &Seeded, charged: &[(&str, i64)]) {
        let w = self.world;
        let total: i64 = charged.iter().map(|(_, amount)| amount).sum();
        let payment = json!({
            "group_id": seeded.group, "buyer_id": self.buyers.first.0, "amount": eur(total),
            "method": {"payment_method": "pm_card_visa"}, "idempotency_key": format!("{}:create_payment", seeded.group)
        });
        let (status, body) = w.core("/payments/intents", &payment).await;
        assert_eq!((status, &body["status"]), (200, &json!("succeeded")), "{body}");
        let vendors: Vec<Value> = charged
            .iter()
            .zip(&seeded.orders)
            .map(|((vendor, amount), order)| {
                json!({"order_id": order, "vendor_id": vendor, "charged": eur(*amount), "goods": eur(*amount),
                       "commission": eur(amount / 10), "platform_discount": eur(0), "shipping": eur(0), "tax": eur(0),
                       "payable": eur(amount - amount / 10)})
            })
            .collect();
        let commission: i64 = charged.iter().map(|(_, amount)| amount / 10).sum();
        let split = json!({"split": {"group_id": seeded.group, "charged": eur(total), "platform": eur(commission), "vendors": vendors}});
        let (status, body) = w.core("/payments/journals", &split).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn seed(&self, buyer: &str, orders: &[VendorLines<'_>]) -> Seeded {
        self.seed_with(buyer, orders, true).await
    }

    /// A group of `buyer` with one order per `(vendor, lines)` of `(variant, quantity, unit price)`,
    /// its commission frozen at 10 %, then confirmed (paid) as the saga would when `confirm`.
    async fn seed_with(&self, buyer: &str, orders: &[VendorLines<'_>], confirm: bool) -> Seeded {
        let neon = self.world.stack.neon();
        let group = fresh_id("grp");
        let totals: Vec<i64> = orders.iter().map(|(_, lines)| lines.iter().map(|(_, q, p)| q * p).sum()).collect();
        let total: i64 = totals.iter().sum();
        let ids: Vec<String> = orders.iter().map(|_| fresh_id("ord")).collect();
        let key = fresh_id("key");
        let mut queries = vec![Query::new(
            "INSERT INTO orders.order_groups (id, buyer_id, currency, subtotal_minor, total_minor, idempotency_key, destination) \
             VALUES ($1, $2, 'EUR', $3::bigint, $3::bigint, $4, '{\"country\":\"DE\"}')",
            &[&group, &buyer, &total, &key],
        )];
        for (((vendor, lines), id), subtotal) in orders.iter().zip(&ids).zip(&totals) {
            queries.push(Query::new(
                "INSERT INTO orders.orders (id, group_id, buyer_id, vendor_id, currency, subtotal_minor, total_minor) \
                 VALUES ($1, $2, $3, $4, 'EUR', $5::bigint, $5::bigint)",
                &[id, &group, &buyer, vendor, subtotal],
            ));
            for (variant, quantity, price) in lines.iter() {
                let line = quantity * price;
                queries.push(Query::new(
                    "INSERT INTO orders.order_lines (order_id, vendor_id, currency, variant_id, product_id, category_id, \
                        title, sku, options, quantity, unit_price_minor, subtotal_minor, commission_rate_bp, \
                        commission_source, commission_base_minor, commission_minor, commission_frozen_at) \
                     VALUES ($1, $2, 'EUR', $3, $4, $5, 'Orders API lantern', 'lantern-red', '{\"Colour\":\"Red\"}', \
                        $6::integer, $7::bigint, $8::bigint, 1000, 'default', $8::bigint, $8::bigint / 10, now())",
                    &[id, vendor, variant, &fresh_id("prod"), &fresh_id("cat"), quantity, price, &line],
                ));
            }
        }
        neon.batch(&queries, BatchOptions::default()).await.expect("the group is written");
        if confirm {
            let confirm = [
                Query::new("UPDATE orders.orders SET status = 'confirmed' WHERE group_id = $1", &[&group]),
                Query::new("UPDATE orders.order_groups SET status = 'confirmed' WHERE id = $1", &[&group]),
            ];
            neon.batch(&confirm, BatchOptions::default()).await.expect("the group is confirmed");
        }
        Seeded { group, orders: ids, total }
    }
}

/// (kind, actor, to_status or "") of each timeline event, oldest first.
fn timeline(order: &Value) -> Vec<(&str, &str, &str)> {
    order["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|event| {
            (
                event["kind"].as_str().unwrap_or(""),
                event["actor"].as_str().unwrap_or(""),
                event["to_status"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

fn eur(minor: i64) -> Value {
    json!({"amount_minor": minor, "currency": "EUR"})
}

/// The first column of every row, as JSON.
async fn rows(stack: &TestStack, statement: &str, params: &[&dyn ToSql]) -> Vec<Value> {
    let result = stack.neon().query(statement, params).await.unwrap_or_else(|error| panic!("{statement}: {error}"));
    result.iter().map(|row| row.get::<Value>(0).expect("a JSON column")).collect()
}
