-- A vendor cancels a paid order before shipping (issue 6): the orders component refunds it through
-- payments, puts its units back through inventory, and only then moves it to `cancelled`.
--
-- 1. While those calls run the order must not ship: `orders.orders.cancel_requested_at` is set
--    first (in the row, so a concurrent ship's `UPDATE … WHERE cancel_requested_at IS NULL` waits
--    for it and then sees it), and the component's process / ship / deliver refuse such an order.
--    A cancel retried after a crash finds it set and repeats the idempotent calls.
ALTER TABLE orders.orders ADD COLUMN cancel_requested_at timestamptz;

-- 2. A vendor's part of a checkout back on the shelf. The checkout reserves every vendor's items
--    under one reference, the order group, so `inventory.release(reference)` would undo the whole
--    group; this undoes one vendor's rows of it. After it, a reference's rows may differ in status
--    (that vendor's `restocked`, the others' `consumed`): `release` and `consume` still act on
--    each row by its own status.

-- `inventory.settle` limited to one vendor's rows when `p_vendor_id` is given (NULL: all rows,
-- as before). The movements and `inventory.stock_changed` events follow from the stock trigger.
CREATE FUNCTION inventory.settle(p_reference text, p_from text, p_to text, p_vendor_id text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM inventory.attribute(
        CASE p_to WHEN 'released' THEN 'release' WHEN 'expired' THEN 'expire' WHEN 'consumed' THEN 'consume'
                  ELSE 'restock' END,
        p_reference);
    PERFORM 1 FROM inventory.stock s
    WHERE (s.variant_id, s.location_id) IN (
        SELECT r.variant_id, r.location_id FROM inventory.reservations r
        WHERE r.reference = p_reference AND r.status = p_from
          AND (p_vendor_id IS NULL OR r.vendor_id = p_vendor_id))
    ORDER BY s.variant_id, s.location_id
    FOR UPDATE;
    WITH settled AS (
        UPDATE inventory.reservations r SET status = p_to, settled_at = now()
        WHERE r.reference = p_reference AND r.status = p_from
          AND (p_vendor_id IS NULL OR r.vendor_id = p_vendor_id)
        RETURNING r.variant_id, r.location_id, r.quantity
    )
    UPDATE inventory.stock s
    SET reserved = s.reserved - CASE WHEN p_from = 'active' THEN settled.quantity ELSE 0 END,
        on_hand = s.on_hand + CASE p_to WHEN 'consumed' THEN -settled.quantity
                                        WHEN 'restocked' THEN settled.quantity ELSE 0 END
    FROM settled
    WHERE s.variant_id = settled.variant_id AND s.location_id = settled.location_id;
    PERFORM inventory.attribute('', NULL);
END
$$;

-- The 0009 signature keeps its callers and becomes the all-vendors case: one body, no copy.
CREATE OR REPLACE FUNCTION inventory.settle(p_reference text, p_from text, p_to text) RETURNS void
LANGUAGE sql AS $$
    SELECT inventory.settle(p_reference, p_from, p_to, NULL)
$$;

-- `inventory.release` for one vendor's rows of the reference: held units go back to available,
-- consumed ones back on the shelf (`restocked`). Idempotent: rows already released, expired or
-- restocked, an unknown reference or a vendor with no rows in it change nothing. Answers the
-- vendor's rows of the reference.
CREATE FUNCTION inventory.release_vendor(p_reference text, p_vendor_id text)
RETURNS SETOF inventory.reservations LANGUAGE plpgsql AS $$
BEGIN
    IF p_vendor_id IS NULL THEN
        RAISE EXCEPTION 'release_vendor needs a vendor' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(inventory.reference_lock_key(p_reference));
    PERFORM inventory.settle(p_reference, 'active', 'released', p_vendor_id);
    PERFORM inventory.settle(p_reference, 'consumed', 'restocked', p_vendor_id);
    RETURN QUERY SELECT * FROM inventory.reservations r
        WHERE r.reference = p_reference AND r.vendor_id = p_vendor_id
        ORDER BY r.variant_id, r.location_id;
END
$$;
