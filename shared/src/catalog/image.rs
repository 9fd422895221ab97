//! Product image uploads: which types are accepted, how large, and whether the bytes are what the
//! request claims (a `.jpg` that is really HTML must not be served from our bucket as an image).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validation::Reason;

/// Product decision: a 2,048 px JPEG product photo is about 1 MiB; 5 MiB leaves room for PNGs
/// and stays far below the Workers request body limit (100 MB on the free plan).
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Product decision: enough for a gallery; more slows the detail page.
pub const MAX_IMAGES_PER_PRODUCT: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImageType {
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "image/webp")]
    Webp,
    #[serde(rename = "image/avif")]
    Avif,
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum ImageError {
    #[error("the image is empty")]
    Empty,
    #[error("the image is larger than {MAX_IMAGE_BYTES} bytes")]
    TooLarge,
    #[error("only JPEG, PNG, WebP and AVIF images are accepted")]
    UnsupportedType,
    #[error("the bytes are not the declared image type")]
    TypeMismatch,
}

impl Reason for ImageError {
    fn reason(&self) -> &'static str {
        match self {
            ImageError::Empty => "empty",
            ImageError::TooLarge => "too_large",
            ImageError::UnsupportedType => "unsupported_type",
            ImageError::TypeMismatch => "type_mismatch",
        }
    }
}

impl ImageType {
    pub const ALL: [ImageType; 4] = [ImageType::Jpeg, ImageType::Png, ImageType::Webp, ImageType::Avif];

    /// A `Content-Type` header value; parameters (`; charset=…`) and case are ignored.
    pub fn from_content_type(header: &str) -> Result<Self, ImageError> {
        let essence = header.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|kind| kind.content_type() == essence).ok_or(ImageError::UnsupportedType)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
            ImageType::Webp => "image/webp",
            ImageType::Avif => "image/avif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageType::Jpeg => "jpg",
            ImageType::Png => "png",
            ImageType::Webp => "webp",
            ImageType::Avif => "avif",
        }
    }

    /// The type the bytes' signature says: JPEG SOI marker, the PNG signature (RFC 2083 §3.1),
    /// RIFF…WEBP, and an ISO-BMFF `ftyp` box with an AVIF brand.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageType::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageType::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageType::Webp)
        } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && matches!(&bytes[8..12], b"avif" | b"avis") {
            Some(ImageType::Avif)
        } else {
            None
        }
    }

    /// An upload is accepted when its declared type is supported, its size within bounds and its
    /// bytes match the declared type.
    pub fn check_upload(content_type: &str, bytes: &[u8]) -> Result<Self, ImageError> {
        let declared = Self::from_content_type(content_type)?;
        if bytes.is_empty() {
            return Err(ImageError::Empty);
        }
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(ImageError::TooLarge);
        }
        if Self::sniff(bytes) != Some(declared) {
            return Err(ImageError::TypeMismatch);
        }
        Ok(declared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];

    #[test]
    fn accepts_declared_types_that_match_their_bytes() {
        assert_eq!(ImageType::check_upload("image/png", PNG), Ok(ImageType::Png));
        assert_eq!(ImageType::check_upload("Image/JPEG; charset=binary", JPEG), Ok(ImageType::Jpeg));
        assert_eq!(ImageType::sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some(ImageType::Webp));
        assert_eq!(ImageType::sniff(b"\0\0\0\x1cftypavif\0\0"), Some(ImageType::Avif));
    }

    #[test]
    fn refuses_mismatches_unsupported_types_and_sizes() {
        assert_eq!(ImageType::check_upload("image/jpeg", PNG), Err(ImageError::TypeMismatch));
        assert_eq!(ImageType::check_upload("image/png", b"<html>"), Err(ImageError::TypeMismatch));
        assert_eq!(ImageType::check_upload("image/svg+xml", b"<svg/>"), Err(ImageError::UnsupportedType));
        assert_eq!(ImageType::check_upload("image/png", b""), Err(ImageError::Empty));
        let mut huge = PNG.to_vec();
        huge.resize(MAX_IMAGE_BYTES + 1, 0);
        assert_eq!(ImageType::check_upload("image/png", &huge), Err(ImageError::TooLarge));
        assert_eq!(ImageError::TypeMismatch.reason(), "type_mismatch");
    }
}
