use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::orders::OrderGroup;
use crate::orders::fixtures::{Shop, World, buyer};
use crate::payments::{CommissionRules, PspReference, assess};

const T0: i64 = 1_763_700_000_000;

fn saga() -> SagaId {
    SagaId::generate(T0 as u64, [1; 10])
}

fn snapshot(saga: &SagaId) -> CheckoutSnapshot {
    let world = World::new().shop(Shop::new(1).flat_shipping(499)).shop(Shop::new(2));
    let view = world.price_cart(&world.cart(&[(1, 1, 2, 1000), (2, 2, 1, 2500)], &[]));
    let total = view.totals.unwrap().total;
    let group = OrderGroup::from_cart(saga.group_id(), buyer(), &view, &world.coupons, total).unwrap();
    let rules = CommissionRules {
        default: crate::cart::BasisPoints::new(1000).unwrap(),
        by_category: BTreeMap::new(),
        by_vendor: BTreeMap::new(),
    };
    let commission = assess(&group, &rules, &BTreeMap::new()).unwrap();
    CheckoutSnapshot { group, commission }
}

fn ok(step: Step, saga: &SagaId) -> Outcome {
    Outcome::Ok(match step {
        Step::SnapshotCart => StepOutput::Snapshot(Box::new(snapshot(saga))),
        Step::CreatePayment => StepOutput::PaymentCreated { intent: PspReference::parse("pi_3Mtw").unwrap() },
        Step::AwaitPayment => StepOutput::PaymentSucceeded { charge: PspReference::parse("ch_3Mtw").unwrap() },
        _ => StepOutput::Done,
    })
}

fn step_ok(step: Step, saga: &SagaId) -> Report {
    Report::Step { step, outcome: ok(step, saga) }
}

fn undone(step: Step) -> Report {
    Report::Compensation { step, outcome: Outcome::Ok(StepOutput::Done) }
}

fn run_step(action: &Action) -> Step {
    match action {
        Action::Run { step, .. } => *step,
        other => panic!("expected a step to run, got {other:?}"),
    }
}

/// Runs the steps before the payment wait, each succeeding; returns the wait.
fn up_to_the_payment_wait(state: &mut SagaState, first: Action, now: i64) -> Action {
    let mut action = first;
    for step in [Step::SnapshotCart, Step::CreateOrders, Step::ReserveStock, Step::CreatePayment] {
        assert_eq!(run_step(&action), step);
        action = state.advance(step_ok(step, state.saga_id()), now).unwrap();
    }
    action
}

#[test]
fn the_happy_path_runs_every_step_once_and_completes() {
    let id = saga();
    let (mut state, mut action) = SagaState::start(id.clone(), T0, Timing::default());
    assert_eq!(
        action,
        Action::Run { step: Step::SnapshotCart, attempt: 1, key: StepKey::forward(&id, Step::SnapshotCart) }
    );
    let mut ran = Vec::new();
    let mut now = T0;
    loop {
        now += 50;
        action = match action {
            Action::Run { step, attempt, .. } => {
                assert_eq!(attempt, 1);
                ran.push(step);
                state.advance(step_ok(step, &id), now).unwrap()
            }
            Action::WaitUntil { at_ms } => {
                assert_eq!(state.status(), SagaStatus::Awaiting);
                assert_eq!(at_ms, now - 50 + 60_000, "the first poll is a minute after the intent");
                // The provider's webhook arrives before the first poll.
                state.advance(step_ok(Step::AwaitPayment, &id), now).unwrap()
            }
            Action::Done { status } => break assert_eq!(status, SagaStatus::Completed),
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(ran, Step::ALL.iter().copied().filter(|step| *step != Step::AwaitPayment).collect::<Vec<_>>());
    assert_eq!(state.completed(), Step::ALL);
    assert_eq!(state.next_attempt_at_ms(), None);
    assert_eq!(state.outputs().snapshot.as_ref().unwrap().group.id, state.group_id());
    assert_eq!(state.outputs().charge.as_ref().unwrap().as_str(), "ch_3Mtw");
    assert_eq!(state.reservation_expires_at_ms(), T0 + 15 * 60_000);
    assert_eq!(state.deadline_ms(), T0 + 12 * 60_000);
    assert_eq!(state.resume(now + 1), Action::Done { status: SagaStatus::Completed });
    assert_eq!(state.order_placed_event_id(), state.clone().order_placed_event_id());
    assert!(state.order_placed_event_id().as_str().starts_with("evt_"));
    assert_eq!(state.payment_id(), crate::payments::PaymentId::for_group(&id.group_id()));
}

#[test]
fn a_declined_payment_voids_it_releases_the_stock_and_cancels_the_orders_in_that_order() {
    let id = saga();
    let (mut state, first) = SagaState::start(id.clone(), T0, Timing::default());
    up_to_the_payment_wait(&mut state, first, T0);
    let declined =
        Report::Step { step: Step::AwaitPayment, outcome: Outcome::Refused { reason: "card_declined".into() } };
    let mut action = state.advance(declined, T0 + 5_000).unwrap();
    let mut undone_in_order = Vec::new();
    while let Action::Compensate { step, compensation, attempt, key } = action {
        assert_eq!((attempt, key), (1, StepKey::undo(&id, step)));
        undone_in_order.push(compensation);
        action = state.advance(undone(step), T0 + 6_000).unwrap();
    }
    assert_eq!(action, Action::Done { status: SagaStatus::Failed });
    assert_eq!(undone_in_order, [Compensation::VoidPayment, Compensation::ReleaseStock, Compensation::CancelOrders]);
    let failure = state.failure().unwrap();
    assert_eq!(
        (failure.step, &failure.kind),
        (Step::AwaitPayment, &FailureKind::Refused { reason: "card_declined".into() })
    );
    assert!(!state.needs_operator());
}

#[test]
fn out_of_stock_undoes_only_what_was_attempted() {
    let id = saga();
    let (mut state, _) = SagaState::start(id.clone(), T0, Timing::default());
    state.advance(step_ok(Step::SnapshotCart, &id), T0).unwrap();
    state.advance(step_ok(Step::CreateOrders, &id), T0).unwrap();
    let short = Report::Step { step: Step::ReserveStock, outcome: Outcome::Refused { reason: "out_of_stock".into() } };
    let action = state.advance(short, T0).unwrap();
    // The refused reservation is released too: cheap, idempotent, and the function may have half-acted.
    assert!(matches!(action, Action::Compensate { step: Step::ReserveStock, .. }));
    let action = state.advance(undone(Step::ReserveStock), T0).unwrap();
    assert!(matches!(action, Action::Compensate { step: Step::CreateOrders, .. }));
    assert_eq!(state.advance(undone(Step::CreateOrders), T0).unwrap(), Action::Done { status: SagaStatus::Failed });
    assert_eq!(state.compensated(), [Step::ReserveStock, Step::CreateOrders]);
}

#[test]
fn no_webhook_by_the_deadline_compensates_and_a_late_webhook_is_stale() {
    let id = saga();
    let (mut state, first) = SagaState::start(id.clone(), T0, Timing::default());
    let mut action = up_to_the_payment_wait(&mut state, first, T0);
    // The sweep polls the provider every minute; it keeps saying "processing".
    let mut polls = 0;
    while let Action::WaitUntil { at_ms } = action {
        assert!(at_ms <= state.deadline_ms());
        action = state.resume(at_ms);
        if let Action::Run { step: Step::AwaitPayment, .. } = action {
            polls += 1;
            let processing =
                Report::Step { step: Step::AwaitPayment, outcome: Outcome::Transient { error: "processing".into() } };
            action = state.advance(processing, at_ms + 100).unwrap();
        }
    }
    assert_eq!(polls, 11, "a poll a minute until the 12-minute deadline");
    assert!(matches!(action, Action::Compensate { step: Step::CreatePayment, .. }));
    assert_eq!(state.failure().unwrap().kind, FailureKind::TimedOut);
    let before = state.clone();
    let late = state.advance(step_ok(Step::AwaitPayment, &id), state.deadline_ms() + 10);
    assert_eq!(late, Err(SagaError::Stale(Step::AwaitPayment)));
    assert_eq!(state, before, "a stale report changes nothing");
}

#[test]
fn a_crash_mid_step_is_resumed_after_the_lease_under_the_same_key() {
    let id = saga();
    let (mut state, first) = SagaState::start(id.clone(), T0, Timing::default());
    let mut action = first;
    for step in [Step::SnapshotCart, Step::CreateOrders, Step::ReserveStock] {
        assert_eq!(run_step(&action), step);
        action = state.advance(step_ok(step, &id), T0 + 10).unwrap();
    }
    assert_eq!(
        action,
        Action::Run { step: Step::CreatePayment, attempt: 1, key: StepKey::forward(&id, Step::CreatePayment) }
    );
    // The component dies while creating the payment; only the stored state survives.
    let mut stored: SagaState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    assert_eq!(stored.resume(T0 + 1_000), Action::WaitUntil { at_ms: T0 + 10 + 30_000 }, "the lease holds");
    let retried = stored.resume(T0 + 10 + 30_000);
    assert_eq!(
        retried,
        Action::Run { step: Step::CreatePayment, attempt: 2, key: StepKey::forward(&id, Step::CreatePayment) }
    );
    assert!(stored.revision() > state.revision());
}

#[test]
fn a_retry_that_would_land_past_the_deadline_compensates_instead() {
    let timing = Timing::new(1_000, 2_000, 100, 500).unwrap();
    let id = saga();
    let (mut state, _) = SagaState::start(id.clone(), T0, timing);
    state.advance(step_ok(Step::SnapshotCart, &id), T0 + 10).unwrap();
    let flaky = Report::Step { step: Step::CreateOrders, outcome: Outcome::Transient { error: "503".into() } };
    assert_eq!(state.advance(flaky.clone(), T0 + 20).unwrap(), Action::WaitUntil { at_ms: T0 + 220 });
    state.resume(T0 + 220);
    // The second retry would wait 1 s, past the 1 s deadline.
    let action = state.advance(flaky, T0 + 300).unwrap();
    assert!(matches!(action, Action::Compensate { step: Step::CreateOrders, .. }), "{action:?}");
    assert_eq!(state.failure().unwrap().kind, FailureKind::TimedOut);
}

#[test]
fn after_the_pivot_retries_outlast_the_deadline_and_a_refusal_refunds() {
    let id = saga();
    let (mut state, first) = SagaState::start(id.clone(), T0, Timing::default());
    up_to_the_payment_wait(&mut state, first, T0);
    let late = T0 + 11 * 60_000;
    assert!(matches!(
        state.advance(step_ok(Step::AwaitPayment, &id), late).unwrap(),
        Action::Run { step: Step::ConsumeStock, .. }
    ));
    let flaky = Report::Step { step: Step::ConsumeStock, outcome: Outcome::Timeout };
    assert_eq!(state.advance(flaky, late + 10).unwrap(), Action::WaitUntil { at_ms: late + 1_010 });
    let past_deadline = state.deadline_ms() + 60_000;
    assert!(matches!(state.resume(past_deadline), Action::Run { step: Step::ConsumeStock, attempt: 2, .. }));
    let gone =
        Report::Step { step: Step::ConsumeStock, outcome: Outcome::Refused { reason: "reservation_expired".into() } };
    let action = state.advance(gone, past_deadline).unwrap();
    assert!(matches!(action, Action::Compensate { compensation: Compensation::VoidPayment, .. }));
}

#[test]
fn a_compensation_out_of_retries_is_left_for_an_operator_and_the_others_still_run() {
    let id = saga();
    let (mut state, first) = SagaState::start(id.clone(), T0, Timing::default());
    up_to_the_payment_wait(&mut state, first, T0);
    let declined =
        Report::Step { step: Step::AwaitPayment, outcome: Outcome::Refused { reason: "card_declined".into() } };
    let mut action = state.advance(declined, T0).unwrap();
    let mut now = T0;
    let mut void_attempts = 0;
    while let Action::Compensate { step: Step::CreatePayment, .. } | Action::WaitUntil { .. } = action {
        if let Action::WaitUntil { at_ms } = action {
            now = at_ms;
            action = state.resume(now);
            continue;
        }
        void_attempts += 1;
        let broken =
            Report::Compensation { step: Step::CreatePayment, outcome: Outcome::Transient { error: "502".into() } };
        action = state.advance(broken, now).unwrap();
    }
    assert_eq!(void_attempts, MAX_COMPENSATION_ATTEMPTS);
    assert!(matches!(action, Action::Compensate { step: Step::ReserveStock, .. }));
    state.advance(undone(Step::ReserveStock), now).unwrap();
    assert_eq!(state.advance(undone(Step::CreateOrders), now).unwrap(), Action::Done { status: SagaStatus::Failed });
    assert!(state.needs_operator());
    assert_eq!(state.abandoned(), [Step::CreatePayment]);
}

#[test]
fn outputs_must_belong_to_their_step_and_the_saga() {
    let id = saga();
    let (mut state, _) = SagaState::start(id.clone(), T0, Timing::default());
    let wrong = Report::Step { step: Step::SnapshotCart, outcome: Outcome::Ok(StepOutput::Done) };
    assert_eq!(state.advance(wrong, T0), Err(SagaError::UnexpectedOutput(Step::SnapshotCart)));
    let other_saga = SagaId::generate(T0 as u64, [2; 10]);
    let foreign = Report::Step { step: Step::SnapshotCart, outcome: ok(Step::SnapshotCart, &other_saga) };
    assert_eq!(state.advance(foreign, T0), Err(SagaError::UnexpectedOutput(Step::SnapshotCart)));
    assert_eq!(state.advance(step_ok(Step::CreateOrders, &id), T0), Err(SagaError::Stale(Step::CreateOrders)));
    assert_eq!(state.revision(), 0);
}

#[test]
fn the_stored_state_is_plain_json_for_the_sweep_columns() {
    let (state, _) = SagaState::start(saga(), T0, Timing::default());
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(json["status"], "running");
    assert_eq!(json["step"], "snapshot_cart");
    assert_eq!(json["attempts"], serde_json::json!({"snapshot_cart": 1}));
    assert_eq!(json["next_attempt_at_ms"], T0 + 30_000);
    assert_eq!(json["deadline_ms"], T0 + 12 * 60_000);
    assert_eq!(SagaStatus::Compensating.as_str(), "compensating");
    assert!(Timing::new(10, 10, 1, 1).is_err(), "the reservation must outlast the payment wait");
}

/// What the runner does with one action, drawn by the test.
#[derive(Debug, Clone, Copy)]
enum Event {
    Ok,
    Refused,
    Transient,
    Timeout,
    /// The runner dies before reporting; the sweep resumes the saga after the lease.
    Crash,
}

fn event() -> impl Strategy<Value = (Event, i64)> {
    let kind = prop_oneof![
        12 => Just(Event::Ok),
        1 => Just(Event::Refused),
        2 => Just(Event::Transient),
        1 => Just(Event::Timeout),
        2 => Just(Event::Crash),
    ];
    (kind, 0i64..120_000)
}

fn timing() -> impl Strategy<Value = Timing> {
    (60_000i64..20 * 60_000, 1i64..5 * 60_000, 1_000i64..60_000, 1_000i64..120_000)
        .prop_map(|(payment, extra, lease, poll)| Timing::new(payment, payment + extra, lease, poll).unwrap())
}

/// Every attempt budget, twice (each attempt may be preceded by a wait), plus the webhooks.
fn action_bound() -> usize {
    let forward: u32 = Step::ALL.iter().map(|step| step.max_attempts()).sum();
    let undo = 3 * MAX_COMPENSATION_ATTEMPTS;
    2 * (forward + undo) as usize + 10
}

/// A hostile run: mostly failures and crashes, so budgets run out and compensations are abandoned.
fn hostile_event() -> impl Strategy<Value = (Event, i64)> {
    let kind = prop_oneof![
        1 => Just(Event::Ok),
        4 => Just(Event::Transient),
        2 => Just(Event::Timeout),
        2 => Just(Event::Crash),
    ];
    (kind, 0i64..600_000)
}

fn events() -> impl Strategy<Value = Vec<(Event, i64)>> {
    prop_oneof![
        3 => prop::collection::vec(event(), 1..60),
        1 => prop::collection::vec(hostile_event(), 1..60),
        // Everything goes well up to some step, then nothing does.
        1 => (1usize..12, hostile_event()).prop_map(|(good, bad)| {
            let mut events = vec![(Event::Ok, 10); good];
            events.extend(std::iter::repeat_n(bad, 200));
            events
        }),
    ]
}

/// Whatever the steps report, whenever the runner crashes and whatever arrives late, the saga
/// ends (completed, or compensated) within a bounded number of actions; each attempted step
/// with a compensation is undone exactly once, latest first; a saga past its deadline before
/// being paid never waits for the provider nor starts a pre-payment step again.
fn check_saga(
    events: &[(Event, i64)],
    timing: Timing,
    webhook_during_wait: &[Option<bool>],
) -> Result<(), TestCaseError> {
    let id = saga();
    let snapshot_report = ok(Step::SnapshotCart, &id);
    let (mut state, mut action) = SagaState::start(id.clone(), T0, timing);
    let mut now = T0;
    let mut draws = events.iter().cycle();
    let mut webhooks = webhook_during_wait.iter().cycle();
    let mut ran: Vec<Step> = Vec::new();
    let mut undo_issued: Vec<Step> = Vec::new();
    let mut undone_ok: Vec<Step> = Vec::new();
    let mut actions = 0;
    loop {
        actions += 1;
        prop_assert!(actions <= action_bound(), "no end in sight: {state:?}");
        let paid = state.completed().contains(&Step::AwaitPayment);
        if now >= state.deadline_ms() && !paid {
            prop_assert_ne!(state.status(), SagaStatus::Awaiting);
            if let Action::Run { step, .. } = &action {
                prop_assert!(step.after_pivot(), "{step} started past the deadline");
            }
            if let (Action::WaitUntil { at_ms }, SagaStatus::Running) = (&action, state.status()) {
                prop_assert!(*at_ms <= state.deadline_ms() + timing.lease_ms, "only a lease outlasts the deadline");
            }
        }
        // The component keeps nothing but the stored state between actions.
        state = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        match action.clone() {
            Action::Done { status } => {
                prop_assert_eq!(status, state.status());
                break;
            }
            Action::WaitUntil { at_ms } => {
                prop_assert!(at_ms > now);
                if let (SagaStatus::Awaiting, Some(Some(success))) = (state.status(), webhooks.next()) {
                    // The provider's webhook arrives during the wait.
                    now += (at_ms - now) / 2;
                    let outcome = if *success {
                        ok(Step::AwaitPayment, &id)
                    } else {
                        Outcome::Refused { reason: "card_declined".into() }
                    };
                    action = state.advance(Report::Step { step: Step::AwaitPayment, outcome }, now).unwrap();
                } else {
                    now = at_ms;
                    action = state.resume(now);
                }
            }
            Action::Run { step, key, .. } => {
                prop_assert!(undo_issued.is_empty(), "{step} ran after compensation began");
                prop_assert_eq!(key, StepKey::forward(&id, step));
                if !ran.contains(&step) {
                    ran.push(step);
                }
                let (event, took) = *draws.next().unwrap();
                now += took;
                let outcome = match event {
                    Event::Ok if step == Step::SnapshotCart => snapshot_report.clone(),
                    Event::Ok => ok(step, &id),
                    Event::Refused => Outcome::Refused { reason: "refused".into() },
                    Event::Transient => Outcome::Transient { error: "503".into() },
                    Event::Timeout => Outcome::Timeout,
                    Event::Crash => {
                        now += timing.lease_ms;
                        action = state.resume(now);
                        continue;
                    }
                };
                let report = Report::Step { step, outcome };
                action = state.advance(report.clone(), now).unwrap();
                // The same report again (a duplicate delivery) is refused or harmless.
                if matches!(report, Report::Step { outcome: Outcome::Ok(_) | Outcome::Refused { .. }, .. }) {
                    let before = state.clone();
                    prop_assert!(state.advance(report, now).is_err());
                    prop_assert_eq!(&state, &before);
                }
            }
            Action::Compensate { step, key, .. } => {
                prop_assert_eq!(key, StepKey::undo(&id, step));
                prop_assert_eq!(state.status(), SagaStatus::Compensating);
                if undo_issued.last() != Some(&step) {
                    prop_assert!(!undo_issued.contains(&step), "{step} undone again later");
                    undo_issued.push(step);
                }
                let (event, took) = *draws.next().unwrap();
                now += took;
                let outcome = match event {
                    Event::Ok | Event::Refused => Outcome::Ok(StepOutput::Done),
                    Event::Transient => Outcome::Transient { error: "503".into() },
                    Event::Timeout => Outcome::Timeout,
                    Event::Crash => {
                        now += timing.lease_ms;
                        action = state.resume(now);
                        continue;
                    }
                };
                if matches!(outcome, Outcome::Ok(_)) {
                    undone_ok.push(step);
                }
                action = state.advance(Report::Compensation { step, outcome }, now).unwrap();
            }
        }
    }
    prop_assert!(state.status().is_final());
    prop_assert_eq!(state.next_attempt_at_ms(), None);
    if state.status() == SagaStatus::Completed {
        prop_assert_eq!(state.completed(), Step::ALL);
        prop_assert!(undo_issued.is_empty() && state.failure().is_none());
    } else {
        let mut expected: Vec<Step> = ran.iter().copied().filter(|step| step.compensation().is_some()).collect();
        expected.reverse();
        prop_assert_eq!(&undo_issued, &expected, "undo order");
        let succeeded: Vec<Step> = expected.iter().copied().filter(|step| !state.abandoned().contains(step)).collect();
        prop_assert_eq!(&undone_ok, &succeeded, "each undone exactly once");
        prop_assert_eq!(state.compensated(), &succeeded[..]);
        prop_assert_eq!(state.needs_operator(), !state.abandoned().is_empty());
        prop_assert!(state.failure().is_some());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn every_saga_ends_and_undoes_what_it_did_exactly_once_in_reverse(
        events in events(),
        timing in timing(),
        webhook_during_wait in prop::collection::vec(prop::option::weighted(0.3, any::<bool>()), 1..20),
    ) {
        check_saga(&events, timing, &webhook_during_wait)?;
    }
}

mod the_shoppers_answer {
    use super::*;
    use crate::api::{ApiError, ErrorCode};
    use crate::orders::checkout::{CheckoutAnswer, CheckoutStatus};

    #[test]
    fn a_paid_checkout_is_201_with_its_orders_and_a_waiting_one_202() {
        let id = saga();
        let (mut state, first) = SagaState::start(id.clone(), T0, Timing::default());
        let requested = crate::catalog::Money::new(9_999, crate::catalog::Currency::parse("EUR").unwrap());
        let before = CheckoutAnswer::of(&state, None, None, Some(requested)).unwrap();
        assert_eq!(
            (before.status, before.http_status(), before.total),
            (CheckoutStatus::Processing, 202, Some(requested))
        );
        assert!(before.orders.is_empty());
        let wait = up_to_the_payment_wait(&mut state, first, T0 + 10);
        assert!(matches!(wait, Action::WaitUntil { .. }));
        let waiting = CheckoutAnswer::of(&state, None, None, Some(requested)).unwrap();
        let snapshot = snapshot(&id);
        assert_eq!((waiting.status, waiting.http_status()), (CheckoutStatus::AwaitingPayment, 202));
        assert_eq!(waiting.total, Some(snapshot.group.totals.total), "the group's total, not the request's");
        assert_eq!(waiting.orders.len(), 2);
        let mut action = state.advance(step_ok(Step::AwaitPayment, &id), T0 + 20).unwrap();
        while let Action::Run { step, .. } = action {
            action = state.advance(step_ok(step, &id), T0 + 30).unwrap();
        }
        let paid = CheckoutAnswer::of(&state, None, None, None).unwrap();
        assert_eq!((paid.status, paid.http_status()), (CheckoutStatus::Confirmed, 201));
        assert_eq!(paid.payment.status, Some(crate::payments::PaymentStatus::Succeeded));
        assert_eq!(paid.group_id, id.group_id());
    }

    #[test]
    fn an_undone_checkout_answers_its_refusal_in_the_refusers_words_or_by_its_code() {
        let id = saga();
        let (mut state, first) = SagaState::start(id.clone(), T0, Timing::default());
        let mut action = first;
        for step in [Step::SnapshotCart, Step::CreateOrders] {
            assert_eq!(run_step(&action), step);
            action = state.advance(step_ok(step, &id), T0).unwrap();
        }
        let short = ApiError::new(ErrorCode::OutOfStock, "not enough stock for every item; nothing was reserved")
            .with_details(serde_json::json!({"short": [{"variant_id": "var_x", "requested": 2, "available": 1}]}));
        let refused = Report::Step { step: Step::ReserveStock, outcome: Outcome::refused(&short) };
        state.advance(refused, T0).unwrap();
        assert_eq!(
            CheckoutAnswer::of(&state, None, Some(&short), None),
            Err(short.clone()),
            "the live words, details and all"
        );
        let remembered = CheckoutAnswer::of(&state, None, None, None).unwrap_err();
        assert_eq!((remembered.code, remembered.status()), (ErrorCode::OutOfStock, 409), "after a crash: by its code");
    }

    #[test]
    fn failures_become_client_errors_never_5xx() {
        let failure = |kind| Failure { step: Step::ReserveStock, kind, at_ms: T0 };
        let timed_out = failure(FailureKind::TimedOut).to_api_error();
        assert_eq!(timed_out.code, ErrorCode::PaymentDeclined);
        let exhausted = failure(FailureKind::Exhausted { error: "inventory is down".into() }).to_api_error();
        assert_eq!(
            (exhausted.status(), &exhausted.details.unwrap()["step"]),
            (409, &serde_json::json!("reserve_stock"))
        );
        for reason in ["BIZ_5004", "BIZ_5001", "EXT_6001", "SYS_9001", "nonsense"] {
            let error = failure(FailureKind::Refused { reason: reason.into() }).to_api_error();
            assert!((400..500).contains(&error.status()), "{reason}: {}", error.status());
        }
    }
}
