//! Every write of the catalog: the vendor API (products and variants of the token's vendor) and
//! the platform-admin API (vendors, moderation). Each ends in `handle`, which knows which products
//! a successful write changed.

use serde::de::DeserializeOwned;
use shared::api::{ApiError, ErrorCode};
use shared::catalog::write::MAX_BODY_BYTES;
use shared::catalog::{
    CreateProductInput, ModerationInput, NewProduct, NewVendorInput, ProductId, ProductPatch, ProductPatchInput,
    VariantId, VariantInput, VariantPatchInput, VendorId, VendorProduct,
};
use shared::idempotency::{IdempotencyKey, idempotency_key_reused, request_fingerprint};
use shared::inventory::{InitialStock, StockLevel};
use worker::Request;
use worker_platform::request::{idempotency_key, json, read_body};
use worker_platform::{clock, random};

use crate::config::Config;
use crate::respond::{Failure, Outcome, Reply};
use crate::write_store::{Created, Replay, WriteStore};
use crate::{cache, caller, inventory, stock};

pub enum Write<'a> {
    CreateProduct,
    PatchProduct(&'a str),
    ArchiveProduct(&'a str),
    AddVariant(&'a str),
    PatchVariant(&'a str, &'a str),
    DeleteVariant(&'a str, &'a str),
    CreateVendor,
    Moderate(&'a str),
}

/// What a write answered, and the products whose public views it may have changed.
struct Written {
    reply: Reply,
    products: Vec<ProductId>,
}

impl Written {
    fn of(reply: Reply, product: ProductId) -> Self {
        Self { reply, products: vec![product] }
    }
}

pub async fn handle(write: Write<'_>, request: &mut Request, config: &Config) -> Outcome {
    let store = WriteStore::new(config);
    let written = match write {
        Write::CreateProduct => create_product(request, &store, config).await?,
        Write::PatchProduct(id) => {
            // The caller before the body, as on every write: who may not write learns nothing from validation.
            let (vendor, id) = (caller::acting_vendor(request)?, product_id(id)?);
            let patch = body::<ProductPatchInput>(request).await?.validate()?;
            patch_product(&vendor, &store, id, patch).await?
        }
        Write::ArchiveProduct(id) => {
            let (vendor, id) = (caller::acting_vendor(request)?, product_id(id)?);
            patch_product(&vendor, &store, id, ProductPatch::archive()).await?
        }
        Write::AddVariant(id) => add_variant(request, &store, config, id).await?,
        Write::PatchVariant(id, variant) => patch_variant(request, &store, config, id, variant).await?,
        Write::DeleteVariant(id, variant) => delete_variant(request, &store, id, variant).await?,
        Write::CreateVendor => create_vendor(request, &store).await?,
        Write::Moderate(id) => moderate(request, &store, id).await?,
    };
    // Every successful write passes here, so no cached view outlives a change.
    cache::products_changed(config, &written.products).await;
    Ok(written.reply)
}

/// `POST /api/v1/vendor/products`, honouring `Idempotency-Key`: the same key and body answer the
/// stored response; the same key with another body is `VAL_3002` naming the header. The variants'
/// stock is inventory's, set once the product is committed (a replay sets what a failed first try
/// could not, and never overwrites a count made since).
async fn create_product(request: &mut Request, store: &WriteStore, config: &Config) -> Result<Written, Failure> {
    let vendor = caller::acting_vendor(request)?;
    let key = idempotency_key(request)?;
    let json: serde_json::Value = body(request).await?;
    let fingerprint = request_fingerprint(&json);
    if let Some(key) = &key
        && let Some(replay) = store.replay(&vendor, key, &fingerprint).await?
    {
        return replayed(replay, store, config, &vendor, key, json).await;
    }
    let product = parse::<CreateProductInput>(json.clone())?.validate()?;
    let id = ProductId::generate(clock::now_ms(), entropy()?);
    let variant_ids: Vec<VariantId> = product
        .variants
        .iter()
        .map(|_| Ok(VariantId::generate(clock::now_ms(), entropy()?)))
        .collect::<Result<_, Failure>>()?;
    let idempotency = key.as_ref().map(|key| (key, fingerprint.as_str()));
    match store.create_product(&vendor, &id, &product, &variant_ids, idempotency).await? {
        Created::Product => {
            let items = variant_ids
                .iter()
                .zip(&product.variants)
                .map(|(variant_id, variant)| InitialStock { variant_id: variant_id.clone(), on_hand: variant.stock })
                .collect();
            let body = with_stock(config, store, &vendor, &id, items, key.as_ref()).await?;
            Ok(Written::of(Reply::encoded(body).created(), id))
        }
        Created::KeyTaken => {
            let stored = match &key {
                Some(key) => store.replay(&vendor, key, &fingerprint).await?.map(|replay| (key, replay)),
                None => None,
            };
            match stored {
                Some((key, replay)) => replayed(replay, store, config, &vendor, key, json).await,
                None => Err(Failure::internal("an idempotency key clashed but cannot be read")),
            }
        }
    }
}

/// A replay answers the product the key created, with its stock: the first attempt may have
/// failed to reach inventory after committing the product, so its first counts are sent again
/// (inventory keeps any count made since). Those may reach the catalog's stock only now, changing
/// what shoppers see of an active product, so the replay names it for the cache like a write.
async fn replayed(
    replay: Replay,
    store: &WriteStore,
    config: &Config,
    vendor: &VendorId,
    key: &IdempotencyKey,
    json: serde_json::Value,
) -> Result<Written, Failure> {
    let stored = match replay {
        Replay::Same(body) => body,
        Replay::Different => return Err(idempotency_key_reused().into()),
    };
    let created: VendorProduct = serde_json::from_str(&stored).map_err(Failure::internal)?;
    let product: NewProduct = parse::<CreateProductInput>(json)?.validate()?;
    let items = created
        .product
        .variants
        .iter()
        .filter_map(|made| {
            let asked = product.variants.iter().find(|variant| variant.sku == made.sku)?;
            Some(InitialStock { variant_id: made.id.clone(), on_hand: asked.stock })
        })
        .collect();
    let body = with_stock(config, store, vendor, &created.product.id, items, Some(key)).await?;
    Ok(Written::of(Reply::encoded(body).created(), created.product.id))
}

/// Sends new variants' first counts to inventory, applies its answer to the catalog's stock, and
/// answers the vendor's view of the product with them (stored for the key, when there is one).
/// Inventory unreachable is `EXT_6001`: the product exists; a retry with the same key completes it.
async fn with_stock(
    config: &Config,
    store: &WriteStore,
    vendor: &VendorId,
    product: &ProductId,
    items: Vec<InitialStock>,
    key: Option<&IdempotencyKey>,
) -> Result<String, Failure> {
    if !items.is_empty() {
        let rows = inventory::initial(config, vendor, items).await?;
        let levels: Vec<StockLevel> = rows.iter().map(StockLevel::from).collect();
        stock::apply_levels(config, &levels).await?;
    }
    let body = store.vendor_product(product, vendor).await?.ok_or_else(|| Failure::not_found("product"))?;
    if let Some(key) = key {
        store.store_response(vendor, key, &body).await?;
    }
    Ok(body)
}

/// `PATCH /api/v1/vendor/products/{id}` and `POST …/{id}/archive`.
async fn patch_product(
    vendor: &VendorId,
    store: &WriteStore,
    id: ProductId,
    patch: ProductPatch,
) -> Result<Written, Failure> {
    let body = store.patch_product(&id, vendor, &patch).await?.ok_or_else(|| Failure::not_found("product"))?;
    Ok(Written::of(Reply::encoded(body), id))
}

async fn add_variant(request: &mut Request, store: &WriteStore, config: &Config, id: &str) -> Result<Written, Failure> {
    let (vendor, id) = (caller::acting_vendor(request)?, product_id(id)?);
    let variant = body::<VariantInput>(request).await?.validate_alone()?;
    let variant_id = VariantId::generate(clock::now_ms(), entropy()?);
    store.add_variant(&id, &vendor, &variant_id, &variant).await?.ok_or_else(|| Failure::not_found("product"))?;
    let stock = vec![InitialStock { variant_id, on_hand: variant.stock }];
    let body = with_stock(config, store, &vendor, &id, stock, None).await?;
    Ok(Written::of(Reply::encoded(body).created(), id))
}

/// The variant's own fields are the catalog's; its `stock` is a count on the vendor's default
/// location in inventory, sent once the rest is saved (a count below what is reserved is 409).
async fn patch_variant(
    request: &mut Request,
    store: &WriteStore,
    config: &Config,
    id: &str,
    variant: &str,
) -> Result<Written, Failure> {
    let (vendor, id, variant) = (caller::acting_vendor(request)?, product_id(id)?, variant_id(variant)?);
    let patch = body::<VariantPatchInput>(request).await?.validate()?;
    let body =
        store.patch_variant(&id, &vendor, &variant, &patch).await?.ok_or_else(|| Failure::not_found("variant"))?;
    let Some(on_hand) = patch.stock else { return Ok(Written::of(Reply::encoded(body), id)) };
    let row = inventory::set(config, &vendor, &variant, on_hand).await?;
    stock::apply_levels(config, &[StockLevel::from(&row)]).await?;
    let body = store.vendor_product(&id, &vendor).await?.ok_or_else(|| Failure::not_found("variant"))?;
    Ok(Written::of(Reply::encoded(body), id))
}

async fn delete_variant(request: &Request, store: &WriteStore, id: &str, variant: &str) -> Result<Written, Failure> {
    let (vendor, id, variant) = (caller::acting_vendor(request)?, product_id(id)?, variant_id(variant)?);
    let body = store.delete_variant(&id, &vendor, &variant).await?.ok_or_else(|| Failure::not_found("variant"))?;
    Ok(Written::of(Reply::encoded(body), id))
}

/// `POST /api/v1/admin/vendors`: vendors have no onboarding yet (a later issue).
async fn create_vendor(request: &mut Request, store: &WriteStore) -> Result<Written, Failure> {
    caller::platform_admin(request)?;
    let vendor = body::<NewVendorInput>(request).await?.validate()?;
    let id = VendorId::generate(clock::now_ms(), entropy()?);
    let created = store.create_vendor(&id, &vendor).await?;
    Ok(Written { reply: Reply::json(&created)?.created(), products: Vec::new() })
}

/// `PUT /api/v1/admin/products/{id}/moderation`: hides a product from every public view (or
/// shows it again); its vendor still sees it, with the reason.
async fn moderate(request: &mut Request, store: &WriteStore, id: &str) -> Result<Written, Failure> {
    caller::platform_admin(request)?;
    let id = product_id(id)?;
    let moderation = body::<ModerationInput>(request).await?.validate()?;
    let vendor = store.moderate(&id, &moderation).await?.ok_or_else(|| Failure::not_found("product"))?;
    let reply = Reply::json(&serde_json::json!({ "id": id, "vendor_id": vendor, "moderation": moderation }))?;
    Ok(Written::of(reply, id))
}

/// A malformed id names nothing: the same 404 as an unknown one.
fn product_id(id: &str) -> Result<ProductId, Failure> {
    ProductId::parse(id).map_err(|_| Failure::not_found("product"))
}

fn variant_id(id: &str) -> Result<VariantId, Failure> {
    VariantId::parse(id).map_err(|_| Failure::not_found("variant"))
}

/// Without randomness two ids minted in one millisecond would collide: refuse instead.
fn entropy() -> Result<shared::ids::Entropy, Failure> {
    random::bytes().map_err(Failure::internal)
}

/// The JSON body, at most `MAX_BODY_BYTES` (more is `VAL_3002` naming `body`); malformed JSON or
/// wrong types are `VAL_3001`.
async fn body<T: DeserializeOwned>(request: &mut Request) -> Result<T, Failure> {
    let bytes = read_body(request, MAX_BODY_BYTES).await?;
    parse(json(&bytes)?)
}

fn parse<T: DeserializeOwned>(json: serde_json::Value) -> Result<T, Failure> {
    serde_json::from_value(json)
        .map_err(|error| Failure::from(ApiError::new(ErrorCode::InvalidRequest, format!("invalid body: {error}"))))
}
