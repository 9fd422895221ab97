//! CPU time of the bench stack's processes (/proc utime+stime), by role, so a benchmark can say
//! where its time goes. Cloudflare bills a Worker's CPU, so workerd's share is the one that counts.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;

use crate::stack::Stack;

/// The benchmark's own process, which sends the load.
const LOAD_GENERATOR: &str = "bench (load generator)";

/// Linux reports utime/stime in clock ticks of 10 ms.
const MS_PER_TICK: f64 = 10.0;

/// One process's line of /proc/<pid>/stat.
pub struct ProcStat {
    pub pid: u32,
    pub comm: String,
    pub ppid: u32,
    pub pgrp: u32,
    /// Its own CPU (utime + stime).
    pub cpu_ms: f64,
    /// What its exited and reaped children used (cutime + cstime): PostgreSQL backends come and go.
    pub children_cpu_ms: f64,
}

/// Every process we may read.
pub fn processes() -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
            // cutime cstime …`
            let (before, after_comm) = stat.rsplit_once(") ")?;
            let comm = before.split_once(" (")?.1.to_owned();
            let fields: Vec<&str> = after_comm.split_whitespace().collect();
            let field = |index: usize| fields.get(index).and_then(|value| value.parse::<u64>().ok());
            Some(ProcStat {
                pid,
                comm,
                ppid: u32::try_from(field(1)?).ok()?,
                pgrp: u32::try_from(field(2)?).ok()?,
                cpu_ms: (field(11)? + field(12)?) as f64 * MS_PER_TICK,
                children_cpu_ms: (field(13)? + field(14)?) as f64 * MS_PER_TICK,
            })
        })
        .collect()
}

/// Which processes belong to which role.
pub struct Roles {
    /// (role, process group) of children the stack started, each leading its own group.
    pub groups: Vec<(&'static str, u32)>,
    /// The PostgreSQL postmaster: it and its backends are `postgres`.
    pub postmaster: Option<u32>,
    /// Our Redis, told apart from others by its port in its title (`redis-server 127.0.0.1:PORT`).
    pub redis_port: u16,
}

impl Roles {
    /// The processes of `stack`. Read it again after a PostgreSQL restart (a new postmaster).
    pub fn of(stack: &Stack) -> anyhow::Result<Self> {
        let path = stack.postgres_data_dir().join("postmaster.pid");
        let text = std::fs::read_to_string(&path).with_context(|| format!("{} is missing", path.display()))?;
        let postmaster = text.lines().next().and_then(|pid| pid.trim().parse().ok());
        Ok(Self { groups: stack.process_groups(), postmaster, redis_port: stack.ports.redis })
    }

    /// CPU ms so far per role, including exited children; workerd is split from the Node process
    /// that started it.
    pub fn sample(&self) -> BTreeMap<&'static str, f64> {
        let mut totals = BTreeMap::new();
        let me = std::process::id();
        let redis_title = format!(":{}", self.redis_port);
        for process in processes() {
            let role = if process.pid == me {
                Some(LOAD_GENERATOR)
            } else if self.postmaster.is_some_and(|pid| process.pid == pid || process.ppid == pid) {
                Some("postgres")
            } else if process.comm.starts_with("redis-server") {
                let cmdline = std::fs::read(format!("/proc/{}/cmdline", process.pid)).unwrap_or_default();
                String::from_utf8_lossy(&cmdline).contains(&redis_title).then_some("redis")
            } else {
                self.groups.iter().find(|(_, group)| *group == process.pgrp).map(|(role, _)| match *role {
                    "worker" if process.comm == "workerd" => "workerd",
                    "worker" => "node (miniflare)",
                    role => role,
                })
            };
            if let Some(role) = role {
                *totals.entry(role).or_default() += process.cpu_ms + process.children_cpu_ms;
            }
        }
        totals
    }
}

/// What each role spent between two samples.
pub fn delta(before: &BTreeMap<&'static str, f64>, after: &BTreeMap<&'static str, f64>) -> BTreeMap<&'static str, f64> {
    after.iter().map(|(role, ms)| (*role, ms - before.get(role).copied().unwrap_or(0.0))).collect()
}

/// `spent` (a delta) divided by the requests it served.
pub fn per_request(spent: BTreeMap<&'static str, f64>, requests: usize) -> BTreeMap<&'static str, f64> {
    let requests = requests.max(1) as f64;
    spent.into_iter().map(|(role, ms)| (role, ms / requests)).collect()
}

/// Where the time goes: one row per load run (its label, CPU ms per request by role) and the
/// stack's total, without the load generator (it is not part of what is measured, though it
/// shares the cores here). On 2 cores the stack can serve no more than 2,000 ms / that total.
pub fn print_per_request<'a>(rows: impl IntoIterator<Item = (String, &'a BTreeMap<&'static str, f64>)>) {
    let rows: Vec<_> = rows.into_iter().collect();
    let roles: BTreeSet<&str> = rows.iter().flat_map(|(_, cpu)| cpu.keys().copied()).collect();
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0).max(20);
    println!();
    println!("CPU ms per request by process (2 cores = 2,000 ms per second of wall time):");
    print!("{:<width$}", "");
    for role in &roles {
        print!(" {:>12}", role.split(' ').next().unwrap_or(role));
    }
    println!(" {:>11} {:>12}", "stack total", "2-core bound");
    for (label, cpu) in &rows {
        print!("{label:<width$}");
        for role in &roles {
            print!(" {:>12.2}", cpu.get(role).copied().unwrap_or(0.0));
        }
        let stack: f64 = cpu.iter().filter(|(role, _)| **role != LOAD_GENERATOR).map(|(_, ms)| ms).sum();
        println!(" {stack:>11.2} {:>9.0} /s", 2_000.0 / stack.max(f64::EPSILON));
    }
}
