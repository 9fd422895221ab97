-- A shop's city (shared::catalog::VendorCity): display text for "Based in Lisbon", given by whoever
-- creates the shop (the admin API, the seed). NULL when unknown: the storefront then names no city
-- rather than guessing one from the coordinates.
ALTER TABLE catalog.vendors ADD COLUMN city text
    CHECK (city IS NULL OR char_length(city) BETWEEN 1 AND 80);
