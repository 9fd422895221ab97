-- The cart (issue 5). Carts themselves live in Upstash (DESIGN §3); Postgres holds what prices them:
-- coupons and their redemptions, the tax table and the vendors' shipping options, in a `cart` schema
-- (docs/adr/0004). The cart reads the catalog only through the read-only view below (DESIGN §3).

CREATE SCHEMA IF NOT EXISTS cart;

-- Everything the cart needs to know about a variant, for all of a cart's lines in one query:
-- the current price, what is in stock, whether the product can still be bought, and where its shop
-- is (local delivery is priced by distance from there).
CREATE VIEW catalog.cart_variants AS
SELECT v.id AS variant_id,
       v.product_id,
       v.vendor_id,
       v.price_minor,
       v.currency,
       v.weight_grams,
       coalesce(s.available, 0) AS available,
       (p.status = 'active' AND NOT p.moderation_hidden) AS on_sale,
       ven.latitude AS vendor_latitude,
       ven.longitude AS vendor_longitude
FROM catalog.variants v
JOIN catalog.products p ON p.id = v.product_id
JOIN catalog.vendors ven ON ven.id = v.vendor_id
LEFT JOIN catalog.variant_stock s ON s.variant_id = v.id;

-- shared::cart::coupon::Coupon. A NULL vendor_id is a platform coupon. Amounts share `currency`.
CREATE TABLE cart.coupons (
    code               text COLLATE "C" PRIMARY KEY CHECK (code ~ '^[A-Z0-9_-]{3,32}$'),
    vendor_id          text COLLATE "C" CHECK (vendor_id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    percent_bp         integer CHECK (percent_bp BETWEEN 1 AND 10000),
    fixed_minor        bigint  CHECK (fixed_minor > 0),
    currency           text    CHECK (currency ~ '^[A-Z]{3}$'),
    min_purchase_minor bigint  CHECK (min_purchase_minor > 0),
    max_discount_minor bigint  CHECK (max_discount_minor > 0),
    valid_from         timestamptz,
    -- Exclusive.
    valid_until        timestamptz CHECK (valid_until > valid_from),
    per_customer_limit integer CHECK (per_customer_limit > 0),
    total_limit        integer CHECK (total_limit > 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((percent_bp IS NULL) <> (fixed_minor IS NULL)),
    CHECK (currency IS NOT NULL OR (fixed_minor IS NULL AND min_purchase_minor IS NULL AND max_discount_minor IS NULL))
);

-- One row per order that used a coupon, written by checkout (a later issue); the cart counts them
-- to enforce the usage limits.
CREATE TABLE cart.coupon_redemptions (
    coupon_code text COLLATE "C" NOT NULL REFERENCES cart.coupons (code),
    user_id     text COLLATE "C" NOT NULL,
    order_id    text COLLATE "C" NOT NULL,
    redeemed_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (coupon_code, order_id)
);
CREATE INDEX coupon_redemptions_customer_idx ON cart.coupon_redemptions (coupon_code, user_id);

-- shared::cart::tax::TaxRate; region '' is the country-wide rate (a primary key cannot hold NULL).
CREATE TABLE cart.tax_rates (
    country text    NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    region  text    NOT NULL DEFAULT '' CHECK (region ~ '^[A-Z0-9]{0,3}$'),
    rate_bp integer NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    PRIMARY KEY (country, region)
);

-- A vendor's options; `rate` is shared::cart::shipping::ShippingRate as JSON, validated by the
-- Worker before it is written (PUT /api/v1/vendor/shipping-options replaces the whole set).
CREATE TABLE cart.shipping_options (
    id         text COLLATE "C" PRIMARY KEY CHECK (id ~ '^ship_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    vendor_id  text COLLATE "C" NOT NULL CHECK (vendor_id ~ '^ven_[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    position   smallint         NOT NULL DEFAULT 0 CHECK (position >= 0),
    rate       jsonb            NOT NULL CHECK (jsonb_typeof(rate) = 'object'),
    created_at timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX shipping_options_vendor_idx ON cart.shipping_options (vendor_id, position);
