//! `POST /orders/payment-events`: how payments ended, from the payments outbox (signed batches,
//! `shared::events::edge::EventBatch`, docs/adr/0006 §2). Each is the `AwaitPayment` report of its
//! group's saga, which then runs on to the end. A duplicate changes nothing (the saga no longer
//! waits for it); an event that beat the saga to its wait is answered 503, so it comes again.

use shared::api::{ApiError, ErrorCode};
use shared::events::edge::EventBatch;
use shared::payments::api::{PaymentEvent, TOPIC_PAYMENT_FAILED, TOPIC_PAYMENT_SUCCEEDED, declined};
use shared::saga::{Report, SagaStatus, Step};
use spin_platform::{Received, Response, config, database_failure, error_response, json_response, misconfigured};

use crate::runner::{DriveError, Runner, payment_outcome};
use crate::saga_store as store;

#[derive(serde::Serialize, Default)]
struct Handled {
    applied: usize,
    ignored: usize,
}

pub async fn handle(request: &Received) -> Response {
    let batch: EventBatch = match serde_json::from_slice(&request.body) {
        Ok(batch) => batch,
        Err(error) => {
            let error = ApiError::new(ErrorCode::InvalidRequest, format!("invalid event batch: {error}"));
            return error_response(&error, &request.request_id);
        }
    };
    let neon = match config::neon_client().await {
        Ok(neon) => neon,
        Err(error) => return misconfigured(&error, &request.request_id),
    };
    let mut handled = Handled::default();
    for event in &batch.events {
        if event.event_type != TOPIC_PAYMENT_SUCCEEDED && event.event_type != TOPIC_PAYMENT_FAILED {
            handled.ignored += 1;
            continue;
        }
        let Ok(payment) = serde_json::from_value::<PaymentEvent>(event.data.clone()) else {
            eprintln!("[{}] payment event {} has unreadable data; acknowledged", request.request_id, event.id);
            handled.ignored += 1;
            continue;
        };
        let stored = match store::load_by_group(&neon, &payment.group_id).await {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                handled.ignored += 1;
                continue;
            }
            Err(error) => return database_failure(&error, &request.request_id),
        };
        let mut state = stored.state;
        let Some(outcome) = payment_outcome(payment.status, payment.psp_reference.clone(), || {
            declined(&payment.payment_id, payment.failure.as_ref())
        }) else {
            handled.ignored += 1;
            continue;
        };
        // Another runner is on it, or it has not reached its wait: the outbox sends it again
        // later. Any other state decides for itself (a report it no longer waits for changes
        // nothing).
        if stored.held_elsewhere || (state.status() == SagaStatus::Running && state.step() < Step::AwaitPayment) {
            let error =
                ApiError::new(ErrorCode::DependencyUnavailable, "the checkout is not waiting for its payment yet");
            return error_response(&error, &request.request_id);
        }
        let mut runner = Runner::new(&neon, stored.buyer, None, &request.request_id);
        match runner.apply(&mut state, Report::Step { step: Step::AwaitPayment, outcome }).await {
            Ok(true) => handled.applied += 1,
            Ok(false) | Err(DriveError::Lost) => handled.ignored += 1,
            Err(DriveError::Neon(error)) => return database_failure(&error, &request.request_id),
            Err(DriveError::Bug(error)) => {
                eprintln!("[{}] payment event {}: {error}", request.request_id, event.id);
                handled.ignored += 1;
            }
        }
    }
    json_response(200, &handled, &request.request_id)
}
