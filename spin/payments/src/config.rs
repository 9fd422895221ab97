//! This component's own variables (spin.toml `[component.payments.variables]`), beside the shared
//! ones `spin_platform::config` reads.

use shared::payments::HoldPeriod;
use shared::payments::stripe::{SecretKey, StripeClient, WebhookSecret, WebhookSecrets};
use spin_platform::{ConfigError, SpinTransport, config};

/// Stripe's API origin (`https://api.stripe.com`, or the local sandbox).
const STRIPE_API_URL: &str = "stripe_api_url";
/// `sk_…`. Secret.
const STRIPE_SECRET_KEY: &str = "stripe_secret_key";
/// The webhook endpoint's `whsec_…`, and the next one while it rolls. Secret.
const STRIPE_WEBHOOK_SECRET_CURRENT: &str = "stripe_webhook_secret_current";
const STRIPE_WEBHOOK_SECRET_NEXT: &str = "stripe_webhook_secret_next";
/// Whole days between an order's delivery and the payout of its money.
const PAYOUT_HOLD_DAYS: &str = "payout_hold_days";

pub type Stripe = StripeClient<SpinTransport>;

pub struct Provider {
    pub client: Stripe,
    /// Raw card numbers are taken only with a test-mode key.
    pub test_mode: bool,
}

pub async fn stripe() -> Result<Provider, ConfigError> {
    let url = config::named(STRIPE_API_URL).await?;
    let key = SecretKey::parse(&config::named(STRIPE_SECRET_KEY).await?)
        .map_err(|error| ConfigError::Invalid(STRIPE_SECRET_KEY, error.to_string()))?;
    let test_mode = key.is_test_mode();
    Ok(Provider { client: StripeClient::new(SpinTransport, url, key), test_mode })
}

pub async fn webhook_secrets() -> Result<WebhookSecrets, ConfigError> {
    let parse = |name: &'static str, value: String| {
        WebhookSecret::parse(&value).map_err(|error| ConfigError::Invalid(name, error.to_string()))
    };
    let current = parse(STRIPE_WEBHOOK_SECRET_CURRENT, config::named(STRIPE_WEBHOOK_SECRET_CURRENT).await?)?;
    let next = match config::named_optional(STRIPE_WEBHOOK_SECRET_NEXT).await? {
        Some(value) => Some(parse(STRIPE_WEBHOOK_SECRET_NEXT, value)?),
        None => None,
    };
    Ok(WebhookSecrets { current, next })
}

pub async fn hold_period() -> Result<HoldPeriod, ConfigError> {
    match config::named_optional(PAYOUT_HOLD_DAYS).await? {
        None => Ok(HoldPeriod::default()),
        Some(days) => {
            HoldPeriod::parse(&days).map_err(|error| ConfigError::Invalid(PAYOUT_HOLD_DAYS, error.to_string()))
        }
    }
}
