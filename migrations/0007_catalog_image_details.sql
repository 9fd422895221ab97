-- Image uploads (issue 4): what the header said and what the vendor wrote, so a storefront can lay
-- out a gallery before the bytes arrive. No rows exist before uploads do, hence NOT NULL without
-- a default. Bounds as shared::catalog::image (MAX_IMAGE_SIDE_PX, MAX_ALT_CHARS).
ALTER TABLE catalog.product_images
    ADD COLUMN width  integer NOT NULL CHECK (width BETWEEN 1 AND 10000),
    ADD COLUMN height integer NOT NULL CHECK (height BETWEEN 1 AND 10000),
    ADD COLUMN alt    text CHECK (char_length(alt) BETWEEN 1 AND 250);

-- Adds an image to a vendor's own product, at the end of its gallery, unless the gallery is full.
-- A function because the check and the insert must see the same gallery: the product row is
-- locked first, and each statement here then reads after every earlier upload committed.
CREATE FUNCTION catalog.add_product_image(
    p_id text, p_product_id text, p_vendor_id text, p_key text, p_content_type text,
    p_bytes integer, p_width integer, p_height integer, p_alt text, p_max_images integer,
    OUT outcome text, OUT image_position smallint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM catalog.products WHERE id = p_product_id AND vendor_id = p_vendor_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;
    IF (SELECT count(*) FROM catalog.product_images WHERE product_id = p_product_id) >= p_max_images THEN
        outcome := 'full';
        RETURN;
    END IF;
    INSERT INTO catalog.product_images (id, product_id, vendor_id, key, content_type, bytes, width, height, alt, position)
    SELECT p_id, p_product_id, p_vendor_id, p_key, p_content_type, p_bytes, p_width, p_height, p_alt,
           coalesce(max(position) + 1, 0)
    FROM catalog.product_images WHERE product_id = p_product_id
    RETURNING position INTO image_position;
    outcome := 'added';
END
$$;
