//! Installs what the build and the local stack need, skipping whatever is already present.

use crate::{cmd, paths, progress};
use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use std::process::Command;

const WASM_TARGETS: [&str; 2] = ["wasm32-unknown-unknown", "wasm32-wasip2"];
/// Debian's Chromium, which the browser tests and the Lighthouse benchmark drive.
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn ensure_all() -> anyhow::Result<()> {
    progress::step("rust wasm targets", ensure_wasm_targets)?;
    progress::step("PostgreSQL, Redis and Chromium (apt, when absent)", ensure_system_packages)?;
    progress::step("npm tools (wrangler, binaryen, esbuild, playwright-core)", ensure_npm_tools)?;
    progress::step("wasm-bindgen-cli (exactly the Cargo.lock version)", ensure_wasm_bindgen)?;
    progress::step("worker-build", ensure_worker_build)?;
    Ok(())
}

fn ensure_wasm_targets() -> anyhow::Result<()> {
    let installed =
        cmd::output(Command::new("rustup").args(["target", "list", "--installed"]).current_dir(paths::repo_root()))
            .unwrap_or_default();
    let missing: Vec<&str> =
        WASM_TARGETS.iter().copied().filter(|target| !installed.lines().any(|line| line == *target)).collect();
    if missing.is_empty() {
        progress::note("already installed");
        return Ok(());
    }
    cmd::run(Command::new("rustup").args(["target", "add"]).args(&missing).current_dir(paths::repo_root()))
}

fn ensure_system_packages() -> anyhow::Result<()> {
    let mut packages = Vec::new();
    if local_cloud::postgres::find_bin_dir().is_err() {
        packages.push("postgresql");
    }
    if cmd::output(Command::new("redis-server").arg("--version")).is_none() {
        packages.push("redis-server");
    }
    // The storefront's browser tests drive Debian's Chromium (playwright-core downloads no browser).
    if cmd::output(Command::new(CHROMIUM).arg("--version")).is_none() {
        packages.push("chromium");
    }
    if packages.is_empty() {
        progress::note("already installed");
        return Ok(());
    }
    let as_root = unsafe { libc::geteuid() } == 0;
    let apt = |args: &[&str]| {
        let mut command = if as_root { Command::new("apt-get") } else { Command::new("sudo") };
        if !as_root {
            command.arg("apt-get");
        }
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    cmd::run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq"]);
    install.args(&packages);
    cmd::run(&mut install)
}

/// npm ci only when package-lock.json changed since the last install.
fn ensure_npm_tools() -> anyhow::Result<()> {
    let root = paths::repo_root();
    let lock = std::fs::read(root.join("package-lock.json")).context("package-lock.json is missing")?;
    let stamp_path = root.join("node_modules").join(".xtask-installed");
    let lock_hash = format!("{:x}", Sha256::digest(&lock));
    let tools_present = ["wrangler", "wasm-opt", "esbuild"].iter().all(|tool| paths::node_bin(tool).exists())
        && root.join("node_modules/playwright-core/package.json").exists();
    if tools_present && std::fs::read_to_string(&stamp_path).is_ok_and(|stamp| stamp == lock_hash) {
        progress::note("already installed");
        return Ok(());
    }
    cmd::run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&root))?;
    std::fs::write(stamp_path, lock_hash)?;
    Ok(())
}

/// The version Cargo.lock resolved for a crate.
pub fn locked_version(crate_name: &str) -> anyhow::Result<String> {
    let lock = std::fs::read_to_string(paths::repo_root().join("Cargo.lock"))?;
    let lock: toml::Value = toml::from_str(&lock)?;
    lock.get("package")
        .and_then(|packages| packages.as_array())
        .into_iter()
        .flatten()
        .find(|package| package.get("name").and_then(|name| name.as_str()) == Some(crate_name))
        .and_then(|package| package.get("version")?.as_str().map(str::to_owned))
        .with_context(|| format!("{crate_name} is not in Cargo.lock"))
}

/// `wasm-bindgen 0.2.130` or plain `0.8.7` (worker-build): the last word is the version.
fn installed_version(tool: &str) -> Option<String> {
    let output = cmd::output(Command::new(tool).arg("--version"))?;
    output.split_whitespace().last().map(str::to_owned)
}

/// worker-build refuses to run with any other wasm-bindgen than the crate's.
fn ensure_wasm_bindgen() -> anyhow::Result<()> {
    let wanted = locked_version("wasm-bindgen")?;
    ensure_cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &wanted, false)
}

fn ensure_worker_build() -> anyhow::Result<()> {
    let wanted = locked_version("worker")?;
    ensure_cargo_tool("worker-build", "worker-build", &wanted, true)
}

fn ensure_cargo_tool(binary: &str, crate_name: &str, version: &str, locked: bool) -> anyhow::Result<()> {
    if installed_version(binary).as_deref() == Some(version) {
        progress::note(&format!("{binary} {version} already installed"));
        return Ok(());
    }
    let mut install = Command::new(paths::cargo());
    install.args(["install", crate_name, "--version", &format!("={version}")]);
    // wasm-bindgen-cli's lockfile pins a version the registry no longer serves, so it installs unlocked.
    if locked {
        install.arg("--locked");
    }
    install.env_remove("CARGO_TARGET_DIR");
    cmd::run(&mut install)?;
    if installed_version(binary).as_deref() != Some(version) {
        bail!("installed {crate_name} {version}, but `{binary} --version` disagrees: is ~/.cargo/bin first on PATH?");
    }
    Ok(())
}
