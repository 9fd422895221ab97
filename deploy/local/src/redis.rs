//! A project-local `redis-server` child process.

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::process;

/// How long a fresh server (or one replaying a large AOF) may take to answer PING.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// SIGTERM makes Redis flush its AOF; give it this long before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// `redis-server` on 127.0.0.1:`port` with its data (AOF) in `data_dir`; killed on drop.
#[derive(Debug)]
pub struct Server {
    port: u16,
    data_dir: PathBuf,
    child: Mutex<Option<Child>>,
}

impl Server {
    /// Starts Redis in the foreground (no daemonize) and waits until it answers PING.
    /// Data persists across runs (appendonly); a server left by a killed run is stopped first.
    pub fn start(data_dir: impl AsRef<Path>, port: u16) -> anyhow::Result<Server> {
        fs::create_dir_all(data_dir.as_ref()).with_context(|| format!("creating {}", data_dir.as_ref().display()))?;
        let data_dir = fs::canonicalize(data_dir.as_ref())?;
        let pid_file = data_dir.join("redis.pid");
        if let Some(pid) = process::read_pid_file(&pid_file)
            && process::process_serves(pid, "redis-server", &data_dir)
        {
            process::terminate(pid, libc::SIGTERM, STOP_TIMEOUT);
        }
        let _ = fs::remove_file(&pid_file);

        let log = data_dir.join("redis.log");
        let child = Command::new(redis_server_binary())
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .arg("--dir")
            .arg(&data_dir)
            .args(["--daemonize", "no", "--appendonly", "yes", "--protected-mode", "yes"])
            .arg("--pidfile")
            .arg(&pid_file)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning redis-server (install it with `apt-get install redis-server`)")?;
        let server = Server { port, data_dir, child: Mutex::new(Some(child)) };
        server.wait_until_ready(&log)?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGTERM (Redis persists and exits), SIGKILL if it lingers; idempotent.
    pub fn stop(&self) {
        let child = self.child.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(mut child) = child {
            process::terminate(child.id() as i32, libc::SIGTERM, STOP_TIMEOUT);
            let _ = child.wait();
        }
    }

    fn wait_until_ready(&self, log: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if ping(self.port) {
                return Ok(());
            }
            let exited = {
                let mut guard = self.child.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                match guard.as_mut() {
                    Some(child) => child.try_wait()?.is_some(),
                    None => true,
                }
            };
            if exited {
                bail!("redis-server exited during startup:\n{}", process::log_tail(log, 2000));
            }
            if Instant::now() > deadline {
                self.stop();
                bail!("redis-server did not answer PING within {READY_TIMEOUT:?}:\n{}", process::log_tail(log, 2000));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// True once the server answers `+PONG` (not `-LOADING` while it replays the AOF).
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

fn redis_server_binary() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path).map(|dir| dir.join("redis-server")).find(|candidate| candidate.exists())
        })
        .unwrap_or_else(|| PathBuf::from("/usr/bin/redis-server"))
}
