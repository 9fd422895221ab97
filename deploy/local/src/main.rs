//! `local-cloud`: the local Neon (HTTP SQL) and Upstash (REST) gateways, the email sink
//! (Resend's send-email API + an inbox) and the Stripe sandbox in one process.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use local_cloud::{Config, LocalCloud, neon, stripe};

const USAGE: &str = "\
usage: local-cloud [options]
  --neon-listen ADDR          Neon HTTP SQL listener (default 127.0.0.1:4444)
  --upstash-listen ADDR       Upstash REST listener (default 127.0.0.1:8079)
  --upstash-token TOKEN       bearer token Upstash requests must carry (default local-upstash-token)
  --redis-url URL             Redis behind the Upstash gateway (default redis://127.0.0.1:6379)
  --email-listen ADDR         email sink: Resend's POST /emails and the /inbox (default 127.0.0.1:8025)
  --email-api-key KEY         key POST /emails must carry as `Authorization: Bearer KEY` (default re_local_key)
  --stripe-listen ADDR        Stripe sandbox: Stripe's /v1 API subset and signed webhooks (default 127.0.0.1:12111)
  --stripe-secret-key KEY     test-mode key the sandbox accepts (sk_test_…; repeat for more; default sk_test_local)
  --stripe-webhook-url URL    endpoint that receives every event (repeatable; pair each with a secret)
  --stripe-webhook-secret S   whsec_… signing secret for the preceding --stripe-webhook-url
  --stripe-processing-ms MS   how long the delayed test card stays `processing` (default 3000)
  --pg-addr ADDR              connect every Neon request here, whatever host its connection string names
  --statement-timeout-ms MS   session statement_timeout for Neon requests (default 15000, 0 = none)
  --quiet                     no per-request log lines
";

fn parse_args() -> anyhow::Result<Config> {
    let mut config = Config {
        neon_listen: SocketAddr::from(([127, 0, 0, 1], 4444)),
        upstash_listen: SocketAddr::from(([127, 0, 0, 1], 8079)),
        upstash_token: "local-upstash-token".to_owned(),
        redis_url: "redis://127.0.0.1:6379".to_owned(),
        email_listen: SocketAddr::from(([127, 0, 0, 1], 8025)),
        email_api_key: "re_local_key".to_owned(),
        stripe_listen: SocketAddr::from(([127, 0, 0, 1], 12111)),
        stripe: stripe::Options::new("sk_test_local"),
        neon: neon::Options::default(),
        log_requests: true,
    };
    let mut stripe_keys = Vec::new();
    let mut webhook_urls = Vec::new();
    let mut webhook_secrets = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--neon-listen" => config.neon_listen = value()?.parse().context("--neon-listen")?,
            "--upstash-listen" => config.upstash_listen = value()?.parse().context("--upstash-listen")?,
            "--upstash-token" => config.upstash_token = value()?,
            "--redis-url" => config.redis_url = value()?,
            "--email-listen" => config.email_listen = value()?.parse().context("--email-listen")?,
            "--email-api-key" => config.email_api_key = value()?,
            "--stripe-listen" => config.stripe_listen = value()?.parse().context("--stripe-listen")?,
            "--stripe-secret-key" => stripe_keys.push(value()?),
            "--stripe-webhook-url" => webhook_urls.push(value()?),
            "--stripe-webhook-secret" => webhook_secrets.push(value()?),
            "--stripe-processing-ms" => {
                let ms: u64 = value()?.parse().context("--stripe-processing-ms")?;
                config.stripe.processing_delay = Duration::from_millis(ms);
            }
            "--pg-addr" => config.neon.upstream = Some(value()?.parse().context("--pg-addr")?),
            "--statement-timeout-ms" => {
                let ms: u64 = value()?.parse().context("--statement-timeout-ms")?;
                config.neon.statement_timeout = (ms > 0).then(|| Duration::from_millis(ms));
            }
            "--quiet" => config.log_requests = false,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if !stripe_keys.is_empty() {
        config.stripe.secret_keys = stripe_keys;
    }
    if webhook_urls.len() != webhook_secrets.len() {
        bail!("give each --stripe-webhook-url a --stripe-webhook-secret");
    }
    config.stripe.webhook_endpoints = webhook_urls
        .into_iter()
        .zip(webhook_secrets)
        .map(|(url, secret)| stripe::EndpointSeed { url, secret })
        .collect();
    Ok(config)
}

/// Resolves on the first SIGTERM or SIGINT. Handlers are installed before this returns, so a
/// signal sent right after the ready line cannot kill the process uncleanly.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

async fn run(config: Config) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let cloud = LocalCloud::bind(config).await?;
    println!(
        "local-cloud: neon on http://{}/sql, upstash on http://{}, email on http://{} (inbox: /inbox), stripe on http://{}",
        cloud.neon_addr(),
        cloud.upstash_addr(),
        cloud.email_addr(),
        cloud.stripe_addr()
    );
    cloud.serve(shutdown).await?;
    eprintln!("local-cloud: stopped");
    Ok(())
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("local-cloud: {err:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("local-cloud: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("local-cloud: {err:#}");
            ExitCode::FAILURE
        }
    }
}
