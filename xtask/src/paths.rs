//! Where things are: the repository, the cargo target dir, the npm-installed tools.

use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    let xtask_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().unwrap_or(xtask_dir).to_path_buf()
}

/// `target/` is where spin.toml points, so the target dir must be reachable there
/// (CI symlinks `target` to its cache instead of setting CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    repo_root().join("target")
}

pub fn node_bin(tool: &str) -> PathBuf {
    repo_root().join("node_modules").join(".bin").join(tool)
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

pub fn native_bin(name: &str) -> PathBuf {
    target_dir().join("debug").join(name)
}

/// A native binary built with a named cargo profile.
pub fn profile_bin(profile: &str, name: &str) -> PathBuf {
    target_dir().join(profile).join(name)
}

pub fn worker_dir(name: &str) -> PathBuf {
    repo_root().join("workers").join(name)
}

pub fn dev_state_dir() -> PathBuf {
    repo_root().join(".dev")
}

/// Full path of a program found on PATH.
pub fn on_path(program: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| anyhow::anyhow!("`{program}` is not on PATH"))
}
