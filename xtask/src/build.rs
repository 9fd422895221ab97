//! Builds: the native local-cloud binaries, the Spin components (wasm32-wasip2), the Workers (worker-build).

use crate::{cmd, paths, progress};
use std::process::Command;

/// Spin components listed in spin.toml: crate packages under spin/.
pub const SPIN_COMPONENTS: &[&str] = &["orders", "identity", "notifications", "payments", "inventory"];
/// Workers: (directory under workers/, crate package); worker-build writes build/worker/ there.
pub const WORKERS: &[(&str, &str)] = &[
    ("gateway", "gateway"),
    ("identity", "identity-worker"),
    ("catalog", "catalog-worker"),
    ("events", "events"),
    ("cart", "cart-worker"),
];

pub fn all() -> anyhow::Result<()> {
    progress::step("build native tools (local-cloud, local-spin)", native_tools)?;
    progress::step("build Spin components (wasm32-wasip2)", spin_components)?;
    for (worker, _) in WORKERS {
        progress::step(&format!("build Worker `{worker}` (worker-build)"), || worker_crate(worker))?;
    }
    Ok(())
}

pub fn native_tools() -> anyhow::Result<()> {
    cmd::run(cmd::cargo().args(["build", "-p", "local-cloud", "-p", "local-spin-host"]))
}

/// Cargo profile (Cargo.toml) of the gateways benchmarks run.
pub const BENCH_GATEWAYS_PROFILE: &str = "bench-gateways";

/// local-cloud optimised, for benchmarks (`stack::GatewayBuild::Optimised`).
pub fn bench_gateways() -> anyhow::Result<()> {
    cmd::run(cmd::cargo().args(["build", "--profile", BENCH_GATEWAYS_PROFILE, "-p", "local-cloud"]))
}

pub fn spin_components() -> anyhow::Result<()> {
    let mut command = cmd::cargo();
    command.args(["build", "--release", "--target", "wasm32-wasip2"]);
    for component in SPIN_COMPONENTS.iter().copied() {
        command.args(["-p", component]);
    }
    cmd::run(&mut command)
}

/// worker-build with the tools it would otherwise download from GitHub.
pub fn worker_crate(name: &str) -> anyhow::Result<()> {
    let mut command = Command::new("worker-build");
    command
        .arg("--release")
        .current_dir(paths::worker_dir(name))
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_TARGET_DIR", paths::target_dir())
        .env("WASM_BINDGEN_BIN", paths::on_path("wasm-bindgen")?)
        .env("WASM_OPT_BIN", paths::node_bin("wasm-opt"))
        .env("ESBUILD_BIN", paths::node_bin("esbuild"));
    cmd::run(&mut command)
}
