//! Every SQL statement of the vendor and platform-admin API. Each write is one Neon batch (one
//! transaction) that first locks the product row it changes, so the checks made by later
//! statements (status moves, the last variant of an active product) see every concurrent write
//! that committed before them. Every vendor statement filters by the token's vendor id: another
//! vendor's product matches no row, exactly like an unknown one.

use shared::catalog::write::{allowed_sources, constraint_error, refused_transition};
use shared::catalog::{AdminVendorQuery, VariantOptions};
use shared::catalog::{
    Moderation, NewProduct, NewVariant, NewVendor, Position, ProductId, ProductPatch, ProductStatus, SortKey,
    VariantId, VariantPatch, Vendor, VendorId, VendorListQuery, VendorProduct,
};
use shared::idempotency::IdempotencyKey;
use shared::neon::{BatchOptions, NeonClient, NeonError, Query, QueryResult};
use worker_platform::fetch::FetchTransport;

use crate::config::Config;
use crate::respond::Failure;
use crate::store::{PRODUCT_JSON, Sql, json_column};

/// `shared::catalog::VendorProduct` for the row `p`: the public shape plus the moderation.
fn vendor_product_json() -> String {
    format!(
        "(({PRODUCT_JSON})::jsonb || jsonb_build_object('moderation', \
            jsonb_build_object('hidden', p.moderation_hidden, 'reason', p.moderation_reason)))"
    )
}

/// The vendor's view of one product, as JSON text; no row when it is not this vendor's.
fn select_vendor_product(product: &ProductId, vendor: &VendorId) -> Query {
    Query::new(
        format!(
            "SELECT ({})::text FROM catalog.products p WHERE p.id = $1 AND p.vendor_id = $2",
            vendor_product_json()
        ),
        &[product, vendor],
    )
}

/// Locks the vendor's product for the rest of the batch; no row when it is not this vendor's.
/// Serialises every write to one product's rows (status, variants, gallery) for its transaction.
pub(crate) fn lock_product(product: &ProductId, vendor: &VendorId) -> Query {
    Query::new(
        "SELECT p.status, (SELECT count(*) FROM catalog.variants v WHERE v.product_id = p.id) \
         FROM catalog.products p WHERE p.id = $1 AND p.vendor_id = $2 FOR UPDATE",
        &[product, vendor],
    )
}

/// One row when the vendor's product has that variant.
fn select_variant(product: &ProductId, vendor: &VendorId, variant: &VariantId) -> Query {
    Query::new(
        "SELECT 1 FROM catalog.variants WHERE id = $3 AND product_id = $1 AND vendor_id = $2",
        &[product, vendor, variant],
    )
}

fn touch_product(product: &ProductId, vendor: &VendorId) -> Query {
    Query::new("UPDATE catalog.products SET updated_at = now() WHERE id = $1 AND vendor_id = $2", &[product, vendor])
}

/// Lower-cased option names, sorted: what every variant of one product must share.
fn option_names(options: &VariantOptions) -> Vec<String> {
    let mut names: Vec<String> = options.iter().map(|(name, _)| name.as_str().to_lowercase()).collect();
    names.sort();
    names
}

/// `true` when no other variant of the product `p` has other option names than `$names`.
fn same_option_names(names: &str, except: Option<&str>) -> String {
    let except = except.map(|id| format!(" AND other.id <> {id}")).unwrap_or_default();
    format!(
        "NOT EXISTS (SELECT 1 FROM catalog.variants other WHERE other.product_id = p.id{except} \
         AND coalesce((SELECT array_agg(lower(k) ORDER BY lower(k)) FROM jsonb_object_keys(other.options) k), '{{}}') \
             IS DISTINCT FROM {names}::text[])"
    )
}

/// A create's outcome: the product was written, or the key was taken meanwhile.
pub enum Created {
    Product,
    /// A concurrent request with the same `Idempotency-Key` committed first: replay it.
    KeyTaken,
}

/// What a stored idempotency key says about a new request with the same key.
pub enum Replay {
    /// The same body: answer what was answered.
    Same(String),
    /// Another body under the same key.
    Different,
}

pub struct WriteStore {
    neon: NeonClient<FetchTransport>,
}

impl WriteStore {
    pub fn new(config: &Config) -> Self {
        Self { neon: NeonClient::from_config(FetchTransport, config.neon.clone()) }
    }

    /// The vendor's products in every status (or one), newest first, one keyset page.
    pub async fn vendor_products(
        &self,
        vendor: &VendorId,
        query: &VendorListQuery,
        after: Option<&Position>,
    ) -> Result<(Vec<VendorProduct>, Option<Position>), Failure> {
        let mut sql = Sql::default();
        let mut clauses = vec![format!("p.vendor_id = {}", sql.bind(vendor))];
        if let Some(status) = query.status {
            clauses.push(format!("p.status = {}", sql.bind(status)));
        }
        if let Some(after) = after {
            let at = after.created_at().unwrap_or_default();
            clauses.push(format!("(p.created_at, p.id) < ({}::timestamptz, {})", sql.bind(at), sql.bind(&after.id)));
        }
        let limit = sql.bind(i64::from(query.limit) + 1);
        let statement = format!(
            "SELECT {} AS item, (extract(epoch FROM p.created_at) * 1000000)::bigint AS created_micros \
             FROM catalog.products p WHERE {} ORDER BY p.created_at DESC, p.id DESC LIMIT {limit}",
            vendor_product_json(),
            clauses.join(" AND ")
        );
        let result = self.neon.execute(&sql.query(statement)).await?;
        let limit = usize::from(query.limit);
        let mut items = Vec::with_capacity(limit);
        let mut last = None;
        for row in result.iter().take(limit) {
            let item: VendorProduct = json_column(&row.get("item").map_err(NeonError::from)?)?;
            let micros: i64 = row.get("created_micros").map_err(NeonError::from)?;
            last = Some(Position { key: SortKey::Newest(micros), id: item.product.id.clone() });
            items.push(item);
        }
        Ok((items, if result.len() > limit { last } else { None }))
    }

    /// The vendor's view of its product, as JSON text (checked against the model).
    pub async fn vendor_product(&self, product: &ProductId, vendor: &VendorId) -> Result<Option<String>, Failure> {
        let result = self.neon.execute(&select_vendor_product(product, vendor)).await?;
        first_vendor_product(&result)
    }

    /// What an earlier request with this key stored, if any.
    pub async fn replay(
        &self,
        vendor: &VendorId,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Option<Replay>, Failure> {
        let result = self
            .neon
            .query(
                "SELECT request_hash, response_body FROM catalog.idempotency_keys WHERE vendor_id = $1 AND key = $2",
                &[vendor, key],
            )
            .await?;
        let Some(row) = result.first() else { return Ok(None) };
        let hash: String = row.get(0).map_err(NeonError::from)?;
        let body: String = row.get(1).map_err(NeonError::from)?;
        Ok(Some(if hash == fingerprint { Replay::Same(body) } else { Replay::Different }))
    }

    /// The product, its variants and the idempotency key if one came, in one transaction (their
    /// stock is inventory's: `crate::inventory`); the key row goes first so a concurrent retry waits on it and then fails on
    /// `idempotency_keys_pkey` (the caller replays) instead of creating a second product.
    pub async fn create_product(
        &self,
        vendor: &VendorId,
        id: &ProductId,
        product: &NewProduct,
        variant_ids: &[VariantId],
        idempotency: Option<(&IdempotencyKey, &str)>,
    ) -> Result<Created, Failure> {
        let mut queries = Vec::new();
        if let Some((key, fingerprint)) = idempotency {
            queries.push(Query::new(
                "INSERT INTO catalog.idempotency_keys \
                 (vendor_id, key, request_hash, product_id, response_status, response_body) \
                 VALUES ($1, $2, $3, $4, 201, '')",
                &[vendor, key, &fingerprint, id],
            ));
        }
        let alternative = product.slug.alternative(id);
        queries.push(Query::new(
            "INSERT INTO catalog.products (id, vendor_id, category_id, title, slug, description, status, currency) \
             VALUES ($1, $2, $3, $4, \
                 CASE WHEN $6::text IS NOT NULL \
                     AND EXISTS (SELECT 1 FROM catalog.products WHERE vendor_id = $2 AND slug = $5) \
                 THEN $6 ELSE $5 END, \
                 $7, $8, $9)",
            &[
                id,
                vendor,
                &product.category_id,
                &product.title,
                product.slug.preferred(),
                &alternative,
                &product.description,
                &product.status,
                &product.currency,
            ],
        ));
        let mut variants = Sql::default();
        let mut variant_rows = Vec::new();
        for (position, (variant, variant_id)) in product.variants.iter().zip(variant_ids).enumerate() {
            variant_rows.push(variant_values(&mut variants, variant_id, id, vendor, variant, position));
        }
        queries.push(variants.query(format!(
            "INSERT INTO catalog.variants \
             (id, product_id, vendor_id, sku, options, price_minor, compare_at_minor, currency, weight_grams, position) \
             VALUES {}",
            variant_rows.join(", ")
        )));
        queries.push(match idempotency {
            Some((key, _)) => Query::new(
                format!(
                    "UPDATE catalog.idempotency_keys SET response_body = \
                         (SELECT ({})::text FROM catalog.products p WHERE p.id = $3) \
                     WHERE vendor_id = $1 AND key = $2 RETURNING response_body",
                    vendor_product_json()
                ),
                &[vendor, key, id],
            ),
            None => select_vendor_product(id, vendor),
        });
        let results = match self.neon.batch(&queries, BatchOptions::default()).await {
            Err(error) if error.constraint() == Some("idempotency_keys_pkey") => return Ok(Created::KeyTaken),
            other => other.map_err(constraint_failure)?,
        };
        let body = results.last().map(first_vendor_product).transpose()?.flatten();
        body.map(|_| Created::Product).ok_or_else(|| Failure::internal("a created product could not be read back"))
    }

    /// A partial update. A status change is checked against the status rules in the `UPDATE`
    /// itself (`allowed_sources`), on the locked row, so two concurrent changes cannot both pass.
    pub async fn patch_product(
        &self,
        product: &ProductId,
        vendor: &VendorId,
        patch: &ProductPatch,
    ) -> Result<Option<String>, Failure> {
        let sources: Vec<ProductStatus> = patch.status.map(allowed_sources).unwrap_or_default();
        let update = Query::new(
            "UPDATE catalog.products p SET title = coalesce($3, p.title), description = coalesce($4, p.description), \
                 category_id = coalesce($5, p.category_id), slug = coalesce($6, p.slug), \
                 status = coalesce($7, p.status), updated_at = now() \
             WHERE p.id = $1 AND p.vendor_id = $2 AND ($7::text IS NULL OR (p.status = ANY($8::text[]) \
                 AND ($7 <> 'active' OR EXISTS (SELECT 1 FROM catalog.variants v WHERE v.product_id = p.id)))) \
             RETURNING p.id",
            &[
                product,
                vendor,
                &patch.title,
                &patch.description,
                &patch.category_id,
                &patch.slug,
                &patch.status,
                &sources,
            ],
        );
        let results =
            self.batch(&[lock_product(product, vendor), update, select_vendor_product(product, vendor)]).await?;
        let [locked, updated, body] = results.as_slice() else {
            return Err(Failure::internal("the patch batch answered the wrong number of results"));
        };
        let Some(row) = locked.first() else { return Ok(None) };
        if updated.is_empty()
            && let Some(to) = patch.status
        {
            let from: String = row.get(0).map_err(NeonError::from)?;
            let from = ProductStatus::parse(&from).map_err(Failure::internal)?;
            let count: i64 = row.get(1).map_err(NeonError::from)?;
            return Err(refused_transition(from, to, usize::try_from(count).unwrap_or(0)).into());
        }
        first_vendor_product(body)
    }

    /// Adds a variant after the product's others. `None`: not this vendor's product.
    pub async fn add_variant(
        &self,
        product: &ProductId,
        vendor: &VendorId,
        id: &VariantId,
        variant: &NewVariant,
    ) -> Result<Option<String>, Failure> {
        let names = option_names(&variant.options);
        let insert = Query::new(
            format!(
                "INSERT INTO catalog.variants \
                 (id, product_id, vendor_id, sku, options, price_minor, compare_at_minor, currency, weight_grams, position) \
                 SELECT $3, p.id, p.vendor_id, $4, $5::jsonb, $6::bigint, $7::bigint, $8, $9::integer, \
                     coalesce((SELECT max(v.position) + 1 FROM catalog.variants v WHERE v.product_id = p.id), 0) \
                 FROM catalog.products p WHERE p.id = $1 AND p.vendor_id = $2 AND {} \
                 RETURNING id",
                same_option_names("$10", None)
            ),
            &[
                product,
                vendor,
                id,
                &variant.sku,
                &variant.options,
                &variant.pricing.price.amount_minor,
                &variant.pricing.compare_at.map(|was| was.amount_minor),
                &variant.pricing.price.currency,
                &i64::from(variant.weight_grams),
                &names,
            ],
        );
        let results = self
            .batch(&[
                lock_product(product, vendor),
                insert,
                touch_product(product, vendor),
                select_vendor_product(product, vendor),
            ])
            .await?;
        let [locked, inserted, _, body] = results.as_slice() else {
            return Err(Failure::internal("the variant batch answered the wrong number of results"));
        };
        if locked.is_empty() {
            return Ok(None);
        }
        if inserted.is_empty() {
            return Err(shared::catalog::FieldErrors::single("options", "options_mismatch").into());
        }
        first_vendor_product(body)
    }

    /// A partial update of one variant (its stock is inventory's). `None`: no such variant of this vendor's product.
    pub async fn patch_variant(
        &self,
        product: &ProductId,
        vendor: &VendorId,
        variant: &VariantId,
        patch: &VariantPatch,
    ) -> Result<Option<String>, Failure> {
        let mut sql = Sql::default();
        let (product_param, vendor_param, variant_param) = (sql.bind(product), sql.bind(vendor), sql.bind(variant));
        let mut sets = Vec::new();
        if let Some(sku) = &patch.sku {
            sets.push(format!("sku = {}", sql.bind(sku)));
        }
        if let Some(options) = &patch.options {
            sets.push(format!("options = {}::jsonb", sql.bind(options)));
        }
        if let Some(price) = patch.price {
            sets.push(format!("price_minor = {}::bigint", sql.bind(price.amount_minor)));
            sets.push(format!("currency = {}", sql.bind(price.currency)));
        }
        if let Some(compare_at) = patch.compare_at {
            sets.push(format!("compare_at_minor = {}::bigint", sql.bind(compare_at.map(|was| was.amount_minor))));
        }
        if let Some(grams) = patch.weight_grams {
            sets.push(format!("weight_grams = {}::integer", sql.bind(i64::from(grams))));
        }
        // A stock-only patch still matches the row, so "no such variant" stays distinguishable.
        if sets.is_empty() {
            sets.push("sku = v.sku".to_owned());
        }
        let option_check = match &patch.options {
            Some(options) => {
                let names = sql.bind(option_names(options));
                format!(" AND {}", same_option_names(&names, Some(&variant_param)))
            }
            None => String::new(),
        };
        let update = sql.query(format!(
            "UPDATE catalog.variants v SET {} FROM catalog.products p \
             WHERE v.id = {variant_param} AND v.product_id = {product_param} AND v.vendor_id = {vendor_param} \
                 AND p.id = v.product_id{option_check} \
             RETURNING v.id",
            sets.join(", ")
        ));
        let results = self
            .batch(&[
                lock_product(product, vendor),
                update,
                select_variant(product, vendor, variant),
                touch_product(product, vendor),
                select_vendor_product(product, vendor),
            ])
            .await?;
        let [locked, updated, exists, _, body] = results.as_slice() else {
            return Err(Failure::internal("the variant batch answered the wrong number of results"));
        };
        if locked.is_empty() || exists.is_empty() {
            return Ok(None);
        }
        if updated.is_empty() {
            // The variant exists, so its new option names differ from its siblings'.
            return Err(shared::catalog::FieldErrors::single("options", "options_mismatch").into());
        }
        first_vendor_product(body)
    }

    /// Stores what a keyed create answers once its stock is in (the key row was written with it).
    pub async fn store_response(&self, vendor: &VendorId, key: &IdempotencyKey, body: &str) -> Result<(), Failure> {
        self.neon
            .query(
                "UPDATE catalog.idempotency_keys SET response_body = $3 WHERE vendor_id = $1 AND key = $2",
                &[vendor, key, &body],
            )
            .await?;
        Ok(())
    }

    /// Removes a variant (and the catalog's stock rows of it); an active product keeps at least one.
    pub async fn delete_variant(
        &self,
        product: &ProductId,
        vendor: &VendorId,
        variant: &VariantId,
    ) -> Result<Option<String>, Failure> {
        let delete = Query::new(
            "DELETE FROM catalog.variants v WHERE v.id = $3 AND v.product_id = $1 AND v.vendor_id = $2 \
             AND (EXISTS (SELECT 1 FROM catalog.products p WHERE p.id = $1 AND p.status <> 'active') \
                  OR (SELECT count(*) FROM catalog.variants o WHERE o.product_id = $1) > 1) \
             RETURNING v.id",
            &[product, vendor, variant],
        );
        let results = self
            .batch(&[
                lock_product(product, vendor),
                delete,
                select_variant(product, vendor, variant),
                touch_product(product, vendor),
                select_vendor_product(product, vendor),
            ])
            .await?;
        let [locked, deleted, remaining, _, body] = results.as_slice() else {
            return Err(Failure::internal("the variant batch answered the wrong number of results"));
        };
        if locked.is_empty() || (deleted.is_empty() && remaining.is_empty()) {
            return Ok(None);
        }
        if deleted.is_empty() {
            return Err(Failure::from(
                shared::api::ApiError::new(
                    shared::api::ErrorCode::Conflict,
                    "an active product keeps at least one variant: archive or unpublish it first",
                )
                .with_details(serde_json::json!({ "fields": { "variant_id": "last_variant_of_active_product" } })),
            ));
        }
        first_vendor_product(body)
    }

    /// A platform admin's decision; `None` when there is no such product.
    pub async fn moderate(&self, product: &ProductId, moderation: &Moderation) -> Result<Option<VendorId>, Failure> {
        let reason = moderation.reason.as_deref();
        let result = self
            .neon
            .query(
                "UPDATE catalog.products SET moderation_hidden = $2, moderation_reason = $3, updated_at = now() \
                 WHERE id = $1 RETURNING vendor_id",
                &[product, &moderation.hidden, &reason],
            )
            .await?;
        result
            .first()
            .map(|row| {
                let vendor: String = row.get(0).map_err(NeonError::from)?;
                VendorId::parse(&vendor).map_err(Failure::internal)
            })
            .transpose()
    }

    pub async fn create_vendor(&self, id: &VendorId, vendor: &NewVendor) -> Result<Vendor, Failure> {
        let (lat, lng) = (vendor.location.map(|point| point.lat()), vendor.location.map(|point| point.lng()));
        let result = self
            .neon
            .query(
                &format!(
                    "INSERT INTO catalog.vendors (id, name, slug, city, latitude, longitude) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {VENDOR_JSON}"
                ),
                &[id, &vendor.name, &vendor.slug, &vendor.city, &lat, &lng],
            )
            .await
            .map_err(constraint_failure)?;
        let row = result.one().map_err(NeonError::from)?;
        json_column(&row.get(0).map_err(NeonError::from)?)
    }

    /// Every vendor by id, one page; the last id when more follow.
    pub async fn vendors(&self, query: &AdminVendorQuery) -> Result<(Vec<Vendor>, Option<VendorId>), Failure> {
        let result = self
            .neon
            .query(
                &format!(
                    "SELECT {VENDOR_JSON} FROM catalog.vendors WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2"
                ),
                &[&query.after, &(i64::from(query.limit) + 1)],
            )
            .await?;
        let limit = usize::from(query.limit);
        let vendors = result
            .iter()
            .take(limit)
            .map(|row| json_column::<Vendor>(&row.get(0).map_err(NeonError::from)?))
            .collect::<Result<Vec<_>, _>>()?;
        let next = if result.len() > limit { vendors.last().map(|vendor| vendor.id.clone()) } else { None };
        Ok((vendors, next))
    }

    async fn batch(&self, queries: &[Query]) -> Result<Vec<QueryResult>, Failure> {
        self.neon.batch(queries, BatchOptions::default()).await.map_err(constraint_failure)
    }
}

/// `shared::catalog::Vendor` for a `catalog.vendors` row.
pub(crate) const VENDOR_JSON: &str = "json_build_object('id', id, 'name', name, 'slug', slug, 'city', city, 'location', \
    CASE WHEN latitude IS NULL THEN NULL ELSE json_build_object('lat', latitude, 'lng', longitude) END)";

fn variant_values(
    sql: &mut Sql,
    id: &VariantId,
    product: &ProductId,
    vendor: &VendorId,
    variant: &NewVariant,
    position: usize,
) -> String {
    let values = [
        sql.bind(id),
        sql.bind(product),
        sql.bind(vendor),
        sql.bind(&variant.sku),
        format!("{}::jsonb", sql.bind(&variant.options)),
        format!("{}::bigint", sql.bind(variant.pricing.price.amount_minor)),
        format!("{}::bigint", sql.bind(variant.pricing.compare_at.map(|was| was.amount_minor))),
        sql.bind(variant.pricing.price.currency),
        format!("{}::integer", sql.bind(i64::from(variant.weight_grams))),
        format!("{}::smallint", sql.bind(i64::try_from(position).unwrap_or(i64::MAX))),
    ];
    format!("({})", values.join(", "))
}

/// The first row's JSON text, checked against `VendorProduct` so a bad row is an error, not a reply.
fn first_vendor_product(result: &QueryResult) -> Result<Option<String>, Failure> {
    let Some(row) = result.first() else { return Ok(None) };
    let text: Option<String> = row.get(0).map_err(NeonError::from)?;
    let Some(text) = text else { return Ok(None) };
    serde_json::from_str::<VendorProduct>(&text)
        .map_err(|error| Failure::internal(format!("a vendor product breaks the model: {error}")))?;
    Ok(Some(text))
}

/// A violated constraint the caller can act on is a 4xx (`constraint_error`); anything else is ours.
pub fn constraint_failure(error: NeonError) -> Failure {
    match error.constraint().and_then(constraint_error) {
        Some(api) => Failure::from(api),
        None => Failure::from(error),
    }
}
