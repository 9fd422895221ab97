//! Demo pricing data for carts (issue 5), seeded by `cargo xtask dev`: a tax table for a few
//! countries and regions, a few coupons, and shipping options for the two demo vendors (README).
//! Fixed ids and `ON CONFLICT DO NOTHING`, so it is safe to run on every start.

use shared::neon::{BatchOptions, NeonClient, Query};
use shared::transport::ReqwestTransport;

/// The demo vendors of `seed::DEMO_ACCOUNTS` (shops in Lisbon and Porto).
pub const NORTH_CERAMICS: &str = "ven_01JC00000000000000000000A1";
pub const BRIGHT_TEXTILES: &str = "ven_01JC00000000000000000000B2";

/// VAT and sales-tax rates in basis points, region '' being the country-wide rate.
const TAX_RATES: &[(&str, &str, u32)] = &[
    ("PT", "", 2300),
    // Azores and Madeira have their own VAT rates.
    ("PT", "20", 1600),
    ("PT", "30", 2200),
    ("ES", "", 2100),
    ("FR", "", 2000),
    ("DE", "", 1900),
    ("US", "CA", 725),
    ("US", "NY", 400),
];

const SHIPPING: &[(&str, &str, &str)] = &[
    (
        "ship_01JC0000000000000000000SA1",
        NORTH_CERAMICS,
        r#"{"kind":"flat","price":{"amount_minor":490,"currency":"EUR"}}"#,
    ),
    (
        "ship_01JC0000000000000000000SA2",
        NORTH_CERAMICS,
        r#"{"kind":"local_delivery","base":{"amount_minor":200,"currency":"EUR"},"per_km":{"amount_minor":50,"currency":"EUR"},"max_radius_km":30.0}"#,
    ),
    (
        "ship_01JC0000000000000000000SB1",
        BRIGHT_TEXTILES,
        r#"{"kind":"weight_bands","bands":[{"up_to_grams":1000,"price":{"amount_minor":350,"currency":"EUR"}},{"up_to_grams":5000,"price":{"amount_minor":690,"currency":"EUR"}}]}"#,
    ),
];

pub async fn run(neon_url: &str, connection_string: &str) -> anyhow::Result<()> {
    let neon = NeonClient::new(ReqwestTransport::default(), neon_url, connection_string);
    let mut queries = Vec::new();
    for (country, region, rate) in TAX_RATES {
        queries.push(Query::new(
            "INSERT INTO cart.tax_rates (country, region, rate_bp) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[country, region, rate],
        ));
    }
    for (id, vendor, rate) in SHIPPING {
        queries.push(Query::new(
            "INSERT INTO cart.shipping_options (id, vendor_id, position, rate) \
             VALUES ($1, $2, (SELECT count(*) FROM cart.shipping_options WHERE vendor_id = $2), $3::jsonb) \
             ON CONFLICT DO NOTHING",
            &[id, vendor, rate],
        ));
    }
    // WELCOME10: 10 % off everything over €20, at most €15, once per customer. SAVE5: €5 off €30.
    // CERAMICS15: North Ceramics' own 15 %. SUMMER-2025: expired, to see the rejection.
    queries.push(Query::new(
        "INSERT INTO cart.coupons (code, vendor_id, percent_bp, fixed_minor, currency, min_purchase_minor, \
             max_discount_minor, valid_from, valid_until, per_customer_limit, total_limit) VALUES \
         ('WELCOME10', NULL, 1000, NULL, 'EUR', 2000, 1500, NULL, NULL, 1, NULL), \
         ('SAVE5', NULL, NULL, 500, 'EUR', 3000, NULL, NULL, NULL, NULL, 1000), \
         ('CERAMICS15', $1, 1500, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
         ('SUMMER-2025', NULL, 2000, NULL, NULL, NULL, NULL, '2025-06-01T00:00:00Z', '2025-09-01T00:00:00Z', NULL, NULL) \
         ON CONFLICT DO NOTHING",
        &[&NORTH_CERAMICS],
    ));
    neon.batch(&queries, BatchOptions::default()).await?;
    Ok(())
}
