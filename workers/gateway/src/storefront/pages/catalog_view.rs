//! Pieces the browsing pages share: product cards, ratings, the filter form, active filters and
//! the pager. Markup only; the decisions are in `shared::storefront::browse`.

use maud::{Markup, html};
use shared::catalog::{CategoryNode, GeoPoint, ProductImage, ProductSummary, RatingSummary, Sort, VendorLabel};
use shared::storefront::browse::{Filters, format_price, product_path};

/// Cards in a grid: the first `eager` images load at once (above the fold), the rest lazily.
pub fn cards(products: &[ProductSummary], eager: usize, from: Option<GeoPoint>) -> Markup {
    html! {
        ul.cards {
            @for (index, product) in products.iter().enumerate() {
                li { (card(product, index < eager, from)) }
            }
        }
    }
}

pub fn card(product: &ProductSummary, eager: bool, from: Option<GeoPoint>) -> Markup {
    let href = match &product.vendor {
        Some(vendor) => product_path(&product.slug, &vendor.slug),
        None => format!("/search?q={}", shared::storefront::query_value(product.title.as_str())),
    };
    html! {
        article.card {
            a.card-link href=(href) {
                @match &product.image {
                    Some(image) => (img(image, product.title.as_str(), eager)),
                    None => div.no-image aria-hidden="true" {},
                }
                h3 { (product.title.as_str()) }
            }
            @if let Some(price) = product.price_from {
                p.price { "From " (price) }
            }
            @if let Some(vendor) = &product.vendor {
                p.vendor {
                    a href={ "/v/" (vendor.slug.as_str()) } { (vendor.name.as_str()) }
                    @if let (Some(from), Some(at)) = (from, vendor.location) {
                        " · " (format!("{:.1}", from.distance_km(at))) " km away"
                    }
                }
            }
            (rating(product.rating.as_ref()))
            @if !product.in_stock {
                p.badge.out { "Out of stock" }
            }
        }
    }
}

pub fn img(image: &ProductImage, fallback_alt: &str, eager: bool) -> Markup {
    let alt = image.alt.as_ref().map_or(fallback_alt, |alt| alt.as_str());
    html! {
        @if eager {
            img src=(image.url) alt=(alt) width=(image.width) height=(image.height) fetchpriority="high";
        } @else {
            img src=(image.url) alt=(alt) width=(image.width) height=(image.height) loading="lazy" decoding="async";
        }
    }
}

pub fn rating(rating: Option<&RatingSummary>) -> Markup {
    html! {
        @match rating {
            Some(rating) => p.rating {
                span aria-hidden="true" { "★ " }
                (format!("{} out of 5", rating.average))
                " (" (rating.count) @if rating.count == 1 { " rating" } @else { " ratings" } ")"
            },
            None => p.rating.muted { "No ratings yet" },
        }
    }
}

/// The sorts a shopper can choose; relevance only for a search.
fn sort_choices(search: bool) -> Vec<(Sort, &'static str)> {
    let mut choices = Vec::new();
    if search {
        choices.push((Sort::Relevance, "Best match"));
    }
    choices.extend([
        (Sort::Newest, "Newest"),
        (Sort::Popular, "Most popular"),
        (Sort::PriceAsc, "Price: low to high"),
        (Sort::PriceDesc, "Price: high to low"),
    ]);
    choices
}

/// The filter form: a plain GET to the same page, so it works without JavaScript. `shops` are
/// the shops a shopper can narrow to.
pub fn filter_form(action: &str, filters: &Filters, shops: &[VendorLabel], search: bool) -> Markup {
    let price = |minor: Option<i64>| minor.map(format_price).unwrap_or_default();
    let vendor = filters.vendor.as_ref().map(|vendor| vendor.as_str()).unwrap_or_default();
    let sort = filters.sort.unwrap_or(if search { Sort::Relevance } else { Sort::Newest });
    html! {
        form.filters method="get" action=(action) aria-labelledby="filters-heading" {
            h2 #filters-heading { "Filter and sort" }
            @if let Some(q) = &filters.q {
                input type="hidden" name="q" value=(q);
            }
            @if let Some(category) = &filters.category {
                input type="hidden" name="category" value=(category.as_str());
            }
            fieldset {
                legend { "Price (EUR)" }
                label for="price_min" { "From" }
                input #price_min type="text" inputmode="decimal" name="price_min" value=(price(filters.price_min)) size="6";
                label for="price_max" { "To" }
                input #price_max type="text" inputmode="decimal" name="price_max" value=(price(filters.price_max)) size="6";
            }
            p {
                input #in_stock type="checkbox" name="in_stock" value="1" checked[filters.in_stock];
                label for="in_stock" { "In stock only" }
            }
            p {
                label for="min_rating" { "Rating" }
                select #min_rating name="min_rating" {
                    option value="" { "Any rating" }
                    @for stars in (1..=4u8).rev() {
                        option value=(stars) selected[filters.min_rating.map(|r| r.stars()) == Some(stars)] {
                            (stars) @if stars == 1 { " star and up" } @else { " stars and up" }
                        }
                    }
                }
            }
            @if !shops.is_empty() || !vendor.is_empty() {
                p {
                    label for="vendor" { "Shop" }
                    select #vendor name="vendor" {
                        option value="" { "All shops" }
                        @for shop in shops {
                            @let selected = vendor == shop.slug.as_str() || vendor == shop.id.as_str();
                            option value=(shop.slug.as_str()) selected[selected] { (shop.name.as_str()) }
                        }
                    }
                }
            }
            p {
                label for="sort" { "Sort by" }
                select #sort name="sort" {
                    @for (choice, label) in sort_choices(search) {
                        option value=(choice.as_str()) selected[choice == sort] { (label) }
                    }
                }
            }
            button type="submit" { "Apply filters" }
        }
    }
}

/// The filters in use, each a link that removes it.
pub fn active_filters(path: &str, filters: &Filters, vendor_name: Option<&str>, category_name: Option<&str>) -> Markup {
    let active = filters.active(path, vendor_name, category_name);
    html! {
        @if !active.is_empty() {
            section.active-filters aria-label="Active filters" {
                ul {
                    @for filter in &active {
                        li { a href=(filter.remove_href) aria-label={ "Remove filter: " (filter.label) } { (filter.label) " ✕" } }
                    }
                }
                p { a href=(Filters { q: filters.q.clone(), sort: filters.sort, ..Filters::default() }.href(path)) { "Clear all filters" } }
            }
        }
    }
}

/// "Next page" (keyset: only forward), and back to the first page when deeper.
pub fn pager(path: &str, filters: &Filters, next_cursor: Option<&str>) -> Markup {
    html! {
        @if next_cursor.is_some() || filters.cursor.is_some() {
            nav.pager aria-label="Pages" {
                @if filters.cursor.is_some() {
                    a href=(filters.without_cursor().href(path)) { "First page" }
                }
                @if let Some(cursor) = next_cursor {
                    a rel="next" href=(filters.next_page_href(path, cursor)) { "Next page" }
                }
            }
        }
    }
}

/// Shops named by the products shown (a category listing has no facets to ask).
pub fn shops_of(products: &[ProductSummary]) -> Vec<VendorLabel> {
    let mut shops: Vec<VendorLabel> = products
        .iter()
        .filter_map(|product| {
            let vendor = product.vendor.as_ref()?;
            Some(VendorLabel { id: product.vendor_id.clone(), name: vendor.name.clone(), slug: vendor.slug.clone() })
        })
        .collect();
    shops.sort_by(|a, b| a.name.cmp(&b.name));
    shops.dedup_by(|a, b| a.id == b.id);
    shops
}

/// Home, then the category trail, then `page` (a product: its address and title); the last is
/// the current page.
pub fn breadcrumbs(trail: &[&CategoryNode], page: Option<(&str, &str)>) -> Markup {
    let current = |index: usize| page.is_none() && index + 1 == trail.len();
    html! {
        nav.breadcrumbs aria-label="Breadcrumb" {
            ol {
                li { a href="/" { "Home" } }
                @for (index, node) in trail.iter().enumerate() {
                    li {
                        a href={ "/c/" (node.category.slug.as_str()) } aria-current=[current(index).then_some("page")] {
                            (node.category.name.as_str())
                        }
                    }
                }
                @if let Some((href, title)) = page {
                    li { a href=(href) aria-current="page" { (title) } }
                }
            }
        }
    }
}

/// Top-level categories with a few children each (home, and the footer of listings).
pub fn category_list(tree: &[CategoryNode], children: usize) -> Markup {
    html! {
        ul.categories {
            @for node in tree {
                li {
                    a href={ "/c/" (node.category.slug.as_str()) } { (node.category.name.as_str()) }
                    @if !node.children.is_empty() && children > 0 {
                        ul {
                            @for child in node.children.iter().take(children) {
                                li { a href={ "/c/" (child.category.slug.as_str()) } { (child.category.name.as_str()) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
