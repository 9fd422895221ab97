//! `GET /.well-known/jwks.json`: the public key access tokens are verified with.

use shared::identity::jwks::Jwks;

use crate::respond::{Outcome, Reply};
use crate::services::Services;

pub fn serve(services: &Services) -> Outcome {
    let jwks = Jwks::new(vec![services.token_issuer().jwk()]);
    Ok(Reply::json(200, &jwks)?.cacheable())
}
