//! A product's lifecycle: `draft → active → archived`, and who may see it.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::validation::Reason;
use crate::neon::{Param, ToSql};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    /// Being prepared by the vendor; never public.
    Draft,
    /// On sale and public (unless a platform admin hid it).
    Active,
    /// No longer sold; kept for past orders and links. Never public.
    Archived,
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum StatusError {
    #[error("status must be draft, active or archived")]
    Unknown,
    #[error("a product cannot go from {from} to {to}")]
    NotAllowed { from: ProductStatus, to: ProductStatus },
    #[error("a product needs at least one variant to become active")]
    NoVariants,
}

impl Reason for StatusError {
    fn reason(&self) -> &'static str {
        match self {
            StatusError::Unknown => "invalid",
            StatusError::NotAllowed { .. } => "transition_not_allowed",
            StatusError::NoVariants => "needs_a_variant",
        }
    }
}

impl ProductStatus {
    pub const ALL: [ProductStatus; 3] = [ProductStatus::Draft, ProductStatus::Active, ProductStatus::Archived];

    pub fn parse(input: &str) -> Result<Self, StatusError> {
        Self::ALL.into_iter().find(|status| status.as_str() == input).ok_or(StatusError::Unknown)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Draft => "draft",
            ProductStatus::Active => "active",
            ProductStatus::Archived => "archived",
        }
    }

    /// Publish, unpublish, archive; an archived product comes back only as a draft, so the vendor
    /// reviews it (prices, stock) before it is on sale again.
    pub fn can_become(self, to: ProductStatus) -> bool {
        use ProductStatus::{Active, Archived, Draft};
        matches!(
            (self, to),
            (Draft, Active) | (Draft, Archived) | (Active, Draft) | (Active, Archived) | (Archived, Draft)
        )
    }

    /// The new status, if the move is allowed. Staying put is allowed (a retried request is a
    /// no-op); becoming active needs something to sell.
    pub fn transition(self, to: ProductStatus, variant_count: usize) -> Result<ProductStatus, StatusError> {
        if to == ProductStatus::Active && variant_count == 0 {
            return Err(StatusError::NoVariants);
        }
        if self == to || self.can_become(to) { Ok(to) } else { Err(StatusError::NotAllowed { from: self, to }) }
    }
}

/// Shoppers see a product only while it is active and no platform admin has hidden it.
pub fn is_public(status: ProductStatus, moderation_hidden: bool) -> bool {
    status == ProductStatus::Active && !moderation_hidden
}

impl fmt::Display for ProductStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for ProductStatus {
    fn to_param(&self) -> Param {
        Param::text(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProductStatus::{Active, Archived, Draft};

    #[test]
    fn the_allowed_moves() {
        let allowed: Vec<(ProductStatus, ProductStatus)> = ProductStatus::ALL
            .into_iter()
            .flat_map(|from| ProductStatus::ALL.into_iter().map(move |to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        assert_eq!(
            allowed,
            [(Draft, Active), (Draft, Archived), (Active, Draft), (Active, Archived), (Archived, Draft)]
        );
    }

    #[test]
    fn archived_comes_back_only_as_a_draft() {
        assert_eq!(Archived.transition(Active, 2), Err(StatusError::NotAllowed { from: Archived, to: Active }));
        assert_eq!(Archived.transition(Draft, 2), Ok(Draft));
    }

    #[test]
    fn activation_needs_a_variant_and_repeats_are_no_ops() {
        assert_eq!(Draft.transition(Active, 0), Err(StatusError::NoVariants));
        assert_eq!(Draft.transition(Active, 1), Ok(Active));
        assert_eq!(Archived.transition(Archived, 0), Ok(Archived));
        assert_eq!(StatusError::NoVariants.reason(), "needs_a_variant");
    }

    #[test]
    fn only_active_unhidden_products_are_public() {
        assert!(is_public(Active, false));
        assert!(!is_public(Active, true));
        assert!(!is_public(Draft, false));
        assert!(!is_public(Archived, false));
    }

    #[test]
    fn wire_names_are_lower_case() {
        assert_eq!(serde_json::to_value(Archived).unwrap(), serde_json::json!("archived"));
        assert_eq!(ProductStatus::parse("active"), Ok(Active));
        assert_eq!(ProductStatus::parse("Active"), Err(StatusError::Unknown));
    }
}
