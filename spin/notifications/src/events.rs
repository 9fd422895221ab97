//! `POST /notifications/events` (signed): an event from the queue becomes an outbox row, once per
//! event id, and is sent right away; failures stay pending for the sweep. Answers 202 whatever the
//! send did, because the outbox now owns the email.

use serde::Serialize;
use shared::api::{ApiError, ErrorCode};
use shared::events::notification;
use shared::events::outbox::Status;
use shared::events::{self, Incoming};
use spin_platform::{Received, Response, config, error_response, json_response, misconfigured, require_signature};

use crate::failures::unavailable;
use crate::{REPLAY_TABLE, delivery, mailer, outbox};

#[derive(Serialize)]
struct Accepted<'a> {
    event_id: &'a str,
    /// `delivered` | `pending` | `failed` for a new row, `duplicate` for a redelivery,
    /// `ignored` for an event type this component does not handle.
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_id: Option<&'a str>,
}

pub async fn handle(request: &Received) -> Response {
    if let Err(rejection) = require_signature(request, REPLAY_TABLE).await {
        return error_response(&rejection.to_api_error(), &request.request_id);
    }
    let event = match events::parse(&request.body) {
        Ok(Incoming::Known(event)) => event,
        Ok(Incoming::Unknown { id, event_type }) => {
            eprintln!("[{}] event {id}: type {event_type:?} is not for notifications; ignored", request.request_id);
            return accepted(request, Accepted { event_id: id.as_str(), status: "ignored", notification_id: None });
        }
        Err(error) => {
            return error_response(&ApiError::new(ErrorCode::InvalidRequest, error.to_string()), &request.request_id);
        }
    };
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return misconfigured(&error, &request.request_id),
    };
    let rendered = notification::render(&event);
    let row = match outbox::insert(&neon, &event.id, &rendered).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            return accepted(
                request,
                Accepted { event_id: event.id.as_str(), status: "duplicate", notification_id: None },
            );
        }
        Err(error) => return unavailable(request, &error),
    };
    let mailer = mailer::from_variables().await;
    let status = match delivery::attempt(&neon, mailer.as_ref(), &row).await {
        Ok(status) => status.as_str(),
        // The row is stored: its claim lapses and the sweep sends it.
        Err(error) => {
            eprintln!("[{}] notification {}: cannot record the attempt: {error}", request.request_id, row.id);
            Status::Pending.as_str()
        }
    };
    accepted(request, Accepted { event_id: event.id.as_str(), status, notification_id: Some(&row.id) })
}

fn accepted(request: &Received, body: Accepted<'_>) -> Response {
    json_response(202, &body, &request.request_id)
}
