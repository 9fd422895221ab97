//! The SQL behind image uploads, moves and deletions (migrations 0005 and 0006). Every statement filters
//! by the vendor from the token, so another vendor's product or image is simply not found.

use shared::catalog::image::MAX_IMAGES_PER_PRODUCT;
use shared::catalog::{CheckedImage, ImageAlt, ImageId, ImageKey, ProductId, ProductImage, VendorId};
use shared::neon::{BatchOptions, NeonClient, NeonError, Query};
use worker_platform::fetch::FetchTransport;

use crate::config::Config;
use crate::respond::Failure;
use crate::write_store::lock_product;

/// One image (alias `i`) as `shared::catalog::ProductImage`; its `url` is `ImageKey::url`, the
/// read route's prefix (`image::IMAGE_URL_PREFIX`) and the key.
macro_rules! image_json {
    () => {
        "json_build_object('id', i.id, 'url', '/api/v1/images/' || i.key, 'content_type', i.content_type, \
         'bytes', i.bytes, 'width', i.width, 'height', i.height, 'position', i.position, 'alt', i.alt)"
    };
}
pub(crate) use image_json;

pub struct ImageStore {
    neon: NeonClient<FetchTransport>,
}

/// What `catalog.add_product_image` did.
pub enum Added {
    /// The new image's place in the gallery.
    At(u16),
    NotFound,
    Full,
}

impl ImageStore {
    pub fn new(config: &Config) -> Self {
        Self { neon: NeonClient::from_config(FetchTransport, config.neon.clone()) }
    }

    /// How many images the vendor's product has; `None` if it is not this vendor's product.
    pub async fn count_owned(&self, product: &ProductId, vendor: &VendorId) -> Result<Option<usize>, Failure> {
        let result = self
            .neon
            .query(
                "SELECT (SELECT count(*) FROM catalog.product_images i WHERE i.product_id = p.id) \
                 FROM catalog.products p WHERE p.id = $1 AND p.vendor_id = $2",
                &[product, vendor],
            )
            .await?;
        let Some(row) = result.first() else { return Ok(None) };
        let count: i64 = row.get(0).map_err(NeonError::from)?;
        Ok(Some(usize::try_from(count).unwrap_or(usize::MAX)))
    }

    /// The row for an object already in the bucket, at the end of the gallery, unless the product
    /// is not the vendor's or its gallery is full (both checked again here, under the product's lock).
    pub async fn add(
        &self,
        key: &ImageKey,
        vendor: &VendorId,
        bytes: u32,
        image: &CheckedImage,
        alt: Option<&ImageAlt>,
    ) -> Result<Added, Failure> {
        let max = i64::try_from(MAX_IMAGES_PER_PRODUCT).unwrap_or(i64::MAX);
        let result = self
            .neon
            .query(
                "SELECT outcome, image_position FROM catalog.add_product_image($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &key.image_id,
                    &key.product_id,
                    vendor,
                    &key.to_string(),
                    &image.kind.content_type(),
                    &i64::from(bytes),
                    &i64::from(image.width),
                    &i64::from(image.height),
                    &alt,
                    &max,
                ],
            )
            .await?;
        let row = result.one().map_err(NeonError::from)?;
        let outcome: String = row.get("outcome").map_err(NeonError::from)?;
        match outcome.as_str() {
            "added" => {
                let position: i64 = row.get("image_position").map_err(NeonError::from)?;
                Ok(Added::At(u16::try_from(position).map_err(Failure::internal)?))
            }
            "not_found" => Ok(Added::NotFound),
            "full" => Ok(Added::Full),
            other => Err(Failure::internal(format!("add_product_image answered {other}"))),
        }
    }

    /// The object key of the vendor's image of that product, or `None` if there is none.
    pub async fn key(
        &self,
        product: &ProductId,
        image: &ImageId,
        vendor: &VendorId,
    ) -> Result<Option<String>, Failure> {
        let result = self
            .neon
            .query(
                "SELECT key FROM catalog.product_images WHERE id = $1 AND product_id = $2 AND vendor_id = $3",
                &[image, product, vendor],
            )
            .await?;
        result.first().map(|row| row.get(0).map_err(|error| NeonError::from(error).into())).transpose()
    }

    /// Deletes the vendor's image of that product (its object is the caller's to delete first).
    pub async fn remove(&self, product: &ProductId, image: &ImageId, vendor: &VendorId) -> Result<(), Failure> {
        self.neon
            .query(
                "DELETE FROM catalog.product_images WHERE id = $1 AND product_id = $2 AND vendor_id = $3",
                &[image, product, vendor],
            )
            .await?;
        Ok(())
    }

    /// Moves the vendor's image to `position` (at most the last place) and renumbers the gallery
    /// 0, 1, 2… in one transaction; the gallery in its new order, or `None` if the image is not
    /// the vendor's.
    pub async fn move_to(
        &self,
        product: &ProductId,
        image: &ImageId,
        vendor: &VendorId,
        position: u16,
    ) -> Result<Option<Vec<ProductImage>>, Failure> {
        let position = i64::from(position);
        let renumber = Query::new(
            "UPDATE catalog.product_images i SET position = CASE \
                 WHEN i.id = $1 THEN least($4::int, r.others) WHEN r.idx < $4::int THEN r.idx ELSE r.idx + 1 END \
             FROM (SELECT id, (row_number() OVER (PARTITION BY id = $1 ORDER BY position, id) - 1)::int AS idx, \
                     (count(*) FILTER (WHERE id <> $1) OVER ())::int AS others \
                   FROM catalog.product_images WHERE product_id = $2 AND vendor_id = $3) r \
             WHERE i.id = r.id AND EXISTS (SELECT 1 FROM catalog.product_images t \
                 WHERE t.id = $1 AND t.product_id = $2 AND t.vendor_id = $3) \
             RETURNING i.id",
            &[image, product, vendor, &position],
        );
        let gallery = Query::new(
            concat!(
                "SELECT coalesce(json_agg(",
                image_json!(),
                " ORDER BY i.position, i.id), '[]'::json) \
                 FROM catalog.product_images i WHERE i.product_id = $1 AND i.vendor_id = $2"
            ),
            &[product, vendor],
        );
        // Locked like every other write to the product, so concurrent moves and uploads number
        // the gallery from the same state.
        let lock = lock_product(product, vendor);
        let results = self.neon.batch(&[lock, renumber, gallery], BatchOptions::default()).await?;
        let [_, renumbered, gallery] = results.as_slice() else {
            return Err(Failure::internal("the image move batch answered the wrong number of results"));
        };
        if renumbered.is_empty() {
            return Ok(None);
        }
        let json: serde_json::Value = gallery.one().and_then(|row| row.get(0)).map_err(NeonError::from)?;
        serde_json::from_value(json)
            .map(Some)
            .map_err(|error| Failure::internal(format!("a gallery breaks the model: {error}")))
    }
}
