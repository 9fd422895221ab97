//! `cargo xtask test`: the whole suite, as CI runs it.

use crate::{build, cmd, progress, tools};
use std::time::Instant;

/// The Workers' shared runtime adapter: wasm32-unknown-unknown only, but not a Worker of its own.
const WORKER_PLATFORM: &str = "worker-platform";

pub fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    tools::ensure_all()?;
    progress::step("cargo fmt --check", || cmd::run(cmd::cargo().args(["fmt", "--all", "--", "--check"])))?;
    progress::step("clippy (native crates)", || {
        let mut command = cmd::cargo();
        command.args(["clippy", "--workspace", "--all-targets"]);
        exclude_wasm_only(&mut command);
        cmd::run(command.args(["--", "-D", "warnings"]))
    })?;
    progress::step("clippy (Workers, wasm32-unknown-unknown)", || {
        let packages = build::WORKERS.iter().map(|(_, package)| *package).chain([WORKER_PLATFORM]);
        cmd::run(&mut clippy_for_target("wasm32-unknown-unknown", packages))
    })?;
    progress::step("clippy (Spin components, wasm32-wasip2)", || {
        let packages = build::SPIN_COMPONENTS.iter().copied().chain(["spin-platform"]);
        cmd::run(&mut clippy_for_target("wasm32-wasip2", packages))
    })?;
    build::all()?;
    progress::step("tests: unit, conformance, black-box", || {
        let mut command = cmd::cargo();
        command.args(["test", "--workspace"]);
        exclude_wasm_only(&mut command);
        // Black-box tests are ignored for a bare `cargo test` (they need the Wasm builds made above).
        cmd::run(command.args(["--", "--include-ignored"]))
    })?;
    eprintln!("xtask test: everything passed in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Crates that only build for a Wasm target, linted there and tested through their runtimes.
/// (spin-platform builds natively too, so its unit tests run with the rest.)
fn wasm_only() -> impl Iterator<Item = &'static str> {
    build::WORKERS
        .iter()
        .map(|(_, package)| *package)
        .chain([WORKER_PLATFORM])
        .chain(build::SPIN_COMPONENTS.iter().copied())
}

fn exclude_wasm_only(command: &mut std::process::Command) {
    for package in wasm_only() {
        command.args(["--exclude", package]);
    }
}

fn clippy_for_target<'a>(target: &str, packages: impl Iterator<Item = &'a str>) -> std::process::Command {
    let mut command = cmd::cargo();
    command.arg("clippy");
    for package in packages {
        command.args(["-p", package]);
    }
    command.args(["--target", target, "--", "-D", "warnings"]);
    command
}
