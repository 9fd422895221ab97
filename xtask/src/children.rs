//! Child processes of the local stack: each in its own process group (so Ctrl-C reaches only us and
//! we stop them in order), output prefixed on the console or kept in a log file.

use anyhow::Context;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum Logs {
    /// Prefixed lines on stderr (`cargo xtask dev`).
    Console,
    /// One file per child in this directory (tests print them on failure).
    Files(PathBuf),
}

pub struct ManagedChild {
    name: String,
    child: Child,
}

impl ManagedChild {
    pub fn spawn(name: &str, command: &mut Command, logs: &Logs) -> anyhow::Result<Self> {
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        let mut child =
            command.spawn().with_context(|| format!("could not start {name}: `{}`", crate::cmd::describe(command)))?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let sink = LogSink::open(name, logs)?;
        if let Some(stdout) = stdout {
            sink.forward(stdout);
        }
        if let Some(stderr) = stderr {
            sink.forward(stderr);
        }
        Ok(Self { name: name.to_owned(), child })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Also the id of its process group (it leads its own).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Exited already (crashed or refused to start)?
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM to the whole group (wrangler's workerd, too), SIGKILL if it lingers.
    pub fn stop(&mut self) {
        if self.exit_status().is_some() {
            return;
        }
        let group = self.child.id() as i32;
        signal_group(group, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.exit_status().is_some() {
                signal_group(group, libc::SIGKILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal_group(group, libc::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for ManagedChild {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal_group(group: i32, signal: i32) {
    // SAFETY: killpg only sends a signal; a stale group id fails harmlessly with ESRCH.
    unsafe {
        libc::killpg(group, signal);
    }
}

#[derive(Clone)]
enum LogSink {
    Console(String),
    File(std::sync::Arc<std::sync::Mutex<File>>),
}

impl LogSink {
    fn open(name: &str, logs: &Logs) -> anyhow::Result<Self> {
        Ok(match logs {
            Logs::Console => LogSink::Console(format!("[{name}] ")),
            Logs::Files(dir) => {
                std::fs::create_dir_all(dir)?;
                let file = File::create(log_path(dir, name))?;
                LogSink::File(std::sync::Arc::new(std::sync::Mutex::new(file)))
            }
        })
    }

    fn forward(&self, stream: impl Read + Send + 'static) {
        let sink = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                match &sink {
                    LogSink::Console(prefix) => eprintln!("{prefix}{line}"),
                    LogSink::File(file) => {
                        if let Ok(mut file) = file.lock() {
                            let _ = writeln!(file, "{line}");
                        }
                    }
                }
            }
        });
    }
}

pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.log"))
}
