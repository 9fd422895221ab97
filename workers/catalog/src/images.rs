//! Product images through the `IMAGES` R2 bucket: a vendor's team uploads, reorders and deletes them, anyone
//! reads them by key. The checks are `shared::catalog::image`; the vendor comes from the token only.

use shared::api::ErrorCode;
use shared::catalog::image::{
    IMMUTABLE_CACHE_CONTROL, MAX_IMAGE_BYTES, MAX_IMAGES_PER_PRODUCT, if_none_match_tag, parse_upload_query,
};
use shared::catalog::{ImageError, ImageId, ImageKey, ImageMove, ImageType, Page, ProductId, ProductImage};
use worker::{Bucket, Conditional, Env, Headers, HttpMetadata, Method, Request, Response, Result};
use worker_platform::request::{json, read_body, read_bounded};
use worker_platform::{clock, random, respond};

use crate::cache;
use crate::caller::acting_vendor;
use crate::config::Config;
use crate::image_store::{Added, ImageStore};
use crate::respond::Failure;

const SERVE_PREFIX: &str = "/api/v1/images/";
const VENDOR_PRODUCTS_PREFIX: &str = "/api/v1/vendor/products/";

pub enum Endpoint<'a> {
    /// `GET /api/v1/images/{key}`
    Serve(&'a str),
    /// `POST /api/v1/vendor/products/{id}/images`
    Upload(&'a str),
    /// `DELETE` or `PATCH /api/v1/vendor/products/{id}/images/{image_id}`
    Image(&'a str, &'a str),
}

pub fn find(path: &str) -> Option<Endpoint<'_>> {
    if let Some(key) = path.strip_prefix(SERVE_PREFIX) {
        return Some(Endpoint::Serve(key));
    }
    let rest = path.strip_prefix(VENDOR_PRODUCTS_PREFIX)?;
    let (product, rest) = rest.split_once('/')?;
    match rest.strip_prefix("images")? {
        "" => Some(Endpoint::Upload(product)),
        image => image
            .strip_prefix('/')
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .map(|id| Endpoint::Image(product, id)),
    }
}

pub async fn handle(request: Request, env: &Env, endpoint: Endpoint<'_>, request_id: &str) -> Result<Response> {
    let written = match endpoint {
        Endpoint::Upload(product) | Endpoint::Image(product, _) => ProductId::parse(product).ok(),
        Endpoint::Serve(_) => None,
    };
    let outcome = match (endpoint, request.method()) {
        (Endpoint::Serve(key), Method::Get) => serve(&request, env, key).await,
        (Endpoint::Upload(product), Method::Post) => upload(request, env, product).await,
        (Endpoint::Image(product, image), Method::Delete) => delete(&request, env, product, image).await,
        (Endpoint::Image(product, image), Method::Patch) => move_image(request, env, product, image).await,
        (Endpoint::Serve(_), _) => Err(Failure::new(ErrorCode::MethodNotAllowed, "use GET")),
        (Endpoint::Upload(_), _) => Err(Failure::new(ErrorCode::MethodNotAllowed, "use POST")),
        (Endpoint::Image(..), _) => Err(Failure::new(ErrorCode::MethodNotAllowed, "use DELETE or PATCH")),
    };
    // Every successful gallery write changes how its product looks, wherever it is cached.
    if outcome.is_ok()
        && let Some(product) = written
    {
        match Config::from_env(env) {
            Ok(config) => cache::products_changed(&config, &[product]).await,
            Err(error) => worker::console_error!("no cache invalidation after an image write: {error:?}"),
        }
    }
    outcome.or_else(|failure| failure.into_response(request_id))
}

/// Streams the object as stored; 304 when the caller already has it. An unknown, malformed or
/// deleted key is the same 404.
async fn serve(request: &Request, env: &Env, key: &str) -> std::result::Result<Response, Failure> {
    let key = ImageKey::parse(key).ok_or_else(|| Failure::not_found("image"))?;
    let bucket = bucket(env)?;
    let mut get = bucket.get(key.to_string());
    let if_none_match = request.headers().get("if-none-match").ok().flatten();
    if let Some(tag) = if_none_match.as_deref().and_then(if_none_match_tag) {
        // R2 then answers without the body when the tag still matches.
        get = get.only_if(Conditional { etag_does_not_match: Some(tag.to_owned()), ..Conditional::default() });
    }
    let object = get.execute().await.map_err(unavailable)?.ok_or_else(|| Failure::not_found("image"))?;
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value).map_err(Failure::internal);
    set("etag", &object.http_etag())?;
    set("cache-control", IMMUTABLE_CACHE_CONTROL)?;
    let response = match object.body() {
        None => Response::empty().map_err(Failure::internal)?.with_status(304),
        Some(body) => {
            // The type checked at upload, named by the key; never sniffed by browsers.
            set("content-type", key.kind.content_type())?;
            set("x-content-type-options", "nosniff")?;
            set("content-length", &object.size().to_string())?;
            Response::from_body(body.response_body().map_err(unavailable)?).map_err(Failure::internal)?
        }
    };
    Ok(response.with_headers(headers))
}

/// Checks what is cheap before reading the body (type header, size header, the product is the
/// caller's and has room), then the bytes; writes the object, then the row, and removes the
/// object again if the row is not written.
async fn upload(mut request: Request, env: &Env, product: &str) -> std::result::Result<Response, Failure> {
    let vendor = acting_vendor(&request)?;
    let product = ProductId::parse(product).map_err(|_| Failure::not_found("product"))?;
    let alt = parse_upload_query(request.url().map_err(Failure::internal)?.query().unwrap_or_default())?;
    let content_type = request.headers().get("content-type").ok().flatten().unwrap_or_default();
    ImageType::from_content_type(&content_type).map_err(image_error)?;
    let config = Config::from_env(env)?;
    let store = ImageStore::new(&config);
    let count = store.count_owned(&product, &vendor).await?.ok_or_else(|| Failure::not_found("product"))?;
    if count >= MAX_IMAGES_PER_PRODUCT {
        return Err(gallery_full());
    }
    let body = read_bounded(&mut request, MAX_IMAGE_BYTES).await?.ok_or_else(|| image_error(ImageError::TooLarge))?;
    let checked = ImageType::check_upload(&content_type, &body).map_err(image_error)?;
    let entropy = random::bytes().map_err(Failure::internal)?;
    let key =
        ImageKey { product_id: product, image_id: ImageId::generate(clock::now_ms(), entropy), kind: checked.kind };
    let bucket = bucket(env)?;
    let metadata = HttpMetadata {
        content_type: Some(checked.kind.content_type().to_owned()),
        cache_control: Some(IMMUTABLE_CACHE_CONTROL.to_owned()),
        ..HttpMetadata::default()
    };
    let bytes = u32::try_from(body.len()).map_err(Failure::internal)?;
    bucket.put(key.to_string(), body).http_metadata(metadata).execute().await.map_err(unavailable)?;
    let position = match store.add(&key, &vendor, bytes, &checked, alt.as_ref()).await {
        Ok(Added::At(position)) => position,
        Ok(Added::NotFound) => return Err(discard(&bucket, &key, Failure::not_found("product")).await),
        Ok(Added::Full) => return Err(discard(&bucket, &key, gallery_full()).await),
        Err(failure) => return Err(discard(&bucket, &key, failure).await),
    };
    let image = ProductImage {
        id: key.image_id.clone(),
        url: key.url(),
        content_type: checked.kind,
        bytes,
        width: checked.width,
        height: checked.height,
        position,
        alt,
    };
    let body = serde_json::to_string(&image).map_err(Failure::internal)?;
    let mut response = respond::json(201, body).map_err(Failure::internal)?;
    response.headers_mut().set("cache-control", "no-store").map_err(Failure::internal)?;
    Ok(response)
}

/// Removes the object, then the row (only the caller's vendor's). Every failure leaves what a retry
/// of the same DELETE finishes: an R2 failure changes nothing; a database failure after it leaves
/// the row, whose object is already gone (R2 deletes a missing key without error). Row first, an
/// R2 failure would leave the bytes public at their URL with no row left to retry from.
async fn delete(request: &Request, env: &Env, product: &str, image: &str) -> std::result::Result<Response, Failure> {
    let vendor = acting_vendor(request)?;
    let not_found = || Failure::not_found("image");
    let product = ProductId::parse(product).map_err(|_| not_found())?;
    let image = ImageId::parse(image).map_err(|_| not_found())?;
    let config = Config::from_env(env)?;
    let store = ImageStore::new(&config);
    let key = store.key(&product, &image, &vendor).await?.ok_or_else(not_found)?;
    bucket(env)?.delete(key).await.map_err(unavailable)?;
    // No row now: a concurrent delete of the same image finished first, which is this one's outcome too.
    store.remove(&product, &image, &vendor).await?;
    let mut response = Response::empty().map_err(Failure::internal)?.with_status(204);
    response.headers_mut().set("cache-control", "no-store").map_err(Failure::internal)?;
    Ok(response)
}

/// Nothing half-written: the row was not written, so the object goes too; answers `failure`.
async fn discard(bucket: &Bucket, key: &ImageKey, failure: Failure) -> Failure {
    if let Err(error) = bucket.delete(key.to_string()).await {
        worker::console_error!("orphaned image object {key}: {error}");
    }
    failure
}

/// Body limit for `{"position": n}`; anything longer is not one.
const MOVE_BODY_BYTES: usize = 1024;

/// `{"position": n}`: moves the image within its gallery; answers the gallery in its new order.
async fn move_image(
    mut request: Request,
    env: &Env,
    product: &str,
    image: &str,
) -> std::result::Result<Response, Failure> {
    let vendor = acting_vendor(&request)?;
    let not_found = || Failure::not_found("image");
    let product = ProductId::parse(product).map_err(|_| not_found())?;
    let image = ImageId::parse(image).map_err(|_| not_found())?;
    let body = read_body(&mut request, MOVE_BODY_BYTES).await?;
    let target = json::<ImageMove>(&body)?.check()?;
    let config = Config::from_env(env)?;
    let gallery =
        ImageStore::new(&config).move_to(&product, &image, &vendor, target.position).await?.ok_or_else(not_found)?;
    let body = serde_json::to_string(&Page { items: gallery, next_cursor: None }).map_err(Failure::internal)?;
    let mut response = respond::json(200, body).map_err(Failure::internal)?;
    response.headers_mut().set("cache-control", "no-store").map_err(Failure::internal)?;
    Ok(response)
}

fn bucket(env: &Env) -> std::result::Result<Bucket, Failure> {
    env.bucket("IMAGES").map_err(|error| Failure::new(ErrorCode::Misconfigured, format!("no IMAGES bucket: {error}")))
}

fn image_error(error: ImageError) -> Failure {
    let api = error.to_field_errors().to_api_error();
    Failure(shared::api::ApiError { message: error.to_string(), ..api })
}

fn gallery_full() -> Failure {
    Failure::new(ErrorCode::Conflict, format!("a product has at most {MAX_IMAGES_PER_PRODUCT} images"))
}

fn unavailable(error: worker::Error) -> Failure {
    worker::console_error!("the image bucket failed: {error}");
    Failure::new(ErrorCode::DependencyUnavailable, "the image store is unavailable")
}
