-- The catalog (issue 4): shops, a category tree, products with variants and images, and the stock the
-- storefront shows. Search runs in Postgres itself (DESIGN §4, no search SaaS): a weighted tsvector
-- for full text, a trigram index on titles for typos and prefixes.
--
-- Ids are `prefix_ULID` text (DESIGN §3) in the "C" collation: byte order is the order Rust compares
-- them in, which keyset pagination (`(created_at, id) < ($1, $2)`) relies on, whatever collation the
-- database was created with. Every vendor-owned row carries `vendor_id` (DESIGN §3), and composite
-- foreign keys make a child's `vendor_id` equal its product's, so a query filtered by the token's
-- vendor can never reach another vendor's variant, image or stock row.

-- Trusted since PostgreSQL 13 and available on Neon; in `public` so its operators resolve everywhere.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- Shops. Until vendor onboarding (the `vendors` context) exists, the catalog keeps the minimal record
-- it needs here, created by the seed and a platform-admin endpoint; when onboarding lands, `vendors`
-- owns shops and this table becomes a read-only view of it.
CREATE TABLE catalog.vendors (
    id         text COLLATE "C" PRIMARY KEY CHECK (id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    name       text             NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
    slug       text             NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 80),
    -- WGS 84 degrees; both or neither. Drives `near=lat,lng&radius_km=`.
    latitude   double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude  double precision CHECK (longitude BETWEEN -180 AND 180),
    created_at timestamptz      NOT NULL DEFAULT now(),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);
-- Local search: a bounding-box range scan (shared::catalog::geo::Near::bounding_box), then the exact
-- haversine distance on the few rows left.
CREATE INDEX vendors_location_idx ON catalog.vendors (latitude, longitude) WHERE latitude IS NOT NULL;

-- The category tree (Home > Kitchen > Cookware), owned by the platform.
CREATE TABLE catalog.categories (
    id         text COLLATE "C" PRIMARY KEY CHECK (id ~ '^cat_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    parent_id  text COLLATE "C" REFERENCES catalog.categories (id),
    slug       text             NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 80),
    name       text             NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
    -- Order among siblings.
    position   integer          NOT NULL DEFAULT 0 CHECK (position >= 0),
    created_at timestamptz      NOT NULL DEFAULT now(),
    CHECK (parent_id <> id)
);
CREATE INDEX categories_parent_idx ON catalog.categories (parent_id, position);

-- Every (ancestor, descendant) pair, each category being its own ancestor at depth 0, so "this
-- category and everything under it" is one primary-key range scan:
--   category_id IN (SELECT descendant_id FROM catalog.category_closure WHERE ancestor_id = $1)
-- and facet counts roll up to ancestors with one join. Chosen over a materialised path because a
-- path prefix (`LIKE $1 || '%'`) can only use an index when the pattern is a plan-time constant.
-- Filled by a trigger; a category's parent is fixed once inserted (moving subtrees is later work),
-- which is also what keeps the tree free of cycles.
CREATE TABLE catalog.category_closure (
    ancestor_id   text COLLATE "C" NOT NULL REFERENCES catalog.categories (id) ON DELETE CASCADE,
    descendant_id text COLLATE "C" NOT NULL REFERENCES catalog.categories (id) ON DELETE CASCADE,
    depth         smallint         NOT NULL CHECK (depth >= 0),
    PRIMARY KEY (ancestor_id, descendant_id)
);
-- Breadcrumbs: a category's ancestors, root first (ORDER BY depth DESC).
CREATE INDEX category_closure_descendant_idx ON catalog.category_closure (descendant_id, depth);

-- Walks up from the new row through `parent_id` rather than copying the parent's closure rows, so a
-- multi-row INSERT may list children before their parents. The walk is bounded: a cycle (only
-- possible within one INSERT, whose rows name each other) is refused.
CREATE FUNCTION catalog.category_closure_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog.category_closure (ancestor_id, descendant_id, depth)
    WITH RECURSIVE up (id, parent_id, depth) AS (
        SELECT NEW.id, NEW.parent_id, 0
        UNION ALL
        SELECT c.id, c.parent_id, up.depth + 1
        FROM catalog.categories c JOIN up ON c.id = up.parent_id
        WHERE up.depth < 32 AND c.id <> NEW.id
    )
    SELECT id, NEW.id, depth FROM up;
    IF EXISTS (
        SELECT 1 FROM catalog.category_closure
        WHERE descendant_id = NEW.id AND depth = 32
    ) OR EXISTS (
        SELECT 1 FROM catalog.categories c
        JOIN catalog.category_closure a ON a.ancestor_id = c.id AND a.descendant_id = NEW.id
        WHERE c.parent_id = NEW.id
    ) THEN
        RAISE EXCEPTION 'category % would be its own ancestor', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER categories_closure AFTER INSERT ON catalog.categories
    FOR EACH ROW EXECUTE FUNCTION catalog.category_closure_insert();

CREATE FUNCTION catalog.category_parent_is_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS DISTINCT FROM OLD.parent_id THEN
        RAISE EXCEPTION 'category % cannot move to another parent', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER categories_parent_fixed BEFORE UPDATE OF parent_id ON catalog.categories
    FOR EACH ROW EXECUTE FUNCTION catalog.category_parent_is_fixed();

CREATE TABLE catalog.products (
    id                text COLLATE "C" PRIMARY KEY CHECK (id ~ '^prod_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    vendor_id         text COLLATE "C" NOT NULL REFERENCES catalog.vendors (id),
    category_id       text COLLATE "C" NOT NULL REFERENCES catalog.categories (id),
    title             text             NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    slug              text             NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 80),
    description       text             NOT NULL DEFAULT '' CHECK (char_length(description) <= 5000),
    status            text             NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'archived')),
    -- Set by a platform admin: hidden from every public read whatever the status.
    moderation_hidden boolean          NOT NULL DEFAULT false,
    -- ISO 4217; every variant of a product is priced in it (the foreign key on variants).
    currency          text             NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The cheapest and dearest variant, kept by the variants trigger below so the price filter and
    -- both price sorts are index scans. NULL while the product has no variant.
    price_min_minor   bigint,
    price_max_minor   bigint,
    -- Two decimals, exact; NULL until the first rating (shared::catalog::rating::RatingAverage).
    rating_avg        numeric(3, 2)    CHECK (rating_avg BETWEEN 1 AND 5),
    rating_count      integer          NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    created_at        timestamptz      NOT NULL DEFAULT now(),
    updated_at        timestamptz      NOT NULL DEFAULT now(),
    -- 'simple', not 'english': vendors across Europe title products in their own languages, and
    -- English stemming mangles other languages' words and brand names; 'simple' lower-cases each
    -- word and keeps it, so an exact title match ranks first and prefix queries (`'skil':*`)
    -- complete real words. Plurals are caught by prefix and trigram matching instead of stemming.
    search            tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, title), 'A')
        || setweight(to_tsvector('simple'::regconfig, description), 'B')
    ) STORED,
    UNIQUE (vendor_id, slug),
    -- Targets of the children's composite foreign keys.
    UNIQUE (id, vendor_id),
    UNIQUE (id, vendor_id, currency),
    CHECK ((rating_count = 0) = (rating_avg IS NULL))
);

-- Public reads all carry `status = 'active' AND NOT moderation_hidden`; partial indexes on exactly
-- that keep the hot indexes to the sellable rows. Each ends in `id`, the keyset tie-breaker.
-- sort=newest (the default without a search).
CREATE INDEX products_public_newest_idx ON catalog.products (created_at DESC, id DESC)
    WHERE status = 'active' AND NOT moderation_hidden;
-- sort=price_asc / price_desc (scanned backwards) and price_min / price_max.
CREATE INDEX products_public_price_idx ON catalog.products (price_min_minor, id)
    WHERE status = 'active' AND NOT moderation_hidden;
-- category=… (with its descendants' ids from the closure) by newest and by price.
CREATE INDEX products_public_category_newest_idx ON catalog.products (category_id, created_at DESC, id DESC)
    WHERE status = 'active' AND NOT moderation_hidden;
CREATE INDEX products_public_category_price_idx ON catalog.products (category_id, price_min_minor, id)
    WHERE status = 'active' AND NOT moderation_hidden;
-- min_rating=…
CREATE INDEX products_public_rating_idx ON catalog.products (rating_avg)
    WHERE status = 'active' AND NOT moderation_hidden AND rating_avg IS NOT NULL;
-- vendor=… on public lists, and a vendor's own list (every status, drafts included), newest first.
CREATE INDEX products_vendor_newest_idx ON catalog.products (vendor_id, created_at DESC, id DESC);
-- Platform admins' lists by status (archived, drafts), newest first.
CREATE INDEX products_status_newest_idx ON catalog.products (status, created_at DESC, id DESC);
-- Full text: `search @@ to_tsquery('simple', $1)`, ranked with ts_rank_cd.
CREATE INDEX products_search_idx ON catalog.products USING gin (search);
-- Typos (`$1 <% title`, word_similarity) and prefix suggestions (`title ILIKE $1 || '%'`).
CREATE INDEX products_title_trgm_idx ON catalog.products USING gin (title gin_trgm_ops);

CREATE TABLE catalog.variants (
    id               text COLLATE "C" PRIMARY KEY CHECK (id ~ '^var_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    product_id       text COLLATE "C" NOT NULL,
    vendor_id        text COLLATE "C" NOT NULL,
    -- shared::catalog::sku::Sku: upper case, what labels and barcodes carry.
    sku              text             NOT NULL CHECK (sku ~ '^[A-Z0-9][A-Z0-9._-]{0,63}$'),
    -- {"Size":"M","Colour":"Blue"}: at most three options (shared::catalog::options).
    options          jsonb            NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    price_minor      bigint           NOT NULL CHECK (price_minor BETWEEN 0 AND 100000000),
    -- The "was" price; higher than the price or absent (shared::catalog::money::VariantPricing).
    compare_at_minor bigint           CHECK (compare_at_minor > price_minor AND compare_at_minor <= 100000000),
    currency         text             NOT NULL,
    weight_grams     integer          NOT NULL DEFAULT 0 CHECK (weight_grams >= 0),
    -- Order in the variant picker.
    position         smallint         NOT NULL DEFAULT 0 CHECK (position >= 0),
    created_at       timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (vendor_id, sku),
    -- Two variants of one product never have the same options.
    UNIQUE (product_id, options),
    UNIQUE (id, vendor_id),
    FOREIGN KEY (product_id, vendor_id, currency) REFERENCES catalog.products (id, vendor_id, currency)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX variants_product_idx ON catalog.variants (product_id, position);

-- Keeps products.price_min_minor / price_max_minor equal to their variants' cheapest and dearest
-- price. Statement-level with transition tables, so a seed inserting thousands of variants updates
-- each product once, not once per variant.
CREATE FUNCTION catalog.refresh_product_prices(product_ids text[]) RETURNS void LANGUAGE sql AS $$
    UPDATE catalog.products p
    SET price_min_minor = prices.min_minor, price_max_minor = prices.max_minor
    FROM (
        SELECT ids.id, min(v.price_minor) AS min_minor, max(v.price_minor) AS max_minor
        FROM (SELECT DISTINCT unnest(product_ids) AS id) ids
        LEFT JOIN catalog.variants v ON v.product_id = ids.id
        GROUP BY ids.id
    ) prices
    WHERE p.id = prices.id
      AND (p.price_min_minor, p.price_max_minor) IS DISTINCT FROM (prices.min_minor, prices.max_minor)
$$;

CREATE FUNCTION catalog.variants_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- plpgsql plans each statement when first run, so a branch may name a transition table the
    -- firing trigger does not define.
    IF TG_OP = 'INSERT' THEN
        PERFORM catalog.refresh_product_prices(ARRAY(SELECT product_id FROM new_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM catalog.refresh_product_prices(
            ARRAY(SELECT product_id FROM new_rows UNION SELECT product_id FROM old_rows));
    ELSE
        PERFORM catalog.refresh_product_prices(ARRAY(SELECT product_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER variants_prices_after_insert AFTER INSERT ON catalog.variants
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog.variants_changed();
CREATE TRIGGER variants_prices_after_update AFTER UPDATE ON catalog.variants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog.variants_changed();
CREATE TRIGGER variants_prices_after_delete AFTER DELETE ON catalog.variants
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog.variants_changed();

-- What can be bought now, per variant: the `available` each variant shows in a product's detail,
-- and the `in_stock` filter (EXISTS over variants_product_idx and this primary key).
-- Decision: stock belongs to the `inventory` context (a later issue: movements, reservations with
-- expiry, DESIGN §9). Until it exists, this stand-in table is filled by the seed and read by the
-- catalog. It is a table of its own rather than a column on variants so that, when inventory lands,
-- it is replaced by a read-only view over inventory's tables (DESIGN §3) without touching variants,
-- and nothing of inventory's is written from the catalog meanwhile.
CREATE TABLE catalog.variant_stock (
    variant_id text COLLATE "C" PRIMARY KEY,
    vendor_id  text COLLATE "C" NOT NULL,
    available  integer          NOT NULL CHECK (available BETWEEN 0 AND 1000000),
    updated_at timestamptz      NOT NULL DEFAULT now(),
    FOREIGN KEY (variant_id, vendor_id) REFERENCES catalog.variants (id, vendor_id) ON DELETE CASCADE
);
CREATE INDEX variant_stock_vendor_idx ON catalog.variant_stock (vendor_id);

-- Images live in R2 (`key`); the row says what was checked at upload (shared::catalog::image).
CREATE TABLE catalog.product_images (
    id           text COLLATE "C" PRIMARY KEY CHECK (id ~ '^img_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    product_id   text COLLATE "C" NOT NULL,
    vendor_id    text COLLATE "C" NOT NULL,
    key          text             NOT NULL UNIQUE,
    content_type text             NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp', 'image/avif')),
    -- At most 5 MiB (shared::catalog::image::MAX_IMAGE_BYTES).
    bytes        integer          NOT NULL CHECK (bytes BETWEEN 1 AND 5242880),
    -- Order in the gallery; 0 is the main image.
    position     smallint         NOT NULL DEFAULT 0 CHECK (position >= 0),
    created_at   timestamptz      NOT NULL DEFAULT now(),
    FOREIGN KEY (product_id, vendor_id) REFERENCES catalog.products (id, vendor_id) ON DELETE CASCADE
);
CREATE INDEX product_images_product_idx ON catalog.product_images (product_id, position);
