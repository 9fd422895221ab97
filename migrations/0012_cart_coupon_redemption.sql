-- Checkout redeems coupons (docs/adr/0004: through functions the cart schema owns, not raw inserts).
-- A redemption is taken when the order group is created, so usage limits hold exactly under
-- concurrent checkouts, and given back when the checkout is compensated.
--
-- CT001: a coupon that cannot be redeemed. DETAIL is {"code": …, "reason": …} with the reason names
-- of shared::cart::coupon::CouponRejection (unknown, not_yet_valid, expired, usage_limit_reached,
-- customer_limit_reached).

-- Redeems every code for `p_order_id` (the order group's id) by `p_user_id` at `p_at`, or none.
-- Each coupon row is locked, in code order, before its redemptions are counted, so two checkouts
-- cannot both take a coupon's last use. Idempotent: the group's own earlier redemptions count as
-- already taken, not against the limits. Answers the group's redemption rows.
CREATE FUNCTION cart.redeem_coupons(p_user_id text, p_order_id text, p_codes text[], p_at timestamptz)
RETURNS SETOF cart.coupon_redemptions LANGUAGE plpgsql AS $$
DECLARE
    wanted text;
    coupon cart.coupons%ROWTYPE;
    reason text;
BEGIN
    FOR wanted IN SELECT DISTINCT c FROM unnest(p_codes) c ORDER BY 1 LOOP
        SELECT * INTO coupon FROM cart.coupons WHERE code = wanted FOR UPDATE;
        reason := CASE
            WHEN NOT FOUND THEN 'unknown'
            WHEN coupon.valid_from > p_at THEN 'not_yet_valid'
            WHEN coupon.valid_until <= p_at THEN 'expired'
            WHEN coupon.total_limit <= (
                SELECT count(*) FROM cart.coupon_redemptions r
                WHERE r.coupon_code = wanted AND r.order_id <> p_order_id) THEN 'usage_limit_reached'
            WHEN coupon.per_customer_limit <= (
                SELECT count(*) FROM cart.coupon_redemptions r
                WHERE r.coupon_code = wanted AND r.user_id = p_user_id AND r.order_id <> p_order_id)
                THEN 'customer_limit_reached'
        END;
        IF reason IS NOT NULL THEN
            RAISE EXCEPTION 'coupon % cannot be redeemed: %', wanted, reason
                USING ERRCODE = 'CT001', DETAIL = jsonb_build_object('code', wanted, 'reason', reason)::text;
        END IF;
        INSERT INTO cart.coupon_redemptions (coupon_code, user_id, order_id, redeemed_at)
        VALUES (wanted, p_user_id, p_order_id, p_at)
        ON CONFLICT DO NOTHING;
    END LOOP;
    RETURN QUERY SELECT * FROM cart.coupon_redemptions r WHERE r.order_id = p_order_id ORDER BY r.coupon_code;
END
$$;

-- Gives back every coupon `p_order_id` redeemed (a compensated checkout). Idempotent; answers how
-- many redemptions it removed.
CREATE FUNCTION cart.release_coupons(p_order_id text) RETURNS integer LANGUAGE sql AS $$
    WITH released AS (DELETE FROM cart.coupon_redemptions WHERE order_id = p_order_id RETURNING 1)
    SELECT count(*)::integer FROM released
$$;
-- Finding a group's redemptions (the primary key leads with the code).
CREATE INDEX coupon_redemptions_order_idx ON cart.coupon_redemptions (order_id);
