//! Drives one saga (shared::saga) through the real calls: perform the action the state recorded,
//! report how it went, save the new state (compare-and-set on its revision), repeat until the saga
//! waits or ends. The checkout request, the payment events and the sweep all drive sagas this way;
//! a runner that finds another one saved first stops.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde_json::json;
use shared::api::{ApiError, ErrorCode};
use shared::cart::coupon::redemption_refusal;
use shared::cart::{CartView, Coupon, CouponCode, CouponUsage};
use shared::catalog::Money;
use shared::idempotency::IdempotencyKey;
use shared::inventory::{ReferenceRequest, Reservation, ReservationReference, ReserveItem, ReserveRequest};
use shared::neon::NeonError;
use shared::orders::checkout::CheckoutAnswer;
use shared::orders::{BuyerId, OrderGroup, ShippingAddress};
use shared::payments::api::{CreateIntent, Intent, PaymentMethodInput, RecordLedger, Recorded, Voided, declined};
use shared::payments::{PaymentStatus, PspReference, assess, split};
use shared::saga::{
    Action, CheckoutSnapshot, Compensation, DEFAULT_TIMING, Outcome, Report, SagaError, SagaState, Step, StepKey,
    StepOutput,
};
use spin_platform::config;
use spin_platform::ids::now_ms;

use crate::OUTBOX;
use crate::calls::{self, Answer};
use crate::saga_store as store;
use crate::store::Neon;

/// What only the checkout request has: the priced cart and how the buyer pays. A saga resumed
/// without it (after a crash) cannot redo the steps that need it and compensates.
pub struct CheckoutInput {
    pub cart: CartView,
    pub coupons: BTreeMap<CouponCode, (Coupon, CouponUsage)>,
    pub expected_total: Money,
    pub method: PaymentMethodInput,
    pub shipping_address: Option<ShippingAddress>,
}

pub struct Runner<'a> {
    neon: &'a Neon,
    buyer: BuyerId,
    input: Option<&'a CheckoutInput>,
    request_id: &'a str,
    /// The refusal that ended the saga, as the refusing component worded it.
    pub refusal: Option<ApiError>,
    /// The payment as `payments` last answered.
    pub payment: Option<Intent>,
    /// A report known before it is due: the payment answer already said how it ended.
    follow_up: Option<Report>,
}

#[derive(Debug)]
pub enum DriveError {
    Neon(NeonError),
    /// Another runner saved first; it carries on.
    Lost,
    Bug(SagaError),
}

impl From<NeonError> for DriveError {
    fn from(error: NeonError) -> Self {
        DriveError::Neon(error)
    }
}

impl<'a> Runner<'a> {
    pub fn new(neon: &'a Neon, buyer: BuyerId, input: Option<&'a CheckoutInput>, request_id: &'a str) -> Self {
        Self { neon, buyer, input, request_id, refusal: None, payment: None, follow_up: None }
    }

    /// Performs `action` (already recorded in the saved `state`) and whatever follows, saving
    /// after each. Stops when the saga waits or ends; its final state also answers the request's
    /// Idempotency-Key if the request did not.
    pub async fn drive(&mut self, state: &mut SagaState, action: Action) -> Result<(), DriveError> {
        self.run_until_it_waits(state, action).await?;
        if !state.status().is_final() {
            // Let the next runner in (a payment event, the sweep); a failure lets the hold lapse.
            if let Err(error) = store::release(self.neon, state).await {
                eprintln!("[{}] {} release: {error}", self.request_id, state.saga_id());
            }
        }
        Ok(())
    }

    async fn run_until_it_waits(&mut self, state: &mut SagaState, mut action: Action) -> Result<(), DriveError> {
        loop {
            let report = match action {
                Action::Done { .. } => return Ok(()),
                Action::WaitUntil { .. } => match self.follow_up.take() {
                    Some(report) => {
                        crash_switch(Step::AwaitPayment).await;
                        report
                    }
                    None => return Ok(()),
                },
                Action::Run { step, .. } => {
                    let outcome = self.run(step, state).await;
                    self.log(state, step.as_str(), &outcome);
                    crash_switch(step).await;
                    Report::Step { step, outcome }
                }
                Action::Compensate { step, compensation, .. } => {
                    let outcome = self.compensate(compensation, state).await;
                    self.log(state, compensation.as_str(), &outcome);
                    Report::Compensation { step, outcome }
                }
            };
            match self.record(state, report).await? {
                Some(next) => action = next,
                None => return Ok(()),
            }
        }
    }

    /// A report from outside (the payment's event): recorded, then driven on. False when the saga
    /// was not waiting for it.
    pub async fn apply(&mut self, state: &mut SagaState, report: Report) -> Result<bool, DriveError> {
        let Some(action) = self.record(state, report).await? else { return Ok(false) };
        self.drive(state, action).await?;
        Ok(true)
    }

    /// The sweep's way in: whatever is due now (the state was claimed as loaded).
    pub async fn resume(&mut self, state: &mut SagaState) -> Result<(), DriveError> {
        let loaded = state.revision();
        let action = state.resume(now_ms());
        self.save(state, loaded).await?;
        self.drive(state, action).await
    }

    /// Advances and saves; `None` for a report the saga no longer waits for (nothing saved).
    async fn record(&mut self, state: &mut SagaState, report: Report) -> Result<Option<Action>, DriveError> {
        let loaded = state.revision();
        let action = match state.advance(report, now_ms()) {
            Ok(action) => action,
            Err(SagaError::Stale(_)) => return Ok(None),
            Err(error) => return Err(DriveError::Bug(error)),
        };
        self.save(state, loaded).await?;
        Ok(Some(action))
    }

    /// Saves the state, still holding the saga while it goes on (released when the runner stops).
    async fn save(&self, state: &SagaState, loaded: u64) -> Result<(), DriveError> {
        let final_state = state.status().is_final();
        let answer = final_state.then(|| self.answer(state, None));
        let answer = answer.as_ref().map(|(status, body)| (*status, body.as_str()));
        let hold = (!final_state).then(|| now_ms().saturating_add(DEFAULT_TIMING.lease_ms));
        if store::save(self.neon, state, loaded, hold, answer).await? { Ok(()) } else { Err(DriveError::Lost) }
    }

    /// What did not go through, for operators: a refusal or an error the saga retries.
    fn log(&self, state: &SagaState, what: &str, outcome: &Outcome) {
        match outcome {
            Outcome::Refused { reason } => {
                eprintln!("[{}] {} {what}: refused {reason}", self.request_id, state.saga_id())
            }
            Outcome::Transient { error } => eprintln!("[{}] {} {what}: {error}", self.request_id, state.saga_id()),
            Outcome::Timeout => eprintln!("[{}] {} {what}: timed out", self.request_id, state.saga_id()),
            Outcome::Ok(_) => {}
        }
    }

    async fn run(&mut self, step: Step, state: &SagaState) -> Outcome {
        let snapshot = state.outputs().snapshot.as_deref();
        match (step, snapshot) {
            (Step::SnapshotCart, _) => self.snapshot(state).await,
            (_, None) => Outcome::Transient { error: format!("{step} has no snapshot to work on") },
            (Step::CreateOrders, Some(snapshot)) => {
                let result =
                    store::create_group(self.neon, &snapshot.group, &snapshot.commission, state.saga_id()).await;
                self.database(result, |_| Outcome::Ok(StepOutput::Done))
            }
            (Step::ReserveStock, Some(snapshot)) => self.reserve(state, &snapshot.group).await,
            (Step::CreatePayment, Some(snapshot)) => self.create_payment(state, &snapshot.group).await,
            (Step::AwaitPayment, Some(_)) => self.poll_payment(state).await,
            (Step::ConsumeStock, Some(_)) => {
                let body = ReferenceRequest { reference: reference(state) };
                self.refusable(calls::post::<Reservation>("/inventory/reservations/consume", &body).await)
            }
            (Step::RecordLedger, Some(snapshot)) => match split(&snapshot.group, &snapshot.commission) {
                Ok(split) => {
                    let answer = calls::post::<Recorded>("/payments/journals", &RecordLedger { split }).await;
                    self.refusable(answer)
                }
                Err(error) => Outcome::Transient { error: format!("the split does not add up: {error}") },
            },
            (Step::ConfirmOrders, Some(snapshot)) => {
                let result = store::confirm_group(self.neon, &snapshot.group, &state.order_placed_event_id()).await;
                if result.is_ok() {
                    OUTBOX.after_commit(self.neon, self.request_id).await;
                }
                self.database(result, |_| Outcome::Ok(StepOutput::Done))
            }
        }
    }

    async fn compensate(&mut self, compensation: Compensation, state: &SagaState) -> Outcome {
        let failed = |error: String| Outcome::Transient { error };
        match compensation {
            Compensation::CancelOrders => match store::cancel_group(self.neon, &state.group_id()).await {
                Ok(()) => Outcome::Ok(StepOutput::Done),
                Err(error) => failed(error.to_string()),
            },
            Compensation::ReleaseStock => {
                let body = ReferenceRequest { reference: reference(state) };
                match calls::post::<Reservation>("/inventory/reservations/release", &body).await {
                    Answer::Done(_) => Outcome::Ok(StepOutput::Done),
                    Answer::Refused(error) => failed(error.message),
                    Answer::Failed(error) => failed(error),
                }
            }
            Compensation::VoidPayment => {
                let path = format!("/payments/intents/{}/void", state.payment_id());
                match calls::post::<Voided>(&path, &json!({})).await {
                    Answer::Done(_) => Outcome::Ok(StepOutput::Done),
                    Answer::Refused(error) => failed(error.message),
                    Answer::Failed(error) => failed(error),
                }
            }
        }
    }

    async fn snapshot(&mut self, state: &SagaState) -> Outcome {
        let Some(input) = self.input else {
            return self.refuse(ApiError::new(
                ErrorCode::Conflict,
                "the checkout was interrupted before the cart was read; check out again",
            ));
        };
        let built = OrderGroup::from_cart(
            state.group_id(),
            self.buyer.clone(),
            &input.cart,
            &input.coupons,
            input.expected_total,
        )
        .and_then(|group| group.with_shipping_address(input.shipping_address.clone()));
        let group = match built {
            Ok(group) => group,
            Err(refusal) => return self.refuse(refusal.to_api_error()),
        };
        let inputs = match store::commission_inputs(self.neon, &group).await {
            Ok(inputs) => inputs,
            Err(error) => return Outcome::Transient { error: error.to_string() },
        };
        let Some(rules) = inputs.rules else {
            return Outcome::Transient { error: "no default commission rule is in force".to_owned() };
        };
        match assess(&group, &rules, &inputs.categories) {
            Ok(commission) => Outcome::Ok(StepOutput::Snapshot(Box::new(CheckoutSnapshot { group, commission }))),
            Err(error) => Outcome::Transient { error: format!("commission: {error}") },
        }
    }

    async fn reserve(&mut self, state: &SagaState, group: &OrderGroup) -> Outcome {
        let items = group
            .orders
            .iter()
            .flat_map(|order| &order.lines)
            .map(|line| ReserveItem { variant_id: line.variant_id.clone(), quantity: line.quantity })
            .collect();
        let expires_at = DateTime::from_timestamp_millis(state.reservation_expires_at_ms()).unwrap_or_default();
        let body = ReserveRequest { reference: reference(state), items, expires_at };
        self.refusable(calls::post::<Reservation>("/inventory/reservations", &body).await)
    }

    async fn create_payment(&mut self, state: &SagaState, group: &OrderGroup) -> Outcome {
        let Some(input) = self.input else {
            return self.recover_payment(state).await;
        };
        let key = StepKey::forward(state.saga_id(), Step::CreatePayment);
        let Ok(idempotency_key) = IdempotencyKey::parse(key.as_str()) else {
            return Outcome::Transient { error: format!("{key} is not an idempotency key") };
        };
        let body = CreateIntent {
            group_id: group.id.clone(),
            buyer_id: self.buyer.clone(),
            amount: group.totals.total,
            method: input.method.clone(),
            idempotency_key,
        };
        match calls::post::<Intent>("/payments/intents", &body).await {
            Answer::Done(intent) => self.payment_created(intent),
            answer => self.refusable(answer),
        }
    }

    /// Resumed without the buyer's payment method: a payment the crashed runner made is taken up
    /// (the money may be on its way); with none made, the checkout is undone.
    async fn recover_payment(&mut self, state: &SagaState) -> Outcome {
        match calls::get::<Intent>(&format!("/payments/intents/{}", state.payment_id())).await {
            Answer::Done(intent) if intent.psp_reference.is_some() => self.payment_created(intent),
            Answer::Failed(error) => Outcome::Transient { error },
            _ => self.refuse(ApiError::new(
                ErrorCode::Conflict,
                "the checkout was interrupted before the payment was made; nothing was charged, check out again",
            )),
        }
    }

    fn payment_created(&mut self, intent: Intent) -> Outcome {
        self.follow_up = payment_report(&intent);
        if matches!(intent.status, PaymentStatus::Failed | PaymentStatus::Cancelled) {
            self.refusal = Some(declined(&intent.payment_id, intent.failure.as_ref()));
        }
        let outcome = match &intent.psp_reference {
            Some(reference) => Outcome::Ok(StepOutput::PaymentCreated { intent: reference.clone() }),
            None => Outcome::Transient { error: "the provider has not answered yet".to_owned() },
        };
        self.payment = Some(intent);
        outcome
    }

    async fn poll_payment(&mut self, state: &SagaState) -> Outcome {
        match calls::get::<Intent>(&format!("/payments/intents/{}", state.payment_id())).await {
            Answer::Done(intent) => {
                let report = payment_report(&intent);
                if matches!(intent.status, PaymentStatus::Failed | PaymentStatus::Cancelled) {
                    self.refusal = Some(declined(&intent.payment_id, intent.failure.as_ref()));
                }
                self.payment = Some(intent);
                match report {
                    Some(Report::Step { outcome, .. }) => outcome,
                    _ => Outcome::Transient { error: "the payment is not final yet".to_owned() },
                }
            }
            answer => self.refusable(answer),
        }
    }

    fn refusable<T>(&mut self, answer: Answer<T>) -> Outcome {
        let (outcome, refusal) = answer.outcome(|_| Outcome::Ok(StepOutput::Done));
        if refusal.is_some() {
            self.refusal = refusal;
        }
        outcome
    }

    fn refuse(&mut self, error: ApiError) -> Outcome {
        let outcome = Outcome::refused(&error);
        self.refusal = Some(error);
        outcome
    }

    fn database<T>(&mut self, result: Result<T, NeonError>, done: impl FnOnce(T) -> Outcome) -> Outcome {
        match result {
            Ok(value) => done(value),
            Err(error) => match redemption_refusal(&error) {
                Some(refusal) => self.refuse(refusal),
                None => Outcome::Transient { error: error.to_string() },
            },
        }
    }

    /// The checkout's answer as the saga stands (`CheckoutAnswer::of`), as status and JSON text.
    pub fn answer(&self, state: &SagaState, requested_total: Option<Money>) -> (u16, String) {
        match CheckoutAnswer::of(state, self.payment.as_ref(), self.refusal.as_ref(), requested_total) {
            Ok(answer) => (answer.http_status(), serde_json::to_string(&answer).unwrap_or_default()),
            Err(error) => (error.status(), error.to_json(self.request_id)),
        }
    }
}

fn reference(state: &SagaState) -> ReservationReference {
    ReservationReference::for_group(&state.group_id())
}

/// How a payment that reached a final state reports for `AwaitPayment`.
fn payment_report(intent: &Intent) -> Option<Report> {
    let outcome = payment_outcome(intent.status, intent.psp_reference.clone(), || {
        declined(&intent.payment_id, intent.failure.as_ref())
    })?;
    Some(Report::Step { step: Step::AwaitPayment, outcome })
}

/// `None` while the payment is not final (or succeeded without the provider's reference yet).
pub fn payment_outcome(
    status: PaymentStatus,
    reference: Option<PspReference>,
    declined: impl FnOnce() -> ApiError,
) -> Option<Outcome> {
    match status {
        PaymentStatus::Succeeded => Some(Outcome::Ok(StepOutput::PaymentSucceeded { charge: reference? })),
        PaymentStatus::Failed | PaymentStatus::Cancelled => Some(Outcome::refused(&declined())),
        _ => None,
    }
}

/// Test-only (`test_crash_after_step`, empty in production): abort the component right after step
/// N did its work and before its report is saved, as a crash would.
async fn crash_switch(step: Step) {
    if let Ok(Some(value)) = config::named_optional("test_crash_after_step").await
        && value.trim().parse::<usize>() == Ok(step.number())
    {
        eprintln!("test_crash_after_step: aborting after step {} ({step})", step.number());
        std::process::abort();
    }
}
