-- Where an order group is delivered (issue 7, the storefront's checkout): the name, street, city,
-- postcode and country the shopper typed (shared::orders::ShippingAddress), beside the destination
-- that priced the cart. NULL for groups checked out before, or by clients that sent none.
ALTER TABLE orders.order_groups ADD COLUMN shipping_address jsonb
    CHECK (shipping_address IS NULL OR jsonb_typeof(shipping_address) = 'object');

-- 0016's create_group, now also writing the group's shipping address (absent in the JSON: NULL).
CREATE OR REPLACE FUNCTION orders.create_group(p_group jsonb, p_commission jsonb, p_saga_id text, p_at timestamptz)
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
                                     total_minor, idempotency_key, coupons, destination,
                                     shipping_address)
    VALUES (new_group, buyer, group_currency,
            (p_group #>> '{totals,subtotal,amount_minor}')::bigint, (p_group #>> '{totals,discount,amount_minor}')::bigint,
            (p_group #>> '{totals,shipping,amount_minor}')::bigint, (p_group #>> '{totals,tax,amount_minor}')::bigint,
            (p_group #>> '{totals,total,amount_minor}')::bigint, saga_key, p_group->'coupons',
            p_group->'destination', p_group->'shipping_address')
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
