-- Inventory (issue 6, DESIGN §3, §9): stock per variant per location, reservations with an expiry,
-- a ledger of every stock movement, and an outbox. Every change that spans rows is one function
-- called in one statement, because the Neon HTTP protocol has no interactive transactions.
--
-- Taking stock over from the catalog. Until now `catalog.variant_stock` (0005) held the one number
-- the storefront shows. From here on inventory is the truth, and neither context writes the other's
-- tables (DESIGN §3, so no ADR):
--  * Existing stock is copied here once, to a default location per vendor, by
--    `inventory.adopt_catalog_stock` (called at the end of this file), which reads the catalog
--    through the read-only view `catalog.stock_for_inventory`.
--  * `catalog.variant_stock` becomes the catalog's read model. Every change of a stock row's
--    availability writes an `inventory.stock_changed` event (with the row's `version`) to inventory's
--    outbox in the same transaction; the catalog applies them (newest version per variant and
--    location wins, summed over locations). That receiver is later work: until it runs, the
--    storefront may show as available stock that is already reserved. Nothing is oversold, because
--    only `inventory.reserve` decides.
--  * The catalog Worker still writes `catalog.variant_stock` when a vendor creates a variant or edits
--    its stock. Until those writes move to inventory (`inventory.set_on_hand`, behind the vendor
--    stock API), calling `inventory.adopt_catalog_stock` again adopts the variants inventory has
--    never seen; it never overwrites a stock row inventory already holds.
--
-- Errors a caller maps to an API answer carry their own SQLSTATE (class IV):
--   IV001 insufficient stock (DETAIL: JSON array of {variant_id, requested, available})
--   IV002 a reservation reference reused with other items
--   IV003 nothing held to consume (unknown reference, or released / expired / restocked)
--   IV004 a variant that is not this vendor's
--   IV005 on hand would drop below what is reserved
-- Malformed arguments are 22023 (invalid_parameter_value).

-- A prefixed ULID in shared::ids::new_id's format (`prefix_` + 26 Crockford base-32 characters:
-- 48 bits of Unix milliseconds, then 80 random bits), for rows that SQL creates itself (events,
-- movements, reservations). Ids of rows the services create are minted in Rust.
CREATE FUNCTION public.new_ulid_id(prefix text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    alphabet CONSTANT text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    -- A v4 UUID's bytes 1-6 and 11-14 are random (7 and 9 carry its version and variant).
    uuid bytea := uuid_send(gen_random_uuid());
    bits bit(130) := B'00'
        || (floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::bit(48)
        || ('x' || encode(substring(uuid FROM 1 FOR 6) || substring(uuid FROM 11 FOR 4), 'hex'))::bit(80);
    id text := prefix || '_';
BEGIN
    FOR i IN 0..25 LOOP
        id := id || substr(alphabet, substring(bits FROM i * 5 + 1 FOR 5)::integer + 1, 1);
    END LOOP;
    RETURN id;
END
$$;

-- What inventory reads of the catalog (DESIGN §3: cross-context reads through a view named in a
-- migration). Orders reads the same view for its line snapshot, payments for the category.
CREATE VIEW catalog.checkout_variants AS
SELECT v.id AS variant_id,
       v.product_id,
       v.vendor_id,
       p.category_id,
       v.sku,
       p.title,
       v.options,
       v.price_minor,
       v.currency,
       (p.status = 'active' AND NOT p.moderation_hidden) AS on_sale
FROM catalog.variants v
JOIN catalog.products p ON p.id = v.product_id;

-- The catalog's stock numbers, read once per variant when inventory adopts it.
CREATE VIEW catalog.stock_for_inventory AS
SELECT variant_id, vendor_id, available FROM catalog.variant_stock;

-- Where a vendor keeps stock. A vendor's default location is `loc_<the vendor's ULID>`, so the seed
-- and later adoptions need no id generator and agree with each other.
CREATE TABLE inventory.locations (
    id         text COLLATE "C" PRIMARY KEY CHECK (id ~ '^loc_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    vendor_id  text COLLATE "C" NOT NULL CHECK (vendor_id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    name       text             NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
    -- Where stock lands when no location is named; reservations take from it first.
    is_default boolean          NOT NULL DEFAULT false,
    created_at timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (id, vendor_id)
);
CREATE UNIQUE INDEX locations_one_default_idx ON inventory.locations (vendor_id) WHERE is_default;

-- One row per variant per location. `reserved` is held for checkouts that have not paid yet, so what
-- can still be sold is `available`; the CHECKs make negative stock impossible whatever the caller.
CREATE TABLE inventory.stock (
    variant_id          text COLLATE "C" NOT NULL CHECK (variant_id ~ '^var_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    location_id         text COLLATE "C" NOT NULL,
    vendor_id           text COLLATE "C" NOT NULL,
    on_hand             integer          NOT NULL CHECK (on_hand BETWEEN 0 AND 1000000),
    reserved            integer          NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    available           integer          GENERATED ALWAYS AS (on_hand - reserved) STORED,
    -- At or below it the vendor is told (an `inventory.low_stock` event); NULL: never.
    low_stock_threshold integer          CHECK (low_stock_threshold BETWEEN 0 AND 1000000),
    -- Raised by every update; the catalog keeps the newest version it has seen (events may arrive
    -- out of order).
    version             bigint           NOT NULL DEFAULT 1,
    updated_at          timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (variant_id, location_id),
    CONSTRAINT stock_reserved_within_on_hand CHECK (reserved <= on_hand),
    FOREIGN KEY (location_id, vendor_id) REFERENCES inventory.locations (id, vendor_id)
);
CREATE INDEX stock_vendor_idx ON inventory.stock (vendor_id, variant_id);

-- Stock held for one checkout (`reference`: the order group or saga id), one row per variant and
-- location it was taken from. All rows of a reference change status together.
CREATE TABLE inventory.reservations (
    id          text COLLATE "C" PRIMARY KEY CHECK (id ~ '^rsv_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    reference   text COLLATE "C" NOT NULL CHECK (char_length(reference) BETWEEN 1 AND 128),
    variant_id  text COLLATE "C" NOT NULL,
    location_id text COLLATE "C" NOT NULL,
    vendor_id   text COLLATE "C" NOT NULL,
    quantity    integer          NOT NULL CHECK (quantity > 0),
    expires_at  timestamptz      NOT NULL,
    -- active → released | expired | consumed; consumed → restocked (a paid checkout undone).
    status      text             NOT NULL DEFAULT 'active'
                                 CHECK (status IN ('active', 'released', 'consumed', 'expired', 'restocked')),
    created_at  timestamptz      NOT NULL DEFAULT now(),
    -- When it left `active`.
    settled_at  timestamptz,
    CHECK ((status = 'active') = (settled_at IS NULL)),
    UNIQUE (reference, variant_id, location_id),
    FOREIGN KEY (variant_id, location_id) REFERENCES inventory.stock (variant_id, location_id)
);
-- The expiry sweep: active reservations, soonest expiry first.
CREATE INDEX reservations_expiry_idx ON inventory.reservations (expires_at) WHERE status = 'active';

-- Every change of on_hand or reserved, written by a trigger on inventory.stock so none can be missed.
-- The functions below name the kind and reference of their changes through two transaction-local
-- settings (inventory.movement_kind, inventory.movement_reference); a change made by hand is `manual`.
CREATE TABLE inventory.movements (
    id             text COLLATE "C" PRIMARY KEY CHECK (id ~ '^mov_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    variant_id     text COLLATE "C" NOT NULL,
    location_id    text COLLATE "C" NOT NULL,
    vendor_id      text COLLATE "C" NOT NULL,
    kind           text             NOT NULL
                                    CHECK (kind IN ('adopt', 'set', 'reserve', 'release', 'expire', 'consume', 'restock',
                                                    'manual')),
    -- The reservation reference, or what the caller named (e.g. a stock count's id).
    reference      text,
    on_hand_delta  integer          NOT NULL,
    reserved_delta integer          NOT NULL,
    on_hand_after  integer          NOT NULL,
    reserved_after integer          NOT NULL,
    created_at     timestamptz      NOT NULL DEFAULT now(),
    CHECK (on_hand_delta <> 0 OR reserved_delta <> 0)
);
CREATE INDEX movements_stock_idx ON inventory.movements (variant_id, location_id, created_at);
CREATE INDEX movements_reference_idx ON inventory.movements (reference) WHERE reference IS NOT NULL;

-- Events for the edge and other contexts (DESIGN §5), written in the transaction that caused them
-- and delivered by a sweep. Inventory, orders and payments each own an outbox of this one shape in
-- their own schema (DESIGN §3); this function is its only definition, so the copies cannot drift.
-- It creates, in `p_schema`: the table `outbox` (`id` is the event id receivers remember), its due
-- index, and the sweep's `claim_outbox`, `outbox_delivered` and `outbox_failed`.
CREATE FUNCTION public.create_event_outbox(p_schema text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format($sql$
        CREATE TABLE %1$I.outbox (
            id              text COLLATE "C" PRIMARY KEY CHECK (id ~ '^evt_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
            topic           text             NOT NULL CHECK (topic ~ '^[a-z]+(\.[a-z_]+)+$'),
            payload         jsonb            NOT NULL,
            created_at      timestamptz      NOT NULL DEFAULT now(),
            delivered_at    timestamptz,
            attempts        integer          NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            -- When it is next due (pushed forward while a sweeper holds it); NULL once delivered or parked.
            next_attempt_at timestamptz      DEFAULT now(),
            last_error      text,
            CHECK (delivered_at IS NULL OR next_attempt_at IS NULL)
        )
    $sql$, p_schema);
    EXECUTE format(
        'CREATE INDEX outbox_due_idx ON %I.outbox (next_attempt_at, id) WHERE next_attempt_at IS NOT NULL', p_schema);

    -- Hands up to `p_limit` due events to one sweeper and pushes them `p_lease` into the future, so a
    -- concurrent sweeper skips them (SKIP LOCKED) and, once committed, does not see them as due.
    -- A sweeper that dies mid-delivery loses nothing: its events fall due again when the lease ends.
    EXECUTE format($sql$
        CREATE FUNCTION %1$I.claim_outbox(p_limit integer, p_lease interval) RETURNS SETOF %1$I.outbox
        LANGUAGE sql AS $$
            UPDATE %1$I.outbox o
            SET attempts = o.attempts + 1, next_attempt_at = now() + p_lease
            FROM (
                SELECT id FROM %1$I.outbox
                WHERE next_attempt_at <= now()
                ORDER BY next_attempt_at, id
                LIMIT least(greatest(p_limit, 0), 1000)
                FOR UPDATE SKIP LOCKED
            ) due
            WHERE o.id = due.id
            RETURNING o.*
        $$
    $sql$, p_schema);

    -- After a 2xx from the receiver. Idempotent; answers how many were newly marked.
    EXECUTE format($sql$
        CREATE FUNCTION %1$I.outbox_delivered(p_ids text[]) RETURNS integer LANGUAGE sql AS $$
            WITH delivered AS (
                UPDATE %1$I.outbox SET delivered_at = now(), next_attempt_at = NULL, last_error = NULL
                WHERE id = ANY (p_ids) AND delivered_at IS NULL
                RETURNING 1
            )
            SELECT count(*)::integer FROM delivered
        $$
    $sql$, p_schema);

    -- After a failed delivery: due again at `p_retry_at` (the caller's backoff), or parked for a human
    -- when it is NULL.
    EXECUTE format($sql$
        CREATE FUNCTION %1$I.outbox_failed(p_id text, p_error text, p_retry_at timestamptz) RETURNS void
        LANGUAGE sql AS $$
            UPDATE %1$I.outbox SET last_error = left(p_error, 2000), next_attempt_at = p_retry_at
            WHERE id = p_id AND delivered_at IS NULL
        $$
    $sql$, p_schema);
END
$fn$;

-- Inventory's events: `inventory.stock_changed` for the catalog, `inventory.low_stock` for the vendor.
SELECT public.create_event_outbox('inventory');

CREATE FUNCTION inventory.stock_identity_is_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.variant_id, NEW.location_id, NEW.vendor_id) IS DISTINCT FROM (OLD.variant_id, OLD.location_id, OLD.vendor_id) THEN
        RAISE EXCEPTION 'a stock row keeps its variant, location and vendor' USING ERRCODE = 'check_violation';
    END IF;
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER stock_before_update BEFORE UPDATE ON inventory.stock
    FOR EACH ROW EXECUTE FUNCTION inventory.stock_identity_is_fixed();

-- The movement row, the catalog's `inventory.stock_changed` event and, when availability falls to or
-- below the threshold (or the threshold rises above it), one `inventory.low_stock` event.
CREATE FUNCTION inventory.stock_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind text := coalesce(nullif(current_setting('inventory.movement_kind', true), ''), 'manual');
    reference text := nullif(current_setting('inventory.movement_reference', true), '');
    old_on_hand integer := 0;
    old_reserved integer := 0;
    was_low boolean := false;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        old_on_hand := OLD.on_hand;
        old_reserved := OLD.reserved;
        was_low := coalesce(OLD.available <= OLD.low_stock_threshold, false);
    END IF;
    IF NEW.on_hand <> old_on_hand OR NEW.reserved <> old_reserved THEN
        INSERT INTO inventory.movements (id, variant_id, location_id, vendor_id, kind, reference,
                                         on_hand_delta, reserved_delta, on_hand_after, reserved_after)
        VALUES (public.new_ulid_id('mov'), NEW.variant_id, NEW.location_id, NEW.vendor_id, kind, reference,
                NEW.on_hand - old_on_hand, NEW.reserved - old_reserved, NEW.on_hand, NEW.reserved);
        -- An adopted row is what the catalog already shows.
        IF kind <> 'adopt' AND NEW.available <> (old_on_hand - old_reserved) THEN
            INSERT INTO inventory.outbox (id, topic, payload)
            VALUES (public.new_ulid_id('evt'), 'inventory.stock_changed', jsonb_build_object(
                'variant_id', NEW.variant_id, 'vendor_id', NEW.vendor_id, 'location_id', NEW.location_id,
                'on_hand', NEW.on_hand, 'reserved', NEW.reserved, 'available', NEW.available,
                'version', NEW.version));
        END IF;
    END IF;
    IF coalesce(NEW.available <= NEW.low_stock_threshold, false) AND NOT was_low THEN
        INSERT INTO inventory.outbox (id, topic, payload)
        VALUES (public.new_ulid_id('evt'), 'inventory.low_stock', jsonb_build_object(
            'variant_id', NEW.variant_id, 'vendor_id', NEW.vendor_id, 'location_id', NEW.location_id,
            'available', NEW.available, 'threshold', NEW.low_stock_threshold, 'version', NEW.version));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER stock_after_change AFTER INSERT OR UPDATE ON inventory.stock
    FOR EACH ROW EXECUTE FUNCTION inventory.stock_changed();

-- Names the kind and reference of the stock changes that follow, for the movements trigger.
CREATE FUNCTION inventory.attribute(p_kind text, p_reference text) RETURNS void LANGUAGE sql AS $$
    SELECT set_config('inventory.movement_kind', p_kind, true),
           set_config('inventory.movement_reference', coalesce(p_reference, ''), true)
$$;

-- Every operation on one reservation reference takes this lock first, so a retried call waits for
-- the first one and then finds its result.
CREATE FUNCTION inventory.reference_lock_key(p_reference text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT hashtextextended('inventory.reservation:' || p_reference, 0)
$$;

-- `[{"variant_id":"var_…","quantity":2}, …]` → one row per variant, quantities summed, in variant
-- order (the order stock rows are locked in, so concurrent callers cannot deadlock).
CREATE FUNCTION inventory.requested_items(p_items jsonb)
RETURNS TABLE (variant_id text, quantity integer) LANGUAGE plpgsql AS $$
BEGIN
    IF p_items IS NULL OR jsonb_typeof(p_items) <> 'array' OR jsonb_array_length(p_items) = 0 THEN
        RAISE EXCEPTION 'items must be a non-empty JSON array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_array_length(p_items) > 500 OR EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_items) item
        WHERE jsonb_typeof(item) IS DISTINCT FROM 'object'
           OR jsonb_typeof(item -> 'variant_id') IS DISTINCT FROM 'string'
           OR item ->> 'variant_id' !~ '^var_[0-7][0-9A-HJKMNP-TV-Z]{25}$'
           OR jsonb_typeof(item -> 'quantity') IS DISTINCT FROM 'number'
           OR item ->> 'quantity' !~ '^[1-9][0-9]{0,5}$'
    ) THEN
        RAISE EXCEPTION 'each item is {"variant_id": "var_…", "quantity": 1 to 999999}, at most 500 items'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT item ->> 'variant_id' COLLATE "C", sum((item ->> 'quantity')::integer)::integer
    FROM jsonb_array_elements(p_items) item
    GROUP BY 1
    ORDER BY 1;
END
$$;

-- Moves the reference's reservations in `p_from` to `p_to` and changes their stock rows to match:
--   active → released | expired   reserved goes back to available;
--   active → consumed             reserved leaves the shelf (on hand and reserved both drop);
--   consumed → restocked          the units come back on the shelf.
-- The caller holds the reference's lock.
CREATE FUNCTION inventory.settle(p_reference text, p_from text, p_to text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM inventory.attribute(
        CASE p_to WHEN 'released' THEN 'release' WHEN 'expired' THEN 'expire' WHEN 'consumed' THEN 'consume'
                  ELSE 'restock' END,
        p_reference);
    PERFORM 1 FROM inventory.stock s
    WHERE (s.variant_id, s.location_id) IN (
        SELECT r.variant_id, r.location_id FROM inventory.reservations r
        WHERE r.reference = p_reference AND r.status = p_from)
    ORDER BY s.variant_id, s.location_id
    FOR UPDATE;
    WITH settled AS (
        UPDATE inventory.reservations r SET status = p_to, settled_at = now()
        WHERE r.reference = p_reference AND r.status = p_from
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

-- Reserves every item for `p_reference` until `p_expires_at`, or nothing: when any variant is short
-- it raises IV001 naming each short variant (message, and DETAIL as JSON) and holds nothing.
-- A variant is taken from its vendor's default location first, then from the others in id order.
-- Calling it again with the same reference and items returns the first call's rows (whatever their
-- status now: a released reference is not reserved again; use a new reference); other items raise
-- IV002. Answers the reference's reservation rows.
CREATE FUNCTION inventory.reserve(p_reference text, p_items jsonb, p_expires_at timestamptz)
RETURNS SETOF inventory.reservations LANGUAGE plpgsql AS $$
DECLARE
    variant_ids text[];
    quantities integer[];
    shortages jsonb;
BEGIN
    IF p_reference IS NULL OR char_length(p_reference) NOT BETWEEN 1 AND 128 THEN
        RAISE EXCEPTION 'a reservation reference is 1 to 128 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_expires_at IS NULL OR p_expires_at <= now() THEN
        RAISE EXCEPTION 'a reservation must expire in the future' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(i.variant_id ORDER BY i.variant_id), array_agg(i.quantity ORDER BY i.variant_id)
    INTO variant_ids, quantities
    FROM inventory.requested_items(p_items) i;

    PERFORM pg_advisory_xact_lock(inventory.reference_lock_key(p_reference));
    IF EXISTS (SELECT 1 FROM inventory.reservations r WHERE r.reference = p_reference) THEN
        IF EXISTS (
            WITH wanted AS (SELECT * FROM unnest(variant_ids, quantities) AS w (variant_id, quantity)),
            held AS (
                SELECT r.variant_id, sum(r.quantity)::integer AS quantity FROM inventory.reservations r
                WHERE r.reference = p_reference GROUP BY r.variant_id
            )
            (SELECT * FROM wanted EXCEPT SELECT * FROM held) UNION ALL (SELECT * FROM held EXCEPT SELECT * FROM wanted)
        ) THEN
            RAISE EXCEPTION 'reservation % was made for other items', p_reference USING ERRCODE = 'IV002';
        END IF;
        RETURN QUERY SELECT * FROM inventory.reservations r WHERE r.reference = p_reference
            ORDER BY r.variant_id, r.location_id;
        RETURN;
    END IF;

    -- Lock first, in variant order, then read: what is read below cannot change until commit.
    PERFORM 1 FROM inventory.stock s WHERE s.variant_id = ANY (variant_ids)
    ORDER BY s.variant_id, s.location_id FOR UPDATE;
    SELECT jsonb_agg(jsonb_build_object('variant_id', w.variant_id, 'requested', w.quantity,
                                        'available', coalesce(a.available, 0)) ORDER BY w.variant_id)
    INTO shortages
    FROM unnest(variant_ids, quantities) AS w (variant_id, quantity)
    LEFT JOIN (
        SELECT s.variant_id, sum(s.available)::integer AS available FROM inventory.stock s
        WHERE s.variant_id = ANY (variant_ids) GROUP BY s.variant_id
    ) a ON a.variant_id = w.variant_id
    WHERE coalesce(a.available, 0) < w.quantity;
    IF shortages IS NOT NULL THEN
        RAISE EXCEPTION 'insufficient stock: %', (
            SELECT string_agg(format('%s (requested %s, available %s)',
                                     s ->> 'variant_id', s ->> 'requested', s ->> 'available'), ', ')
            FROM jsonb_array_elements(shortages) s)
            USING ERRCODE = 'IV001', DETAIL = shortages::text;
    END IF;

    PERFORM inventory.attribute('reserve', p_reference);
    WITH candidates AS (
        SELECT s.variant_id, s.location_id, s.vendor_id, s.available,
               coalesce(sum(s.available) OVER (
                   PARTITION BY s.variant_id ORDER BY l.is_default DESC, s.location_id
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS taken_before
        FROM inventory.stock s JOIN inventory.locations l ON l.id = s.location_id
        WHERE s.variant_id = ANY (variant_ids) AND s.available > 0
    ),
    allocation AS (
        SELECT c.variant_id, c.location_id, c.vendor_id, least(c.available, w.quantity - c.taken_before) AS quantity
        FROM candidates c
        JOIN unnest(variant_ids, quantities) AS w (variant_id, quantity) ON w.variant_id = c.variant_id
        WHERE c.taken_before < w.quantity
    ),
    held AS (
        UPDATE inventory.stock s SET reserved = s.reserved + a.quantity
        FROM allocation a
        WHERE s.variant_id = a.variant_id AND s.location_id = a.location_id
    )
    INSERT INTO inventory.reservations (id, reference, variant_id, location_id, vendor_id, quantity, expires_at)
    SELECT public.new_ulid_id('rsv'), p_reference, a.variant_id, a.location_id, a.vendor_id, a.quantity, p_expires_at
    FROM allocation a;
    PERFORM inventory.attribute('', NULL);

    RETURN QUERY SELECT * FROM inventory.reservations r WHERE r.reference = p_reference
        ORDER BY r.variant_id, r.location_id;
END
$$;

-- Undoes the reference (the checkout saga's compensation): held stock goes back to available, and
-- stock a paid checkout already consumed goes back on the shelf (`restocked`: the checkout was
-- undone before anything shipped). Idempotent: a released, expired or restocked reference, or an
-- unknown one, changes nothing. Answers the reference's rows.
CREATE FUNCTION inventory.release(p_reference text) RETURNS SETOF inventory.reservations LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(inventory.reference_lock_key(p_reference));
    PERFORM inventory.settle(p_reference, 'active', 'released');
    PERFORM inventory.settle(p_reference, 'consumed', 'restocked');
    RETURN QUERY SELECT * FROM inventory.reservations r WHERE r.reference = p_reference
        ORDER BY r.variant_id, r.location_id;
END
$$;

-- Takes the reference's held stock off the shelf (the checkout was paid). Idempotent: a consumed
-- reference changes nothing. Raises IV003 when nothing is held: an unknown reference, or one
-- released, expired or restocked (its stock may be sold to someone else by now, so the order cannot
-- be filled from it). A reservation past its expiry that no sweep has expired yet is still held,
-- and consumed.
CREATE FUNCTION inventory.consume(p_reference text) RETURNS SETOF inventory.reservations LANGUAGE plpgsql AS $$
DECLARE
    lost text;
BEGIN
    PERFORM pg_advisory_xact_lock(inventory.reference_lock_key(p_reference));
    IF NOT EXISTS (SELECT 1 FROM inventory.reservations r WHERE r.reference = p_reference) THEN
        RAISE EXCEPTION 'no reservation % to consume', p_reference USING ERRCODE = 'IV003';
    END IF;
    SELECT r.status INTO lost FROM inventory.reservations r
    WHERE r.reference = p_reference AND r.status IN ('released', 'expired', 'restocked') LIMIT 1;
    IF lost IS NOT NULL THEN
        RAISE EXCEPTION 'reservation % is no longer held (%)', p_reference, lost USING ERRCODE = 'IV003';
    END IF;
    PERFORM inventory.settle(p_reference, 'active', 'consumed');
    RETURN QUERY SELECT * FROM inventory.reservations r WHERE r.reference = p_reference
        ORDER BY r.variant_id, r.location_id;
END
$$;

-- The expiry sweep: expires up to `p_limit` references whose active reservations expired at or
-- before `p_now`, soonest first, and answers their rows (the orders sweep compensates those
-- checkouts). A reference another call is working on right now is skipped, not waited for, so
-- concurrent sweeps share the work. Idempotent: an expired reference is not active any more.
CREATE FUNCTION inventory.release_expired(p_now timestamptz, p_limit integer)
RETURNS SETOF inventory.reservations LANGUAGE plpgsql AS $$
DECLARE
    candidate text;
    chosen text[] := '{}';
BEGIN
    IF p_now IS NULL OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'release_expired needs a time and a limit of 1 to 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR candidate IN
        SELECT r.reference FROM inventory.reservations r
        WHERE r.status = 'active' AND r.expires_at <= p_now
        GROUP BY r.reference ORDER BY min(r.expires_at), r.reference
    LOOP
        EXIT WHEN cardinality(chosen) >= p_limit;
        -- Still active once locked: a consume or release may have committed since the scan began.
        IF pg_try_advisory_xact_lock(inventory.reference_lock_key(candidate)) AND EXISTS (
            SELECT 1 FROM inventory.reservations r
            WHERE r.reference = candidate AND r.status = 'active' AND r.expires_at <= p_now
        ) THEN
            chosen := chosen || candidate;
        END IF;
    END LOOP;
    -- All the stock rows at once, in order, before any update: no deadlock with a concurrent reserve.
    PERFORM 1 FROM inventory.stock s
    WHERE (s.variant_id, s.location_id) IN (
        SELECT r.variant_id, r.location_id FROM inventory.reservations r
        WHERE r.reference = ANY (chosen) AND r.status = 'active')
    ORDER BY s.variant_id, s.location_id
    FOR UPDATE;
    FOREACH candidate IN ARRAY chosen LOOP
        PERFORM inventory.settle(candidate, 'active', 'expired');
    END LOOP;
    RETURN QUERY SELECT * FROM inventory.reservations r WHERE r.reference = ANY (chosen)
        ORDER BY r.reference, r.variant_id, r.location_id;
END
$$;

-- The vendor's stock count: sets what is on the shelf at a location (NULL: the vendor's default,
-- created when missing). Raises IV004 when the variant is not this vendor's (checked through
-- catalog.checkout_variants) and IV005 when it would fall below what is reserved. Setting the same
-- number again changes nothing. `p_reference` names the count in the movement (may be NULL).
CREATE FUNCTION inventory.set_on_hand(
    p_vendor_id text, p_variant_id text, p_location_id text, p_on_hand integer, p_reference text)
RETURNS inventory.stock LANGUAGE plpgsql AS $$
DECLARE
    location text := p_location_id;
    counted inventory.stock%ROWTYPE;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM catalog.checkout_variants v WHERE v.variant_id = p_variant_id AND v.vendor_id = p_vendor_id
    ) THEN
        RAISE EXCEPTION 'variant % is not one of vendor %''s', p_variant_id, p_vendor_id USING ERRCODE = 'IV004';
    END IF;
    IF location IS NULL THEN
        location := inventory.default_location(p_vendor_id);
    ELSIF NOT EXISTS (SELECT 1 FROM inventory.locations l WHERE l.id = location AND l.vendor_id = p_vendor_id) THEN
        RAISE EXCEPTION 'location % is not one of vendor %''s', location, p_vendor_id USING ERRCODE = 'IV004';
    END IF;
    PERFORM inventory.attribute('set', p_reference);
    INSERT INTO inventory.stock (variant_id, location_id, vendor_id, on_hand)
    VALUES (p_variant_id, location, p_vendor_id, 0)
    ON CONFLICT (variant_id, location_id) DO NOTHING;
    SELECT * INTO counted FROM inventory.stock s
    WHERE s.variant_id = p_variant_id AND s.location_id = location FOR UPDATE;
    IF p_on_hand < counted.reserved THEN
        RAISE EXCEPTION 'variant % has % reserved; on hand cannot be set to %', p_variant_id, counted.reserved, p_on_hand
            USING ERRCODE = 'IV005';
    END IF;
    IF p_on_hand <> counted.on_hand THEN
        UPDATE inventory.stock s SET on_hand = p_on_hand
        WHERE s.variant_id = p_variant_id AND s.location_id = location
        RETURNING * INTO counted;
    END IF;
    PERFORM inventory.attribute('', NULL);
    RETURN counted;
END
$$;

-- The vendor's default location, created on first use.
CREATE FUNCTION inventory.default_location(p_vendor_id text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    location text;
BEGIN
    INSERT INTO inventory.locations (id, vendor_id, name, is_default)
    VALUES ('loc_' || substr(p_vendor_id, 5), p_vendor_id, 'Default', true)
    ON CONFLICT DO NOTHING;
    SELECT l.id INTO location FROM inventory.locations l WHERE l.vendor_id = p_vendor_id AND l.is_default;
    RETURN location;
END
$$;

-- Copies the catalog's stock of variants inventory has never seen (no stock row anywhere) to their
-- vendor's default location; up to `p_limit` variants, all when NULL. Never touches a variant
-- inventory already holds, so it is safe to repeat. Answers how many variants it adopted.
CREATE FUNCTION inventory.adopt_catalog_stock(p_limit integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    adopted integer;
BEGIN
    PERFORM inventory.attribute('adopt', 'catalog.variant_stock');
    INSERT INTO inventory.locations (id, vendor_id, name, is_default)
    SELECT DISTINCT 'loc_' || substr(c.vendor_id, 5), c.vendor_id, 'Default', true
    FROM catalog.stock_for_inventory c
    WHERE NOT EXISTS (SELECT 1 FROM inventory.locations l WHERE l.vendor_id = c.vendor_id AND l.is_default)
    ON CONFLICT DO NOTHING;
    WITH adoptable AS (
        SELECT c.variant_id, l.id AS location_id, c.vendor_id, c.available
        FROM catalog.stock_for_inventory c
        JOIN inventory.locations l ON l.vendor_id = c.vendor_id AND l.is_default
        WHERE NOT EXISTS (SELECT 1 FROM inventory.stock s WHERE s.variant_id = c.variant_id)
        ORDER BY c.variant_id
        LIMIT p_limit
    ),
    inserted AS (
        INSERT INTO inventory.stock (variant_id, location_id, vendor_id, on_hand)
        SELECT variant_id, location_id, vendor_id, available FROM adoptable
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT count(*) INTO adopted FROM inserted;
    PERFORM inventory.attribute('', NULL);
    RETURN adopted;
END
$$;

-- Replay defence for signed requests to the inventory component (as orders', 0002).
CREATE TABLE inventory.received_signatures (
    jti        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX received_signatures_expires_at_idx ON inventory.received_signatures (expires_at);

-- The seed: what the catalog holds today.
SELECT inventory.adopt_catalog_stock(NULL);
