//! nginx and wrk, Debian's packages: found on the PATH (or in the sbin
//! folders, where Debian puts nginx), installed with apt-get when missing;
//! for the production phase also redis-server and PostgreSQL.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Where the tools are.
pub struct Tools {
    pub nginx: PathBuf,
    pub wrk: PathBuf,
    /// Only when the production-config phase runs.
    pub redis: Option<PathBuf>,
    /// PostgreSQL's binaries folder; only for the production-config phase.
    pub postgres: Option<PathBuf>,
}

/// (executable, Debian package).
const NEEDED: [(&str, &str); 2] = [("nginx", "nginx"), ("wrk", "wrk")];
const REDIS: (&str, &str) = ("redis-server", "redis-server");
const POSTGRES: &str = "postgresql";

pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain([
            "/usr/sbin",
            "/sbin",
            "/usr/bin",
            "/usr/local/sbin",
            "/usr/local/bin",
        ])
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file());
    found
}

/// Finds the tools, installing the missing ones first; the production
/// phase's stores (redis-server, PostgreSQL) too if asked.
pub fn ensure(production: bool) -> Result<Tools> {
    let mut needed = NEEDED.to_vec();
    if production {
        needed.push(REDIS);
    }
    let mut missing: Vec<&str> = needed
        .iter()
        .filter(|(exe, _)| find(exe).is_none())
        .map(|&(_, pkg)| pkg)
        .collect();
    if production && super::servers::postgres_bin().is_none() {
        missing.push(POSTGRES);
    }
    if !missing.is_empty() {
        println!("installing {} with apt-get ...", missing.join(" "));
        install(&missing)?;
    }
    let get =
        |name: &str| find(name).with_context(|| format!("{name} not found after installing it"));
    Ok(Tools {
        nginx: get("nginx")?,
        wrk: get("wrk")?,
        redis: if production {
            Some(get(REDIS.0)?)
        } else {
            None
        },
        postgres: if production {
            let bin = super::servers::postgres_bin();
            Some(bin.context("PostgreSQL's initdb not found after installing postgresql")?)
        } else {
            None
        },
    })
}

fn apt_get(args: &[&str]) -> bool {
    Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success())
}

/// `apt-get install`; if that fails (often a stale package list), once
/// more after `apt-get update`.
fn install(packages: &[&str]) -> Result<()> {
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    if apt_get(&args) || (apt_get(&["update", "-q"]) && apt_get(&args)) {
        return Ok(());
    }
    bail!(
        "apt-get could not install {} (the fast-upstream mode needs them; install them by hand or run as root)",
        packages.join(" ")
    )
}

/// Open files this process may have (its soft `RLIMIT_NOFILE`), from
/// /proc/self/limits.
pub fn nofile() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Raises this process's `RLIMIT_NOFILE` (soft and hard) to `want` with
/// `prlimit`, before the children that inherit it start: 10,000 streams
/// hold 20,000 sockets in the gateway (client and upstream side) and as
/// many in the load generator and the upstream. Without the right to
/// raise the hard limit (not root), the soft one is raised to it. Returns
/// the limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    let pid = std::process::id().to_string();
    let set = |spec: String| {
        Command::new("prlimit")
            .args(["--pid", &pid, &spec])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if nofile().is_some_and(|n| n >= want) || set(format!("--nofile={want}:{want}")) {
        return nofile().unwrap_or(0);
    }
    let hard = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            let l = t.lines().find(|l| l.starts_with("Max open files"))?;
            l.split_whitespace().nth(4)?.parse::<u64>().ok()
        });
    if let Some(h) = hard {
        set(format!("--nofile={h}:{h}"));
    }
    nofile().unwrap_or(0)
}
