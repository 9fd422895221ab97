//! `POST /payments/intents` (the saga's `create_payment` step) and `GET /payments/intents/{id}`
//! (its poll when no webhook came).
//!
//! Creating writes our row first (its id derived from the group, so a retry names the same row),
//! then asks the provider under the caller's idempotency key: a retry, even twenty at once, gets
//! the same PaymentIntent back, never a second one. A row that already has its intent is
//! refreshed from the provider instead. A declined card is `BIZ_5004`, answered the same way on
//! every retry.

use shared::api::ErrorCode;
use shared::catalog::validation::FieldErrors;
use shared::idempotency::IdempotencyKey;
use shared::payments::api::{CreateIntent, Intent, PaymentFailure, PaymentMethodInput};
use shared::payments::stripe::{
    CallError, CaptureMethod, CreatePaymentIntent, Metadata, PaymentIntent, PaymentMethodId, StripeError,
};
use shared::payments::{PaymentId, PaymentStatus};
use spin_platform::{Received, Response, config as platform};

use crate::config::{self, Provider};
use crate::failures::{Handled, Problem, answer, parse_json};
use crate::store::{self, Neon, PaymentRow, Report};
use crate::void;

pub async fn create(request: &Received) -> Response {
    answer(request, 200, run_create(request).await)
}

pub async fn get(request: &Received, payment_id: &PaymentId) -> Response {
    answer(request, 200, run_get(payment_id).await)
}

async fn run_create(request: &Received) -> Handled<Intent> {
    let body: CreateIntent = parse_json(request)?;
    if body.amount.amount_minor <= 0 {
        return Err(FieldErrors::single("amount", "out_of_range").to_api_error().into());
    }
    let provider = config::stripe().await?;
    if matches!(body.method, PaymentMethodInput::TestCard(_)) && !provider.test_mode {
        return Err(FieldErrors::single("method", "test_card_needs_test_mode").to_api_error().into());
    }
    let neon = platform::neon_client().await?;
    let payment_id = PaymentId::for_group(&body.group_id);
    insert(&neon, &payment_id, &body).await?;
    let Some(row) = store::load(&neon, &payment_id).await? else {
        return Err(Problem::conflict(format!("payment {payment_id} was voided before it was created")));
    };
    same_payment(&row, &body)?;
    if row.voided {
        return Err(Problem::conflict(format!("payment {payment_id} was voided")));
    }
    if row.status == PaymentStatus::Failed {
        return Err(declined(&row));
    }
    let intent = match &row.psp_intent_id {
        Some(existing) => provider.client.retrieve_payment_intent(existing).await?,
        // A card refused when its PaymentMethod is made (a test card in test mode) is declined
        // like one refused by the intent: the buyer's card, not our request, is at fault.
        None => {
            let created = match payment_method(&provider, &row, &body).await? {
                Ok(method) => {
                    let params = intent_params(&row, &body, method)?;
                    provider.client.create_payment_intent(&params, &body.idempotency_key).await
                }
                Err(error) => Err(error),
            };
            match created {
                Ok(intent) => intent,
                Err(CallError::Stripe(StripeError::Card(card))) => {
                    let report = Report {
                        reported: PaymentStatus::Failed,
                        intent: card.payment_intent.as_ref(),
                        failure: Some(PaymentFailure::from_card_error(&card)),
                        event_id: None,
                    };
                    store::apply(&neon, &row, report).await?;
                    return Err(declined(&store::reload(&neon, &payment_id).await?));
                }
                Err(error) => return Err(error.into()),
            }
        }
    };
    let row = refresh(&neon, row, &intent).await?;
    if row.voided {
        // The saga voided it while the provider was being asked: undo what the provider did.
        void::undo(&neon, &provider, &row).await?;
        return Err(Problem::conflict(format!("payment {payment_id} was voided")));
    }
    if row.status == PaymentStatus::Failed {
        return Err(declined(&row));
    }
    Ok(row.to_intent(intent.client_secret))
}

async fn run_get(payment_id: &PaymentId) -> Handled<Intent> {
    let neon = platform::neon_client().await?;
    let row =
        store::load(&neon, payment_id).await?.ok_or_else(|| Problem::not_found(format!("no payment {payment_id}")))?;
    let row = match &row.psp_intent_id {
        Some(intent) if !row.status.is_final() => {
            let provider = config::stripe().await?;
            let intent = provider.client.retrieve_payment_intent(intent).await?;
            refresh(&neon, row, &intent).await?
        }
        _ => row,
    };
    Ok(row.to_intent(None))
}

/// The row, created if this is the first call; nothing is written when the payment was voided.
/// No conflict target: with only `(id)` as arbiter, a concurrent create of the same group could
/// trip the partial unique index on `group_id` first and fail with 23505 instead of doing nothing.
async fn insert(neon: &Neon, payment_id: &PaymentId, body: &CreateIntent) -> Result<(), shared::neon::NeonError> {
    neon.query(
        "INSERT INTO payments.payments (id, group_id, buyer_id, amount_minor, currency, idempotency_key) \
         SELECT $1, $2, $3, $4, $5, $6 \
         WHERE NOT EXISTS (SELECT 1 FROM payments.voids WHERE payment_id = $1) \
         ON CONFLICT DO NOTHING",
        &[
            payment_id,
            &body.group_id,
            &body.buyer_id,
            &body.amount.amount_minor,
            &body.amount.currency,
            &body.idempotency_key,
        ],
    )
    .await
    .map(drop)
}

/// A group is paid once: a retry must ask for the same payment under the same key.
fn same_payment(row: &PaymentRow, body: &CreateIntent) -> Handled<()> {
    if row.idempotency_key.as_deref() != Some(body.idempotency_key.as_str()) {
        return Err(Problem::conflict(format!(
            "group {} is already being paid under another idempotency key",
            body.group_id
        )));
    }
    if row.buyer_id != body.buyer_id || row.amount != body.amount {
        return Err(shared::idempotency::idempotency_key_reused().into());
    }
    Ok(())
}

/// The PaymentMethod to charge: the buyer's, or one the provider makes from a test card. The
/// outer error is ours; the inner one is the provider's answer about the card.
async fn payment_method(
    provider: &Provider,
    row: &PaymentRow,
    body: &CreateIntent,
) -> Handled<Result<PaymentMethodId, CallError>> {
    match &body.method {
        PaymentMethodInput::PaymentMethod(id) => Ok(Ok(id.clone())),
        PaymentMethodInput::TestCard(card) => {
            let key = stripe_key(&format!("{}:payment_method", row.payment_id))?;
            Ok(provider.client.create_card_payment_method(&card.to_params(), &key).await.map(|method| method.id))
        }
    }
}

fn intent_params(
    row: &PaymentRow,
    body: &CreateIntent,
    payment_method: PaymentMethodId,
) -> Handled<CreatePaymentIntent> {
    Ok(CreatePaymentIntent {
        amount: body.amount,
        payment_method: Some(payment_method),
        confirm: true,
        capture_method: CaptureMethod::Automatic,
        // Transfers to vendors name the group, so the provider's reports tie them to this charge.
        transfer_group: Some(row.group_id.to_string()),
        description: Some(format!("Order group {}", row.group_id)),
        metadata: metadata(row)?,
    })
}

/// The webhook finds our row by `payment_id` even before the intent's id is recorded.
fn metadata(row: &PaymentRow) -> Handled<Metadata> {
    let build = || {
        Metadata::new()
            .with("payment_id", row.payment_id.as_str())?
            .with("group_id", row.group_id.as_str())?
            .with("buyer_id", row.buyer_id.as_str())
    };
    build().map_err(|error| Problem::api(ErrorCode::Internal, format!("payment metadata: {error}")))
}

/// An idempotency key of our own making (ids and a suffix: always valid).
pub fn stripe_key(text: &str) -> Handled<IdempotencyKey> {
    IdempotencyKey::parse(text).map_err(|_| Problem::api(ErrorCode::Internal, format!("bad idempotency key {text:?}")))
}

/// Applies what the provider's intent says, then reads the row back.
pub async fn refresh(neon: &Neon, row: PaymentRow, intent: &PaymentIntent) -> Handled<PaymentRow> {
    let Some(reported) = PaymentStatus::of_intent(intent) else { return Ok(row) };
    let report =
        Report { reported, intent: Some(&intent.id), failure: PaymentFailure::of_intent(intent), event_id: None };
    store::apply(neon, &row, report).await?;
    Ok(store::reload(neon, &row.payment_id).await?)
}

fn declined(row: &PaymentRow) -> Problem {
    let failure = row.failure().unwrap_or(PaymentFailure { code: None, decline_code: None, message: None });
    failure.to_api_error(&row.payment_id).into()
}
