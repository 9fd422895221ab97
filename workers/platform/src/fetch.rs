//! `shared::transport::HttpTransport` over the runtime's own `fetch`, called directly: per
//! subrequest this skips what reqwest's wasm backend adds (an AbortController, the response URL
//! parsed, every response header round-tripped through JSON).

use shared::transport::{HttpRequest, HttpResponse, HttpTransport, TransportError};
use worker::js_sys::{self, Array, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys;

#[derive(Debug, Clone, Copy, Default)]
pub struct FetchTransport;

impl HttpTransport for FetchTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let headers = web_sys::Headers::new().map_err(js_error)?;
        for (name, value) in &request.headers {
            headers.append(name, value).map_err(js_error)?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(request.method.as_str());
        init.set_headers(&headers);
        if !request.body.is_empty() {
            init.set_body(&Uint8Array::from(request.body.as_slice()));
        }
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let response: web_sys::Response = JsFuture::from(global.fetch_with_str_and_init(&request.url, &init))
            .await
            .map_err(js_error)?
            .dyn_into()
            .map_err(js_error)?;
        let status = response.status();
        let mut response_headers = Vec::new();
        let entries = js_sys::try_iter(&response.headers()).map_err(js_error)?;
        for entry in entries.into_iter().flatten() {
            let pair: Array = entry.map_err(js_error)?.unchecked_into();
            if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                response_headers.push((name, value));
            }
        }
        let buffer = JsFuture::from(response.array_buffer().map_err(js_error)?).await.map_err(js_error)?;
        Ok(HttpResponse { status, headers: response_headers, body: Uint8Array::new(&buffer).to_vec() })
    }
}

fn js_error(error: JsValue) -> TransportError {
    TransportError(error.as_string().unwrap_or_else(|| format!("{error:?}")))
}
