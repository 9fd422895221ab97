//! `cargo xtask test`: the whole suite, as CI runs it.

use crate::{build, cmd, progress, tools};
use std::time::Instant;

/// Crates that only build for a Wasm target; linted there and tested through their runtimes.
/// (spin-platform builds natively too, so its unit tests run with the rest.)
const WASM_ONLY: [&str; 2] = ["gateway", "orders"];

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
        cmd::run(cmd::cargo().args([
            "clippy",
            "-p",
            "gateway",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    progress::step("clippy (Spin components, wasm32-wasip2)", || {
        cmd::run(cmd::cargo().args([
            "clippy",
            "-p",
            "orders",
            "-p",
            "spin-platform",
            "--target",
            "wasm32-wasip2",
            "--",
            "-D",
            "warnings",
        ]))
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

fn exclude_wasm_only(command: &mut std::process::Command) {
    for krate in WASM_ONLY {
        command.args(["--exclude", krate]);
    }
}
