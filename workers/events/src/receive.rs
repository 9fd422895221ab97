//! `POST /webhooks/core-events` (DESIGN §5), reached through the gateway's `EVENTS` binding: the
//! core's outbox deliveries. Checked like every signed hop (`Upstash-Signature` for our public URL
//! and this exact body, `jti` used once), then each event is handled at most once per id
//! (`ProcessedEvents`, Upstash keys with a TTL) and dispatched by type. The answer is 2xx only when
//! every event of the batch is done, so the outbox marks them delivered only then.

use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::events::EventId;
use shared::events::edge::{DELIVERY_PATH, EdgeEvent, EventBatch, OrderPlaced, ProcessedEvents};
use shared::inventory::StockLevel;
use shared::transport::ReqwestTransport;
use shared::upstash::UpstashClient;
use shared::webhook::{self, Keys, SignatureError, SigningKey, UpstashSeenJtiStore};
use worker::{Env, Method, Request, Response, console_error, console_log};
use worker_platform::config::{RequiredVars, UpstashSettings};
use worker_platform::request::read_body;
use worker_platform::{clock, respond};

use crate::{cart, catalog};

/// A batch of `MAX_EVENTS_PER_DELIVERY` stock changes is a few tens of KB.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Seen signature ids (the replay defence), apart from processed event ids.
const JTI_PREFIX: &str = "events:jti:";
const SERVICE: &str = "the events service";

#[derive(Serialize, Default)]
struct Report {
    received: usize,
    processed: usize,
    /// Already processed: a redelivery.
    duplicates: usize,
    /// Types the edge does not act on (acknowledged so the outbox stops sending them).
    ignored: usize,
    /// Malformed data: logged and acknowledged, since resending the same bytes cannot help.
    rejected: usize,
}

struct Settings {
    /// The gateway's public origin: signatures name `{public_url}{DELIVERY_PATH}`.
    public_url: String,
    keys: Keys,
    upstash: UpstashSettings,
}

pub async fn handle(mut request: Request, env: Env) -> worker::Result<Response> {
    let request_id = respond::request_id(&request);
    let response = match route(&mut request, &env).await {
        Ok(response) => response,
        Err(error) => respond::error(&error, &request_id)?,
    };
    respond::with_request_id(response, &request_id)
}

async fn route(request: &mut Request, env: &Env) -> Result<Response, ApiError> {
    if request.path() != DELIVERY_PATH {
        return Err(ApiError::new(ErrorCode::RouteNotFound, format!("no route for {}", request.path())));
    }
    if request.method() != Method::Post {
        return Err(ApiError::new(ErrorCode::MethodNotAllowed, "use POST"));
    }
    let settings = settings(env)?;
    let body = read_body(request, MAX_BODY_BYTES).await?;
    let upstash = UpstashClient::new(ReqwestTransport::default(), &settings.upstash.url, &settings.upstash.token)
        .with_base64(false);
    verify(request, &settings, &upstash, &body).await?;
    let batch: EventBatch = serde_json::from_slice(&body)
        .map_err(|error| ApiError::new(ErrorCode::InvalidRequest, format!("not an event batch: {error}")))?;
    let report = process(&batch, env, &upstash).await?;
    console_log!(
        "events: {} received, {} processed, {} duplicates, {} ignored, {} rejected",
        report.received,
        report.processed,
        report.duplicates,
        report.ignored,
        report.rejected
    );
    respond::json_of(200, &report)
}

fn settings(env: &Env) -> Result<Settings, ApiError> {
    let mut vars = RequiredVars::new(env);
    let public_url = vars.url("PUBLIC_URL");
    let current = vars.read("WEBHOOK_KEY_CURRENT");
    let upstash = vars.upstash();
    vars.finish().map_err(|missing| missing.into_api_error(SERVICE))?;
    let next = env.secret("WEBHOOK_KEY_NEXT").ok().map(|key| key.to_string()).filter(|key| !key.is_empty());
    let keys = Keys { current: SigningKey::new(current), next: next.map(SigningKey::new) };
    Ok(Settings { public_url, keys, upstash })
}

/// Any failed check is 401 and nothing is processed; an unreachable replay store is 503.
async fn verify(
    request: &Request,
    settings: &Settings,
    upstash: &UpstashClient<ReqwestTransport>,
    body: &[u8],
) -> Result<(), ApiError> {
    let header = request.headers().get(webhook::SIGNATURE_HEADER).ok().flatten();
    let url = format!("{}{DELIVERY_PATH}", settings.public_url);
    let store = UpstashSeenJtiStore::new(upstash, JTI_PREFIX);
    match webhook::verify(&settings.keys, header.as_deref(), &url, body, clock::now_unix_seconds(), &store).await {
        Ok(_) => Ok(()),
        Err(SignatureError::Store(error)) => Err(respond::unavailable("the replay store", error)),
        Err(error) => {
            console_error!("events: signature refused: {error}");
            Err(error.to_api_error())
        }
    }
}

/// Handles the events not processed before, then remembers them. Any handler failing fails the
/// batch before anything is remembered, so the outbox sends it again.
async fn process(batch: &EventBatch, env: &Env, upstash: &UpstashClient<ReqwestTransport>) -> Result<Report, ApiError> {
    let processed = ProcessedEvents::new(upstash);
    let ids: Vec<&EventId> = batch.events.iter().map(|event| &event.id).collect();
    let seen = processed.seen(&ids).await.map_err(|error| respond::unavailable("the processed-events store", error))?;
    let mut report = Report { received: batch.events.len(), ..Report::default() };
    let mut stock = Vec::<StockLevel>::new();
    let mut placed = Vec::<Box<OrderPlaced>>::new();
    let mut done = Vec::<&EventId>::new();
    for (event, seen) in batch.events.iter().zip(seen) {
        if seen {
            report.duplicates += 1;
            continue;
        }
        match EdgeEvent::parse(event) {
            Ok(Some(EdgeEvent::StockChanged(level))) => {
                stock.push(level);
                report.processed += 1;
            }
            Ok(Some(EdgeEvent::OrderPlaced(order))) => {
                placed.push(order);
                report.processed += 1;
            }
            Ok(None) => report.ignored += 1,
            Err(error) => {
                console_error!("events: {} rejected: {error}", event.id);
                report.rejected += 1;
            }
        }
        done.push(&event.id);
    }
    if !stock.is_empty() {
        catalog::apply_stock_levels(env, stock).await?;
    }
    // One at a time: a batch rarely holds more than a few, and each is one cart write.
    for order in placed {
        cart::remove_bought(env, &order).await?;
    }
    processed.remember(&done).await.map_err(|error| respond::unavailable("the processed-events store", error))?;
    Ok(report)
}
