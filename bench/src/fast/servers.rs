//! The stores the production variants use, real servers on the load's
//! CPU (the deployment shape: their CPU is not the gateway's): a
//! `redis-server` and a PostgreSQL cluster. Both are killed on drop.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// `cmd` pinned to `cpu` with taskset, when there is one.
fn pinned(exe: impl AsRef<std::ffi::OsStr>, cpu: Option<usize>) -> Command {
    match cpu {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(c.to_string()).arg(exe);
            cmd
        }
        None => Command::new(exe),
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until `addr` accepts connections; fails when `child` exits or
/// after 30 s.
fn wait_listening(child: &mut Child, addr: SocketAddr, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited with {status}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not listen on {addr} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// `redis-server` on a free port, no persistence.
pub(super) struct Redis {
    pub pid: u32,
    pub addr: SocketAddr,
    child: Child,
}

impl Redis {
    pub(super) fn start(exe: &Path, dir: &Path, cpu: Option<usize>) -> Result<Redis> {
        let port = free_port()?;
        let mut cmd = pinned(exe, cpu);
        cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().context("starting redis-server")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_listening(&mut child, addr, "redis-server")?;
        Ok(Redis {
            pid: child.id(),
            addr,
            child,
        })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The newest PostgreSQL server installed (Debian's `postgresql`
/// package puts its binaries under /usr/lib/postgresql/VERSION/bin).
pub(super) fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop()
}

/// A fresh PostgreSQL cluster on a free loopback port: trust auth, and
/// `fsync=off` (only the gateway's CPU is measured; the disk of a shared
/// VM is not part of it). Debian's server refuses to run as root, so as
/// root it runs as the `postgres` user (as the ledger's tests do).
pub(super) struct Postgres {
    pub port: u16,
    data: PathBuf,
    child: Child,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `exe` (pinned to `cpu`) as the `postgres` user when we are root.
fn as_postgres(exe: &Path, cpu: Option<usize>) -> Command {
    if !is_root() {
        return pinned(exe, cpu);
    }
    let mut cmd = pinned("runuser", cpu);
    cmd.args(["-u", "postgres", "--"]).arg(exe);
    cmd
}

impl Postgres {
    pub(super) fn start(bin: &Path, dir: &Path, cpu: Option<usize>) -> Result<Postgres> {
        let root = dir.join("postgres");
        std::fs::create_dir_all(&root)?;
        if is_root() {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&root)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                bail!("chown of {} to postgres failed", root.display());
            }
        }
        let data = root.join("data");
        let init = as_postgres(&bin.join("initdb"), cpu)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running initdb")?;
        if !init.success() {
            bail!("initdb failed ({init})");
        }
        let port = free_port()?;
        let mut child = as_postgres(&bin.join("postgres"), cpu)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&root)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting postgres")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_listening(&mut child, addr, "postgres")?;
        Ok(Postgres { port, data, child })
    }

    pub(super) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The server's own pid (the first line of postmaster.pid; `runuser`
    /// stands between it and us).
    fn server_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// The server and its processes now (backends, writers), so that the
    /// noise measure counts their CPU as the benchmark's own.
    pub(super) fn pids(&self) -> Vec<u32> {
        let Some(server) = self.server_pid() else {
            return vec![self.child.id()];
        };
        let children = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&p| parent(p) == Some(server));
        [self.child.id(), server]
            .into_iter()
            .chain(children)
            .collect()
    }
}

/// The parent of `pid`, from /proc/PID/stat (the field after the name).
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // runuser does not pass signals on: the server gets its fast
        // shutdown (SIGINT) directly.
        match self.server_pid() {
            Some(pid) => {
                let _ = Command::new("kill")
                    .args(["-INT", &pid.to_string()])
                    .status();
            }
            None => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}
