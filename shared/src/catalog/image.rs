//! Product image uploads: which types are accepted, how large, and whether the bytes are what the
//! request claims (a `.jpg` that is really HTML must not be served from our bucket as an image).
//! Pixel dimensions come from the file header only; nothing here decodes pixels.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{ImageId, ProductId};
use super::text::{TextError, clean_line};
use super::validation::{FieldErrors, Reason};
use crate::newtype::string_newtype;

/// Product decision: a 2,048 px JPEG product photo is about 1 MiB; 5 MiB leaves room for PNGs
/// and stays far below the Workers request body limit (100 MB on the free plan).
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Product decision: enough for a gallery; more slows the detail page.
pub const MAX_IMAGES_PER_PRODUCT: usize = 10;
/// Product decision: 10,000 px a side is beyond any storefront display; larger images are
/// decompression bombs in waiting for whoever makes thumbnails later.
pub const MAX_IMAGE_SIDE_PX: u32 = 10_000;
/// WCAG advice is a concise sentence; 250 characters fits one with room to spare.
pub const MAX_ALT_CHARS: usize = 250;
/// Where the public read route serves an object from: this prefix and the object's key.
pub const IMAGE_URL_PREFIX: &str = "/api/v1/images/";
/// Objects are unique per upload (a new upload gets a new key), so caches may keep them for a year.
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

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
    #[error("the image header does not say its width and height")]
    Unreadable,
    #[error("the image is wider or taller than {MAX_IMAGE_SIDE_PX} px, or has no pixels")]
    DimensionsOutOfRange,
}

impl Reason for ImageError {
    fn reason(&self) -> &'static str {
        match self {
            ImageError::Empty => "empty",
            ImageError::TooLarge => "too_large",
            ImageError::UnsupportedType => "unsupported_type",
            ImageError::TypeMismatch => "type_mismatch",
            ImageError::Unreadable => "unreadable",
            ImageError::DimensionsOutOfRange => "dimensions_out_of_range",
        }
    }
}

impl ImageError {
    /// `VAL_3002` naming the request part at fault: the `Content-Type` header or the body.
    pub fn to_field_errors(self) -> FieldErrors {
        let field = if self == ImageError::UnsupportedType { "content_type" } else { "body" };
        FieldErrors::single(field, self.reason())
    }
}

/// What an accepted upload is, as read from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedImage {
    pub kind: ImageType,
    pub width: u32,
    pub height: u32,
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

    fn from_extension(extension: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.extension() == extension)
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

    /// An upload is accepted when its declared type is supported, its size within bounds, its
    /// bytes match the declared type and its header gives dimensions within bounds.
    pub fn check_upload(content_type: &str, bytes: &[u8]) -> Result<CheckedImage, ImageError> {
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
        let (width, height) = declared.dimensions(bytes).ok_or(ImageError::Unreadable)?;
        let side = 1..=MAX_IMAGE_SIDE_PX;
        if !side.contains(&width) || !side.contains(&height) {
            return Err(ImageError::DimensionsOutOfRange);
        }
        Ok(CheckedImage { kind: declared, width, height })
    }

    /// Width and height from the header of bytes already sniffed as `self`.
    fn dimensions(self, bytes: &[u8]) -> Option<(u32, u32)> {
        match self {
            ImageType::Png => png_dimensions(bytes),
            ImageType::Jpeg => jpeg_dimensions(bytes),
            ImageType::Webp => webp_dimensions(bytes),
            ImageType::Avif => avif_dimensions(bytes),
        }
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 2).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn le_bytes(bytes: &[u8], at: usize, len: usize) -> Option<u32> {
    bytes.get(at..at + len).map(|b| b.iter().rev().fold(0u32, |acc, byte| (acc << 8) | u32::from(*byte)))
}

/// The IHDR chunk must come first (RFC 2083 §4.1.1): width and height at bytes 16..24.
fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    (bytes.get(12..16)? == b"IHDR").then_some(())?;
    Some((be32(bytes, 16)?, be32(bytes, 20)?))
}

/// Walks the marker segments to the first start-of-frame (ITU T.81 §B.2.2), whose header holds
/// the height then the width.
fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        // Any number of 0xFF fill bytes may precede a marker.
        while *bytes.get(at + 1)? == 0xFF {
            at += 1;
        }
        let marker = *bytes.get(at + 1)?;
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => at += 2,
            // Entropy-coded data (or the end) before any frame header.
            0xD9 | 0xDA => return None,
            // SOF0–SOF15, except DHT, JPG and DAC, which share the range.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Some((be16(bytes, at + 7)?, be16(bytes, at + 5)?));
            }
            _ => at += 2 + usize::try_from(be16(bytes, at + 2)?).ok()?,
        }
    }
}

/// The first chunk after `RIFF….WEBP` says: lossy (`VP8 `, RFC 9649 §5), lossless (`VP8L`,
/// 14-bit sizes less one) or extended (`VP8X`, 24-bit canvas sizes less one).
fn webp_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    match bytes.get(12..16)? {
        b"VP8 " => {
            (bytes.get(23..26)? == [0x9D, 0x01, 0x2A]).then_some(())?;
            Some((le_bytes(bytes, 26, 2)? & 0x3FFF, le_bytes(bytes, 28, 2)? & 0x3FFF))
        }
        b"VP8L" => {
            (*bytes.get(20)? == 0x2F).then_some(())?;
            let bits = le_bytes(bytes, 21, 4)?;
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => Some((le_bytes(bytes, 24, 3)? + 1, le_bytes(bytes, 27, 3)? + 1)),
        _ => None,
    }
}

/// The first `ispe` property (ISO/IEC 23008-12 §6.5.3) under `meta` → `iprp` → `ipco`.
fn avif_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    // `meta` and `ispe` are full boxes: 4 bytes of version and flags before their content.
    let meta = find_box(bytes, b"meta")?.get(4..)?;
    let ipco = find_box(find_box(meta, b"iprp")?, b"ipco")?;
    let ispe = find_box(ipco, b"ispe")?;
    Some((be32(ispe, 4)?, be32(ispe, 8)?))
}

/// The content of the first ISO-BMFF box of type `kind` among `boxes` (one level, no recursion).
fn find_box<'a>(mut boxes: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    while boxes.len() >= 8 {
        let size = be32(boxes, 0)?;
        let (header, size) = match size {
            0 => (8, boxes.len()),
            1 => {
                let large = u64::from(be32(boxes, 8)?) << 32 | u64::from(be32(boxes, 12)?);
                (16, usize::try_from(large).ok()?)
            }
            size => (8, usize::try_from(size).ok()?),
        };
        let content = boxes.get(header..size)?;
        if &boxes[4..8] == kind {
            return Some(content);
        }
        boxes = &boxes[size..];
    }
    None
}

/// An image's alternative text for screen readers: one line, 1–250 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageAlt(String);

impl ImageAlt {
    pub fn parse(input: &str) -> Result<Self, TextError> {
        clean_line(input, MAX_ALT_CHARS).map(Self)
    }
}

string_newtype!(ImageAlt, TextError);

/// Where an upload's bytes live in the bucket: `products/{product_id}/{image_id}.{ext}`, unique
/// per upload, so the object never changes and its URL can be cached forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageKey {
    pub product_id: ProductId,
    pub image_id: ImageId,
    pub kind: ImageType,
}

impl ImageKey {
    /// A key the upload route made; anything else (another shape, `..`, unknown extensions) is
    /// `None`, so the read route never asks the bucket for it.
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key.strip_prefix("products/")?;
        let (product, file) = rest.split_once('/')?;
        let (image, extension) = file.split_once('.')?;
        Some(Self {
            product_id: ProductId::parse(product).ok()?,
            image_id: ImageId::parse(image).ok()?,
            kind: ImageType::from_extension(extension)?,
        })
    }

    pub fn url(&self) -> String {
        format!("{IMAGE_URL_PREFIX}{self}")
    }
}

impl std::fmt::Display for ImageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "products/{}/{}.{}", self.product_id, self.image_id, self.kind.extension())
    }
}

/// The upload's query: `alt` (optional, once).
pub fn parse_upload_query(query: &str) -> Result<Option<ImageAlt>, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut alt = None;
    let mut seen = false;
    for (name, value) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
        if name != "alt" {
            continue;
        }
        if seen {
            errors.push("alt", "repeated");
            continue;
        }
        seen = true;
        if !value.trim().is_empty() {
            alt = errors.check("alt", ImageAlt::parse(&value));
        }
    }
    errors.into_result(alt)
}

/// `PATCH …/images/{image_id}`: where the image moves in its gallery (0 is the main image; a
/// position past the end moves it last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageMove {
    pub position: u16,
}

impl ImageMove {
    pub fn check(self) -> Result<Self, FieldErrors> {
        if usize::from(self.position) < MAX_IMAGES_PER_PRODUCT {
            Ok(self)
        } else {
            Err(FieldErrors::single("position", "out_of_range"))
        }
    }
}

/// The entity tag in an `If-None-Match` header, unquoted as R2 compares it (`W/` is ignored: a
/// weak match is enough for a GET, RFC 9110 §13.1.2). `*` and lists name no single tag: `None`.
pub fn if_none_match_tag(header: &str) -> Option<&str> {
    let tag = header.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    let tag = tag.strip_prefix('"')?.strip_suffix('"')?;
    (!tag.is_empty() && !tag.contains('"')).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A PNG signature and IHDR chunk for a `width` × `height` image (the header is all we read).
    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 6, 0, 0, 0]);
        bytes
    }

    /// SOI, an APP0 segment, then a baseline frame header for `width` × `height`.
    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
        bytes.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        bytes
    }

    fn full_box(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
        let mut bytes = (u32::try_from(content.len()).unwrap() + 8).to_be_bytes().to_vec();
        bytes.extend_from_slice(kind);
        bytes.extend_from_slice(content);
        bytes
    }

    fn avif(width: u32, height: u32) -> Vec<u8> {
        let mut ispe = vec![0; 4];
        ispe.extend_from_slice(&width.to_be_bytes());
        ispe.extend_from_slice(&height.to_be_bytes());
        let ipco = full_box(b"ipco", &[full_box(b"pixi", &[0; 8]), full_box(b"ispe", &ispe)].concat());
        let iprp = full_box(b"iprp", &ipco);
        let meta = full_box(b"meta", &[vec![0; 4], full_box(b"hdlr", &[0; 24]), iprp].concat());
        [full_box(b"ftyp", b"avif\0\0\0\0mif1"), meta].concat()
    }

    #[test]
    fn accepts_declared_types_that_match_their_bytes_and_reads_their_size() {
        let checked = ImageType::check_upload("image/png", &png(640, 480)).unwrap();
        assert_eq!(checked, CheckedImage { kind: ImageType::Png, width: 640, height: 480 });
        let checked = ImageType::check_upload("Image/JPEG; charset=binary", &jpeg(1024, 768)).unwrap();
        assert_eq!((checked.kind, checked.width, checked.height), (ImageType::Jpeg, 1024, 768));
        let checked = ImageType::check_upload("image/avif", &avif(300, 200)).unwrap();
        assert_eq!((checked.width, checked.height), (300, 200));
        assert_eq!(ImageType::sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some(ImageType::Webp));
    }

    #[test]
    fn reads_webp_sizes_of_each_flavour() {
        let riff = |chunk: &[u8]| [b"RIFF\0\0\0\0WEBP".as_slice(), chunk].concat();
        let lossy = riff(&[b"VP8 ".as_slice(), &[0; 4], &[0, 0, 0, 0x9D, 0x01, 0x2A, 0x20, 0x03, 0x58, 0x02]].concat());
        assert_eq!(ImageType::Webp.dimensions(&lossy), Some((800, 600)));
        // 14 bits of width - 1 (99), then 14 of height - 1 (49).
        let bits: u32 = 99 | (49 << 14);
        let lossless = riff(&[b"VP8L".as_slice(), &[0; 4], &[0x2F], &bits.to_le_bytes()].concat());
        assert_eq!(ImageType::Webp.dimensions(&lossless), Some((100, 50)));
        let extended = riff(&[b"VP8X".as_slice(), &[0; 4], &[0; 4], &[0xFF, 0x0F, 0], &[0xFF, 0x07, 0]].concat());
        assert_eq!(ImageType::Webp.dimensions(&extended), Some((4096, 2048)));
    }

    #[test]
    fn refuses_mismatches_unsupported_types_sizes_and_unreadable_headers() {
        let png = png(10, 10);
        assert_eq!(ImageType::check_upload("image/jpeg", &png), Err(ImageError::TypeMismatch));
        assert_eq!(ImageType::check_upload("image/png", b"<html>"), Err(ImageError::TypeMismatch));
        assert_eq!(ImageType::check_upload("image/svg+xml", b"<svg/>"), Err(ImageError::UnsupportedType));
        assert_eq!(ImageType::check_upload("image/png", b""), Err(ImageError::Empty));
        let mut huge = png.clone();
        huge.resize(MAX_IMAGE_BYTES + 1, 0);
        assert_eq!(ImageType::check_upload("image/png", &huge), Err(ImageError::TooLarge));
        assert_eq!(ImageType::check_upload("image/png", &png[..18]), Err(ImageError::Unreadable));
        // A JPEG whose scan starts before any frame header says no size.
        assert_eq!(ImageType::check_upload("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]), Err(ImageError::Unreadable));
        assert_eq!(ImageError::TypeMismatch.reason(), "type_mismatch");
    }

    #[test]
    fn refuses_images_without_pixels_or_wider_than_the_bound() {
        let too_wide = png(MAX_IMAGE_SIDE_PX + 1, 10);
        assert_eq!(ImageType::check_upload("image/png", &too_wide), Err(ImageError::DimensionsOutOfRange));
        assert_eq!(ImageType::check_upload("image/png", &png(10, 0)), Err(ImageError::DimensionsOutOfRange));
        assert!(ImageType::check_upload("image/png", &png(MAX_IMAGE_SIDE_PX, 1)).is_ok());
    }

    #[test]
    fn errors_name_the_request_part_at_fault() {
        let header = ImageError::UnsupportedType.to_field_errors();
        assert_eq!(header.reason_for("content_type"), Some("unsupported_type"));
        assert_eq!(ImageError::TooLarge.to_field_errors().reason_for("body"), Some("too_large"));
    }

    #[test]
    fn keys_round_trip_and_refuse_anything_else() {
        let key = ImageKey {
            product_id: ProductId::generate(1_700_000_000_000, [1; 10]),
            image_id: ImageId::generate(1_700_000_000_000, [2; 10]),
            kind: ImageType::Webp,
        };
        let text = key.to_string();
        assert!(text.starts_with("products/prod_") && text.ends_with(".webp"), "{text}");
        assert_eq!(ImageKey::parse(&text), Some(key.clone()));
        assert_eq!(key.url(), format!("/api/v1/images/{text}"));
        for bad in [
            "",
            "products/../secrets.png",
            &text.replace(".webp", ".svg"),
            &text.replace("products/", "vendors/"),
            &format!("{text}/x"),
            "products/prod_01JC00000000000000000000A1/var_01JC00000000000000000000A1.png",
        ] {
            assert_eq!(ImageKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn alt_text_is_one_clean_line() {
        assert_eq!(parse_upload_query("alt=Blue+mug%2C++front").unwrap().unwrap().as_str(), "Blue mug, front");
        assert_eq!(parse_upload_query("").unwrap(), None);
        assert_eq!(parse_upload_query("alt=").unwrap(), None);
        let long = format!("alt={}", "a".repeat(MAX_ALT_CHARS + 1));
        assert_eq!(parse_upload_query(&long).unwrap_err().reason_for("alt"), Some("too_long"));
        assert_eq!(parse_upload_query("alt=a&alt=b").unwrap_err().reason_for("alt"), Some("repeated"));
        assert_eq!(parse_upload_query("alt=%E2%80%AEevil").unwrap_err().reason_for("alt"), Some("forbidden_character"));
    }

    #[test]
    fn a_move_stays_within_a_gallery() {
        let parse = |json: &str| serde_json::from_str::<ImageMove>(json);
        assert_eq!(parse(r#"{"position":0}"#).unwrap().check(), Ok(ImageMove { position: 0 }));
        let last = format!(r#"{{"position":{}}}"#, MAX_IMAGES_PER_PRODUCT);
        assert_eq!(parse(&last).unwrap().check().unwrap_err().reason_for("position"), Some("out_of_range"));
        assert!(parse(r#"{"position":-1}"#).is_err());
        assert!(parse(r#"{"position":1,"vendor_id":"ven_01JC00000000000000000000B2"}"#).is_err());
    }

    #[test]
    fn if_none_match_names_one_tag() {
        assert_eq!(if_none_match_tag("\"abc\""), Some("abc"));
        assert_eq!(if_none_match_tag("W/\"abc\""), Some("abc"));
        assert_eq!(if_none_match_tag("*"), None);
        assert_eq!(if_none_match_tag("\"a\", \"b\""), None);
        assert_eq!(if_none_match_tag("abc"), None);
    }

    proptest! {
        #[test]
        fn png_and_jpeg_sizes_read_back(width in 1u16..=10_000, height in 1u16..=10_000) {
            let png = ImageType::check_upload("image/png", &png(width.into(), height.into())).unwrap();
            prop_assert_eq!((png.width, png.height), (u32::from(width), u32::from(height)));
            let jpeg = ImageType::check_upload("image/jpeg", &jpeg(width, height)).unwrap();
            prop_assert_eq!((jpeg.width, jpeg.height), (u32::from(width), u32::from(height)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), kind in 0usize..4) {
            let kind = ImageType::ALL[kind];
            let mut sniffable = match kind {
                ImageType::Jpeg => vec![0xFF, 0xD8, 0xFF],
                ImageType::Png => b"\x89PNG\r\n\x1a\n".to_vec(),
                ImageType::Webp => b"RIFF\0\0\0\0WEBP".to_vec(),
                ImageType::Avif => b"\0\0\0\x10ftypavif".to_vec(),
            };
            sniffable.extend_from_slice(&bytes);
            let _ = ImageType::check_upload(kind.content_type(), &sniffable);
        }
    }
}
