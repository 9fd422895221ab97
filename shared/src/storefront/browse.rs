//! The browsing pages' plain logic: a listing's filters as the storefront's query string and as
//! the catalog API's, the active filters with links that remove each one, the next page's link,
//! stock wording, product addresses, and the normalised keys public pages are cached under.
//!
//! Shoppers type prices as they read them (`price_max=14.99` is 14.99 EUR); the API takes minor
//! units. Invalid values (a typed "ten") are dropped rather than refused: a listing always shows.

use crate::catalog::{CategoryId, CategoryNode, GeoPoint, PriceBucket, Rating, Slug, Sort, VendorRef};

use super::query_value;

/// The storefront's listing parameters; anything else in a URL is ignored (and never makes a
/// new cache entry).
pub const LISTING_PARAMS: [&str; 11] = [
    "q",
    "category",
    "vendor",
    "price_min",
    "price_max",
    "in_stock",
    "min_rating",
    "sort",
    "cursor",
    "near",
    "radius_km",
];

/// Whole units the price inputs accept; more is a typo, not a budget.
pub const MAX_PRICE_UNITS: i64 = 1_000_000;
/// Minor units per whole unit for the storefront's currencies (EUR and others with cents).
const MINOR_PER_UNIT: i64 = 100;
/// "Only N left" from here down: few enough that a shopper should know.
pub const LOW_STOCK: u32 = 5;

/// A listing's filters as the storefront reads them from its own URL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub q: Option<String>,
    /// Narrows a search to a category (category pages name theirs in the path instead).
    pub category: Option<Slug>,
    /// A shop by slug (or id, as search facets name them).
    pub vendor: Option<VendorRef>,
    /// Minor units, inclusive.
    pub price_min: Option<i64>,
    pub price_max: Option<i64>,
    pub in_stock: bool,
    pub min_rating: Option<Rating>,
    pub sort: Option<Sort>,
    pub cursor: Option<String>,
    pub near: Option<GeoPoint>,
    pub radius_km: Option<u32>,
}

/// A filter a shopper set, and the link that shows the same listing without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveFilter {
    pub label: String,
    pub remove_href: String,
}

impl Filters {
    /// Lenient: a value that does not parse is left out, as if the field were blank.
    pub fn parse(query: &str) -> Self {
        let mut filters = Filters::default();
        for (name, value) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match name.as_ref() {
                "q" => filters.q = Some(value.split_whitespace().collect::<Vec<_>>().join(" ")),
                "category" => filters.category = Slug::parse(value).ok(),
                "vendor" => filters.vendor = VendorRef::parse(value).ok(),
                "price_min" => filters.price_min = parse_price(value),
                "price_max" => filters.price_max = parse_price(value),
                "in_stock" => filters.in_stock = matches!(value, "1" | "true" | "on"),
                "min_rating" => filters.min_rating = Rating::parse(value).ok(),
                "sort" => filters.sort = Sort::parse(value).ok(),
                "cursor" => {
                    let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
                    filters.cursor = (value.len() <= 256 && value.bytes().all(url_safe)).then(|| value.to_owned());
                }
                "near" => filters.near = GeoPoint::parse(value).ok(),
                "radius_km" => filters.radius_km = value.parse().ok().filter(|km| (1..=500).contains(km)),
                _ => {}
            }
        }
        // A reversed range is most likely typed the wrong way round.
        if let (Some(min), Some(max)) = (filters.price_min, filters.price_max)
            && max < min
        {
            (filters.price_min, filters.price_max) = (Some(max), Some(min));
        }
        filters
    }

    /// The storefront's own query string, in one fixed order (links, the cache key).
    pub fn query(&self) -> String {
        self.pairs()
            .into_iter()
            .map(|(name, value)| format!("{name}={}", query_value(&value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// `path` with this query (no `?` when there is none).
    pub fn href(&self, path: &str) -> String {
        with_query(path, &self.query())
    }

    /// The same listing from its first page.
    pub fn without_cursor(&self) -> Self {
        Filters { cursor: None, ..self.clone() }
    }

    /// The link to the page after this one.
    pub fn next_page_href(&self, path: &str, next_cursor: &str) -> String {
        Filters { cursor: Some(next_cursor.to_owned()), ..self.clone() }.href(path)
    }

    /// The catalog API's query for these filters, plus `extra` pairs the page fixes (the
    /// category of `/c/…`, the shop of `/v/…`, the page size).
    pub fn api_query(&self, extra: &[(&str, &str)]) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (name, value) in extra {
            out.append_pair(name, value);
        }
        if let Some(q) = &self.q {
            out.append_pair("q", q);
        }
        if let Some(category) = &self.category {
            out.append_pair("category", category.as_str());
        }
        if let Some(vendor) = &self.vendor {
            out.append_pair("vendor", vendor.as_str());
        }
        if let Some(min) = self.price_min {
            out.append_pair("price_min", &min.to_string());
        }
        if let Some(max) = self.price_max {
            out.append_pair("price_max", &max.to_string());
        }
        if self.in_stock {
            out.append_pair("in_stock", "true");
        }
        if let Some(rating) = self.min_rating {
            out.append_pair("min_rating", &rating.stars().to_string());
        }
        if let Some(sort) = self.sort {
            out.append_pair("sort", sort.as_str());
        }
        if let Some(near) = self.near {
            out.append_pair("near", &format!("{},{}", near.lat(), near.lng()));
            out.append_pair("radius_km", &self.radius_km.unwrap_or(DEFAULT_LOCAL_RADIUS_KM).to_string());
        }
        if let Some(cursor) = &self.cursor {
            out.append_pair("cursor", cursor);
        }
        out.finish()
    }

    /// The filters a shopper chose (not the search words, the sort or the page), each with the
    /// link that drops it and starts again from the first page. The names label the shop and
    /// the category (their slugs otherwise).
    pub fn active(&self, path: &str, vendor_name: Option<&str>, category_name: Option<&str>) -> Vec<ActiveFilter> {
        let base = self.without_cursor();
        let mut active = Vec::new();
        let mut push = |label: String, without: Filters| {
            active.push(ActiveFilter { label, remove_href: without.href(path) });
        };
        if let Some(category) = &base.category {
            let name = category_name.unwrap_or(category.as_str());
            push(format!("Category: {name}"), Filters { category: None, ..base.clone() });
        }
        match (base.price_min.map(format_price), base.price_max.map(format_price)) {
            (Some(min), Some(max)) => {
                push(format!("Price {min}–{max}"), Filters { price_min: None, price_max: None, ..base.clone() })
            }
            (Some(min), None) => push(format!("Price from {min}"), Filters { price_min: None, ..base.clone() }),
            (None, Some(max)) => push(format!("Price up to {max}"), Filters { price_max: None, ..base.clone() }),
            (None, None) => {}
        }
        if base.in_stock {
            push("In stock only".to_owned(), Filters { in_stock: false, ..base.clone() });
        }
        if let Some(rating) = base.min_rating {
            let stars = rating.stars();
            let unit = if stars == 1 { "star" } else { "stars" };
            push(format!("{stars} {unit} and up"), Filters { min_rating: None, ..base.clone() });
        }
        if let Some(vendor) = &base.vendor {
            let name = vendor_name.unwrap_or(vendor.as_str());
            push(format!("Shop: {name}"), Filters { vendor: None, ..base.clone() });
        }
        active
    }

    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(q) = &self.q {
            pairs.push(("q", q.clone()));
        }
        if let Some(category) = &self.category {
            pairs.push(("category", category.as_str().to_owned()));
        }
        if let Some(vendor) = &self.vendor {
            pairs.push(("vendor", vendor.as_str().to_owned()));
        }
        if let Some(min) = self.price_min {
            pairs.push(("price_min", format_price(min)));
        }
        if let Some(max) = self.price_max {
            pairs.push(("price_max", format_price(max)));
        }
        if self.in_stock {
            pairs.push(("in_stock", "1".to_owned()));
        }
        if let Some(rating) = self.min_rating {
            pairs.push(("min_rating", rating.stars().to_string()));
        }
        if let Some(sort) = self.sort {
            pairs.push(("sort", sort.as_str().to_owned()));
        }
        if let Some(near) = self.near {
            pairs.push(("near", format!("{},{}", near.lat(), near.lng())));
        }
        if let Some(km) = self.radius_km {
            pairs.push(("radius_km", km.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.clone()));
        }
        pairs
    }
}

/// "12", "12.5", "12,50" → minor units; at most two decimals, never negative.
pub fn parse_price(value: &str) -> Option<i64> {
    let (whole, fraction) = value.split_once(['.', ',']).unwrap_or((value, ""));
    let digits = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
        return None;
    }
    let units: i64 = whole.parse().ok().filter(|units| *units <= MAX_PRICE_UNITS)?;
    let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
    Some(units * MINOR_PER_UNIT + cents)
}

/// Minor units as a shopper types them: "15", "14.99".
pub fn format_price(minor: i64) -> String {
    let (units, cents) = (minor / MINOR_PER_UNIT, minor % MINOR_PER_UNIT);
    if cents == 0 { units.to_string() } else { format!("{units}.{cents:02}") }
}

/// The filters that select exactly a search facet's price range (its upper end is exclusive).
pub fn price_bucket_filters(filters: &Filters, bucket: &PriceBucket) -> Filters {
    Filters {
        price_min: Some(bucket.min_minor),
        price_max: bucket.max_minor.map(|max| max - 1),
        cursor: None,
        ..filters.clone()
    }
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}

/// How a variant's or product's availability reads to a shopper.
pub fn stock_wording(available: u32) -> String {
    match available {
        0 => "Out of stock".to_owned(),
        1..=LOW_STOCK => format!("Only {available} left"),
        _ => "In stock".to_owned(),
    }
}

/// Product slugs are unique per shop only, so a product's address names both, joined by `--`,
/// which no slug contains: `/products/blue-mug--north-ceramics`.
pub fn product_path(product: &Slug, vendor: &Slug) -> String {
    format!("/products/{}--{}", product.as_str(), vendor.as_str())
}

/// `(product, vendor)` from the last segment of a product address.
pub fn parse_product_slug(segment: &str) -> Option<(Slug, Slug)> {
    let (product, vendor) = segment.split_once("--")?;
    Some((Slug::parse(product).ok()?, Slug::parse(vendor).ok()?))
}

/// The category named `slug` and its ancestors, root first (the breadcrumb), if it exists.
pub fn category_trail<'a>(tree: &'a [CategoryNode], slug: &str) -> Option<Vec<&'a CategoryNode>> {
    for node in tree {
        if node.category.slug.as_str() == slug {
            return Some(vec![node]);
        }
        if let Some(mut trail) = category_trail(&node.children, slug) {
            trail.insert(0, node);
            return Some(trail);
        }
    }
    None
}

/// Every category of the tree by id (facets and product pages name categories by id).
pub fn find_category<'a>(tree: &'a [CategoryNode], id: &CategoryId) -> Option<&'a CategoryNode> {
    tree.iter().find_map(|node| if &node.category.id == id { Some(node) } else { find_category(&node.children, id) })
}

/// The radius local search uses when none is chosen.
pub const DEFAULT_LOCAL_RADIUS_KM: u32 = 25;

/// The quick choices on `/local`, a search's starting point only: where the demo shops are (North
/// Ceramics in Lisbon, Bright Textiles in Porto) and a few other cities. A shop's own city is
/// `Vendor::city`, never looked up here. (name, latitude, longitude)
pub const LOCAL_QUICK_PLACES: [(&str, f64, f64); 5] = [
    ("Lisbon", 38.7223, -9.1393),
    ("Porto", 41.1579, -8.6291),
    ("Madrid", 40.4168, -3.7038),
    ("Paris", 48.8566, 2.3522),
    ("Berlin", 52.5200, 13.4050),
];

/// The key a public page is cached under: its path and only the parameters it reads, in one
/// fixed order, so `?utm_source=…` or a reordered query shares the entry.
pub fn page_key(path: &str, query: &str, known: &[&str]) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .filter(|(name, value)| known.contains(&name.as_ref()) && !value.trim().is_empty())
        .map(|(name, value)| (name.into_owned(), value.trim().to_owned()))
        .collect();
    pairs.sort();
    pairs.dedup_by(|a, b| a.0 == b.0);
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    with_query(path, &query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(text: &str) -> Slug {
        Slug::parse(text).unwrap()
    }

    #[test]
    fn filters_read_leniently_and_write_back_in_one_order() {
        let filters = Filters::parse("sort=price_asc&price_max=20&in_stock=on&price_min=ten&utm=x&min_rating=4");
        assert_eq!(filters.price_min, None, "an unreadable price is left out");
        assert_eq!(filters.price_max, Some(2_000));
        assert!(filters.in_stock);
        assert_eq!(filters.query(), "price_max=20&in_stock=1&min_rating=4&sort=price_asc");
        assert_eq!(Filters::parse(&filters.query()), filters);
        assert_eq!(Filters::parse("price_min=30&price_max=10").query(), "price_min=10&price_max=30");
        assert_eq!(Filters::parse("price_min=12.5").price_min, Some(1_250));
        assert_eq!(Filters::parse("price_min=12,05").query(), "price_min=12.05");
        assert_eq!(Filters::parse("price_min=-3&price_max=1.999").query(), "");
        assert_eq!(
            Filters::parse("vendor=ven_01JC00000000000000000000A1").query(),
            "vendor=ven_01JC00000000000000000000A1"
        );
        assert_eq!(Filters::parse("sort=cheapest&min_rating=9&cursor=a%20b").query(), "");
    }

    #[test]
    fn the_api_gets_minor_units_and_the_page_fixed_parameters_first() {
        let filters = Filters::parse("q=blue+mug&price_min=10&price_max=20&in_stock=1&cursor=abc_-1");
        assert_eq!(
            filters.api_query(&[("category", "tableware"), ("limit", "24")]),
            "category=tableware&limit=24&q=blue+mug&price_min=1000&price_max=2000&in_stock=true&cursor=abc_-1"
        );
        let local = Filters::parse("near=38.7223,-9.1393");
        assert_eq!(local.api_query(&[]), "near=38.7223%2C-9.1393&radius_km=25");
    }

    #[test]
    fn each_active_filter_links_to_the_listing_without_it_from_the_first_page() {
        let filters = Filters::parse("q=mug&price_min=5&price_max=30&in_stock=1&vendor=north-ceramics&cursor=xyz");
        let active = filters.active("/search", Some("North Ceramics"), None);
        let labels: Vec<&str> = active.iter().map(|filter| filter.label.as_str()).collect();
        assert_eq!(labels, ["Price 5–30", "In stock only", "Shop: North Ceramics"]);
        assert_eq!(active[0].remove_href, "/search?q=mug&vendor=north-ceramics&in_stock=1");
        assert_eq!(active[1].remove_href, "/search?q=mug&vendor=north-ceramics&price_min=5&price_max=30");
        assert!(active.iter().all(|filter| !filter.remove_href.contains("cursor")));
        assert_eq!(Filters::parse("sort=newest").active("/c/x", None, None), []);
        let in_category = Filters::parse("q=mug&category=tableware").active("/search", None, Some("Tableware"));
        assert_eq!(in_category[0].label, "Category: Tableware");
        assert_eq!(in_category[0].remove_href, "/search?q=mug");
    }

    #[test]
    fn the_next_page_keeps_the_filters_and_replaces_the_cursor() {
        let filters = Filters::parse("in_stock=1&cursor=old");
        assert_eq!(filters.next_page_href("/c/tableware", "new_1"), "/c/tableware?in_stock=1&cursor=new_1");
        assert_eq!(Filters::default().href("/c/tableware"), "/c/tableware");
    }

    #[test]
    fn a_price_facet_becomes_the_filter_that_selects_exactly_it() {
        let bucket = PriceBucket { min_minor: 1_000, max_minor: Some(1_500), count: 3 };
        let filters = price_bucket_filters(&Filters::parse("q=mug&cursor=abc"), &bucket);
        assert_eq!(filters.query(), "q=mug&price_min=10&price_max=14.99");
        let open = PriceBucket { min_minor: 7_500, max_minor: None, count: 1 };
        assert_eq!(price_bucket_filters(&Filters::default(), &open).query(), "price_min=75");
    }

    #[test]
    fn a_category_trail_runs_from_the_root_to_the_category() {
        use crate::catalog::{Category, CategoryName};
        let node = |n: u8, slug: &str, children: Vec<CategoryNode>| CategoryNode {
            category: Category {
                id: CategoryId::generate(1_700_000_000_000, [n; 10]),
                parent_id: None,
                slug: Slug::parse(slug).unwrap(),
                name: CategoryName::parse(slug).unwrap(),
                position: 0,
            },
            children,
        };
        let tree = vec![
            node(1, "home", vec![node(2, "tableware", vec![node(3, "mugs", vec![])])]),
            node(4, "fashion", vec![]),
        ];
        let trail: Vec<&str> =
            category_trail(&tree, "mugs").unwrap().iter().map(|node| node.category.slug.as_str()).collect();
        assert_eq!(trail, ["home", "tableware", "mugs"]);
        assert_eq!(category_trail(&tree, "fashion").unwrap().len(), 1);
        assert!(category_trail(&tree, "garden").is_none());
        let mugs = CategoryId::generate(1_700_000_000_000, [3; 10]);
        assert_eq!(find_category(&tree, &mugs).map(|node| node.category.slug.as_str()), Some("mugs"));
    }

    #[test]
    fn stock_reads_as_a_shopper_would_say_it() {
        assert_eq!(stock_wording(0), "Out of stock");
        assert_eq!(stock_wording(1), "Only 1 left");
        assert_eq!(stock_wording(LOW_STOCK), "Only 5 left");
        assert_eq!(stock_wording(LOW_STOCK + 1), "In stock");
    }

    #[test]
    fn product_addresses_name_the_product_and_its_shop() {
        let path = product_path(&slug("blue-mug"), &slug("north-ceramics"));
        assert_eq!(path, "/products/blue-mug--north-ceramics");
        let segment = path.trim_start_matches("/products/");
        assert_eq!(parse_product_slug(segment), Some((slug("blue-mug"), slug("north-ceramics"))));
        assert_eq!(parse_product_slug("blue-mug"), None);
        assert_eq!(parse_product_slug("Blue--x"), None);
        assert_eq!(parse_product_slug("--x"), None);
    }

    #[test]
    fn page_keys_ignore_order_unknown_and_blank_parameters() {
        let known = &LISTING_PARAMS;
        let a = page_key("/c/tableware", "in_stock=1&utm_source=mail&price_min=&sort=price_asc", known);
        let b = page_key("/c/tableware", "?sort=price_asc&in_stock=1", known);
        assert_eq!(a, b);
        assert_eq!(a, "/c/tableware?in_stock=1&sort=price_asc");
        assert_eq!(page_key("/", "x=1", &[]), "/");
        assert_eq!(page_key("/search", "q=blue%20mug", known), page_key("/search", "q=blue+mug", known));
    }
}
