-- Orders (issue 6, DESIGN §9): a checkout makes one order group with one order per vendor, their
-- lines with the commission frozen at the sale, a timeline, the checkout saga's persisted state,
-- the buyers' Idempotency-Keys (DESIGN §8) and the outbox (DESIGN §5). Money is bigint minor units
-- in the group's currency; every order and line of a group shares it (composite foreign keys).
-- Rows mirror shared::orders (OrderGroup, Order, OrderLine, OrderStatus) and shared::saga
-- (SagaState); ids are theirs (`grp_`, `ord_`, `sga_`).
--
-- Errors a caller maps to an API answer carry their own SQLSTATE (class OR):
--   OR001 an order status change the lifecycle does not allow
--   OR002 a group's or order's totals do not add up (checked at commit)
--   OR003 an order line changed after it was written (only the commission freeze may fill it in)

CREATE TABLE orders.order_groups (
    id               text COLLATE "C" PRIMARY KEY CHECK (id ~ '^grp_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    buyer_id         text COLLATE "C" NOT NULL CHECK (buyer_id ~ '^usr_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    currency         char(3)          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Sums of the orders' columns (checked at commit); total = subtotal − discount + shipping + tax.
    subtotal_minor   bigint           NOT NULL CHECK (subtotal_minor >= 0),
    discount_minor   bigint           NOT NULL DEFAULT 0 CHECK (discount_minor BETWEEN 0 AND subtotal_minor),
    shipping_minor   bigint           NOT NULL DEFAULT 0 CHECK (shipping_minor >= 0),
    tax_minor        bigint           NOT NULL DEFAULT 0 CHECK (tax_minor >= 0),
    total_minor      bigint           NOT NULL,
    -- pending while the saga runs; confirmed once paid; cancelled when compensated.
    status           text             NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'cancelled')),
    -- The buyer's Idempotency-Key of the checkout request (shared::idempotency::IdempotencyKey):
    -- one group per key, whatever the retries.
    idempotency_key  text             NOT NULL CHECK (idempotency_key ~ '^[!-~]{1,255}$'),
    -- shared::orders::AppliedCoupon list; redeemed through cart.redeem_coupons (0012) under this
    -- group's id.
    coupons          jsonb            NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(coupons) = 'array'),
    -- shared::cart::Destination: where it ships.
    destination      jsonb            NOT NULL CHECK (jsonb_typeof(destination) = 'object'),
    created_at       timestamptz      NOT NULL DEFAULT now(),
    updated_at       timestamptz      NOT NULL DEFAULT now(),
    CHECK (total_minor = subtotal_minor - discount_minor + shipping_minor + tax_minor),
    UNIQUE (buyer_id, idempotency_key),
    UNIQUE (id, buyer_id, currency)
);
-- A buyer's order history, newest first (keyset: (created_at, id) < ($1, $2)).
CREATE INDEX order_groups_buyer_idx ON orders.order_groups (buyer_id, created_at DESC, id DESC);

CREATE TABLE orders.orders (
    id                      text COLLATE "C" PRIMARY KEY CHECK (id ~ '^ord_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    group_id                text COLLATE "C" NOT NULL,
    buyer_id                text COLLATE "C" NOT NULL,
    vendor_id               text COLLATE "C" NOT NULL CHECK (vendor_id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    currency                char(3)          NOT NULL,
    -- The lifecycle (DESIGN §9), enforced by orders.order_status_guard.
    status                  text             NOT NULL DEFAULT 'pending' CHECK (status IN (
                                             'pending', 'confirmed', 'processing', 'shipped', 'delivered', 'completed',
                                             'cancelled', 'refunded')),
    -- subtotal = Σ lines (checked at commit); total = subtotal − discount + shipping + tax;
    -- discount = the vendor's own coupon + this order's share of a platform coupon.
    subtotal_minor          bigint           NOT NULL CHECK (subtotal_minor >= 0),
    discount_minor          bigint           NOT NULL DEFAULT 0 CHECK (discount_minor BETWEEN 0 AND subtotal_minor),
    vendor_discount_minor   bigint           NOT NULL DEFAULT 0 CHECK (vendor_discount_minor >= 0),
    platform_discount_minor bigint           NOT NULL DEFAULT 0 CHECK (platform_discount_minor >= 0),
    shipping_minor          bigint           NOT NULL DEFAULT 0 CHECK (shipping_minor >= 0),
    tax_rate_bp             integer          NOT NULL DEFAULT 0 CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    tax_minor               bigint           NOT NULL DEFAULT 0 CHECK (tax_minor >= 0),
    total_minor             bigint           NOT NULL,
    -- Partial refunds add up here; a full refund moves the order to `refunded`.
    refunded_minor          bigint           NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    -- The vendor's option the buyer chose (cart.shipping_options), kept as text: options change.
    shipping_option_id      text COLLATE "C",
    -- shared::orders::Shipment (MAX_SHIPMENT_TEXT characters each).
    carrier                 text             CHECK (char_length(carrier) BETWEEN 1 AND 64),
    tracking_number         text             CHECK (char_length(tracking_number) BETWEEN 1 AND 64),
    created_at              timestamptz      NOT NULL DEFAULT now(),
    updated_at              timestamptz      NOT NULL DEFAULT now(),
    CHECK (total_minor = subtotal_minor - discount_minor + shipping_minor + tax_minor),
    CHECK (discount_minor = vendor_discount_minor + platform_discount_minor),
    CHECK ((carrier IS NULL) = (tracking_number IS NULL)),
    CHECK (refunded_minor <= total_minor),
    -- One order per vendor per checkout.
    UNIQUE (group_id, vendor_id),
    UNIQUE (id, vendor_id),
    UNIQUE (id, vendor_id, currency),
    FOREIGN KEY (group_id, buyer_id, currency) REFERENCES orders.order_groups (id, buyer_id, currency)
);
-- A vendor's orders, newest first, all or by status; a buyer's; a group's.
CREATE INDEX orders_vendor_idx ON orders.orders (vendor_id, created_at DESC, id DESC);
CREATE INDEX orders_vendor_status_idx ON orders.orders (vendor_id, status, created_at DESC, id DESC);
CREATE INDEX orders_buyer_idx ON orders.orders (buyer_id, created_at DESC, id DESC);

-- What was bought, as it was at the sale: a later catalog edit changes none of it. Title, SKU,
-- options and category come from catalog.checkout_variants in the insert itself
-- (`INSERT … SELECT … FROM unnest($…) JOIN catalog.checkout_variants …`).
CREATE TABLE orders.order_lines (
    order_id               text COLLATE "C" NOT NULL,
    vendor_id              text COLLATE "C" NOT NULL,
    currency               char(3)          NOT NULL,
    variant_id             text COLLATE "C" NOT NULL CHECK (variant_id ~ '^var_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    product_id             text COLLATE "C" NOT NULL CHECK (product_id ~ '^prod_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    -- The product's category at the sale: category commission rules match on it.
    category_id            text COLLATE "C" NOT NULL CHECK (category_id ~ '^cat_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    title                  text             NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    sku                    text             NOT NULL,
    options                jsonb            NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    quantity               integer          NOT NULL CHECK (quantity BETWEEN 1 AND 1000000),
    unit_price_minor       bigint           NOT NULL CHECK (unit_price_minor >= 0),
    subtotal_minor         bigint           NOT NULL,
    -- The commission frozen at the sale (DESIGN §3, shared::payments::CommissionLine): the rate,
    -- which rule set it, the base it applies to (the goods after the vendor's own coupon) and the
    -- amount. All NULL or all set (checkout writes them with the line), and never changed again
    -- (orders.order_line_guard); refunds reverse them in the ledger.
    commission_rate_bp     integer          CHECK (commission_rate_bp BETWEEN 0 AND 10000),
    commission_source      text             CHECK (commission_source IN ('vendor', 'category', 'default')),
    commission_base_minor  bigint           CHECK (commission_base_minor BETWEEN 0 AND subtotal_minor),
    commission_minor       bigint           CHECK (commission_minor BETWEEN 0 AND commission_base_minor),
    vendor_share_minor     bigint           GENERATED ALWAYS AS (commission_base_minor - commission_minor) STORED,
    commission_frozen_at   timestamptz,
    PRIMARY KEY (order_id, variant_id),
    CHECK (subtotal_minor = quantity * unit_price_minor),
    CHECK (num_nulls(commission_rate_bp, commission_source, commission_base_minor, commission_minor,
                     commission_frozen_at) IN (0, 5)),
    FOREIGN KEY (order_id, vendor_id, currency) REFERENCES orders.orders (id, vendor_id, currency)
);

-- An order's timeline. Every status change is written here by a trigger (actor: the
-- transaction-local setting `orders.actor`, else 'system'); other events (a note, a tracking number)
-- are inserted by the component.
CREATE TABLE orders.order_events (
    id          text COLLATE "C" PRIMARY KEY CHECK (id ~ '^oev_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    order_id    text COLLATE "C" NOT NULL,
    vendor_id   text COLLATE "C" NOT NULL,
    kind        text             NOT NULL CHECK (kind ~ '^[a-z][a-z_]{0,63}$'),
    from_status text,
    to_status   text,
    -- A user id, or 'system' for the saga and sweeps.
    actor       text             NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 64),
    data        jsonb            NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    created_at  timestamptz      NOT NULL DEFAULT now(),
    FOREIGN KEY (order_id, vendor_id) REFERENCES orders.orders (id, vendor_id)
);
CREATE INDEX order_events_order_idx ON orders.order_events (order_id, created_at, id);

-- The lifecycle (DESIGN §9, shared::orders::OrderState::apply): pending → confirmed → processing →
-- shipped → delivered → completed; cancelled before shipping; refunded (in full) once paid. Anything else raises OR001, so a late or repeated request
-- cannot, say, confirm a cancelled order. Callers update with `WHERE status = …` and read zero rows
-- as "already moved".
CREATE FUNCTION orders.order_status_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND (OLD.status, NEW.status) NOT IN (
        ('pending', 'confirmed'), ('pending', 'cancelled'),
        ('confirmed', 'processing'), ('confirmed', 'cancelled'), ('confirmed', 'refunded'),
        ('processing', 'shipped'), ('processing', 'cancelled'), ('processing', 'refunded'),
        ('shipped', 'delivered'), ('shipped', 'refunded'),
        ('delivered', 'completed'), ('delivered', 'refunded'),
        ('completed', 'refunded')
    ) THEN
        RAISE EXCEPTION 'order % cannot move from % to %', OLD.id, OLD.status, NEW.status USING ERRCODE = 'OR001';
    END IF;
    IF (NEW.group_id, NEW.buyer_id, NEW.vendor_id, NEW.currency) IS DISTINCT FROM
       (OLD.group_id, OLD.buyer_id, OLD.vendor_id, OLD.currency) THEN
        RAISE EXCEPTION 'order % keeps its group, buyer, vendor and currency', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER orders_status_guard BEFORE UPDATE ON orders.orders
    FOR EACH ROW EXECUTE FUNCTION orders.order_status_guard();

CREATE FUNCTION orders.order_timeline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO orders.order_events (id, order_id, vendor_id, kind, from_status, to_status, actor)
        VALUES (public.new_ulid_id('oev'), NEW.id, NEW.vendor_id,
                CASE TG_OP WHEN 'INSERT' THEN 'created' ELSE 'status_changed' END,
                CASE TG_OP WHEN 'INSERT' THEN NULL ELSE OLD.status END, NEW.status,
                coalesce(nullif(current_setting('orders.actor', true), ''), 'system'));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER orders_timeline AFTER INSERT OR UPDATE OF status ON orders.orders
    FOR EACH ROW EXECUTE FUNCTION orders.order_timeline();

CREATE FUNCTION orders.group_touched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.buyer_id, NEW.currency, NEW.idempotency_key) IS DISTINCT FROM (OLD.buyer_id, OLD.currency, OLD.idempotency_key) THEN
        RAISE EXCEPTION 'order group % keeps its buyer, currency and key', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER order_groups_touched BEFORE UPDATE ON orders.order_groups
    FOR EACH ROW EXECUTE FUNCTION orders.group_touched();

-- Lines are written once. The one later change allowed is a commission freeze of a line written
-- without one, which fills the commission columns from NULL; after it nothing changes. Anything
-- else raises OR003.
CREATE FUNCTION orders.order_line_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.commission_frozen_at IS NOT NULL
       OR (NEW.order_id, NEW.vendor_id, NEW.currency, NEW.variant_id, NEW.product_id, NEW.category_id,
           NEW.title, NEW.sku, NEW.options, NEW.quantity, NEW.unit_price_minor, NEW.subtotal_minor)
          IS DISTINCT FROM
          (OLD.order_id, OLD.vendor_id, OLD.currency, OLD.variant_id, OLD.product_id, OLD.category_id,
           OLD.title, OLD.sku, OLD.options, OLD.quantity, OLD.unit_price_minor, OLD.subtotal_minor) THEN
        RAISE EXCEPTION 'order line % of order % was written at the sale and cannot change', OLD.variant_id, OLD.order_id
            USING ERRCODE = 'OR003';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER order_lines_guard BEFORE UPDATE ON orders.order_lines
    FOR EACH ROW EXECUTE FUNCTION orders.order_line_guard();

-- Checked at commit, so one batch writes the group first and then the orders and lines that make
-- its totals: a group has orders and its money columns are their sums; an order has lines and its
-- subtotal is theirs. Raises OR002 naming what does not add up.
CREATE FUNCTION orders.check_group_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    checked_group text;
    problem text;
BEGIN
    -- Separate branches: plpgsql plans each statement on first run, and NEW has different fields
    -- per table.
    IF TG_TABLE_NAME = 'order_groups' THEN
        checked_group := NEW.id;
    ELSIF TG_TABLE_NAME = 'orders' THEN
        checked_group := NEW.group_id;
    ELSE
        SELECT o.group_id INTO checked_group FROM orders.orders o WHERE o.id = NEW.order_id;
    END IF;
    SELECT CASE
        WHEN o.orders = 0 THEN 'it has no orders'
        WHEN (g.subtotal_minor, g.discount_minor, g.shipping_minor, g.tax_minor, g.total_minor)
             IS DISTINCT FROM (o.subtotal, o.discount, o.shipping, o.tax, o.total)
            THEN format('its totals (%s, %s, %s, %s, %s) are not the sums of its orders'' (%s, %s, %s, %s, %s)',
                        g.subtotal_minor, g.discount_minor, g.shipping_minor, g.tax_minor, g.total_minor,
                        o.subtotal, o.discount, o.shipping, o.tax, o.total)
        END
    INTO problem
    FROM orders.order_groups g
    CROSS JOIN LATERAL (
        SELECT count(*) AS orders, sum(subtotal_minor) AS subtotal, sum(discount_minor) AS discount,
               sum(shipping_minor) AS shipping, sum(tax_minor) AS tax, sum(total_minor) AS total
        FROM orders.orders WHERE orders.group_id = g.id
    ) o
    WHERE g.id = checked_group;
    IF problem IS NULL THEN
        SELECT format('order %s has subtotal %s but its lines add up to %s', o.id, o.subtotal_minor,
                      coalesce(l.subtotal, 0))
        INTO problem
        FROM orders.orders o
        LEFT JOIN LATERAL (
            SELECT sum(subtotal_minor) AS subtotal FROM orders.order_lines WHERE order_id = o.id
        ) l ON true
        WHERE o.group_id = checked_group AND o.subtotal_minor IS DISTINCT FROM l.subtotal
        LIMIT 1;
    END IF;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'order group % does not add up: %', checked_group, problem USING ERRCODE = 'OR002';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER order_groups_totals
    AFTER INSERT OR UPDATE OF subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor ON orders.order_groups
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION orders.check_group_totals();
CREATE CONSTRAINT TRIGGER orders_totals
    AFTER INSERT OR UPDATE OF subtotal_minor, discount_minor, shipping_minor, tax_minor, total_minor ON orders.orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION orders.check_group_totals();
CREATE CONSTRAINT TRIGGER order_lines_totals AFTER INSERT ON orders.order_lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION orders.check_group_totals();

-- The checkout saga (DESIGN §9): shared::saga::SagaState as JSON in `state`, with what the sweep
-- needs in columns. The saga exists before its group (the group id is derived from the saga's),
-- so `group_id` is not a foreign key. `revision` is the state's own: a runner saves with
-- `WHERE id = $1 AND revision = $2` (setting the new revision, clearing locked_until), and a
-- zero-row answer means another runner (request, webhook, sweep) moved it first.
CREATE TABLE orders.sagas (
    id              text COLLATE "C" PRIMARY KEY CHECK (id ~ '^sga_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    group_id        text COLLATE "C" NOT NULL UNIQUE CHECK (group_id ~ '^grp_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    buyer_id        text COLLATE "C" NOT NULL CHECK (buyer_id ~ '^usr_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    kind            text             NOT NULL DEFAULT 'checkout' CHECK (kind IN ('checkout')),
    -- shared::saga::SagaStatus.
    status          text             NOT NULL DEFAULT 'running'
                                     CHECK (status IN ('running', 'awaiting', 'compensating', 'completed', 'failed')),
    -- The forward step running or next (shared::saga::Step).
    step            text             NOT NULL CHECK (step ~ '^[a-z][a-z_]{0,63}$'),
    state           jsonb            NOT NULL CHECK (jsonb_typeof(state) = 'object'),
    revision        bigint           NOT NULL DEFAULT 0 CHECK (revision >= 0),
    -- When to look at the saga again; NULL once final.
    next_attempt_at timestamptz,
    -- The payment must succeed before it; past it a running or awaiting saga is compensated.
    deadline        timestamptz      NOT NULL,
    -- Whoever works on the saga holds it until then: the request driving a checkout sets it a
    -- little ahead, a sweeper's claim sets it, a save clears it, and a holder that dies lets it
    -- lapse. Apart from next_attempt_at, so an overdue saga is not claimed twice.
    locked_until    timestamptz,
    -- How often the sweep took it up.
    claims          integer          NOT NULL DEFAULT 0 CHECK (claims >= 0),
    created_at      timestamptz      NOT NULL DEFAULT now(),
    updated_at      timestamptz      NOT NULL DEFAULT now(),
    CHECK (status NOT IN ('completed', 'failed') OR next_attempt_at IS NULL)
);
CREATE INDEX sagas_due_idx ON orders.sagas (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX sagas_deadline_idx ON orders.sagas (deadline) WHERE status IN ('running', 'awaiting');

CREATE FUNCTION orders.saga_touched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.group_id, NEW.buyer_id, NEW.kind) IS DISTINCT FROM (OLD.group_id, OLD.buyer_id, OLD.kind) THEN
        RAISE EXCEPTION 'saga % keeps its group, buyer and kind', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER sagas_touched BEFORE UPDATE ON orders.sagas
    FOR EACH ROW EXECUTE FUNCTION orders.saga_touched();

-- The saga sweep: hands up to `p_limit` sagas that are due (or running or awaiting past their
-- deadline) and not held to one sweeper, holding them for `p_lease` (the same SKIP LOCKED claim as
-- the outbox). The rows come back with their `revision` for the sweeper's compare-and-set saves.
CREATE FUNCTION orders.claim_sagas(p_limit integer, p_lease interval) RETURNS SETOF orders.sagas
LANGUAGE sql AS $$
    UPDATE orders.sagas s
    SET claims = s.claims + 1, locked_until = now() + p_lease
    FROM (
        SELECT id FROM orders.sagas
        WHERE (next_attempt_at <= now() OR (status IN ('running', 'awaiting') AND deadline <= now()))
          AND (locked_until IS NULL OR locked_until <= now())
        ORDER BY least(next_attempt_at, deadline), id
        LIMIT least(greatest(p_limit, 0), 1000)
        FOR UPDATE SKIP LOCKED
    ) due
    WHERE s.id = due.id
    RETURNING s.*
$$;

-- A buyer's Idempotency-Key (DESIGN §8), scoped per buyer: two buyers may send the same key.
-- Written before the work starts, so a concurrent retry finds it; `response_*` are filled when the
-- answer is known. `request_hash` is the SHA-256 (hex) of what identifies the request (method, path,
-- body).
CREATE TABLE orders.idempotency_keys (
    buyer_id        text COLLATE "C" NOT NULL CHECK (buyer_id ~ '^usr_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    -- shared::idempotency::IdempotencyKey: printable ASCII, 1 to 255 characters.
    key             text             NOT NULL CHECK (key ~ '^[!-~]{1,255}$'),
    request_hash    text             NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    -- 2xx and 4xx answers are stored and replayed; after a 5xx the key is abandoned (deleted) so
    -- the buyer can retry with it.
    response_status smallint         CHECK (response_status BETWEEN 200 AND 499),
    -- Exactly the bytes first answered (JSON text).
    response_body   text,
    -- What the request created (the checkout's saga), for support.
    resource_id     text COLLATE "C",
    created_at      timestamptz      NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    PRIMARY KEY (buyer_id, key),
    CHECK ((response_status IS NULL) = (response_body IS NULL)),
    CHECK ((response_status IS NULL) = (completed_at IS NULL))
);
-- For a sweep of keys past their retention (Stripe keeps them 24 hours).
CREATE INDEX idempotency_keys_created_idx ON orders.idempotency_keys (created_at);

-- Starts a request under an Idempotency-Key, in one statement. Answers one row:
--   outcome 'new'         — the key is now this request's: do the work, then complete or abandon it;
--   outcome 'replay'      — same request answered before: send response_status / response_body;
--   outcome 'in_progress' — same request still being worked on (409, retry later);
--   outcome 'mismatch'    — the key was used for another request (422).
-- A concurrent call with the same key waits for the first one's insert to commit, then sees it.
CREATE FUNCTION orders.begin_idempotent_request(p_buyer_id text, p_key text, p_request_hash text)
RETURNS TABLE (outcome text, response_status smallint, response_body text, resource_id text)
LANGUAGE plpgsql AS $$
DECLARE
    stored orders.idempotency_keys%ROWTYPE;
BEGIN
    INSERT INTO orders.idempotency_keys (buyer_id, key, request_hash)
    VALUES (p_buyer_id, p_key, p_request_hash)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RETURN QUERY SELECT 'new'::text, NULL::smallint, NULL::text, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO stored FROM orders.idempotency_keys k WHERE k.buyer_id = p_buyer_id AND k.key = p_key;
    RETURN QUERY SELECT
        CASE
            WHEN stored.request_hash <> p_request_hash THEN 'mismatch'
            WHEN stored.response_status IS NULL THEN 'in_progress'
            ELSE 'replay'
        END,
        CASE WHEN stored.request_hash = p_request_hash THEN stored.response_status END,
        CASE WHEN stored.request_hash = p_request_hash THEN stored.response_body END,
        CASE WHEN stored.request_hash = p_request_hash THEN stored.resource_id END;
END
$$;

-- Stores the answer of a request begun with `begin_idempotent_request`. False when the key was
-- already completed (the first answer stands) or is unknown.
CREATE FUNCTION orders.complete_idempotent_request(
    p_buyer_id text, p_key text, p_response_status smallint, p_response_body text, p_resource_id text)
RETURNS boolean LANGUAGE sql AS $$
    WITH completed AS (
        UPDATE orders.idempotency_keys
        SET response_status = p_response_status, response_body = p_response_body,
            resource_id = p_resource_id, completed_at = now()
        WHERE buyer_id = p_buyer_id AND key = p_key AND response_status IS NULL
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM completed)
$$;

-- Forgets a key whose request failed in a way worth retrying (5xx), so the same key may try again.
-- A completed key is kept.
CREATE FUNCTION orders.abandon_idempotent_request(p_buyer_id text, p_key text) RETURNS boolean
LANGUAGE sql AS $$
    WITH abandoned AS (
        DELETE FROM orders.idempotency_keys
        WHERE buyer_id = p_buyer_id AND key = p_key AND response_status IS NULL
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM abandoned)
$$;

-- Events for the edge (OrderPlaced: the cart is cleared, vendor and buyer notified) and for other
-- components, written in the transaction of the change (DESIGN §5); the one outbox shape is
-- public.create_event_outbox (0009).
SELECT public.create_event_outbox('orders');
