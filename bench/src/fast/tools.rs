//! nginx and wrk, Debian's packages: found on the PATH (or in the sbin
//! folders, where Debian puts nginx), installed with apt-get when missing.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Where the tools are.
pub struct Tools {
    pub nginx: PathBuf,
    pub wrk: PathBuf,
    /// Only when the production-config phase runs.
    pub redis: Option<PathBuf>,
}

/// (executable, Debian package).
const NEEDED: [(&str, &str); 2] = [("nginx", "nginx"), ("wrk", "wrk")];
const REDIS: (&str, &str) = ("redis-server", "redis-server");

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

/// Finds the tools, installing the missing ones first; `redis` too if asked.
pub fn ensure(redis: bool) -> Result<Tools> {
    let mut needed = NEEDED.to_vec();
    if redis {
        needed.push(REDIS);
    }
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(exe, _)| find(exe).is_none())
        .map(|&(_, pkg)| pkg)
        .collect();
    if !missing.is_empty() {
        println!("installing {} with apt-get ...", missing.join(" "));
        install(&missing)?;
    }
    let get =
        |name: &str| find(name).with_context(|| format!("{name} not found after installing it"));
    Ok(Tools {
        nginx: get("nginx")?,
        wrk: get("wrk")?,
        redis: if redis { Some(get(REDIS.0)?) } else { None },
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
