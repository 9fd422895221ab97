//! A project-local PostgreSQL cluster (`initdb` + `pg_ctl` from the system's PostgreSQL).

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, chown};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};

use crate::process;

/// The cluster's superuser (what Neon calls the role in the connection string).
pub const SUPERUSER: &str = "postgres";
/// Its password. TCP logins use scram-sha-256 so a wrong password fails the way it does on Neon.
pub const SUPERUSER_PASSWORD: &str = "postgres";

/// How long `pg_ctl` may take to start or stop the server.
const PG_CTL_TIMEOUT_SECS: &str = "60";

/// A running PostgreSQL listening only on 127.0.0.1; stopped by [`Cluster::stop`] or on drop.
#[derive(Debug)]
pub struct Cluster {
    data_dir: PathBuf,
    port: u16,
    bin_dir: PathBuf,
    /// uid/gid of the `postgres` system user when we are root (PostgreSQL refuses root).
    run_as: Option<(u32, u32)>,
    stopped: AtomicBool,
}

impl Cluster {
    /// Initialises `data_dir` if it holds no cluster, then starts the server on 127.0.0.1:`port`.
    /// A second start on the same directory keeps its data; a server left running by a killed
    /// run is stopped first and a stale `postmaster.pid` is removed.
    pub fn start(data_dir: impl AsRef<Path>, port: u16) -> anyhow::Result<Cluster> {
        let bin_dir = find_bin_dir()?;
        let system_user = if process::euid() == 0 { Some(process::lookup_user("postgres")?) } else { None };
        fs::create_dir_all(data_dir.as_ref()).with_context(|| format!("creating {}", data_dir.as_ref().display()))?;
        let requested = fs::canonicalize(data_dir.as_ref())?;
        let relocated = match &system_user {
            Some(user) if !can_enter(user, &requested)? => Some(relocated_dir(user, &requested)),
            _ => None,
        };
        let run_as = system_user.map(|user| (user.uid, user.gid));
        let data_dir = relocated.clone().unwrap_or_else(|| requested.clone());
        let cluster = Cluster { data_dir, port, bin_dir, run_as, stopped: AtomicBool::new(true) };
        if relocated.is_some() {
            cluster.adopt_relocated(&requested)?;
        }
        cluster.prepare_data_dir()?;
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb()?;
        }
        cluster.clear_leftover_server()?;
        cluster.pg_ctl_start()?;
        cluster.stopped.store(false, Ordering::SeqCst);
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn connection_string(&self, database: &str) -> String {
        connection_string(self.port, database)
    }

    /// Creates `name` unless it exists. Names are limited to `[A-Za-z0-9_-]` to keep quoting out of it.
    pub fn ensure_database(&self, name: &str) -> anyhow::Result<()> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            bail!("database name {name:?} must match [A-Za-z0-9_-]+");
        }
        let output = Command::new(self.bin_dir.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", SUPERUSER, name])
            .env("PGPASSWORD", SUPERUSER_PASSWORD)
            .stdin(Stdio::null())
            .output()
            .context("running createdb")?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || stderr.contains("already exists") {
            return Ok(());
        }
        bail!("createdb {name} failed: {stderr}")
    }

    /// `pg_ctl stop -m fast`; idempotent.
    pub fn stop(&self) -> anyhow::Result<()> {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.pg_ctl_stop()
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        // The server's cwd must be readable by it; `/` always is.
        command.current_dir("/").stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn prepare_data_dir(&self) -> anyhow::Result<()> {
        if let Some((uid, gid)) = self.run_as {
            chown(&self.data_dir, Some(uid), Some(gid))
                .with_context(|| format!("chown {} to postgres", self.data_dir.display()))?;
        }
        // PostgreSQL insists on 0700 (or 0750) for its data directory.
        fs::set_permissions(&self.data_dir, fs::Permissions::from_mode(0o700))?;
        Ok(())
    }

    fn initdb(&self) -> anyhow::Result<()> {
        // initdb reads the superuser password from a file the `postgres` user can open
        // (a pipe on stdin belongs to us, so it cannot).
        let pwfile = std::env::temp_dir().join(format!("local-cloud-pwfile-{}-{}", std::process::id(), self.port));
        fs::write(&pwfile, format!("{SUPERUSER_PASSWORD}\n")).context("writing the pwfile")?;
        fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600))?;
        if let Some((uid, gid)) = self.run_as {
            chown(&pwfile, Some(uid), Some(gid))?;
        }
        let result = process::run(
            self.command("initdb")
                .arg("-D")
                .arg(&self.data_dir)
                .args([
                    "-U",
                    SUPERUSER,
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-instructions",
                    // Skipping initdb's fsyncs saves seconds; a crash right after init just means re-init.
                    "--no-sync",
                ])
                .arg(format!("--pwfile={}", pwfile.display())),
        );
        let _ = fs::remove_file(&pwfile);
        result?;
        // Settings that never change between runs; the port is passed at start.
        let mut conf = fs::OpenOptions::new().append(true).open(self.data_dir.join("postgresql.conf"))?;
        use std::io::Write as _;
        writeln!(
            conf,
            "\n# local-cloud\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\ntimezone = 'UTC'\nlog_timezone = 'UTC'\nmax_connections = 200"
        )?;
        Ok(())
    }

    /// The relocated cluster's lifetime follows the requested directory: a marker there says the
    /// data is its own, so deleting that directory (a fresh test stack) also starts afresh.
    fn adopt_relocated(&self, requested: &Path) -> anyhow::Result<()> {
        let marker = requested.join(RELOCATED_MARKER);
        if !marker.exists() && self.data_dir.exists() {
            self.clear_leftover_server()?;
            fs::remove_dir_all(&self.data_dir).with_context(|| format!("clearing {}", self.data_dir.display()))?;
        }
        fs::create_dir_all(&self.data_dir).with_context(|| format!("creating {}", self.data_dir.display()))?;
        if let Some((uid, gid)) = self.run_as
            && let Some(base) = self.data_dir.parent()
        {
            chown(base, Some(uid), Some(gid))?;
        }
        fs::write(&marker, format!("{}\n", self.data_dir.display()))?;
        Ok(())
    }

    /// A killed run can leave a live server (pg_ctl daemonizes it) or a stale postmaster.pid.
    fn clear_leftover_server(&self) -> anyhow::Result<()> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let Some(pid) = process::read_pid_file(&pid_file) else {
            return Ok(());
        };
        if process::process_serves(pid, "postgres", &self.data_dir) {
            self.pg_ctl_stop().context("stopping a server left running on this data directory")?;
        }
        if pid_file.exists() {
            fs::remove_file(&pid_file).context("removing a stale postmaster.pid")?;
        }
        Ok(())
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let log = self.data_dir.join("server.log");
        let result = process::run(
            self.command("pg_ctl")
                .arg("start")
                .arg("-D")
                .arg(&self.data_dir)
                .args(["-w", "-t", PG_CTL_TIMEOUT_SECS, "-s"])
                .arg("-l")
                .arg(&log)
                .arg("-o")
                .arg(format!("-p {}", self.port)),
        );
        if let Err(err) = result {
            bail!("{err:#}\nserver.log:\n{}", process::log_tail(&log, 2000));
        }
        Ok(())
    }

    fn pg_ctl_stop(&self) -> anyhow::Result<()> {
        process::run(self.command("pg_ctl").arg("stop").arg("-D").arg(&self.data_dir).args([
            "-m",
            "fast",
            "-w",
            "-t",
            PG_CTL_TIMEOUT_SECS,
            "-s",
        ]))?;
        Ok(())
    }
}

/// Name of the file left in a requested data directory that the `postgres` user cannot enter
/// (say under root's 0700 home); it names where the cluster really lives.
const RELOCATED_MARKER: &str = "RELOCATED_TO";

/// Whether `user` may pass through every directory above `dir` (the directory itself is chowned).
fn can_enter(user: &process::SystemUser, dir: &Path) -> anyhow::Result<bool> {
    use std::os::unix::fs::MetadataExt as _;
    for ancestor in dir.ancestors().skip(1) {
        let meta = fs::metadata(ancestor).with_context(|| format!("reading {}", ancestor.display()))?;
        let search_bit = if meta.uid() == user.uid {
            0o100
        } else if meta.gid() == user.gid {
            0o010
        } else {
            0o001
        };
        if meta.mode() & search_bit == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Where the cluster lives when `postgres` cannot reach `requested`: under that user's home, keyed
/// by the requested path.
fn relocated_dir(user: &process::SystemUser, requested: &Path) -> PathBuf {
    let key =
        requested.as_os_str().as_encoded_bytes().iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    user.home.join("local-cloud").join(format!("{key:016x}"))
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("local-cloud: stopping PostgreSQL: {err:#}");
        }
    }
}

/// `postgresql://postgres:postgres@127.0.0.1:PORT/DATABASE`, the form the Neon gateway accepts.
pub fn connection_string(port: u16, database: &str) -> String {
    format!("postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/{database}")
}

/// `pg_config --bindir` when it has `initdb`, else the newest `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let version = entry.file_name().to_str()?.parse().ok()?;
                    let bin = entry.path().join("bin");
                    bin.join("initdb").exists().then_some((version, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin); \
             install them with `apt-get install postgresql`"
        ),
    }
}
