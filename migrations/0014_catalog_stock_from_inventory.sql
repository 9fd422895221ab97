-- Stock has one source of truth: inventory (0009). This finishes the split 0009 began (issue 6,
-- docs/adr/0006):
--  * The catalog Worker no longer writes stock numbers of its own. A vendor's stock edit and the
--    first stock of a new variant go to the inventory component (`inventory.set_on_hand`), and the
--    catalog applies what inventory answers to its read model with the function below.
--  * Every other change (reservations, their expiry, consumption, counts through the vendor stock
--    API) reaches the catalog as `inventory.stock_changed` events: inventory's outbox → the edge's
--    events Worker → the catalog Worker's internal route → the same function.
--  * `catalog.variant_stock.available` is what the storefront shows: inventory's `available`
--    (on hand less reserved) summed over the variant's locations, from the newest version seen per
--    location (events may arrive out of order or twice).
-- `inventory.adopt_catalog_stock` (0009) stays for the seed tool, which writes catalog rows directly.

-- The newest availability per variant and location the catalog has seen, with inventory's version.
CREATE TABLE catalog.variant_stock_levels (
    variant_id  text COLLATE "C" NOT NULL,
    location_id text COLLATE "C" NOT NULL CHECK (location_id ~ '^loc_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    vendor_id   text COLLATE "C" NOT NULL,
    available   integer          NOT NULL CHECK (available BETWEEN 0 AND 1000000),
    version     bigint           NOT NULL,
    updated_at  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (variant_id, location_id),
    FOREIGN KEY (variant_id, vendor_id) REFERENCES catalog.variants (id, vendor_id) ON DELETE CASCADE
);

-- Applies stock levels (`[{variant_id, vendor_id, location_id, available, version}, …]`, the shape of
-- shared::inventory::StockLevel) and answers, per product touched, whether it was in stock before and
-- after (a flip changes which lists it belongs in). Levels of unknown variants, or naming another
-- vendor, are skipped; an older or equal version than the one held changes nothing, so applying the
-- same event twice is harmless.
CREATE FUNCTION catalog.apply_stock_levels(p_levels jsonb)
RETURNS TABLE (product_id text, in_stock_before boolean, in_stock_after boolean) LANGUAGE plpgsql AS $$
DECLARE
    variant_ids text[];
    product_ids text[];
    stocked_before text[];
    variant text;
BEGIN
    IF p_levels IS NULL OR jsonb_typeof(p_levels) <> 'array' THEN
        RAISE EXCEPTION 'levels must be a JSON array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(DISTINCT v.id ORDER BY v.id), array_agg(DISTINCT v.product_id ORDER BY v.product_id)
    INTO variant_ids, product_ids
    FROM jsonb_to_recordset(p_levels) AS l (variant_id text, vendor_id text)
    JOIN catalog.variants v ON v.id = l.variant_id AND v.vendor_id = l.vendor_id;
    IF variant_ids IS NULL THEN
        RETURN;
    END IF;
    -- One applier per variant at a time, taken in id order: the sum below sees every level.
    FOREACH variant IN ARRAY variant_ids LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('catalog.variant_stock:' || variant, 0));
    END LOOP;

    SELECT array_agg(p) INTO stocked_before FROM unnest(product_ids) p
    WHERE EXISTS (SELECT 1 FROM catalog.variants v JOIN catalog.variant_stock s ON s.variant_id = v.id
                  WHERE v.product_id = p AND s.available > 0);

    -- A variant the catalog knew before inventory's first event for it: what it showed sits at the
    -- vendor's default location (where 0009 adopted it), at version 0 so any real event wins.
    INSERT INTO catalog.variant_stock_levels (variant_id, location_id, vendor_id, available, version)
    SELECT s.variant_id, 'loc_' || substr(s.vendor_id, 5), s.vendor_id, s.available, 0
    FROM catalog.variant_stock s
    WHERE s.variant_id = ANY (variant_ids)
      AND NOT EXISTS (SELECT 1 FROM catalog.variant_stock_levels x WHERE x.variant_id = s.variant_id);

    INSERT INTO catalog.variant_stock_levels AS held (variant_id, location_id, vendor_id, available, version)
    SELECT DISTINCT ON (l.variant_id, l.location_id) l.variant_id, l.location_id, l.vendor_id,
           least(greatest(l.available, 0), 1000000), l.version
    FROM jsonb_to_recordset(p_levels) AS l (variant_id text, vendor_id text, location_id text, available integer,
                                           version bigint)
    JOIN catalog.variants v ON v.id = l.variant_id AND v.vendor_id = l.vendor_id
    ORDER BY l.variant_id, l.location_id, l.version DESC
    ON CONFLICT (variant_id, location_id) DO UPDATE
        SET available = EXCLUDED.available, version = EXCLUDED.version, updated_at = now()
        WHERE held.version < EXCLUDED.version;

    INSERT INTO catalog.variant_stock AS shown (variant_id, vendor_id, available)
    SELECT x.variant_id, x.vendor_id, least(sum(x.available), 1000000)::integer
    FROM catalog.variant_stock_levels x
    WHERE x.variant_id = ANY (variant_ids)
    GROUP BY x.variant_id, x.vendor_id
    ON CONFLICT (variant_id) DO UPDATE SET available = EXCLUDED.available, updated_at = now()
        WHERE shown.available <> EXCLUDED.available;

    RETURN QUERY
    SELECT p, p = ANY (coalesce(stocked_before, '{}')),
           EXISTS (SELECT 1 FROM catalog.variants v JOIN catalog.variant_stock s ON s.variant_id = v.id
                   WHERE v.product_id = p AND s.available > 0)
    FROM unnest(product_ids) p;
END
$$;
