-- Everything that prices a cart, in one call: the cart's variants (through catalog.cart_variants),
-- its coupons with their redemptions so far, the shipping options of its vendors and the
-- destination country's tax rates, as JSON in the shape of shared::cart's types (read by
-- workers/cart/src/data.rs). One statement, so one snapshot.
--
-- Why a function: over Neon's HTTP API every query is parsed and planned afresh, and planning this
-- one (the view's four-table join, four subqueries) cost 80 % of its time in `cargo xtask bench
-- cart`. PL/pgSQL keeps the plan per connection, and the proxy's pooled connections keep it across
-- requests (its session reset does not discard plans). STABLE: it only reads.
CREATE FUNCTION cart.pricing_data(
    p_variants text[], p_coupons text[], p_vendors text[], p_country text, p_user_id text
) RETURNS json LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        -- Joined from the distinct ids, so the plan looks each one up by key at any catalog size.
        WITH variants AS (
            SELECT cv.*
            FROM (SELECT DISTINCT unnest(p_variants) AS id) ids
            JOIN catalog.cart_variants cv ON cv.variant_id = ids.id
        )
        SELECT json_build_object(
            'variants', (SELECT coalesce(json_agg(json_build_object(
                'variant_id', variant_id, 'product_id', product_id, 'vendor_id', vendor_id,
                'price', json_build_object('amount_minor', price_minor, 'currency', currency),
                'available', available, 'weight_grams', weight_grams, 'on_sale', on_sale,
                'vendor_location', CASE WHEN vendor_latitude IS NULL THEN NULL
                    ELSE json_build_object('lat', vendor_latitude, 'lng', vendor_longitude) END)), '[]'::json)
                FROM variants),
            'coupons', (SELECT coalesce(json_agg(json_build_object(
                'coupon', json_build_object('code', c.code,
                    'scope', CASE WHEN c.vendor_id IS NULL THEN json_build_object('type', 'platform')
                        ELSE json_build_object('type', 'vendor', 'vendor_id', c.vendor_id) END,
                    'value', CASE WHEN c.percent_bp IS NOT NULL
                        THEN json_build_object('type', 'percentage', 'basis_points', c.percent_bp)
                        ELSE json_build_object('type', 'fixed',
                            'amount', json_build_object('amount_minor', c.fixed_minor, 'currency', c.currency)) END,
                    'min_purchase', CASE WHEN c.min_purchase_minor IS NULL THEN NULL
                        ELSE json_build_object('amount_minor', c.min_purchase_minor, 'currency', c.currency) END,
                    'max_discount', CASE WHEN c.max_discount_minor IS NULL THEN NULL
                        ELSE json_build_object('amount_minor', c.max_discount_minor, 'currency', c.currency) END,
                    'valid_from', c.valid_from, 'valid_until', c.valid_until,
                    'per_customer_limit', c.per_customer_limit, 'total_limit', c.total_limit),
                'usage', json_build_object(
                    'by_customer', (SELECT count(*) FROM cart.coupon_redemptions r
                        WHERE r.coupon_code = c.code AND r.user_id = p_user_id),
                    'total', (SELECT count(*) FROM cart.coupon_redemptions r WHERE r.coupon_code = c.code)))), '[]'::json)
                FROM cart.coupons c WHERE c.code = ANY (p_coupons)),
            -- The lines' vendors, and the vendor of a variant about to be added.
            'shipping', (SELECT coalesce(json_agg(json_build_object('id', id, 'vendor_id', vendor_id, 'rate', rate)
                    ORDER BY vendor_id, position, id), '[]'::json)
                FROM cart.shipping_options
                WHERE vendor_id = ANY (p_vendors) OR vendor_id IN (SELECT vendor_id FROM variants)),
            'tax', json_build_object('rates', (SELECT coalesce(json_agg(json_build_object(
                    'country', country, 'region', nullif(region, ''), 'rate', rate_bp)), '[]'::json)
                FROM cart.tax_rates WHERE country = p_country)))
    );
END
$$;
