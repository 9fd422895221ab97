//! Vendor payouts, run by the sweep: what each vendor with a connected account may be paid now
//! (`shared::payments::available_for_payout`: its balance less what orders delivered less than a
//! hold period ago still owe) becomes a payout (`payments.request_payout`, which books it), then a
//! Stripe Transfer to the vendor's account under the payout's id as idempotency key, then
//! `payments.settle_payout`: paid, or failed (which books the money back to the vendor).
//! A transfer the provider did not answer stays pending and is tried again first next sweep; a
//! vendor whose transfer was refused waits a day before the next one.

use std::collections::BTreeMap;

use serde::Deserialize;
use shared::catalog::{Currency, Money, VendorId};
use shared::neon::{BatchOptions, NeonError, Query};
use shared::orders::OrderId;
use shared::payments::api::PayoutReport;
use shared::payments::stripe::{AccountId, CallError, CreateTransfer, Metadata};
use shared::payments::{PayableEntry, PspReference, available_for_payout};

use crate::config::{self, Provider};
use crate::failures::{Handled, Problem};
use crate::intents::stripe_key;
use crate::store::{Neon, json_row};
use spin_platform::ids;

/// After the provider refused a vendor's transfer (no available balance yet, an account not
/// ready), the vendor waits this long before the next try instead of failing every sweep;
/// Stripe makes funds available once a day.
const RETRY_AFTER_REFUSAL_HOURS: i32 = 24;

#[derive(Debug, Deserialize)]
struct Payout {
    payout_id: String,
    vendor_id: VendorId,
    account: AccountId,
    amount: Money,
}

pub async fn run(neon: &Neon, provider: &Provider, limit: u32) -> Handled<PayoutReport> {
    let hold = config::hold_period().await?;
    let mut report = PayoutReport::default();
    for payout in pending(neon, limit).await? {
        transfer(neon, provider, &payout, &mut report).await?;
    }
    let now_ms = ids::now_ms();
    for (vendor, account) in vendors_with_balance(neon, limit).await? {
        let entries = payable_entries(neon, &vendor).await?;
        let delivered = deliveries(neon, &vendor).await?;
        let available = available_for_payout(&entries, &delivered, now_ms, hold)
            .map_err(|error| Problem::corrupt(format!("vendor {vendor}'s ledger: {error}")))?;
        for amount in available {
            let balance = balance(&entries, amount.currency);
            let payout_id = ids::new_id("pyo");
            if request(neon, &payout_id, &vendor, amount, balance).await? {
                let payout = Payout { payout_id, vendor_id: vendor.clone(), account: account.clone(), amount };
                transfer(neon, provider, &payout, &mut report).await?;
            }
        }
    }
    Ok(report)
}

/// What the entries say the platform owes the vendor in `currency` (credits are negative).
fn balance(entries: &[PayableEntry], currency: Currency) -> i64 {
    -entries
        .iter()
        .filter(|entry| entry.amount.currency == currency)
        .map(|entry| entry.amount.amount_minor)
        .sum::<i64>()
}

/// Books the payout, only if the vendor's balance is still the one `amount` was worked out from
/// (under `request_payout`'s own lock): two sweeps at once cannot both pay out held money.
async fn request(neon: &Neon, payout_id: &str, vendor: &VendorId, amount: Money, balance: i64) -> Handled<bool> {
    let queries = [
        Query::new(
            "SELECT pg_advisory_xact_lock(hashtextextended('payments.payout:' || $1::text || ':' || $2::text, 0))",
            &[vendor, &amount.currency],
        ),
        Query::new(
            "SELECT (payments.request_payout($3, $1, $2, $4)).id AS payout_id \
             WHERE (SELECT coalesce(-sum(amount_minor), 0) FROM payments.ledger_entries \
                    WHERE account = 'vendor_payable' AND vendor_id = $1 AND currency = $2) = $5::bigint",
            &[vendor, &amount.currency, &payout_id, &amount.amount_minor, &balance],
        ),
    ];
    let results = neon.batch(&queries, BatchOptions::default()).await?;
    Ok(results.get(1).is_some_and(|result| !result.is_empty()))
}

async fn transfer(neon: &Neon, provider: &Provider, payout: &Payout, report: &mut PayoutReport) -> Handled<()> {
    report.attempted += 1;
    let params = CreateTransfer {
        amount: payout.amount,
        destination: payout.account.clone(),
        transfer_group: None,
        source_transaction: None,
        description: Some(format!("Payout {}", payout.payout_id)),
        metadata: Metadata::new()
            .with("payout_id", payout.payout_id.as_str())
            .and_then(|metadata| metadata.with("vendor_id", payout.vendor_id.as_str()))
            .map_err(|error| Problem::corrupt(error.to_string()))?,
    };
    let settled = match provider.client.create_transfer(&params, &stripe_key(&payout.payout_id)?).await {
        Ok(transfer) => settle(neon, &payout.payout_id, "paid", Some(PspReference::from(&transfer.id)), None).await,
        Err(error) if error.is_transient() => {
            eprintln!("payout {}: the provider did not answer: {error}", payout.payout_id);
            report.pending += 1;
            return Ok(());
        }
        Err(error) => {
            eprintln!("payout {} refused: {error}", payout.payout_id);
            settle(neon, &payout.payout_id, "failed", None, Some(refusal(&error))).await
        }
    };
    match settled?.as_str() {
        "paid" => report.paid += 1,
        _ => report.failed += 1,
    }
    Ok(())
}

fn refusal(error: &CallError) -> String {
    error.to_string().chars().take(500).collect()
}

async fn settle(
    neon: &Neon,
    payout_id: &str,
    status: &str,
    transfer: Option<PspReference>,
    reason: Option<String>,
) -> Handled<String> {
    let result = neon
        .query(
            "SELECT (payments.settle_payout($1, $2, $3, $4)).status AS status",
            &[&payout_id, &status, &transfer, &reason],
        )
        .await?;
    Ok(result.one().and_then(|row| row.get("status")).map_err(NeonError::from)?)
}

async fn pending(neon: &Neon, limit: u32) -> Handled<Vec<Payout>> {
    let result = neon
        .query(
            "SELECT json_build_object('payout_id', p.id, 'vendor_id', p.vendor_id, 'account', a.psp_account_id, \
                 'amount', json_build_object('amount_minor', p.amount_minor, 'currency', p.currency)) AS payout \
             FROM payments.payouts p JOIN payments.connected_accounts a ON a.vendor_id = p.vendor_id \
             WHERE p.status = 'pending' ORDER BY p.created_at LIMIT $1",
            &[&limit],
        )
        .await?;
    result.iter().map(|row| Ok(json_row(row.get("payout").map_err(NeonError::from)?)?)).collect()
}

async fn vendors_with_balance(neon: &Neon, limit: u32) -> Handled<Vec<(VendorId, AccountId)>> {
    #[derive(Deserialize)]
    struct Row {
        vendor_id: VendorId,
        account: AccountId,
    }
    let result = neon
        .query(
            "SELECT json_build_object('vendor_id', a.vendor_id, 'account', a.psp_account_id) AS vendor \
             FROM payments.connected_accounts a \
             WHERE EXISTS (SELECT 1 FROM payments.vendor_balances b \
                           WHERE b.vendor_id = a.vendor_id AND b.balance_minor > 0) \
               AND NOT EXISTS (SELECT 1 FROM payments.payouts p \
                               WHERE p.vendor_id = a.vendor_id AND p.status = 'failed' \
                                 AND p.settled_at > now() - $2 * interval '1 hour') \
             ORDER BY a.vendor_id LIMIT $1",
            &[&limit, &RETRY_AFTER_REFUSAL_HOURS],
        )
        .await?;
    result
        .iter()
        .map(|row| {
            let Row { vendor_id, account } = json_row(row.get("vendor").map_err(NeonError::from)?)?;
            Ok((vendor_id, account))
        })
        .collect()
}

async fn payable_entries(neon: &Neon, vendor: &VendorId) -> Handled<Vec<PayableEntry>> {
    let result = neon
        .query(
            "SELECT json_build_object('order_id', order_id, \
                 'amount', json_build_object('amount_minor', amount_minor, 'currency', currency)) AS entry \
             FROM payments.ledger_entries WHERE account = 'vendor_payable' AND vendor_id = $1",
            &[vendor],
        )
        .await?;
    result.iter().map(|row| Ok(json_row(row.get("entry").map_err(NeonError::from)?)?)).collect()
}

/// When each of the vendor's delivered orders was delivered (UTC unix ms).
async fn deliveries(neon: &Neon, vendor: &VendorId) -> Handled<BTreeMap<OrderId, i64>> {
    let result = neon
        .query(
            "SELECT order_id, (extract(epoch FROM delivered_at) * 1000)::bigint AS at_ms \
             FROM orders.delivered_orders WHERE vendor_id = $1",
            &[vendor],
        )
        .await?;
    result
        .iter()
        .map(|row| {
            let order: String = row.get("order_id").map_err(NeonError::from)?;
            let at_ms: i64 = row.get("at_ms").map_err(NeonError::from)?;
            let order = OrderId::parse(&order).map_err(|_| Problem::corrupt(format!("order id {order:?}")))?;
            Ok((order, at_ms))
        })
        .collect()
}
