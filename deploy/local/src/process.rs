//! Small process utilities shared by the PostgreSQL and Redis helpers.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Runs `callback` when the process exits normally (`main` returns or `std::process::exit`).
/// Test binaries use it to stop a shared database kept in a `static`, which is never dropped.
pub fn at_exit(callback: extern "C" fn()) {
    // SAFETY: registering a plain `extern "C" fn()` with the C runtime has no preconditions.
    unsafe {
        libc::atexit(callback);
    }
}

/// The effective user id; PostgreSQL refuses to run as root (0).
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A system user from /etc/passwd, e.g. `postgres`.
#[derive(Debug, Clone)]
pub(crate) struct SystemUser {
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

pub(crate) fn lookup_user(name: &str) -> anyhow::Result<SystemUser> {
    let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    for line in passwd.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() >= 6 && fields[0] == name {
            let uid = fields[2].parse().context("uid in /etc/passwd")?;
            let gid = fields[3].parse().context("gid in /etc/passwd")?;
            return Ok(SystemUser { uid, gid, home: PathBuf::from(fields[5]) });
        }
    }
    bail!("system user `{name}` does not exist (install PostgreSQL with apt, which creates it)")
}

/// Runs a command to completion; a non-zero exit becomes an error carrying its output.
pub(crate) fn run(command: &mut Command) -> anyhow::Result<Output> {
    let output = command.output().with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// Whether `pid` is a live `name_part` process working in `dir`. PostgreSQL and Redis both chdir
/// into their data directory, so a pid file left by another instance (or a reused pid) never
/// matches and nobody else's server gets stopped.
pub(crate) fn process_serves(pid: i32, name_part: &str, dir: &Path) -> bool {
    if pid <= 0 {
        return false;
    }
    let named = fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(name_part));
    named && fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir)
}

/// Sends `signal` to `pid`, then waits up to `timeout` for it to disappear; SIGKILL after that.
pub(crate) fn terminate(pid: i32, signal: i32, timeout: Duration) {
    // SAFETY: kill has no memory-safety preconditions; errors (ESRCH) are fine to ignore.
    unsafe {
        libc::kill(pid, signal);
    }
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !process_alive(pid) {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

fn process_alive(pid: i32) -> bool {
    // A zombie (our own unreaped child) still answers kill(0); /proc says it is dead.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The first line of a pid file as a pid.
pub(crate) fn read_pid_file(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.lines().next()?.trim().parse().ok()
}

/// The last `max` bytes of a log file, for error messages.
pub(crate) fn log_tail(path: &Path, max: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(max);
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(_) => String::new(),
    }
}
