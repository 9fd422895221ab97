//! Every statement of the component: each is one call of a 0009 function (one transaction), so the
//! multi-row rules hold without interactive transactions. Rows come back as JSON in the shape of
//! `shared::inventory`'s types.

use serde::de::DeserializeOwned;
use shared::catalog::{VariantId, VendorId};
use shared::inventory::api::{InitialStock, ReserveItem};
use shared::inventory::{LocationId, ReservationLine, ReservationReference, StockCursor, StockRow};
use shared::neon::{BatchOptions, DecodeError, NeonClient, NeonError, Query, QueryResult};
use spin_platform::SpinTransport;

pub type Neon = NeonClient<SpinTransport>;

/// `inventory.reservations` rows as `ReservationLine`s, in the functions' order.
const LINES: &str = "coalesce(json_agg(json_build_object('id', r.id, 'variant_id', r.variant_id, \
    'location_id', r.location_id, 'vendor_id', r.vendor_id, 'quantity', r.quantity, 'status', r.status, \
    'expires_at', r.expires_at, 'reference', r.reference)), '[]'::json)";

pub async fn reserve(
    neon: &Neon,
    reference: &ReservationReference,
    items: &[ReserveItem],
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<ReservationLine>, NeonError> {
    let items = serde_json::to_value(items).unwrap_or_default();
    let sql = format!("SELECT {LINES} FROM inventory.reserve($1, $2::jsonb, $3::timestamptz) r");
    json_column(&neon.query(&sql, &[reference, &items, &expires_at]).await?)
}

pub async fn release(neon: &Neon, reference: &ReservationReference) -> Result<Vec<ReservationLine>, NeonError> {
    json_column(&neon.query(&format!("SELECT {LINES} FROM inventory.release($1) r"), &[reference]).await?)
}

/// One vendor's rows of `reference` back on the shelf (`inventory.release_vendor`, migration 0017).
pub async fn release_vendor(
    neon: &Neon,
    reference: &ReservationReference,
    vendor: &VendorId,
) -> Result<Vec<ReservationLine>, NeonError> {
    let sql = format!("SELECT {LINES} FROM inventory.release_vendor($1, $2) r");
    json_column(&neon.query(&sql, &[reference, vendor]).await?)
}

pub async fn consume(neon: &Neon, reference: &ReservationReference) -> Result<Vec<ReservationLine>, NeonError> {
    json_column(&neon.query(&format!("SELECT {LINES} FROM inventory.consume($1) r"), &[reference]).await?)
}

/// Expires up to `limit` references past their expiry; answers their (now expired) rows.
pub async fn release_expired(neon: &Neon, limit: u32) -> Result<Vec<ExpiredLine>, NeonError> {
    let sql = format!("SELECT {LINES} FROM inventory.release_expired(now(), $1::integer) r");
    json_column(&neon.query(&sql, &[&limit]).await?)
}

/// A released line with its reference (`release_expired` spans references).
#[derive(serde::Deserialize)]
pub struct ExpiredLine {
    pub reference: ReservationReference,
}

/// The vendor's count at a location (`None`: the default one).
pub async fn set_on_hand(
    neon: &Neon,
    vendor: &VendorId,
    variant: &VariantId,
    location: Option<&LocationId>,
    on_hand: u32,
    reference: Option<&str>,
) -> Result<StockRow, NeonError> {
    let result = neon
        .query(
            "SELECT row_to_json(s) FROM inventory.set_on_hand($1, $2, $3, $4::integer, $5) s",
            &[vendor, variant, &location, &on_hand, &reference],
        )
        .await?;
    json_column(&result)
}

/// Counts for new variants, set only where inventory has no row yet; answers every row of them.
pub async fn initial(neon: &Neon, vendor: &VendorId, items: &[InitialStock]) -> Result<Vec<StockRow>, NeonError> {
    let wanted = serde_json::to_value(items).unwrap_or_default();
    let variants: Vec<&VariantId> = items.iter().map(|item| &item.variant_id).collect();
    let queries = [
        Query::new(
            "SELECT count(inventory.set_on_hand($1, w.variant_id, NULL, w.on_hand, 'catalog.initial')) \
             FROM jsonb_to_recordset($2::jsonb) AS w (variant_id text, on_hand integer) \
             WHERE NOT EXISTS (SELECT 1 FROM inventory.stock s WHERE s.variant_id = w.variant_id)",
            &[vendor, &wanted],
        ),
        Query::new(
            "SELECT coalesce(json_agg(row_to_json(s) ORDER BY s.variant_id, s.location_id), '[]'::json) \
             FROM inventory.stock s WHERE s.vendor_id = $1 AND s.variant_id = ANY ($2::text[])",
            &[vendor, &variants],
        ),
    ];
    let results = neon.batch(&queries, BatchOptions::default()).await?;
    let rows = results.last().ok_or_else(|| decode("the initial-stock batch answered nothing"))?;
    json_column(rows)
}

/// One keyset page of the vendor's rows, and whether more follow.
pub async fn vendor_stock(
    neon: &Neon,
    vendor: &VendorId,
    after: Option<&StockCursor>,
    limit: u16,
) -> Result<(Vec<StockRow>, bool), NeonError> {
    let (variant, location) = (after.map(|a| &a.variant_id), after.map(|a| &a.location_id));
    let result = neon
        .query(
            "SELECT coalesce(json_agg(row_to_json(page) ORDER BY page.variant_id, page.location_id), '[]'::json) FROM ( \
                 SELECT * FROM inventory.stock s WHERE s.vendor_id = $1 \
                 AND ($2::text IS NULL OR (s.variant_id, s.location_id) > ($2::text, $3::text)) \
                 ORDER BY s.variant_id, s.location_id LIMIT $4::integer) page",
            &[vendor, &variant, &location, &(i64::from(limit) + 1)],
        )
        .await?;
    let mut rows: Vec<StockRow> = json_column(&result)?;
    let more = rows.len() > usize::from(limit);
    rows.truncate(usize::from(limit));
    Ok((rows, more))
}

fn json_column<T: DeserializeOwned>(result: &QueryResult) -> Result<T, NeonError> {
    Ok(result.json()?)
}

fn decode(message: &str) -> NeonError {
    NeonError::Decode(DecodeError::Body(message.to_owned()))
}
