//! Reading a posted form, and refusing posts that another site's page made the browser send.

use shared::storefront::form::Form;
use worker::Request;
use worker_platform::request::read_bounded;

use super::errors::PageError;

/// More than any storefront form holds (an address is the longest).
const MAX_FORM_BYTES: usize = 16 * 1024;

pub async fn read(request: &mut Request) -> Result<Form, PageError> {
    let body = read_bounded(request, MAX_FORM_BYTES)
        .await
        .map_err(PageError::Api)?
        .ok_or_else(|| PageError::internal("a form larger than 16 KiB"))?;
    Ok(Form::parse(&body))
}

/// The session cookies are `SameSite=Lax`, so a cross-site post carries no session anyway; this
/// also stops one aimed at a guest's cart (its cookie is the cart Worker's).
pub fn check_same_origin(request: &Request) -> Result<(), PageError> {
    let Some(origin) = request.headers().get("origin").ok().flatten() else { return Ok(()) };
    let url = request.url().map_err(PageError::internal)?;
    let own = url.origin().ascii_serialization();
    if origin == own { Ok(()) } else { Err(PageError::CrossSite) }
}
