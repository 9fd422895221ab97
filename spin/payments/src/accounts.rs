//! `POST /payments/accounts` (signed; the vendor-facing routes come later): a vendor's connected
//! account at the provider (Stripe Connect Express, asking for the `transfers` capability), where
//! its payouts go. One per vendor: asking again answers the account made first.

use shared::catalog::validation::FieldErrors;
use shared::identity::email::Email;
use shared::neon::NeonError;
use shared::payments::PspReference;
use shared::payments::api::{ConnectedAccount, CreateAccount};
use shared::payments::stripe::{AccountId, Capability, CreateExpressAccount, Metadata};
use spin_platform::{Received, Response, config as platform};

use crate::config;
use crate::failures::{Handled, Problem, answer, parse_json};
use crate::intents::stripe_key;
use crate::store::Neon;

pub async fn handle(request: &Received) -> Response {
    answer(request, 200, run(request).await)
}

async fn run(request: &Received) -> Handled<ConnectedAccount> {
    let body: CreateAccount = parse_json(request)?;
    let mut errors = FieldErrors::new();
    let country = body.country.as_deref().map(str::trim);
    if country.is_some_and(|country| country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase())) {
        errors.push("country", "invalid");
    }
    let email =
        body.email.as_deref().map(Email::parse).transpose().map_err(|_| errors.push("email", "invalid")).ok().flatten();
    errors.into_result(()).map_err(|errors| errors.to_api_error())?;

    let neon = platform::neon_client().await?;
    let provider = config::stripe().await?;
    let account = match stored(&neon, &body).await? {
        Some(account) => provider.client.retrieve_account(&account).await?,
        None => {
            let params = CreateExpressAccount {
                country: country.map(str::to_owned),
                email: email.map(|email| email.as_str().to_owned()),
                capabilities: vec![Capability::Transfers],
                metadata: Metadata::new()
                    .with("vendor_id", body.vendor_id.as_str())
                    .map_err(|error| Problem::corrupt(error.to_string()))?,
            };
            // One account per vendor even when two requests race: the same key makes it once.
            let key = stripe_key(&format!("account:{}", body.vendor_id))?;
            let created = provider.client.create_express_account(&params, &key).await?;
            neon.query(
                "INSERT INTO payments.connected_accounts (vendor_id, psp_account_id) VALUES ($1, $2) \
                 ON CONFLICT (vendor_id) DO NOTHING",
                &[&body.vendor_id, &created.id],
            )
            .await?;
            match stored(&neon, &body).await? {
                Some(account) if account == created.id => created,
                Some(account) => provider.client.retrieve_account(&account).await?,
                None => return Err(Problem::corrupt("the connected account was not stored")),
            }
        }
    };
    Ok(ConnectedAccount {
        vendor_id: body.vendor_id,
        account: PspReference::from(&account.id),
        transfers_enabled: account.can_receive_transfers(),
    })
}

async fn stored(neon: &Neon, body: &CreateAccount) -> Handled<Option<AccountId>> {
    let result = neon
        .query("SELECT psp_account_id FROM payments.connected_accounts WHERE vendor_id = $1", &[&body.vendor_id])
        .await?;
    let Some(row) = result.first() else { return Ok(None) };
    let id: String = row.get("psp_account_id").map_err(NeonError::from)?;
    AccountId::parse(&id).map(Some).map_err(|_| Problem::corrupt(format!("stored account id {id:?}")))
}
