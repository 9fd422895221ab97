-- Payments, continued (issue 6): what the `payments` component keeps beyond 0011 — the caller's
-- idempotency key and the provider's decline codes on a payment, voids (also of a payment not
-- created yet), the split each payment journal was booked from (refunds reverse it per order),
-- vendors' connected accounts (payouts go there), and when orders were delivered (the payout hold
-- counts from it).

-- `idempotency_key`: the saga's step key that created the payment; another key for the same group
-- is a conflict. `failure_code` / `decline_code`: the provider's (`card_declined` /
-- `insufficient_funds`), beside the buyer-safe message in `failure_reason`.
ALTER TABLE payments.payments
    ADD COLUMN idempotency_key text CHECK (idempotency_key ~ '^[!-~]{1,255}$'),
    ADD COLUMN failure_code    text CHECK (char_length(failure_code) BETWEEN 1 AND 100),
    ADD COLUMN decline_code    text CHECK (char_length(decline_code) BETWEEN 1 AND 100);

-- The platform promotion a refund takes back (ledger::Reversal::platform_discount), beside the
-- commission it gives back: with both stored, the refund's journal is booked as computed when it
-- was requested, whatever other refunds of the order came in before the provider confirmed it.
ALTER TABLE payments.refunds
    ADD COLUMN promotion_reversed_minor bigint NOT NULL DEFAULT 0 CHECK (promotion_reversed_minor >= 0);

-- The saga voided the payment (its `void_payment` compensation). Written before the payment is
-- looked at, so a create arriving later (a runner past its lease) finds it and makes no
-- PaymentIntent: no foreign key, the payment may not exist yet. When the payment had succeeded
-- and was not booked per order, the one refund that gave it back.
CREATE TABLE payments.voids (
    payment_id     text COLLATE "C" PRIMARY KEY CHECK (payment_id ~ '^pay_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    requested_at   timestamptz      NOT NULL DEFAULT now(),
    psp_refund_id  text             UNIQUE CHECK (char_length(psp_refund_id) BETWEEN 1 AND 255),
    refunded_minor bigint           NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0)
);

-- Each order's share of a booked payment (shared::payments::VendorSplit), written with the
-- payment's journal: refunds of the order reverse its commission and promotion in proportion.
-- Append-only, like the journal it explains.
CREATE TABLE payments.order_splits (
    order_id                text COLLATE "C" PRIMARY KEY CHECK (order_id ~ '^ord_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    payment_id              text COLLATE "C" NOT NULL REFERENCES payments.payments (id),
    vendor_id               text COLLATE "C" NOT NULL CHECK (vendor_id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    currency                char(3)          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    charged_minor           bigint           NOT NULL CHECK (charged_minor >= 0),
    goods_minor             bigint           NOT NULL CHECK (goods_minor >= 0),
    commission_minor        bigint           NOT NULL CHECK (commission_minor BETWEEN 0 AND goods_minor),
    platform_discount_minor bigint           NOT NULL CHECK (platform_discount_minor BETWEEN 0 AND goods_minor),
    shipping_minor          bigint           NOT NULL CHECK (shipping_minor >= 0),
    tax_minor               bigint           NOT NULL CHECK (tax_minor >= 0),
    payable_minor           bigint           NOT NULL,
    created_at              timestamptz      NOT NULL DEFAULT now(),
    CHECK (payable_minor = goods_minor - commission_minor + shipping_minor + tax_minor),
    CHECK (charged_minor = goods_minor - platform_discount_minor + shipping_minor + tax_minor)
);
CREATE INDEX order_splits_payment_idx ON payments.order_splits (payment_id);
CREATE TRIGGER order_splits_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON payments.order_splits
    FOR EACH STATEMENT EXECUTE FUNCTION payments.ledger_is_append_only();

-- A vendor's connected account at the provider (Stripe Connect Express): payouts are transfers to it.
CREATE TABLE payments.connected_accounts (
    vendor_id      text COLLATE "C" PRIMARY KEY CHECK (vendor_id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    provider       text             NOT NULL DEFAULT 'stripe' CHECK (provider IN ('stripe')),
    psp_account_id text             NOT NULL UNIQUE CHECK (char_length(psp_account_id) BETWEEN 1 AND 255),
    created_at     timestamptz      NOT NULL DEFAULT now()
);

-- What payments reads of orders: when each order was delivered (its timeline's first move to
-- `delivered`), for the payout hold (shared::payments::available_for_payout; DESIGN §3: a
-- read-only view named in a migration).
CREATE VIEW orders.delivered_orders AS
SELECT e.order_id, e.vendor_id, min(e.created_at) AS delivered_at
FROM orders.order_events e
WHERE e.to_status = 'delivered'
GROUP BY e.order_id, e.vendor_id;
CREATE INDEX order_events_delivered_idx ON orders.order_events (vendor_id, order_id) WHERE to_status = 'delivered';
