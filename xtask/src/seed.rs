//! Demo data for `cargo xtask dev`: accounts a developer can sign in with at once (README lists them).
//! Accounts are registered through the gateway, as a user would; the roles no API can grant to
//! itself (the first platform admin, vendor admins before vendor onboarding exists) and the
//! email verification are then set directly in the database. Safe to run on every start.

use crate::catalog_seed::{BRIGHT_TEXTILES, NORTH_CERAMICS};
use crate::stack::Stack;
use anyhow::{Context, bail};
use shared::neon::NeonClient;
use shared::transport::ReqwestTransport;

pub struct DemoAccount {
    pub email: &'static str,
    pub password: &'static str,
    pub display_name: &'static str,
    pub role: &'static str,
    pub vendor_id: Option<&'static str>,
}

pub const DEMO_ACCOUNTS: [DemoAccount; 4] = [
    DemoAccount {
        email: "shopper@demo.market",
        password: "demo-shopper-2026",
        display_name: "Sam Shopper",
        role: "customer",
        vendor_id: None,
    },
    DemoAccount {
        email: "alice@north-ceramics.demo.market",
        password: "demo-vendor-a-2026",
        display_name: "Alice (North Ceramics)",
        role: "vendor_admin",
        vendor_id: Some(NORTH_CERAMICS),
    },
    DemoAccount {
        email: "bruno@bright-textiles.demo.market",
        password: "demo-vendor-b-2026",
        display_name: "Bruno (Bright Textiles)",
        role: "vendor_admin",
        vendor_id: Some(BRIGHT_TEXTILES),
    },
    DemoAccount {
        email: "admin@demo.market",
        password: "demo-admin-2026",
        display_name: "Pat Platform",
        role: "platform_admin",
        vendor_id: None,
    },
];

pub async fn demo_accounts(stack: &Stack) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let neon = NeonClient::new(ReqwestTransport::default(), stack.urls().neon_sql, stack.connection_string());
    for account in &DEMO_ACCOUNTS {
        // Register only once: a second run must not spend the register-by-IP rate limit.
        let existing = neon.query("SELECT 1 FROM identity.users WHERE email = $1", &[&account.email]).await?;
        if existing.is_empty() {
            register(&http, stack, account).await?;
        }
        neon.query(
            "UPDATE identity.users SET email_verified_at = coalesce(email_verified_at, now()) WHERE email = $1",
            &[&account.email],
        )
        .await?;
        neon.query(
            "INSERT INTO identity.role_grants (user_id, role, vendor_id) \
             SELECT id, $2, $3 FROM identity.users WHERE email = $1 ON CONFLICT DO NOTHING",
            &[&account.email, &account.role, &account.vendor_id],
        )
        .await?;
    }
    Ok(())
}

async fn register(http: &reqwest::Client, stack: &Stack, account: &DemoAccount) -> anyhow::Result<()> {
    let response = http
        .post(format!("{}/api/v1/auth/register", stack.urls().worker))
        .json(&serde_json::json!({
            "email": account.email,
            "password": account.password,
            "display_name": account.display_name,
        }))
        .send()
        .await
        .with_context(|| format!("registering {}", account.email))?;
    if !response.status().is_success() {
        bail!("registering {} answered {}: {}", account.email, response.status(), response.text().await?);
    }
    Ok(())
}
