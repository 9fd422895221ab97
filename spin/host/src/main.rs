//! `local-spin`: runs the HTTP components of `spin.toml` on wasmtime, reading the same manifest
//! production `spin up` reads (routes, environment, variables, allowed_outbound_hosts).

mod cli;
mod manifest;
mod outbound;
mod routes;
mod runtime;
mod server;
mod spin_variables;
mod variables;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tokio::net::TcpListener;

use crate::manifest::Manifest;
use crate::routes::Router;
use crate::server::App;
use crate::variables::{AppVariables, Providers};

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("local-spin: {error:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("local-spin: cannot start tokio: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("local-spin: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: cli::Args) -> Result<()> {
    let manifest = Manifest::load(&args.manifest)?;
    let env = |key: &str| std::env::var(key).ok();
    let dotenv = variables::load_dotenv(Path::new(".env"))?;
    let variables =
        AppVariables::resolve(&manifest.variables, &Providers { cli: &args.variables, env: &env, dotenv: &dotenv })?;
    let router = Router::build(&manifest.base, &manifest.routes)?;

    let engine = runtime::engine(args.compile_cache.as_deref())?;
    // Compilation is CPU-bound: keep it off the async workers.
    let components = tokio::task::spawn_blocking(move || runtime::load_components(&engine, &manifest, &variables))
        .await
        .context("component compilation panicked")??;

    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let app = Arc::new(App::new(router, components));

    println!("local-spin: serving {base_url}");
    println!("Available Routes:");
    for (route, component) in app.router().describe() {
        println!("  {component}: {base_url}{route}");
    }
    // Scripts wait for the banner line; make sure it is not stuck in a pipe buffer.
    std::io::stdout().flush()?;

    server::serve(listener, app, shutdown_signal()).await;
    println!("local-spin: stopped");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
