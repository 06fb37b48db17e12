//! The processes under test: started pinned to a CPU (when `taskset` exists
//! and there are two CPUs), stdout to a log file, address read from the
//! `listening on http://ADDR` line each of them prints.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Which CPU each side gets; `None` everywhere when pinning is not possible.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Pinning {
    /// The gateway and the bare proxies.
    pub proxy_cpu: Option<usize>,
    /// The upstream and the load generator (this process, and wrk).
    pub load_cpu: Option<usize>,
}

impl Pinning {
    /// Pins this process to `load` (before its runtime starts, so every
    /// thread inherits); the proxies will go to the other of CPUs 0 and 1.
    pub fn detect_and_pin_self(cores: usize, load: usize) -> Pinning {
        let have_taskset = Command::new("taskset")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !have_taskset || cores < 2 {
            return Pinning {
                proxy_cpu: None,
                load_cpu: None,
            };
        }
        let pid = std::process::id().to_string();
        let load = load.min(1);
        let ok = Command::new("taskset")
            .args(["-pc", &load.to_string(), &pid])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Pinning {
            proxy_cpu: Some(1 - load),
            load_cpu: ok.then_some(load),
        }
    }
}

/// A child process under test; killed when dropped.
pub struct Proc {
    pub pid: u32,
    pub addr: SocketAddr,
    pub log: PathBuf,
    child: Child,
}

impl Proc {
    /// Starts `exe args` on `cpu`, stdout and stderr appended to `log`.
    pub fn start(
        name: &'static str,
        exe: &Path,
        args: &[String],
        cpu: Option<usize>,
        log: PathBuf,
    ) -> Result<Proc> {
        Self::start_within(name, exe, args, cpu, log, Duration::from_secs(20))
    }

    /// [`Proc::start`], waiting up to `limit` for its address (a process
    /// under valgrind starts tens of times slower).
    pub fn start_within(
        name: &'static str,
        exe: &Path,
        args: &[String],
        cpu: Option<usize>,
        log: PathBuf,
        limit: Duration,
    ) -> Result<Proc> {
        Self::spawn(name, exe, args, cpu.map(|c| c.to_string()), log, limit)
    }

    /// [`Proc::start`] on a CPU list in `taskset` syntax (`0,1`): this
    /// process is pinned to one CPU and its children inherit that, so a
    /// child that may use both needs the list named.
    pub fn start_on_cpus(
        name: &'static str,
        exe: &Path,
        args: &[String],
        cpus: &str,
        log: PathBuf,
    ) -> Result<Proc> {
        let limit = Duration::from_secs(20);
        Self::spawn(name, exe, args, Some(cpus.to_string()), log, limit)
    }

    fn spawn(
        name: &'static str,
        exe: &Path,
        args: &[String],
        cpus: Option<String>,
        log: PathBuf,
        limit: Duration,
    ) -> Result<Proc> {
        if !exe.exists() {
            bail!(
                "{} not found (build it with cargo build --release)",
                exe.display()
            );
        }
        let out = File::options().create(true).append(true).open(&log)?;
        out.set_len(0)?;
        let mut cmd = match cpus {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(c).arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        let addr = match wait_for_addr(&log, &mut child, limit) {
            Ok(a) => a,
            Err(e) => {
                let _ = child.kill();
                return Err(e.context(format!("{name} did not start; see {}", log.display())));
            }
        };
        Ok(Proc {
            pid: child.id(),
            addr,
            log,
            child,
        })
    }

    /// Empties the log (opened in append mode, so the process keeps writing
    /// at the new end); returns how many bytes it held.
    pub fn truncate_log(&self) -> u64 {
        let Ok(f) = File::options().write(true).open(&self.log) else {
            return 0;
        };
        let len = f.metadata().map_or(0, |m| m.len());
        let _ = f.set_len(0);
        len
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_addr(log: &Path, child: &mut Child, limit: Duration) -> Result<SocketAddr> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("exited with {status}");
        }
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(addr) = text
            .lines()
            .find_map(|l| l.split_once("listening on http://"))
            .and_then(|(_, a)| a.trim().parse().ok())
        {
            return Ok(addr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("no `listening on http://ADDR` line within {limit:?}")
}
