//! Identity events to the notifications pipeline: the `EVENTS` queue (`marketplace-events`),
//! consumed by workers/events. Each message body is the `shared::events` envelope as a JSON object.

use shared::events::{Event, EventId, EventPayload, IdentityEmail, Link};
use shared::identity::email::Email;
use worker::{Env, QueueContentType, RawMessageBuilder};
use worker_platform::{clock, random};

use crate::respond::Failure;

pub const QUEUE_BINDING: &str = "EVENTS";

/// Who gets the email and the one-time link in it.
pub struct EmailRequest<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub link: String,
}

pub fn email_verification_requested(request: EmailRequest<'_>) -> Result<Event, Failure> {
    build(request, EventPayload::EmailVerificationRequested)
}

pub fn password_reset_requested(request: EmailRequest<'_>) -> Result<Event, Failure> {
    build(request, EventPayload::PasswordResetRequested)
}

fn build(request: EmailRequest<'_>, payload: fn(IdentityEmail) -> EventPayload) -> Result<Event, Failure> {
    // Our own validated email and PUBLIC_URL: a refusal here is a configuration or programming error.
    let email = Email::parse(request.email).map_err(Failure::internal)?;
    let link = Link::parse(request.link).map_err(Failure::internal)?;
    let id = EventId::parse(random::new_id("evt")).map_err(Failure::internal)?;
    let data = IdentityEmail { email, display_name: Some(request.display_name.to_owned()), link };
    Ok(Event::new(id, clock::now(), payload(data)))
}

/// Sends one event. Parsed from the envelope's JSON text, so the queue carries a plain object
/// (serde-wasm-bindgen would turn maps into JS `Map`s, which serialise as `{}`).
pub async fn send(env: &Env, event: &Event) -> Result<(), Failure> {
    let queue =
        env.queue(QUEUE_BINDING).map_err(|error| Failure::internal(format!("binding {QUEUE_BINDING}: {error}")))?;
    let body = worker::js_sys::JSON::parse(&event.to_json()).map_err(|_| Failure::internal("event is not JSON"))?;
    let message = RawMessageBuilder::new(body).build_with_content_type(QueueContentType::Json);
    queue
        .send_raw(message)
        .await
        .map_err(|error| Failure::unavailable("the event queue", format!("sending {}: {error}", event.id)))
}
