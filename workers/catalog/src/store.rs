//! Every SQL statement the catalog Worker runs, against the `catalog` schema (migration 0005).
//! Postgres builds each item's JSON in the shape of `shared::catalog::model`, and it is parsed into
//! those validated types here, so a bad row is an error rather than a bad response. Public reads
//! carry `status = 'active' AND NOT moderation_hidden`, matching the partial indexes.

use serde::de::DeserializeOwned;
use shared::catalog::facets::{DEFAULT_PRICE_BUCKETS, PRICE_LADDER_MINOR, sort_facet_counts};
use shared::catalog::search::TYPO_WORD_SIMILARITY;
use shared::catalog::{
    Category, CategoryId, CategoryRef, FacetCount, ListQuery, Position, Product, ProductId, ProductSummary,
    SearchFacets, SearchQuery, Slug, Sort, SortKey, SuggestQuery, Suggestion, Vendor, VendorId, VendorRef,
    price_buckets_from_steps,
};
use shared::neon::{BatchOptions, NeonClient, NeonError, Param, Query, QueryResult, ToSql};
use worker_platform::fetch::FetchTransport;

use crate::config::Config;
use crate::image_store::image_json;
use crate::respond::Failure;
use crate::write_store::VENDOR_JSON;

const PUBLIC: &str = "p.status = 'active' AND NOT p.moderation_hidden";

/// `shared::catalog::VendorBrief` of the row aliased `p`: one indexed lookup per row, in the same
/// statement, so a page of cards needs no second request for their shops.
macro_rules! vendor_brief_json {
    () => {
        "(SELECT json_build_object('name', ven.name, 'slug', ven.slug, 'city', ven.city, 'location', \
            CASE WHEN ven.latitude IS NULL THEN NULL \
            ELSE json_build_object('lat', ven.latitude, 'lng', ven.longitude) END) \
          FROM catalog.vendors ven WHERE ven.id = p.vendor_id)"
    };
}

/// `shared::catalog::list_query::popularity_score` in SQL: rating count, then average hundredths.
macro_rules! popularity_sql {
    () => {
        "(p.rating_count::bigint * 1000 + coalesce((p.rating_avg * 100)::bigint, 0))"
    };
}
const POPULARITY: &str = popularity_sql!();

/// A list item as JSON, plus the sort values its cursor needs; `image` is the gallery's first.
const SUMMARY_COLUMNS: &str = concat!(
    "json_build_object( \
        'id', p.id, 'vendor_id', p.vendor_id, 'vendor', ",
    vendor_brief_json!(),
    ", 'title', p.title, 'slug', p.slug, 'category_id', p.category_id, \
        'price_from', CASE WHEN p.price_min_minor IS NULL THEN NULL \
            ELSE json_build_object('amount_minor', p.price_min_minor, 'currency', p.currency) END, \
        'rating', CASE WHEN p.rating_avg IS NULL THEN NULL \
            ELSE json_build_object('average', p.rating_avg, 'count', p.rating_count) END, \
        'in_stock', EXISTS (SELECT 1 FROM catalog.variants v JOIN catalog.variant_stock s ON s.variant_id = v.id \
            WHERE v.product_id = p.id AND s.available > 0), \
        'image', (SELECT ",
    image_json!(),
    " FROM catalog.product_images i WHERE i.product_id = p.id \
            ORDER BY i.position, i.id LIMIT 1), \
        'created_at', p.created_at) AS item, \
    p.id, p.price_min_minor, (extract(epoch FROM p.created_at) * 1000000)::bigint AS created_micros, ",
    popularity_sql!(),
    " AS popularity"
);

/// A product with its variants (each with `available`, 0 without a stock row), as
/// `shared::catalog::Product`, for the row aliased `p`. The public detail and the vendor's own view
/// both build on it, so they cannot drift apart.
pub(crate) const PRODUCT_JSON: &str = concat!(
    "json_build_object( \
        'id', p.id, 'vendor_id', p.vendor_id, 'vendor', ",
    vendor_brief_json!(),
    ", 'title', p.title, 'slug', p.slug, \
        'description', p.description, 'category_id', p.category_id, 'status', p.status, \
        'rating', CASE WHEN p.rating_avg IS NULL THEN NULL \
            ELSE json_build_object('average', p.rating_avg, 'count', p.rating_count) END, \
        'images', (SELECT coalesce(json_agg(",
    image_json!(),
    " ORDER BY i.position, i.id), '[]'::json) \
            FROM catalog.product_images i WHERE i.product_id = p.id), \
        'variants', (SELECT coalesce(json_agg(json_build_object( \
                'id', v.id, 'sku', v.sku, 'options', v.options, \
                'price', json_build_object('amount_minor', v.price_minor, 'currency', v.currency), \
                'compare_at', CASE WHEN v.compare_at_minor IS NULL THEN NULL \
                    ELSE json_build_object('amount_minor', v.compare_at_minor, 'currency', v.currency) END, \
                'weight_grams', v.weight_grams, 'available', coalesce(s.available, 0)) \
                ORDER BY v.position, v.id), '[]'::json) \
            FROM catalog.variants v LEFT JOIN catalog.variant_stock s ON s.variant_id = v.id \
            WHERE v.product_id = p.id), \
        'created_at', p.created_at, 'updated_at', p.updated_at)"
);

pub struct Store {
    neon: NeonClient<FetchTransport>,
}

/// A page of summaries and, when more follow, where this one ended.
type PageRows = (Vec<ProductSummary>, Option<Position>);

impl Store {
    pub fn new(config: &Config) -> Self {
        Self { neon: NeonClient::from_config(FetchTransport, config.neon.clone()) }
    }

    /// With `q`, only matching products, ranked as `search` ranks them (without facets).
    pub async fn list(&self, query: &ListQuery, after: Option<&Position>) -> Result<PageRows, Failure> {
        let mut sql = Sql::default();
        let Some(q) = &query.q else {
            let filters = sql.filters(query);
            let page = sql.page(query, &filters, None, after);
            let result = self.neon.execute(&sql.query(page)).await?;
            return page_rows(&result, query);
        };
        let (matches, rank) = sql.text_search(q);
        let filters = format!("{} AND {matches}", sql.filters(query));
        let page = sql.page(query, &filters, Some(&rank), after);
        let queries = [typo_threshold(), sql.query(page)];
        let results = self.neon.batch(&queries, BatchOptions { read_only: true, ..BatchOptions::default() }).await?;
        let [_, page] = results.as_slice() else {
            return Err(Failure::internal("the list batch answered the wrong number of results"));
        };
        page_rows(page, query)
    }

    /// Full text (every word, the last as a prefix) or, for typos, trigram word similarity at
    /// `TYPO_WORD_SIMILARITY`, set for this transaction only. The page and the facets are read in
    /// one read-only batch, so they describe the same snapshot.
    pub async fn search(
        &self,
        query: &ListQuery,
        after: Option<&Position>,
    ) -> Result<(Vec<ProductSummary>, Option<Position>, SearchFacets), Failure> {
        let Some(q) = &query.q else { return Err(Failure::internal("search without q")) };
        let mut sql = Sql::default();
        let (matches, rank) = sql.text_search(q);
        let filters = format!("{} AND {matches}", sql.filters(query));
        // Postgres refuses parameters a statement does not use: each facet gets only its prefix.
        let filter_params = sql.params.len();
        // The ladder is the price facet's own last parameter, so no other statement carries it.
        let ladder = format!("${}", filter_params + 1);
        let page = sql.page(query, &filters, Some(&rank), after);
        let categories = format!("SELECT p.category_id, count(*) FROM catalog.products p WHERE {filters} GROUP BY 1");
        let vendors = format!(
            "SELECT p.vendor_id, count(*), json_build_object('id', shop.id, 'name', shop.name, 'slug', shop.slug) \
             FROM catalog.products p JOIN catalog.vendors shop ON shop.id = p.vendor_id WHERE {filters} \
             GROUP BY 1, shop.id"
        );
        let prices = format!(
            "SELECT width_bucket(p.price_min_minor, {ladder}::bigint[]), count(*) FROM catalog.products p \
             WHERE {filters} AND p.price_min_minor IS NOT NULL GROUP BY 1"
        );
        let queries = [
            typo_threshold(),
            sql.query(page),
            sql.query_with(categories, filter_params),
            sql.query_with(vendors, filter_params),
            {
                let mut params: Vec<&dyn ToSql> =
                    sql.params.iter().take(filter_params).map(|param| param as &dyn ToSql).collect();
                params.push(&PRICE_LADDER_MINOR);
                Query::new(prices, &params)
            },
        ];
        let results = self.neon.batch(&queries, BatchOptions { read_only: true, ..BatchOptions::default() }).await?;
        let [_, page, categories, vendors, prices] = results.as_slice() else {
            return Err(Failure::internal("the search batch answered the wrong number of results"));
        };
        let (items, last) = page_rows(page, query)?;
        let facets = SearchFacets {
            categories: counts(categories, |id| CategoryId::parse(id).ok())?,
            vendors: counts(vendors, |id| VendorId::parse(id).ok())?,
            vendor_labels: vendors
                .iter()
                .map(|row| json_column(&row.get(2).map_err(NeonError::from)?))
                .collect::<Result<_, Failure>>()?,
            price: price_buckets_from_steps(
                prices
                    .iter()
                    .map(|row| {
                        let step: i64 = row.get(0)?;
                        let count: i64 = row.get(1)?;
                        Ok((usize::try_from(step).unwrap_or(usize::MAX), u64::try_from(count).unwrap_or(0)))
                    })
                    .collect::<Result<Vec<_>, shared::neon::RowError>>()
                    .map_err(NeonError::from)?,
                DEFAULT_PRICE_BUCKETS,
            ),
        };
        Ok((items, last, facets))
    }

    /// A public product with its images (in gallery order) and variants (each with `available`, 0
    /// without a stock row).
    pub async fn product(&self, id: &ProductId) -> Result<Option<Product>, Failure> {
        let sql = format!("SELECT {PRODUCT_JSON} FROM catalog.products p WHERE p.id = $1 AND {PUBLIC}");
        let result = self.neon.query(&sql, &[id]).await?;
        result.first().map(|row| json_column(&row.get(0).map_err(NeonError::from)?)).transpose()
    }

    /// A public product by its shop's slug and its own (unique per shop).
    pub async fn product_by_slug(&self, vendor: &Slug, product: &Slug) -> Result<Option<Product>, Failure> {
        let sql = format!(
            "SELECT {PRODUCT_JSON} FROM catalog.products p \
             WHERE p.vendor_id = (SELECT id FROM catalog.vendors WHERE slug = $1) AND p.slug = $2 AND {PUBLIC}"
        );
        let result = self.neon.query(&sql, &[vendor, product]).await?;
        result.first().map(|row| json_column(&row.get(0).map_err(NeonError::from)?)).transpose()
    }

    /// A shop by its slug (every shop is public; its products are filtered by `PUBLIC` as always).
    pub async fn vendor(&self, slug: &Slug) -> Result<Option<Vendor>, Failure> {
        let sql = format!("SELECT {VENDOR_JSON} FROM catalog.vendors WHERE slug = $1");
        let result = self.neon.query(&sql, &[slug]).await?;
        result.first().map(|row| json_column(&row.get(0).map_err(NeonError::from)?)).transpose()
    }

    pub async fn categories(&self) -> Result<Vec<Category>, Failure> {
        let sql = "SELECT json_build_object('id', id, 'parent_id', parent_id, 'slug', slug, 'name', name, \
                   'position', position) FROM catalog.categories";
        let result = self.neon.query(sql, &[]).await?;
        result.iter().map(|row| json_column(&row.get(0).map_err(NeonError::from)?)).collect()
    }

    /// Public titles whose words start with what is typed (title words only, weight A), titles
    /// that begin with it first.
    pub async fn suggest(&self, query: &SuggestQuery) -> Result<Vec<Suggestion>, Failure> {
        let Some(tsquery) = query.q.title_prefix_tsquery() else { return Ok(Vec::new()) };
        let sql = format!(
            "SELECT json_build_object('id', p.id, 'title', p.title, 'slug', p.slug, \
                 'vendor_slug', (SELECT ven.slug FROM catalog.vendors ven WHERE ven.id = p.vendor_id)) \
             FROM catalog.products p \
             WHERE {PUBLIC} AND p.search @@ to_tsquery('simple', $1) \
             ORDER BY starts_with(lower(p.title), $2) DESC, ts_rank_cd(p.search, to_tsquery('simple', $1)) DESC, \
                 p.title, p.id \
             LIMIT $3"
        );
        let result = self.neon.query(&sql, &[&tsquery, &query.q, &i64::from(query.limit)]).await?;
        result.iter().map(|row| json_column(&row.get(0).map_err(NeonError::from)?)).collect()
    }
}

/// A statement's text and its numbered parameters, built together so `$n` always matches.
#[derive(Default)]
pub(crate) struct Sql {
    pub(crate) params: Vec<Param>,
}

impl Sql {
    /// The placeholder for `value`.
    pub(crate) fn bind(&mut self, value: impl ToSql) -> String {
        self.params.push(value.to_param());
        format!("${}", self.params.len())
    }

    pub(crate) fn query(&self, sql: String) -> Query {
        self.query_with(sql, self.params.len())
    }

    /// A statement that uses only the first `count` parameters.
    fn query_with(&self, sql: String, count: usize) -> Query {
        let params: Vec<&dyn ToSql> = self.params.iter().take(count).map(|param| param as &dyn ToSql).collect();
        Query::new(sql, &params)
    }

    /// A text search's match condition and relevance expression: full text (every word, the last
    /// as a prefix) or trigram word similarity (typos, at the threshold `typo_threshold` sets).
    fn text_search(&mut self, q: &SearchQuery) -> (String, String) {
        let text = self.bind(q.as_str());
        let tsquery = self.bind(q.prefix_tsquery());
        let ts = format!("to_tsquery('simple', {tsquery})");
        let matches = format!("(p.search @@ {ts} OR {text} <% p.title)");
        // An exact title outranks everything; then cover density; then closeness of spelling.
        let rank = format!(
            "(CASE WHEN lower(p.title) = {text} THEN 10 ELSE 0 END \
              + coalesce(ts_rank_cd(p.search, {ts}), 0) + word_similarity({text}, p.title))::real"
        );
        (matches, rank)
    }

    /// The `WHERE` of a public list: every filter of the query except the search itself.
    fn filters(&mut self, query: &ListQuery) -> String {
        let mut clauses = vec![PUBLIC.to_owned()];
        if let Some(category) = &query.category {
            // The category and all its descendants, through the closure table.
            let ancestor = match category {
                CategoryRef::Id(id) => self.bind(id),
                CategoryRef::Slug(slug) => {
                    format!("(SELECT id FROM catalog.categories WHERE slug = {})", self.bind(slug))
                }
            };
            clauses.push(format!(
                "p.category_id IN (SELECT descendant_id FROM catalog.category_closure WHERE ancestor_id = {ancestor})"
            ));
        }
        match &query.vendor {
            Some(VendorRef::Id(id)) => clauses.push(format!("p.vendor_id = {}", self.bind(id))),
            Some(VendorRef::Slug(slug)) => {
                clauses.push(format!("p.vendor_id = (SELECT id FROM catalog.vendors WHERE slug = {})", self.bind(slug)))
            }
            None => {}
        }
        if let Some(min) = query.price.min_minor {
            clauses.push(format!("p.price_min_minor >= {}", self.bind(min)));
        }
        if let Some(max) = query.price.max_minor {
            clauses.push(format!("p.price_min_minor <= {}", self.bind(max)));
        }
        if query.in_stock {
            clauses.push(
                "EXISTS (SELECT 1 FROM catalog.variants v JOIN catalog.variant_stock s ON s.variant_id = v.id \
                 WHERE v.product_id = p.id AND s.available > 0)"
                    .to_owned(),
            );
        }
        if let Some(rating) = query.min_rating {
            clauses.push(format!("p.rating_avg >= {}::numeric", self.bind(i64::from(rating.stars()))));
        }
        if let Some(near) = &query.near {
            // The bounding box narrows by index; the haversine distance decides.
            let bounds = near.bounding_box();
            let (lat, lng) = (self.bind(near.center.lat()), self.bind(near.center.lng()));
            let lng_clause = if bounds.crosses_antimeridian() {
                format!(
                    "(ven.longitude >= {} OR ven.longitude <= {})",
                    self.bind(bounds.min_lng),
                    self.bind(bounds.max_lng)
                )
            } else {
                format!("ven.longitude BETWEEN {} AND {}", self.bind(bounds.min_lng), self.bind(bounds.max_lng))
            };
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM catalog.vendors ven WHERE ven.id = p.vendor_id \
                 AND ven.latitude BETWEEN {} AND {} AND {lng_clause} AND {} <= {})",
                self.bind(bounds.min_lat),
                self.bind(bounds.max_lat),
                haversine_km(&lat, &lng),
                self.bind(near.radius_km),
            ));
        }
        clauses.join(" AND ")
    }

    /// One page (`limit + 1` rows, the extra one saying whether another page follows) in the
    /// query's sort, strictly after `after`. Price sorts skip products without a variant (no price
    /// to order by). `rank` is the relevance expression of a search.
    fn page(&mut self, query: &ListQuery, filters: &str, rank: Option<&str>, after: Option<&Position>) -> String {
        let rank_expr = rank.unwrap_or("0::real");
        let mut clauses = vec![filters.to_owned()];
        if matches!(query.sort, Sort::PriceAsc | Sort::PriceDesc) {
            clauses.push("p.price_min_minor IS NOT NULL".to_owned());
        }
        // The shop's distance from `near` in whole metres (`SortKey::Nearest`); 0 without a point,
        // where `Sort::Nearest` never applies.
        let distance = match &query.near {
            Some(near) => {
                let (lat, lng) = (self.bind(near.center.lat()), self.bind(near.center.lng()));
                format!(
                    "(SELECT round(1000 * {})::bigint FROM catalog.vendors ven WHERE ven.id = p.vendor_id)",
                    haversine_km(&lat, &lng)
                )
            }
            None => "0::bigint".to_owned(),
        };
        let order = match query.sort {
            Sort::Nearest => "distance_m ASC, p.id ASC",
            Sort::Relevance => "rank DESC, p.id ASC",
            Sort::PriceAsc => "p.price_min_minor ASC, p.id ASC",
            Sort::PriceDesc => "p.price_min_minor DESC, p.id DESC",
            Sort::Newest => "p.created_at DESC, p.id DESC",
            Sort::Popular => "popularity DESC, p.id DESC",
        };
        if let Some(after) = after {
            let id = self.bind(&after.id);
            let keyset = match after.key {
                SortKey::Relevance(value) => {
                    let value = self.bind(value);
                    format!("({rank_expr} < {value}::real OR ({rank_expr} = {value}::real AND p.id > {id}))")
                }
                SortKey::PriceAsc(value) => format!("(p.price_min_minor, p.id) > ({}::bigint, {id})", self.bind(value)),
                SortKey::PriceDesc(value) => {
                    format!("(p.price_min_minor, p.id) < ({}::bigint, {id})", self.bind(value))
                }
                SortKey::Newest(_) => {
                    let at = after.created_at().unwrap_or_default();
                    format!("(p.created_at, p.id) < ({}::timestamptz, {id})", self.bind(at))
                }
                SortKey::Popular(value) => format!("({POPULARITY}, p.id) < ({}::bigint, {id})", self.bind(value)),
                SortKey::Nearest(value) => format!("({distance}, p.id) > ({}::bigint, {id})", self.bind(value)),
            };
            clauses.push(keyset);
        }
        let limit = self.bind(i64::from(query.limit) + 1);
        format!(
            "SELECT {SUMMARY_COLUMNS}, {rank_expr} AS rank, {distance} AS distance_m FROM catalog.products p \
             WHERE {} ORDER BY {order} LIMIT {limit}",
            clauses.join(" AND ")
        )
    }
}

/// The great-circle distance in km from the point bound at `lat`, `lng` to the shop aliased `ven`
/// (haversine, mean Earth radius; `shared::catalog::geo` computes the same).
fn haversine_km(lat: &str, lng: &str) -> String {
    format!(
        "(2 * 6371.0088 * asin(sqrt(power(sin(radians(ven.latitude - {lat}::float8) / 2), 2) \
         + cos(radians({lat}::float8)) * cos(radians(ven.latitude)) \
         * power(sin(radians(ven.longitude - {lng}::float8) / 2), 2))))"
    )
}

/// Sets `TYPO_WORD_SIMILARITY` for the rest of a batch's transaction (before a text search).
fn typo_threshold() -> Query {
    Query::new("SELECT set_config('pg_trgm.word_similarity_threshold', $1, true)", &[&TYPO_WORD_SIMILARITY.to_string()])
}

/// The items of a page and, if a row beyond the limit came back, the last item's position.
fn page_rows(result: &QueryResult, query: &ListQuery) -> Result<PageRows, Failure> {
    let limit = usize::from(query.limit);
    let mut items = Vec::with_capacity(limit);
    let mut last = None;
    for row in result.iter().take(limit) {
        let item: ProductSummary = json_column(&row.get("item").map_err(NeonError::from)?)?;
        let key = match query.sort {
            Sort::Relevance => SortKey::Relevance(row.get::<f32>("rank").map_err(NeonError::from)?),
            Sort::PriceAsc => SortKey::PriceAsc(row.get::<i64>("price_min_minor").map_err(NeonError::from)?),
            Sort::PriceDesc => SortKey::PriceDesc(row.get::<i64>("price_min_minor").map_err(NeonError::from)?),
            Sort::Newest => SortKey::Newest(row.get::<i64>("created_micros").map_err(NeonError::from)?),
            Sort::Popular => SortKey::Popular(row.get::<i64>("popularity").map_err(NeonError::from)?),
            Sort::Nearest => SortKey::Nearest(row.get::<i64>("distance_m").map_err(NeonError::from)?),
        };
        last = Some(Position { key, id: item.id.clone() });
        items.push(item);
    }
    let more = result.len() > limit;
    Ok((items, if more { last } else { None }))
}

fn counts<T: Ord>(result: &QueryResult, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<FacetCount<T>>, Failure> {
    let mut counts = Vec::with_capacity(result.len());
    for row in result.iter() {
        let value: String = row.get(0).map_err(NeonError::from)?;
        let count: i64 = row.get(1).map_err(NeonError::from)?;
        let value = parse(&value).ok_or_else(|| Failure::internal(format!("bad facet value {value}")))?;
        counts.push(FacetCount { value, count: u64::try_from(count).unwrap_or(0) });
    }
    sort_facet_counts(&mut counts);
    Ok(counts)
}

/// A JSON column as one of the model's types; a row that breaks the model is a bug, not a 4xx.
pub(crate) fn json_column<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, Failure> {
    T::deserialize(value).map_err(|error| Failure::internal(format!("a catalog row breaks the model: {error}")))
}
