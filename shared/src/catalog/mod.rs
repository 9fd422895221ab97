//! The catalog domain (issue 4), pure: validated product fields, money, ids, the product
//! lifecycle, the API's response shapes, list and search query parsing with keyset cursors,
//! search normalisation, price facets, local-search geometry, the read cache's keys, tags and scripts;
//! and the vendor and admin write API's validation (`write`).
//!
//! No clock, no randomness, and no I/O but the read cache's Upstash calls (over the transport
//! trait): callers pass times, entropy and keys. It compiles unchanged for
//! the catalog Worker (wasm32-unknown-unknown), Spin (wasm32-wasip2) and natively for the seed.

pub mod cache;
pub mod cursor;
pub mod facets;
pub mod geo;
pub mod ids;
pub mod image;
pub mod list_query;
pub mod model;
pub mod money;
pub mod options;
pub mod quantity;
pub mod rating;
pub mod search;
pub mod sku;
pub mod slug;
pub mod status;
pub mod text;
pub mod validation;
pub mod write;

/// The model's timestamps, re-exported so users of these types need not depend on chrono themselves.
pub use chrono::{DateTime, Utc};
pub use cursor::{CursorError, CursorKey, Position, SortKey};
pub use facets::{FacetCount, PriceBucket, price_buckets, price_buckets_from_steps};
pub use geo::{BoundingBox, GeoPoint, Near};
pub use ids::{CategoryId, IdError, ImageId, ProductId, VariantId, VendorId};
pub use image::{CheckedImage, ImageAlt, ImageError, ImageKey, ImageMove, ImageType};
pub use list_query::{CategoryRef, ListQuery, PriceRange, Sort, SuggestQuery, VendorRef};
pub use model::{
    Category, CategoryNode, Page, Product, ProductImage, ProductSummary, SearchFacets, SearchPage, Suggestion, Variant,
    Vendor, VendorBrief, VendorLabel,
};
pub use money::{Currency, Money, VariantPricing};
pub use options::{OptionName, OptionValue, VariantOptions};
pub use quantity::Quantity;
pub use rating::{Rating, RatingAverage, RatingSummary};
pub use search::SearchQuery;
pub use sku::Sku;
pub use slug::Slug;
pub use status::ProductStatus;
pub use text::{CategoryName, Description, ProductTitle, VendorCity, VendorName};
pub use validation::{FieldError, FieldErrors, Reason};
pub use write::{
    AdminVendorQuery, CreateProductInput, Moderation, ModerationInput, NewProduct, NewVariant, NewVendor,
    NewVendorInput, ProductPatch, ProductPatchInput, SlugChoice, VariantInput, VariantPatch, VariantPatchInput,
    VendorListQuery, VendorProduct,
};
