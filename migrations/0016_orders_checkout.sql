-- The checkout saga's writes (issue 6, DESIGN §9), one statement each, so every step is all or
-- nothing over the HTTP protocol and idempotent under its retries. Row shapes are 0010's; the JSON
-- arguments are shared::orders::OrderGroup and shared::payments::CommissionLine as serde writes them.

-- What commission needs besides the group, read at the sale (docs/adr/0009: a read of payments' rules
-- and the catalog's categories through their published functions and views): the rules in force
-- (shared::payments::CommissionRules; NULL when no default rule is) and each product's category
-- path, nearest first.
CREATE FUNCTION orders.commission_inputs(p_product_ids text[], p_at timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'rules', (
            SELECT CASE WHEN bool_or(r.scope = 'default') THEN jsonb_build_object(
                'default', max(r.rate_bp) FILTER (WHERE r.scope = 'default'),
                'by_category', coalesce(jsonb_object_agg(r.category_id, r.rate_bp) FILTER (WHERE r.scope = 'category'), '{}'),
                'by_vendor', coalesce(jsonb_object_agg(r.vendor_id, r.rate_bp) FILTER (WHERE r.scope = 'vendor'), '{}'))
            END
            FROM payments.commission_rules_at(p_at) r),
        'categories', coalesce((
            SELECT jsonb_object_agg(p.product_id, p.path)
            FROM (
                SELECT v.product_id, jsonb_agg(a.ancestor_id ORDER BY a.depth) AS path
                FROM (SELECT DISTINCT product_id, category_id FROM catalog.checkout_variants
                      WHERE product_id = ANY (p_product_ids)) v
                JOIN catalog.category_ancestors a ON a.category_id = v.category_id
                GROUP BY v.product_id
            ) p), '{}'))
$$;

-- A buyer's checkout request begins: the Idempotency-Key (0010's begin_idempotent_request) and, when
-- the key is new, the saga row that owns the checkout from now on, in one statement. Answers the key's
-- outcome; `resource_id` is the saga of the key (this one when new).
CREATE FUNCTION orders.start_checkout(
    p_buyer_id text, p_key text, p_request_hash text, p_saga_id text, p_group_id text, p_state jsonb,
    p_step text, p_revision bigint, p_next_attempt_at timestamptz, p_deadline timestamptz, p_locked_until timestamptz)
RETURNS TABLE (outcome text, response_status smallint, response_body text, resource_id text)
LANGUAGE plpgsql AS $$
DECLARE
    began record;
BEGIN
    SELECT * INTO began FROM orders.begin_idempotent_request(p_buyer_id, p_key, p_request_hash);
    IF began.outcome <> 'new' THEN
        RETURN QUERY SELECT began.outcome, began.response_status, began.response_body, began.resource_id;
        RETURN;
    END IF;
    INSERT INTO orders.sagas (id, group_id, buyer_id, status, step, state, revision, next_attempt_at, deadline, locked_until)
    VALUES (p_saga_id, p_group_id, p_buyer_id, 'running', p_step, p_state, p_revision, p_next_attempt_at, p_deadline,
            p_locked_until);
    UPDATE orders.idempotency_keys k SET resource_id = p_saga_id WHERE k.buyer_id = p_buyer_id AND k.key = p_key;
    RETURN QUERY SELECT 'new'::text, NULL::smallint, NULL::text, p_saga_id;
END
$$;

-- Saves a saga after a step or a resume if nobody moved it since (`revision` is what the saver
-- loaded); false means another runner did, and the saver stops. A final state's answer completes
-- the checkout's Idempotency-Key (its retries replay it), whichever runner ended the saga: the
-- request, a payment event or the sweep after a crash.
CREATE FUNCTION orders.save_saga(
    p_saga_id text, p_loaded_revision bigint, p_state jsonb, p_status text, p_step text, p_revision bigint,
    p_next_attempt_at timestamptz, p_answer_status smallint, p_answer_body text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    UPDATE orders.sagas
    SET state = p_state, status = p_status, step = p_step, revision = p_revision,
        next_attempt_at = p_next_attempt_at, locked_until = NULL
    WHERE id = p_saga_id AND revision = p_loaded_revision;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_answer_status IS NOT NULL THEN
        UPDATE orders.idempotency_keys
        SET response_status = p_answer_status, response_body = p_answer_body, completed_at = now()
        WHERE resource_id = p_saga_id AND response_status IS NULL;
    END IF;
    RETURN true;
END
$$;
CREATE INDEX idempotency_keys_resource_idx ON orders.idempotency_keys (resource_id);

-- The create_orders step: the group, one order per vendor (pending) and their lines as sold (title,
-- SKU, options and category from catalog.checkout_variants) with the commission frozen, and the
-- coupons redeemed (cart.redeem_coupons, docs/adr/0004) — or nothing (a coupon out of uses raises
-- CT001). The group keeps the buyer's Idempotency-Key of its saga. A group that exists already is
-- this step retried: nothing is written again.
CREATE FUNCTION orders.create_group(p_group jsonb, p_commission jsonb, p_saga_id text, p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    new_group text := p_group->>'id';
    buyer text := p_group->>'buyer';
    group_currency text := p_group->>'currency';
    saga_key text := (SELECT k.key FROM orders.idempotency_keys k
                               WHERE k.buyer_id = p_group->>'buyer' AND k.resource_id = p_saga_id);
    written integer;
BEGIN
    INSERT INTO orders.order_groups (id, buyer_id, currency, subtotal_minor, discount_minor, shipping_minor, tax_minor,
                                     total_minor, idempotency_key, coupons, destination)
    VALUES (new_group, buyer, group_currency,
            (p_group #>> '{totals,subtotal,amount_minor}')::bigint, (p_group #>> '{totals,discount,amount_minor}')::bigint,
            (p_group #>> '{totals,shipping,amount_minor}')::bigint, (p_group #>> '{totals,tax,amount_minor}')::bigint,
            (p_group #>> '{totals,total,amount_minor}')::bigint, saga_key, p_group->'coupons',
            p_group->'destination')
    ON CONFLICT (id) DO NOTHING;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written = 0 THEN
        RETURN;
    END IF;
    INSERT INTO orders.orders (id, group_id, buyer_id, vendor_id, currency, subtotal_minor, discount_minor,
                               vendor_discount_minor, platform_discount_minor, shipping_minor, tax_rate_bp, tax_minor,
                               total_minor, shipping_option_id)
    SELECT o->>'id', new_group, buyer, o->>'vendor_id', group_currency,
           (o #>> '{totals,subtotal,amount_minor}')::bigint, (o #>> '{totals,discount,amount_minor}')::bigint,
           (o #>> '{vendor_discount,amount_minor}')::bigint, (o #>> '{platform_discount,amount_minor}')::bigint,
           (o #>> '{totals,shipping,amount_minor}')::bigint, (o->>'tax_rate')::integer,
           (o #>> '{totals,tax,amount_minor}')::bigint, (o #>> '{totals,total,amount_minor}')::bigint,
           o->>'shipping_option'
    FROM jsonb_array_elements(p_group->'orders') o;
    INSERT INTO orders.order_lines (order_id, vendor_id, currency, variant_id, product_id, category_id, title, sku,
                                    options, quantity, unit_price_minor, subtotal_minor, commission_rate_bp,
                                    commission_source, commission_base_minor, commission_minor, commission_frozen_at)
    SELECT o->>'id', o->>'vendor_id', group_currency, l->>'variant_id', l->>'product_id', v.category_id, v.title, v.sku,
           v.options, (l->>'quantity')::integer, (l #>> '{unit_price,amount_minor}')::bigint,
           (l #>> '{line_total,amount_minor}')::bigint, (c->>'rate')::integer, c->>'source',
           (c #>> '{base,amount_minor}')::bigint, (c #>> '{commission,amount_minor}')::bigint, p_at
    FROM jsonb_array_elements(p_group->'orders') o
    CROSS JOIN LATERAL jsonb_array_elements(o->'lines') l
    JOIN catalog.checkout_variants v ON v.variant_id = l->>'variant_id'
    JOIN LATERAL (
        SELECT c FROM jsonb_array_elements(p_commission) c
        WHERE c->>'order_id' = o->>'id' AND c->>'variant_id' = l->>'variant_id'
    ) frozen ON true;
    PERFORM cart.redeem_coupons(buyer, new_group,
        ARRAY(SELECT c->>'code' FROM jsonb_array_elements(p_group->'coupons') c), p_at);
END
$$;

-- The cancel_orders compensation: the group's orders still pending are cancelled (the timeline
-- records it), the group too, and its coupon redemptions given back. Idempotent.
CREATE FUNCTION orders.cancel_group(p_group_id text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE orders.orders SET status = 'cancelled' WHERE group_id = p_group_id AND status = 'pending';
    UPDATE orders.order_groups SET status = 'cancelled' WHERE id = p_group_id AND status = 'pending';
    PERFORM cart.release_coupons(p_group_id);
END
$$;

-- The confirm_orders step: the group's pending orders confirmed and its OrderPlaced event in the
-- outbox (its id derived from the group, so a retry adds nothing). Idempotent.
CREATE FUNCTION orders.confirm_group(p_group_id text, p_event_id text, p_event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE orders.orders SET status = 'confirmed' WHERE group_id = p_group_id AND status = 'pending';
    UPDATE orders.order_groups SET status = 'confirmed' WHERE id = p_group_id AND status = 'pending';
    INSERT INTO orders.outbox (id, topic, payload) VALUES (p_event_id, 'orders.order_placed', p_event)
    ON CONFLICT (id) DO NOTHING;
END
$$;
