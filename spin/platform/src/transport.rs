//! `shared`'s HTTP seam over `spin_sdk::http::send` (wasi:http@0.3 `client.send`).

use bytes::Bytes;
use http_body_util::BodyExt as _;
use shared::transport::{HttpRequest, HttpResponse, HttpTransport, TransportError};
use spin_sdk::http::FullBody;

/// Outbound HTTP for protocol clients; the host enforces `allowed_outbound_hosts` on every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpinTransport;

impl HttpTransport for SpinTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut builder = http::Request::builder().method(request.method.as_str()).uri(request.url.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let outgoing = builder
            .body(FullBody::new(Bytes::from(request.body)))
            .map_err(|error| TransportError(format!("invalid request: {error}")))?;
        let response = spin_sdk::http::send(outgoing)
            .await
            // Includes HttpRequestDenied when the manifest does not allow the destination.
            .map_err(|code| TransportError(format!("{} {}: {code}", request.method.as_str(), request.url)))?;
        let status = response.status().as_u16();
        let headers = shared::transport::headers_from(response.headers());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| TransportError(format!("reading response body: {error}")))?
            .to_bytes()
            .to_vec();
        Ok(HttpResponse { status, headers, body })
    }
}
