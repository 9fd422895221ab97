//! The saga's persisted state and the pure "what next" rules.
//!
//! The `orders` component drives a saga like this:
//! 1. `SagaState::start` → store the state (a new row) → perform the returned action;
//! 2. after each step or compensation, `advance(report, now)` → store the state (guarded by
//!    `revision`: `UPDATE … WHERE revision = $old`) → perform the next action;
//! 3. the provider's webhook is a report for `AwaitPayment`;
//! 4. the sweep loads sagas whose `next_attempt_at_ms` has passed and calls `resume(now)`.
//!
//! An action is recorded (its attempt counted, a lease taken) before it is performed, so a crash
//! at any point leaves a state that `resume` continues: the step runs again under the same
//! idempotency key, or its compensation does.
//!
//! A report the saga is not waiting for is `SagaError::Stale` and changes nothing: a duplicate
//! webhook, a runner that outlived its lease, or a success webhook that beat the `CreatePayment`
//! report (answer the provider non-2xx so it redelivers, or let the next poll find the success).
//!
//! Failure rules:
//! - a refusal (out of stock, card declined) compensates at once;
//! - a transient error or timeout is retried with backoff up to the step's budget, then
//!   compensates; before the pivot, also when the retry would fall past the deadline;
//! - past the deadline, a saga that has not been paid compensates: it never waits for the provider
//!   again and never starts another pre-payment step (it only lets a step still in flight finish
//!   its lease, so the undo does not race it). A success webhook that lands after the deadline but
//!   before a sweep noticed is taken: the money is real and the reservation outlasts the deadline;
//! - compensations run for every step that was attempted and has one, in reverse order, each until
//!   it succeeds once; a compensation out of retries is abandoned (the saga ends `failed` and
//!   `needs_operator()`), the others still run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::SagaId;
use super::step::{COMPENSATION_RETRY_MS, Compensation, MAX_COMPENSATION_ATTEMPTS, Step, StepKey};
use crate::api::{ApiError, ErrorCode};
use crate::events::EventId;
use crate::ids::derived_entropy;
use crate::orders::{OrderGroup, OrderGroupId};
use crate::payments::{CommissionLine, PaymentId, PspReference};

/// Checkout's clocks, stored with the saga so a sweep uses the ones it started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// From the start until the payment must have succeeded.
    pub payment_timeout_ms: i64,
    /// How long the stock reservation holds; longer than the payment timeout, so the stock is
    /// still there to consume when a payment succeeds at the last moment.
    pub reservation_ttl_ms: i64,
    /// How long a step in flight is left alone before a sweep assumes its runner died.
    pub lease_ms: i64,
    /// How often to ask the provider while no webhook has come.
    pub poll_interval_ms: i64,
}

/// Issue 6: reservations hold for 15 minutes. The payment gets 12 of them, leaving 3 to consume
/// the stock after a last-moment success. The cron sweep runs every minute, hence the poll.
pub const DEFAULT_TIMING: Timing = Timing {
    payment_timeout_ms: 12 * 60_000,
    reservation_ttl_ms: 15 * 60_000,
    lease_ms: 30_000,
    poll_interval_ms: 60_000,
};

impl Default for Timing {
    fn default() -> Self {
        DEFAULT_TIMING
    }
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("timings must be positive and the reservation must outlast the payment timeout")]
pub struct TimingError;

impl Timing {
    /// Tests shorten these; production uses `DEFAULT_TIMING`.
    pub fn new(
        payment_timeout_ms: i64,
        reservation_ttl_ms: i64,
        lease_ms: i64,
        poll_interval_ms: i64,
    ) -> Result<Timing, TimingError> {
        let positive = [payment_timeout_ms, reservation_ttl_ms, lease_ms, poll_interval_ms].iter().all(|ms| *ms > 0);
        if positive && reservation_ttl_ms > payment_timeout_ms {
            Ok(Timing { payment_timeout_ms, reservation_ttl_ms, lease_ms, poll_interval_ms })
        } else {
            Err(TimingError)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaStatus {
    /// A forward step is running or due.
    Running,
    /// Waiting for the payment provider.
    Awaiting,
    Compensating,
    /// Orders confirmed: final.
    Completed,
    /// Compensated (or, with abandoned compensations, left for an operator): final.
    Failed,
}

impl SagaStatus {
    /// The `status` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            SagaStatus::Running => "running",
            SagaStatus::Awaiting => "awaiting",
            SagaStatus::Compensating => "compensating",
            SagaStatus::Completed => "completed",
            SagaStatus::Failed => "failed",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, SagaStatus::Completed | SagaStatus::Failed)
    }
}

/// The cart as checked out, with the commission frozen on its lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutSnapshot {
    pub group: OrderGroup,
    pub commission: Vec<CommissionLine>,
}

/// What a step reports on success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "output", rename_all = "snake_case")]
pub enum StepOutput {
    /// `SnapshotCart`: the group must carry the saga's `group_id()`.
    Snapshot(Box<CheckoutSnapshot>),
    /// `CreatePayment`: the provider's payment intent.
    PaymentCreated { intent: PspReference },
    /// `AwaitPayment`: the provider's charge (transfers name it as their source).
    PaymentSucceeded { charge: PspReference },
    /// Every other step.
    Done,
}

/// How a step or compensation ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Ok(StepOutput),
    /// A business refusal that retrying cannot change (out of stock, card declined); a stable code.
    Refused {
        reason: String,
    },
    /// It may or may not have happened (network, 5xx, a conflict); retry under the same key.
    Transient {
        error: String,
    },
    /// The call did not answer in time; like `Transient`.
    Timeout,
}

impl Outcome {
    /// A refusal as the refusing side answered it, remembered by its stable code.
    pub fn refused(error: &ApiError) -> Outcome {
        Outcome::Refused { reason: error.code.wire_name() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Report {
    Step { step: Step, outcome: Outcome },
    Compensation { step: Step, outcome: Outcome },
}

/// What the component does next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Run {
        step: Step,
        attempt: u32,
        key: StepKey,
    },
    /// Undo `step` (it was attempted).
    Compensate {
        step: Step,
        compensation: Compensation,
        attempt: u32,
        key: StepKey,
    },
    /// Nothing to do before `at_ms`: a retry's backoff, a lease, or the wait for the provider.
    WaitUntil {
        at_ms: i64,
    },
    Done {
        status: SagaStatus,
    },
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SagaError {
    /// A report for a step the saga is not at (a duplicate webhook, a runner that lost its lease):
    /// ignore it; the state is unchanged.
    #[error("the saga is not at {0}")]
    Stale(Step),
    /// A success whose output does not belong to the step (a caller bug): the state is unchanged.
    #[error("{0} reported an output of another step")]
    UnexpectedOutput(Step),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailureKind {
    Refused {
        reason: String,
    },
    /// Out of retries; the last error.
    Exhausted {
        error: String,
    },
    /// The deadline passed before the payment succeeded.
    TimedOut,
}

/// Why the saga compensated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub step: Step,
    #[serde(flatten)]
    pub kind: FailureKind,
    pub at_ms: i64,
}

impl Failure {
    /// What the shopper is told when the saga compensated for this failure, from the saga alone
    /// (after a crash the refusing side's own words are gone): a 4xx, so an Idempotency-Key keeps it.
    pub fn to_api_error(&self) -> ApiError {
        match &self.kind {
            FailureKind::Refused { reason } => {
                let code = ErrorCode::from_wire_name(reason).filter(|code| (400..500).contains(&code.http_status()));
                let code = code.unwrap_or(ErrorCode::Conflict);
                let message = match code {
                    ErrorCode::OutOfStock => "not enough stock for every item; nothing was reserved or charged",
                    ErrorCode::PaymentDeclined => "the payment was declined; nothing was charged",
                    ErrorCode::CouponRejected => "a coupon can no longer be redeemed",
                    _ => "the checkout was refused and undone; nothing was charged",
                };
                ApiError::new(code, message)
            }
            FailureKind::TimedOut => {
                ApiError::new(ErrorCode::PaymentDeclined, "the payment was not completed in time; nothing was charged")
            }
            FailureKind::Exhausted { .. } => ApiError::new(
                ErrorCode::Conflict,
                "the checkout could not be completed and was undone; nothing was charged, check out again",
            )
            .with_details(serde_json::json!({ "reason": "checkout_failed", "step": self.step })),
        }
    }
}

/// What the steps reported, kept for the steps after them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Outputs {
    pub snapshot: Option<Box<CheckoutSnapshot>>,
    pub payment_intent: Option<PspReference>,
    pub charge: Option<PspReference>,
}

/// The row the `orders` component stores after every change (as JSON, with `status`,
/// `next_attempt_at_ms`, `deadline_ms` and `revision` also in columns for the sweep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaState {
    saga_id: SagaId,
    /// Bumped on every change: the optimistic lock of concurrent runners (request, webhook, sweep).
    revision: u64,
    status: SagaStatus,
    /// The forward step running or next (the last one reached, once compensating).
    step: Step,
    timing: Timing,
    started_at_ms: i64,
    /// The payment must succeed before this (UTC unix ms).
    deadline_ms: i64,
    /// When to look at the saga again; `None` once final.
    next_attempt_at_ms: Option<i64>,
    /// Forward attempts started per step; a step with any has to be compensated on failure.
    attempts: BTreeMap<Step, u32>,
    completed: Vec<Step>,
    compensation_attempts: BTreeMap<Step, u32>,
    compensated: Vec<Step>,
    /// Compensations that ran out of retries.
    abandoned: Vec<Step>,
    failure: Option<Failure>,
    outputs: Outputs,
}

fn count(counts: &BTreeMap<Step, u32>, step: Step) -> u32 {
    counts.get(&step).copied().unwrap_or(0)
}

fn bump(counts: &mut BTreeMap<Step, u32>, step: Step) -> u32 {
    let n = counts.entry(step).or_insert(0);
    *n += 1;
    *n
}

impl SagaState {
    /// A new saga at `now_ms`, and its first action (snapshot the cart).
    pub fn start(saga_id: SagaId, now_ms: i64, timing: Timing) -> (SagaState, Action) {
        let mut state = SagaState {
            saga_id,
            revision: 0,
            status: SagaStatus::Running,
            step: Step::SnapshotCart,
            timing,
            started_at_ms: now_ms,
            deadline_ms: now_ms.saturating_add(timing.payment_timeout_ms),
            next_attempt_at_ms: None,
            attempts: BTreeMap::new(),
            completed: Vec::new(),
            compensation_attempts: BTreeMap::new(),
            compensated: Vec::new(),
            abandoned: Vec::new(),
            failure: None,
            outputs: Outputs::default(),
        };
        let action = state.decide(now_ms);
        (state, action)
    }

    /// After a step or compensation reported. A stale or malformed report changes nothing.
    pub fn advance(&mut self, report: Report, now_ms: i64) -> Result<Action, SagaError> {
        match report {
            Report::Step { step, outcome } => {
                let at_step = matches!(self.status, SagaStatus::Running | SagaStatus::Awaiting) && self.step == step;
                if !at_step {
                    return Err(SagaError::Stale(step));
                }
                match outcome {
                    Outcome::Ok(output) => self.succeed(step, output, now_ms)?,
                    Outcome::Refused { reason } => self.fail(step, FailureKind::Refused { reason }, now_ms),
                    Outcome::Transient { error } => self.retry_or_fail(step, error, now_ms),
                    Outcome::Timeout => self.retry_or_fail(step, "timed out".to_owned(), now_ms),
                }
            }
            Report::Compensation { step, outcome } => {
                if self.status != SagaStatus::Compensating || self.current_compensation() != Some(step) {
                    return Err(SagaError::Stale(step));
                }
                if matches!(outcome, Outcome::Ok(_)) {
                    self.compensated.push(step);
                    self.next_attempt_at_ms = None;
                } else {
                    // Compensations do not refuse by contract; whatever went wrong, try again later.
                    let attempts = count(&self.compensation_attempts, step);
                    match COMPENSATION_RETRY_MS.get(attempts.saturating_sub(1) as usize) {
                        Some(delay) if attempts < MAX_COMPENSATION_ATTEMPTS => {
                            self.next_attempt_at_ms = Some(now_ms.saturating_add(*delay));
                        }
                        _ => {
                            self.abandoned.push(step);
                            self.next_attempt_at_ms = None;
                        }
                    }
                }
            }
        }
        self.revision += 1;
        Ok(self.decide(now_ms))
    }

    /// For the sweep, and after a crash or a wait: what to do now.
    pub fn resume(&mut self, now_ms: i64) -> Action {
        let before = self.clone();
        let action = self.decide(now_ms);
        if *self != before {
            self.revision += 1;
        }
        action
    }

    fn succeed(&mut self, step: Step, output: StepOutput, now_ms: i64) -> Result<(), SagaError> {
        match (step, output) {
            (Step::SnapshotCart, StepOutput::Snapshot(snapshot)) if snapshot.group.id == self.group_id() => {
                self.outputs.snapshot = Some(snapshot);
            }
            (Step::CreatePayment, StepOutput::PaymentCreated { intent }) => self.outputs.payment_intent = Some(intent),
            (Step::AwaitPayment, StepOutput::PaymentSucceeded { charge }) => self.outputs.charge = Some(charge),
            (Step::SnapshotCart | Step::CreatePayment | Step::AwaitPayment, _) => {
                return Err(SagaError::UnexpectedOutput(step));
            }
            (_, StepOutput::Done) => {}
            (_, _) => return Err(SagaError::UnexpectedOutput(step)),
        }
        self.completed.push(step);
        self.next_attempt_at_ms = None;
        match step.next() {
            None => self.status = SagaStatus::Completed,
            Some(Step::AwaitPayment) => {
                self.step = Step::AwaitPayment;
                self.status = SagaStatus::Awaiting;
                self.next_attempt_at_ms = Some(self.poll_at(now_ms));
            }
            Some(next) => {
                self.step = next;
                self.status = SagaStatus::Running;
            }
        }
        Ok(())
    }

    fn retry_or_fail(&mut self, step: Step, error: String, now_ms: i64) {
        let attempts = count(&self.attempts, step);
        if attempts >= step.max_attempts() {
            return self.fail(step, FailureKind::Exhausted { error }, now_ms);
        }
        let retry_at = if step == Step::AwaitPayment {
            // The provider says "still processing": ask again later.
            Some(self.poll_at(now_ms))
        } else {
            step.retry_delay_ms(attempts).map(|delay| now_ms.saturating_add(delay))
        };
        match retry_at {
            Some(at) if step.after_pivot() || at <= self.deadline_ms => self.next_attempt_at_ms = Some(at),
            Some(_) => self.fail(step, FailureKind::TimedOut, now_ms),
            None => self.fail(step, FailureKind::Exhausted { error }, now_ms),
        }
    }

    fn poll_at(&self, now_ms: i64) -> i64 {
        now_ms.saturating_add(self.timing.poll_interval_ms).min(self.deadline_ms)
    }

    fn fail(&mut self, step: Step, kind: FailureKind, now_ms: i64) {
        self.failure = Some(Failure { step, kind, at_ms: now_ms });
        self.status = SagaStatus::Compensating;
        self.next_attempt_at_ms = None;
    }

    /// The next step to undo: attempted, with a compensation, not yet undone or abandoned; the
    /// latest first.
    fn current_compensation(&self) -> Option<Step> {
        Step::ALL.into_iter().rev().find(|step| {
            step.compensation().is_some()
                && count(&self.attempts, *step) > 0
                && !self.compensated.contains(step)
                && !self.abandoned.contains(step)
        })
    }

    /// The one place that issues actions: records the attempt and the lease before returning it.
    fn decide(&mut self, now_ms: i64) -> Action {
        loop {
            match self.status {
                SagaStatus::Completed | SagaStatus::Failed => {
                    self.next_attempt_at_ms = None;
                    return Action::Done { status: self.status };
                }
                SagaStatus::Running | SagaStatus::Awaiting => {
                    let step = self.step;
                    // A lease first: undoing a step its runner is still performing would race it.
                    // Backoffs and polls before the pivot end by the deadline (`retry_or_fail`).
                    if let Some(at) = self.next_attempt_at_ms.filter(|at| now_ms < *at) {
                        return Action::WaitUntil { at_ms: at };
                    }
                    if !step.after_pivot() && now_ms >= self.deadline_ms {
                        self.fail(step, FailureKind::TimedOut, now_ms);
                        continue;
                    }
                    if count(&self.attempts, step) >= step.max_attempts() {
                        let error = "the last attempt never reported".to_owned();
                        self.fail(step, FailureKind::Exhausted { error }, now_ms);
                        continue;
                    }
                    let attempt = bump(&mut self.attempts, step);
                    // A poll only reads, so it takes no lease: the next poll is due at the usual time.
                    self.next_attempt_at_ms = Some(if step == Step::AwaitPayment {
                        self.poll_at(now_ms)
                    } else {
                        now_ms.saturating_add(self.timing.lease_ms)
                    });
                    return Action::Run { step, attempt, key: StepKey::forward(&self.saga_id, step) };
                }
                SagaStatus::Compensating => {
                    let Some(step) = self.current_compensation() else {
                        self.status = SagaStatus::Failed;
                        continue;
                    };
                    if let Some(at) = self.next_attempt_at_ms.filter(|at| now_ms < *at) {
                        return Action::WaitUntil { at_ms: at };
                    }
                    if count(&self.compensation_attempts, step) >= MAX_COMPENSATION_ATTEMPTS {
                        self.abandoned.push(step);
                        self.next_attempt_at_ms = None;
                        continue;
                    }
                    let attempt = bump(&mut self.compensation_attempts, step);
                    self.next_attempt_at_ms = Some(now_ms.saturating_add(self.timing.lease_ms));
                    let compensation = step.compensation().unwrap_or(Compensation::CancelOrders);
                    return Action::Compensate { step, compensation, attempt, key: StepKey::undo(&self.saga_id, step) };
                }
            }
        }
    }

    pub fn saga_id(&self) -> &SagaId {
        &self.saga_id
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn status(&self) -> SagaStatus {
        self.status
    }

    pub fn step(&self) -> Step {
        self.step
    }

    pub fn started_at_ms(&self) -> i64 {
        self.started_at_ms
    }

    pub fn deadline_ms(&self) -> i64 {
        self.deadline_ms
    }

    /// When the sweep should look at this saga again; `None` once final.
    pub fn next_attempt_at_ms(&self) -> Option<i64> {
        self.next_attempt_at_ms
    }

    pub fn attempts(&self, step: Step) -> u32 {
        count(&self.attempts, step)
    }

    pub fn completed(&self) -> &[Step] {
        &self.completed
    }

    pub fn compensated(&self) -> &[Step] {
        &self.compensated
    }

    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// A compensation gave up: something may be left undone (stock held until its reservation
    /// expires, a payment to refund by hand). Alert.
    pub fn needs_operator(&self) -> bool {
        !self.abandoned.is_empty()
    }

    pub fn abandoned(&self) -> &[Step] {
        &self.abandoned
    }

    /// The order group this saga creates (also the stock reservation's reference).
    pub fn group_id(&self) -> OrderGroupId {
        self.saga_id.group_id()
    }

    /// Our payment record for the group.
    pub fn payment_id(&self) -> PaymentId {
        PaymentId::for_group(&self.group_id())
    }

    /// Given to `inventory.reserve`.
    pub fn reservation_expires_at_ms(&self) -> i64 {
        self.started_at_ms.saturating_add(self.timing.reservation_ttl_ms)
    }

    /// The id of the group's `OrderPlaced` outbox event: the same on every retry of `ConfirmOrders`.
    pub fn order_placed_event_id(&self) -> EventId {
        let group = self.group_id();
        EventId::generate(group.timestamp_ms(), derived_entropy(&[group.as_str(), "order_placed"]))
    }
}
