//! Local stand-ins for the two managed services the marketplace talks to over HTTP (DESIGN §4, §7):
//!
//! - [`neon`]: Neon's `POST /sql` protocol (the proxy's `sql_over_http`) over a real PostgreSQL.
//! - [`upstash`]: Upstash's REST protocol over a real Redis.
//! - [`email`]: an email sink speaking Resend's send-email API, with an HTTP inbox for tests.
//! - [`stripe`]: a Stripe sandbox (PaymentIntents, Refunds, Connect transfers, signed webhooks).
//! - [`postgres::Cluster`] and [`redis::Server`]: project-local database processes.
//! - [`ports::free_port`], [`LocalCloud`] and [`spawn_in_thread`]: glue for `cargo xtask dev` and tests.

pub mod email;
pub mod http_server;
pub mod neon;
pub mod ports;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod stripe;
pub mod upstash;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;
use http_server::Body;
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use process::at_exit;

/// What the `local-cloud` binary (and in-process tests) run.
#[derive(Clone, Debug)]
pub struct Config {
    pub neon_listen: SocketAddr,
    pub upstash_listen: SocketAddr,
    pub upstash_token: String,
    pub redis_url: String,
    pub email_listen: SocketAddr,
    /// The key `POST /emails` must carry as `Authorization: Bearer <key>`.
    pub email_api_key: String,
    pub stripe_listen: SocketAddr,
    pub stripe: stripe::Options,
    pub neon: neon::Options,
    /// One stderr line per request (`neon POST /sql 200 3ms`).
    pub log_requests: bool,
}

impl Config {
    /// Every listener on an ephemeral loopback port; handy for tests. The email key is
    /// [`Config::EPHEMERAL_EMAIL_API_KEY`], the Stripe key [`Config::EPHEMERAL_STRIPE_SECRET_KEY`]
    /// (with short delays and retries: [`stripe::Options::fast`]).
    pub fn ephemeral(redis_url: impl Into<String>, upstash_token: impl Into<String>) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            neon_listen: any,
            upstash_listen: any,
            upstash_token: upstash_token.into(),
            redis_url: redis_url.into(),
            email_listen: any,
            email_api_key: Self::EPHEMERAL_EMAIL_API_KEY.to_owned(),
            stripe_listen: any,
            stripe: stripe::Options::fast(Self::EPHEMERAL_STRIPE_SECRET_KEY),
            neon: neon::Options::default(),
            log_requests: false,
        }
    }

    pub const EPHEMERAL_EMAIL_API_KEY: &str = "re_local_test_key";
    pub const EPHEMERAL_STRIPE_SECRET_KEY: &str = "sk_test_local_sandbox";
}

/// Where the listeners ended up (ephemeral ports resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addrs {
    pub neon: SocketAddr,
    pub upstash: SocketAddr,
    pub email: SocketAddr,
    pub stripe: SocketAddr,
}

/// The gateways, the email sink and the Stripe sandbox, bound but not yet serving.
pub struct LocalCloud {
    addrs: Addrs,
    neon_listener: TcpListener,
    upstash_listener: TcpListener,
    email_listener: TcpListener,
    stripe_listener: TcpListener,
    neon: Arc<neon::Gateway>,
    upstash: Arc<upstash::Gateway>,
    email: Arc<email::Gateway>,
    stripe: Arc<stripe::Sandbox>,
    log_requests: bool,
}

impl LocalCloud {
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let neon_listener = TcpListener::bind(config.neon_listen)
            .await
            .with_context(|| format!("binding the Neon gateway to {}", config.neon_listen))?;
        let upstash_listener = TcpListener::bind(config.upstash_listen)
            .await
            .with_context(|| format!("binding the Upstash gateway to {}", config.upstash_listen))?;
        let email_listener = TcpListener::bind(config.email_listen)
            .await
            .with_context(|| format!("binding the email sink to {}", config.email_listen))?;
        let stripe_listener = TcpListener::bind(config.stripe_listen)
            .await
            .with_context(|| format!("binding the Stripe sandbox to {}", config.stripe_listen))?;
        let upstash = upstash::Gateway::new(&config.redis_url, &config.upstash_token)?;
        let stripe = stripe::Sandbox::new(config.stripe, config.log_requests)?;
        Ok(Self {
            addrs: Addrs {
                neon: neon_listener.local_addr()?,
                upstash: upstash_listener.local_addr()?,
                email: email_listener.local_addr()?,
                stripe: stripe_listener.local_addr()?,
            },
            neon_listener,
            upstash_listener,
            email_listener,
            stripe_listener,
            neon: Arc::new(neon::Gateway::new(config.neon)),
            upstash: Arc::new(upstash),
            email: Arc::new(email::Gateway::new(&config.email_api_key, config.log_requests)),
            stripe: Arc::new(stripe),
            log_requests: config.log_requests,
        })
    }

    pub fn addrs(&self) -> Addrs {
        self.addrs
    }

    pub fn neon_addr(&self) -> SocketAddr {
        self.addrs.neon
    }

    pub fn upstash_addr(&self) -> SocketAddr {
        self.addrs.upstash
    }

    pub fn email_addr(&self) -> SocketAddr {
        self.addrs.email
    }

    pub fn stripe_addr(&self) -> SocketAddr {
        self.addrs.stripe
    }

    /// Serves every listener until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let log = self.log_requests;
        let tasks = [
            ("neon", serve(self.neon_listener, "neon", log, &stop_rx, self.neon)),
            ("upstash", serve(self.upstash_listener, "upstash", log, &stop_rx, self.upstash)),
            ("email", serve(self.email_listener, "email", log, &stop_rx, self.email)),
            ("stripe", serve(self.stripe_listener, "stripe", log, &stop_rx, self.stripe)),
        ];
        shutdown.await;
        let _ = stop_tx.send(true);
        for (name, task) in tasks {
            task.await.with_context(|| format!("{name} listener task"))?;
        }
        Ok(())
    }
}

/// One of the local services: answers every request on its listener.
trait Service: Send + Sync + 'static {
    fn answer(self: Arc<Self>, request: Request<Incoming>) -> impl Future<Output = Response<Body>> + Send;
}

impl Service for neon::Gateway {
    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        self.handle(request).await
    }
}

impl Service for upstash::Gateway {
    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        self.handle(request).await
    }
}

impl Service for email::Gateway {
    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        self.handle(request).await
    }
}

impl Service for stripe::Sandbox {
    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        self.handle(request).await
    }
}

fn serve<S: Service>(
    listener: TcpListener,
    name: &'static str,
    log_requests: bool,
    stop: &watch::Receiver<bool>,
    service: Arc<S>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(http_server::serve(listener, name, log_requests, stop.clone(), move |request| {
        Arc::clone(&service).answer(request)
    }))
}

/// Gateways running on their own thread and Tokio runtime, so they outlive any one test's runtime.
pub struct Background {
    pub neon_addr: SocketAddr,
    pub upstash_addr: SocketAddr,
    pub email_addr: SocketAddr,
    pub stripe_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// `http://127.0.0.1:PORT/sql`
    pub fn neon_url(&self) -> String {
        format!("http://{}/sql", self.neon_addr)
    }

    /// `http://127.0.0.1:PORT`
    pub fn upstash_url(&self) -> String {
        format!("http://{}", self.upstash_addr)
    }

    /// `http://127.0.0.1:PORT`: Resend's API base (`POST /emails`) and the inbox (`/inbox`).
    pub fn email_url(&self) -> String {
        format!("http://{}", self.email_addr)
    }

    /// `http://127.0.0.1:PORT`: the Stripe API base (`/v1/…`).
    pub fn stripe_url(&self) -> String {
        format!("http://{}", self.stripe_addr)
    }

    /// Stops accepting, waits for in-flight requests and joins the thread.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts [`LocalCloud`] on a dedicated thread; returns once every listener is bound.
/// Safe to call from inside another Tokio runtime (tests): nothing here blocks on a runtime.
pub fn spawn_in_thread(config: Config) -> anyhow::Result<Background> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<Addrs>>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("local-cloud".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("local-cloud-worker")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    let _ = ready_tx.send(Err(anyhow::Error::new(err).context("building the gateway runtime")));
                    return;
                }
            };
            runtime.block_on(async move {
                let cloud = match LocalCloud::bind(config).await {
                    Ok(cloud) => cloud,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(cloud.addrs()));
                let result = cloud
                    .serve(async {
                        let _ = stop_rx.await;
                    })
                    .await;
                if let Err(err) = result {
                    eprintln!("local-cloud: {err:#}");
                }
            });
        })
        .context("spawning the gateway thread")?;
    let addrs = ready_rx.recv().context("the gateway thread exited before binding")??;
    Ok(Background {
        neon_addr: addrs.neon,
        upstash_addr: addrs.upstash,
        email_addr: addrs.email,
        stripe_addr: addrs.stripe,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}
