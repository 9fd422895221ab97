use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

  dev                  install what is missing, build, run the marketplace locally (Ctrl-C stops)
  test                 the whole test suite (what CI runs)
  build-worker <name>  build workers/<name> with worker-build (wrangler.toml's build command)
  bench identity       CPU per login and per token verification inside workerd
  migrate              apply migrations/ to the dev database (the dev stack must be running)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["dev"] => xtask::dev::run(),
        ["test"] => xtask::test::run(),
        ["build-worker", name] => xtask::build::worker_crate(name),
        ["bench", what] => xtask::bench::run(what),
        ["migrate"] => migrate_dev(),
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
