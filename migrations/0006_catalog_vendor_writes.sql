-- The vendor write API (issue 4): idempotent product creation (DESIGN §8) and the reason a platform
-- admin gives when hiding a product.

-- Shown to the vendor beside `moderation_hidden`; required when hiding (shared::catalog::write).
ALTER TABLE catalog.products
    ADD COLUMN moderation_reason text CHECK (char_length(moderation_reason) BETWEEN 1 AND 500);

-- One row per `Idempotency-Key` a vendor sent with `POST /api/v1/vendor/products`, written in the
-- same transaction as the product, first, so a concurrent retry with the same key waits on the
-- primary key and then fails instead of creating a second product. A replay answers
-- `response_body` as stored when `request_hash` (shared::catalog::write::request_fingerprint)
-- matches, and 422 otherwise. Keys are scoped per vendor: two vendors may use the same key.
CREATE TABLE catalog.idempotency_keys (
    vendor_id       text COLLATE "C" NOT NULL REFERENCES catalog.vendors (id),
    key             text             NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash    text             NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    product_id      text COLLATE "C" NOT NULL,
    response_status smallint         NOT NULL CHECK (response_status BETWEEN 200 AND 299),
    -- Exactly the bytes first answered (JSON text), so a replay is byte-for-byte the same.
    response_body   text             NOT NULL,
    created_at      timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (vendor_id, key),
    -- Checked at commit: the key row goes in before the product it names.
    FOREIGN KEY (product_id, vendor_id) REFERENCES catalog.products (id, vendor_id) DEFERRABLE INITIALLY DEFERRED
);
-- For a later sweep of keys past their retention (Stripe keeps them 24 hours).
CREATE INDEX idempotency_keys_created_idx ON catalog.idempotency_keys (created_at);
