//! Test doubles shared by the protocol clients' unit tests.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::transport::{HttpRequest, HttpResponse, HttpTransport, TransportError};

/// Records every request and answers from a queue of canned responses.
#[derive(Debug, Default)]
pub struct FakeTransport {
    requests: RefCell<Vec<HttpRequest>>,
    responses: RefCell<VecDeque<Result<HttpResponse, TransportError>>>,
}

impl FakeTransport {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn respond(self, status: u16, body: impl Into<Vec<u8>>) -> Self {
        self.responses.borrow_mut().push_back(Ok(HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }));
        self
    }

    pub fn respond_json(self, status: u16, body: serde_json::Value) -> Self {
        self.respond(status, body.to_string())
    }

    pub fn fail(self, message: &str) -> Self {
        self.responses.borrow_mut().push_back(Err(TransportError(message.into())));
        self
    }

    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.borrow().clone()
    }

    pub fn only_request(&self) -> HttpRequest {
        let requests = self.requests.borrow();
        assert_eq!(requests.len(), 1, "expected exactly one request, got {requests:#?}");
        requests[0].clone()
    }
}

impl HttpTransport for FakeTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.requests.borrow_mut().push(request);
        self.responses.borrow_mut().pop_front().unwrap_or_else(|| Err(TransportError("no canned response left".into())))
    }
}

pub fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

pub fn json_body(request: &HttpRequest) -> serde_json::Value {
    serde_json::from_slice(&request.body).expect("request body is JSON")
}

/// Runs a future that never waits on real I/O (every fake here resolves at once); for proptests.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("test future waited on something that never wakes"),
    }
}
