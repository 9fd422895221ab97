//! The email provider as this component's own variables configure it (spin.toml
//! `[component.notifications.variables]`), beside the shared ones `spin_platform::config` reads.

use shared::events::resend::ResendClient;
use spin_platform::{ConfigError, SpinTransport, config};

/// Resend's API origin (`https://api.resend.com`, or the local sink).
const EMAIL_API_URL: &str = "email_api_url";
/// `re_…`. Secret.
const EMAIL_API_KEY: &str = "email_api_key";
/// `Name <address>` on a domain verified with the provider.
const EMAIL_FROM: &str = "email_from";

/// Everything needed to send one email.
pub struct Mailer {
    pub client: ResendClient<SpinTransport>,
    pub from: String,
}

pub async fn from_variables() -> Result<Mailer, ConfigError> {
    let url = config::named(EMAIL_API_URL).await?;
    let key = config::named(EMAIL_API_KEY).await?;
    let from = config::named(EMAIL_FROM).await?;
    Ok(Mailer { client: ResendClient::new(SpinTransport, url, key), from })
}
