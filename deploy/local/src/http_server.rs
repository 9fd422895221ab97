//! The small HTTP/1.1 plumbing both gateways share: accept loop, graceful stop, request log, body limits.

use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub type Body = Full<Bytes>;

/// How long in-flight requests get to finish after a stop signal.
const GRACE: Duration = Duration::from_secs(10);

/// Serves `handler` on `listener` until `stop` turns true, logging `name METHOD PATH STATUS MSms`.
pub async fn serve<H, F>(
    listener: TcpListener,
    name: &'static str,
    log_requests: bool,
    mut stop: watch::Receiver<bool>,
    handler: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // Usually EMFILE; back off instead of spinning.
                eprintln!("{name}: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let mut stop = stop.clone();
        connections.spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let handler = handler.clone();
                async move {
                    let started = Instant::now();
                    let method = req.method().clone();
                    let path = req.uri().path().to_owned();
                    let response = handler(req).await;
                    if log_requests {
                        eprintln!(
                            "{name} {method} {path} {} {}ms",
                            response.status().as_u16(),
                            started.elapsed().as_millis()
                        );
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
    let _ = tokio::time::timeout(GRACE, async { while connections.join_next().await.is_some() {} }).await;
}

/// Resolves once the stop flag is set (or its sender is gone); holds no borrow afterwards.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Why a request body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the limit; `actual` is the full size when it could be learned cheaply.
    TooLarge {
        limit: usize,
        actual: Option<u64>,
    },
    Read(hyper::Error),
}

/// Bytes of an oversized body we still read (and drop) so the client can finish sending and
/// see our answer instead of a broken pipe; past this the connection is just closed.
const DRAIN_CAP: u64 = 64 * 1024 * 1024;

/// Reads a whole body, refusing more than `limit` bytes (checks Content-Length first, like Neon's proxy).
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    let declared = body.size_hint().lower();
    let mut body = body;
    if declared > limit as u64 {
        drain(&mut body, 0).await;
        return Err(BodyError::TooLarge { limit, actual: Some(declared) });
    }
    let mut bytes = Vec::with_capacity(declared as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                let seen = (bytes.len() + data.len()) as u64;
                let actual = drain(&mut body, seen).await;
                return Err(BodyError::TooLarge { limit, actual });
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(bytes))
}

/// Reads and drops the rest of a body; its total size if it ended under [`DRAIN_CAP`].
async fn drain(body: &mut Incoming, mut seen: u64) -> Option<u64> {
    while seen <= DRAIN_CAP {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    seen += data.len() as u64;
                }
            }
            Some(Err(_)) => return None,
            None => return Some(seen),
        }
    }
    None
}

/// `%XX` escapes to bytes; anything else (including a stray `%`) is kept as it is.
pub fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// A JSON response with the given status.
pub fn json(status: http::StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}
