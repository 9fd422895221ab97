//! The component's half of gateway-forwarded API calls (docs/adr/0006): a signed `POST` whose body
//! is `shared::forwarding::Forwarded`. Only what that body says is believed: the caller, the method,
//! the query and the client's body, all covered by the signature.

use http::Method;
use shared::api::{ApiError, ErrorCode};
use shared::forwarding::Forwarded;

use crate::respond::{Received, Response, error_response};
use crate::signature::{ReplayTable, require_signature};

/// Verifies and unpacks a forwarded call to `component`; `Err` is the answer to send (401 for a
/// missing, bad or replayed signature, with nothing processed).
pub async fn receive_forwarded(request: &Received, component: &str, table: ReplayTable) -> Result<Forwarded, Response> {
    if request.parts.method != Method::POST {
        let error = ApiError::new(ErrorCode::MethodNotAllowed, "forwarded calls are POSTed by the gateway");
        return Err(error_response(&error, &request.request_id));
    }
    if let Err(rejection) = require_signature(request, table).await {
        return Err(error_response(&rejection.to_api_error(), &request.request_id));
    }
    Forwarded::parse(&request.body, component, request.path())
        .map_err(|error| error_response(&error, &request.request_id))
}
