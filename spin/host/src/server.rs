//! The HTTP/1.1 front end: route, set Spin's `spin-*` headers, hand the request to a fresh
//! instance of the matched component, log one line per request.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use http::header::{CONNECTION, HOST};
use http::uri::{Authority, Scheme};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use wasmtime::StoreContextMut;
use wasmtime::component::GuestTaskId;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, Proxy, ProxyHandler, ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::{WasiBody, WasiHttpView};

use crate::routes::{RouteMatch, Router};
use crate::runtime::{GuestState, LoadedComponent};

/// How long a guest may take to produce its response head (Spin has no default; 60 s keeps a
/// stuck guest from holding a test run forever).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a guest may keep working after its response is complete (e.g. an outbox sweep).
const POST_RETURN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight requests get to finish after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Spin's built-in health route, answered by the host itself.
const WELL_KNOWN_HEALTH: &str = "/.well-known/spin/health";

/// The routed application: one `ProxyHandler` per component.
pub struct App {
    router: Router,
    handlers: BTreeMap<String, ProxyHandler<ComponentHandler>>,
}

impl App {
    pub fn new(router: Router, components: BTreeMap<String, Arc<LoadedComponent>>) -> Self {
        let handlers = components
            .into_iter()
            .map(|(id, component)| (id, ProxyHandler::new(ComponentHandler { component })))
            .collect();
        Self { router, handlers }
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    async fn handle(&self, request: Request<Incoming>, client: SocketAddr) -> Response<WasiBody> {
        let started = Instant::now();
        let method = request.method().clone();
        let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str()).to_owned();
        let path = request.uri().path().to_owned();

        let (component, response) = if path == WELL_KNOWN_HEALTH {
            (None, text(StatusCode::OK, "OK"))
        } else {
            match self.router.route(&path) {
                None => (None, text(StatusCode::NOT_FOUND, "Not Found")),
                Some(matched) => {
                    let component = matched.component.to_owned();
                    let response = self.call_component(request, &matched, client).await;
                    (Some(component), response)
                }
            }
        };

        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let by = component.map(|c| format!(" ({c})")).unwrap_or_default();
        println!("local-spin: {method} {target} {} {elapsed:.1}ms{by}", response.status().as_u16());
        response
    }

    async fn call_component(
        &self,
        request: Request<Incoming>,
        matched: &RouteMatch<'_>,
        client: SocketAddr,
    ) -> Response<WasiBody> {
        let Some(handler) = self.handlers.get(matched.component) else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        };
        let request = match prepare_request(request, matched, client) {
            Ok(request) => request,
            Err(error) => {
                eprintln!("local-spin: bad request: {error:#}");
                return text(StatusCode::BAD_REQUEST, "Bad Request");
            }
        };
        let request = request.map(|body| body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
        match handler.handle((), request).await {
            Ok(response) => {
                let component = matched.component.to_owned();
                response.map(|body| {
                    body.map_err(move |error| {
                        eprintln!("local-spin: {component}: response body failed: {error}");
                        error
                    })
                    .boxed_unsync()
                })
            }
            Err(error) => {
                eprintln!("local-spin: {}: request failed: {error}", matched.component);
                text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}

/// Gives the guest an absolute URI and the `spin-*` headers Spin's HTTP trigger sets.
fn prepare_request(
    request: Request<Incoming>,
    matched: &RouteMatch<'_>,
    client: SocketAddr,
) -> Result<Request<Incoming>> {
    let (mut parts, body) = request.into_parts();
    let host = parts.headers.get(HOST).and_then(|value| value.to_str().ok()).unwrap_or("localhost").to_owned();
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str()).to_owned();

    let mut uri = parts.uri.clone().into_parts();
    uri.scheme = Some(Scheme::HTTP);
    uri.authority = Some(host.parse::<Authority>()?);
    parts.uri = Uri::from_parts(uri)?;

    let headers = &mut parts.headers;
    // Transport-level only, and it breaks guests that forward the request (Spin strips it too).
    headers.remove(CONNECTION);
    let spin_headers = [
        ("spin-full-url", format!("http://{host}{path_and_query}")),
        ("spin-path-info", matched.path_info.clone()),
        ("spin-matched-route", matched.based_route.to_owned()),
        ("spin-base-path", "/".to_owned()),
        ("spin-raw-component-route", matched.raw_route.to_owned()),
        ("spin-component-route", matched.raw_route_or_prefix().to_owned()),
        ("spin-client-addr", client.to_string()),
    ];
    for (name, value) in spin_headers {
        // `insert` replaces any client-sent value: these headers are trusted by guests.
        headers.insert(HeaderName::from_static(name), HeaderValue::from_str(&value)?);
    }
    Ok(Request::from_parts(parts, body))
}

fn text(status: StatusCode, body: &'static str) -> Response<WasiBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(body.as_bytes())).map_err(|never: Infallible| match never {}).boxed_unsync(),
    );
    *response.status_mut() = status;
    response
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish for a moment.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let builder = hyper::server::conn::http1::Builder::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, client) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        eprintln!("local-spin: accept failed: {error}");
                        continue;
                    }
                };
                let app = Arc::clone(&app);
                let service = service_fn(move |request| {
                    let app = Arc::clone(&app);
                    async move { Ok::<_, Infallible>(app.handle(request, client).await) }
                });
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        eprintln!("local-spin: connection from {client}: {error}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        eprintln!("local-spin: in-flight requests still running after {SHUTDOWN_GRACE:?}; exiting");
    }
}

/// Creates one instance per request for a component (the `ProxyHandler` never reuses it).
pub struct ComponentHandler {
    component: Arc<LoadedComponent>,
}

impl HandlerState for ComponentHandler {
    type StoreData = GuestState;
    type WorkerExpiration = Expiration;
    type WorkerState = SingleRequest;

    async fn instantiate(&self) -> wasmtime::Result<Instance<GuestState, Expiration, SingleRequest>> {
        let mut store = self.component.new_store();
        let service = self.component.pre().instantiate_async(&mut store).await?;
        Ok(Instance {
            store,
            proxy: Proxy::P3(service),
            view: <GuestState as WasiHttpView>::http,
            expiration: Expiration { sleep: Box::pin(tokio::time::sleep(Duration::MAX)) },
            state: SingleRequest { component: Arc::clone(&self.component.id) },
        })
    }
}

/// Accepts exactly one request: every request gets a fresh instance, as `spin up` does by default.
pub struct SingleRequest {
    component: Arc<str>,
}

impl WorkerState for SingleRequest {
    type StoreData = GuestState;
    type RequestData = ();

    fn should_accept_request(&self, _concurrent: usize, total: usize) -> ShouldAccept {
        if total == 0 { ShouldAccept::Yes } else { ShouldAccept::Never }
    }

    fn on_request_start(
        &self,
        _store: StoreContextMut<'_, GuestState>,
        _data: (),
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>> {
        Box::pin(tokio::time::sleep(REQUEST_TIMEOUT))
    }

    fn drop(&self, store: wasmtime::Store<GuestState>, result: wasmtime::Result<()>) {
        if let Err(error) = result {
            eprintln!("local-spin: {}: instance ended with error: {error:#}", self.component);
        }
        drop(store);
    }
}

/// Second line of defence for timeouts, polled outside the store's event loop (see wasmtime's
/// `WorkerState::on_request_start` docs).
pub struct Expiration {
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl WorkerExpiration for Expiration {
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>, status: WorkerStatus, start: Instant) -> Poll<()> {
        let limit = match status {
            // Nothing left to do and no second request will come: drop the instance now.
            WorkerStatus::Idle => return Poll::Ready(()),
            WorkerStatus::Requests => REQUEST_TIMEOUT,
            WorkerStatus::PostReturn => POST_RETURN_TIMEOUT,
        };
        let Some(deadline) = start.checked_add(limit) else {
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        self.sleep.as_mut().poll(cx)
    }
}
