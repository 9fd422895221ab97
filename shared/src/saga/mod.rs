//! The checkout saga (DESIGN §9) as data: the steps, their compensations, the state the `orders`
//! component persists after every step, and the pure rules for what to do next given that state,
//! a step's outcome and the time. The component performs the actions; nothing here does I/O.
//!
//! Steps: snapshot cart → create orders → reserve stock → create payment → await payment (the
//! pivot) → consume stock → record ledger → confirm orders. Compensations: cancel orders, release
//! stock, void payment (cancel or refund), run latest first.

pub mod ids;
pub mod state;
pub mod step;

#[cfg(test)]
mod tests;

pub use ids::SagaId;
pub use state::{
    Action, CheckoutSnapshot, DEFAULT_TIMING, Failure, FailureKind, Outcome, Outputs, Report, SagaError, SagaState,
    SagaStatus, StepOutput, Timing, TimingError,
};
pub use step::{Compensation, MAX_COMPENSATION_ATTEMPTS, Step, StepKey, StepKeyError};
