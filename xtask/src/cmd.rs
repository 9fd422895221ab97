//! Running programs with their command line shown, failing loudly with what went wrong.

use anyhow::{Context, bail};
use std::process::{Command, Stdio};

pub fn describe(command: &Command) -> String {
    let program = command.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = command.get_args().map(|arg| arg.to_string_lossy().into_owned()).collect();
    format!("{program} {}", args.join(" ")).trim_end().to_owned()
}

/// Runs to completion with output shown; non-zero exit is an error.
pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let shown = describe(command);
    eprintln!("    $ {shown}");
    let status = command.status().with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed with {status}");
    }
    Ok(())
}

/// Runs quietly and returns stdout, or None if the program is missing or fails.
pub fn output(command: &mut Command) -> Option<String> {
    let output = command.stderr(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

pub fn cargo() -> Command {
    let mut command = Command::new(crate::paths::cargo());
    // Everything builds into the repository's target/ (spin.toml's sources point there).
    command.env_remove("CARGO_TARGET_DIR").current_dir(crate::paths::repo_root());
    command
}
