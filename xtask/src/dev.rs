//! `cargo xtask dev`: install what is missing, build everything, run the stack until Ctrl-C.

use crate::children::Logs;
use crate::stack::{GatewayBuild, Ports, Stack, StackConfig, WorkerMode};
use crate::{build, cart_seed, catalog_seed, paths, progress, seed, tools};
use std::time::Duration;

pub fn run() -> anyhow::Result<()> {
    tools::ensure_all()?;
    build::all()?;
    let ports = Ports::dev();
    ensure_ports_free(&ports)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let mut stack = Stack::start(StackConfig {
            state_dir: paths::dev_state_dir(),
            ports,
            worker: Some(WorkerMode::Watch),
            gateways: GatewayBuild::Dev,
            logs: Logs::Console,
        })
        .await?;
        let seeding = std::time::Instant::now();
        seed::demo_accounts(&stack).await?;
        progress::note(&format!("demo accounts ready in {:.1}s", seeding.elapsed().as_secs_f64()));
        // 2,000 products over 25 vendors and 40 categories (the defaults); repeat runs insert nothing.
        let report =
            catalog_seed::run(&stack.urls().neon_sql, &stack.connection_string(), &catalog_seed::SeedConfig::default())
                .await?;
        progress::note(&format!("catalog seeded: {report}"));
        cart_seed::run(&stack.urls().neon_sql, &stack.connection_string()).await?;
        progress::note("coupons, tax rates and demo shipping options seeded");
        print_urls(&stack);
        let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut watchdog = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = interrupt.recv() => break,
                _ = terminate.recv() => break,
                _ = watchdog.tick() => {
                    if let Some(exited) = stack.exited_child() {
                        eprintln!("xtask dev: {exited}; stopping everything");
                        break;
                    }
                }
            }
        }
        eprintln!("xtask dev: stopping…");
        drop(stack);
        eprintln!("xtask dev: stopped");
        anyhow::Ok(())
    })
}

fn ensure_ports_free(ports: &Ports) -> anyhow::Result<()> {
    let all = [
        ("PostgreSQL", ports.postgres),
        ("Redis", ports.redis),
        ("Neon gateway", ports.neon),
        ("Upstash gateway", ports.upstash),
        ("email sink", ports.email),
        ("Stripe sandbox", ports.stripe),
        ("Spin host", ports.spin),
        ("wrangler dev", ports.worker),
        ("wrangler inspector", ports.worker_inspector),
    ];
    for (what, port) in all {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            anyhow::bail!("port {port} ({what}) is in use: is another `cargo xtask dev` running?");
        }
    }
    Ok(())
}

fn print_urls(stack: &Stack) {
    let urls = stack.urls();
    println!();
    println!("The marketplace is running (Ctrl-C stops everything):");
    println!("  gateway Worker (workerd)  {}/api/v1/health", urls.worker);
    println!("  Spin components           {} (signed requests only)", urls.spin);
    println!("  Neon HTTP gateway         {}", urls.neon_sql);
    println!("  Upstash REST gateway      {}", urls.upstash);
    println!("  email sink (Resend API)   {} (inbox: GET {})", urls.email, urls.email_inbox);
    println!("  Stripe sandbox            {} (key sk_test_… in .dev/secrets.json)", urls.stripe);
    println!("    its webhooks go to      {}{}", urls.spin, crate::stack::STRIPE_WEBHOOK_PATH);
    println!("  PostgreSQL                {}", stack.connection_string());
    println!("  Redis                     redis://127.0.0.1:{}", stack.ports.redis);
    println!("  state                     {}", stack.state_dir().display());
    println!();
    println!("Demo accounts (POST /api/v1/auth/login with these):");
    for account in &seed::DEMO_ACCOUNTS {
        let vendor = account.vendor_id.map(|id| format!(" of {id}")).unwrap_or_default();
        println!("  {:<36} {:<20} {}{vendor}", account.email, account.password, account.role);
    }
    println!();
}
