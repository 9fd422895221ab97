//! `/local`: products from shops within a radius of a place, nearest shops first (the catalog's
//! `near`/`radius_km` filter and `sort=nearest`, paged like every listing); each card shows its
//! shop's distance.

use maud::html;
use shared::catalog::cache::Tag;
use shared::catalog::{Page as Listing, ProductSummary, Sort};
use shared::storefront::browse::{DEFAULT_LOCAL_RADIUS_KM, Filters, LOCAL_QUICK_PLACES, page_key};

use super::catalog_view::{cards, pager};
use super::category::PAGE_SIZE;
use crate::storefront::errors::PageError;
use crate::storefront::layout;
use crate::storefront::page_cache::{self, Built};
use crate::storefront::visit::{Caching, Page, Visit};

const PATH: &str = "/local";
/// The radius choices offered (km); the catalog allows up to 500.
const RADII: [u32; 5] = [5, 10, 25, 50, 100];

pub async fn show(visit: &Visit<'_>, query: &str) -> Result<Page, PageError> {
    let tags = [Tag::Listings];
    page_cache::serve(visit, &page_key(PATH, query, &["near", "radius_km", "cursor"]), &tags, || async {
        let parsed = Filters::parse(query);
        let filters = Filters {
            near: parsed.near,
            radius_km: parsed.radius_km,
            cursor: parsed.cursor,
            sort: Some(Sort::Nearest),
            ..Filters::default()
        };
        let radius = filters.radius_km.unwrap_or(DEFAULT_LOCAL_RADIUS_KM);
        let listing = match filters.near {
            Some(_) => {
                let api = format!("/api/v1/products?{}", filters.api_query(&[("limit", PAGE_SIZE)]));
                Some(visit.get::<Listing<ProductSummary>>(&api).await?)
            }
            None => None,
        };
        let near_text = filters.near.map(|at| format!("{},{}", at.lat(), at.lng())).unwrap_or_default();
        let body = layout::page(
            visit,
            "Shops near you",
            html! {
                h1 { "Shops near you" }
                form.local method="get" action=(PATH) {
                    p {
                        label for="near" { "Place (latitude, longitude)" }
                        input #near type="text" name="near" value=(near_text) placeholder="38.7223,-9.1393" required
                            pattern="\\s*-?[0-9.]+\\s*,\\s*-?[0-9.]+\\s*" aria-describedby="near-help";
                        span #near-help.muted { " Decimal degrees, e.g. 38.7223,-9.1393 for Lisbon." }
                    }
                    p {
                        label for="radius_km" { "Within" }
                        select #radius_km name="radius_km" {
                            @for km in RADII {
                                option value=(km) selected[km == radius] { (km) " km" }
                            }
                        }
                    }
                    button type="submit" { "Find shops" }
                }
                nav aria-label="Quick choices" {
                    p { "Or choose a city: "
                        @for (index, (name, lat, lng)) in LOCAL_QUICK_PLACES.iter().enumerate() {
                            @if index > 0 { " · " }
                            a href={ (PATH) "?near=" (lat) "," (lng) "&radius_km=" (radius) } { (name) }
                        }
                    }
                }
                @if let Some(listing) = &listing {
                    section aria-labelledby="results" {
                        h2 #results { "Within " (radius) " km" }
                        @if listing.items.is_empty() {
                            p.notice { "No shops within " (radius) " km. Try a larger distance." }
                        } @else {
                            (cards(&listing.items, 2, filters.near))
                        }
                        (pager(PATH, &filters, listing.next_cursor.as_deref()))
                    }
                }
            },
        );
        Ok(Built { page: Page::Html { status: 200, body, caching: Caching::Public }, members: tags.to_vec() })
    })
    .await
}
