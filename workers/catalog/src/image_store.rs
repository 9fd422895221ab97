//! The SQL behind image uploads and deletions (migrations 0005 and 0006). Every statement filters
//! by the vendor from the token, so another vendor's product or image is simply not found.

use shared::catalog::image::MAX_IMAGES_PER_PRODUCT;
use shared::catalog::{CheckedImage, ImageAlt, ImageId, ImageKey, ProductId, VendorId};
use shared::neon::{NeonClient, NeonError};
use shared::transport::ReqwestTransport;

use crate::config::Config;
use crate::respond::Failure;

pub struct ImageStore {
    neon: NeonClient<ReqwestTransport>,
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
        Self { neon: NeonClient::from_config(ReqwestTransport::default(), config.neon.clone()) }
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

    /// Deletes the vendor's image of that product; its object key, or `None` if there was none.
    pub async fn remove(
        &self,
        product: &ProductId,
        image: &ImageId,
        vendor: &VendorId,
    ) -> Result<Option<String>, Failure> {
        let result = self
            .neon
            .query(
                "DELETE FROM catalog.product_images WHERE id = $1 AND product_id = $2 AND vendor_id = $3 RETURNING key",
                &[image, product, vendor],
            )
            .await?;
        result.first().map(|row| row.get(0).map_err(|error| NeonError::from(error).into())).transpose()
    }
}
