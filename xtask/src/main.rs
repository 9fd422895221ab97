use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

  dev                  install what is missing, build, run the marketplace locally (Ctrl-C stops)
  test                 the whole test suite (what CI runs)
  build-worker <name>  build workers/<name> with worker-build (wrangler.toml's build command)
  bench identity       CPU per login and per token verification inside workerd
  bench catalog        catalog reads (list, search, detail, suggest; cold and warm) at 16
                       connections through workerd on a 10,000-product seed
  bench cart           cart add and read throughput through workerd: Upstash and Neon requests
                       and CPU per process per operation
  bench checkout       checkout latency (p50/p95, gateway to confirmed order) and orders/s, one
                       buyer at a time and at 16 connections, with CPU per process per checkout
  migrate              apply migrations/ to the dev database (the dev stack must be running)
  seed [--products N] [--vendors V] [--categories C]
                       write a deterministic demo catalog (default 2,000 products, 25 vendors, 40
                       categories) to the dev database; safe to repeat. SEED_NEON_URL and
                       SEED_NEON_CONNECTION_STRING point it at another database";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["dev"] => xtask::dev::run(),
        ["test"] => xtask::test::run(),
        ["build-worker", name] => xtask::build::worker_crate(name),
        ["bench", what] => xtask::bench::run(what),
        ["migrate"] => migrate_dev(),
        ["seed", flags @ ..] => seed_catalog(flags),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn migrate_dev() -> anyhow::Result<()> {
    use xtask::{paths, stack};
    let ports = stack::Ports::dev();
    let connection_string = local_cloud::postgres::connection_string(ports.postgres, stack::DATABASE);
    let neon_url = format!("http://127.0.0.1:{}/sql", ports.neon);
    let runtime = tokio::runtime::Runtime::new()?;
    let applied =
        runtime.block_on(xtask::migrate::run(&neon_url, &connection_string, &paths::repo_root().join("migrations")))?;
    println!("{applied} migration(s) applied");
    Ok(())
}

/// Migrates first (a dev stack started before the catalog migration has no `catalog` tables yet).
/// The override variables have names of their own, so a shell holding a Worker's `NEON_URL` never
/// seeds that database by accident.
fn seed_catalog(flags: &[&str]) -> anyhow::Result<()> {
    use xtask::{catalog_seed, paths, stack};
    let config = catalog_seed::SeedConfig::from_args(flags)?;
    let ports = stack::Ports::dev();
    let neon_url = std::env::var("SEED_NEON_URL").unwrap_or_else(|_| format!("http://127.0.0.1:{}/sql", ports.neon));
    let connection_string = std::env::var("SEED_NEON_CONNECTION_STRING")
        .unwrap_or_else(|_| local_cloud::postgres::connection_string(ports.postgres, stack::DATABASE));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        xtask::migrate::run(&neon_url, &connection_string, &paths::repo_root().join("migrations")).await?;
        let report = catalog_seed::run(&neon_url, &connection_string, &config).await?;
        println!("seeded {report}");
        anyhow::Ok(())
    })
}
