//! `--callgrind`: instructions per request, counted by valgrind's
//! callgrind, for before/after figures that the VM's noise cannot move.
//! Other people compile on this machine and its steal swings from 0 to
//! 40%, so CPU time per request moves by tens of percent between rounds;
//! an instruction count of the same requests moves by well under one.
//!
//! nginx serves the fixed answers as in the fast mode. Each proxy runs
//! alone under `valgrind --tool=callgrind --instr-atstart=no`; a warmup
//! of fixed count fills its pools and caches, then instrumentation is switched
//! on (`callgrind_control -i on`), exactly `--requests` requests go
//! through (every body checked), instrumentation goes off and the counts are
//! dumped. Instructions per request = the dump's total / requests. The
//! dumps stay in `target/bench/callgrind-PHASE-TARGET.out*` for
//! `callgrind_annotate --inclusive=yes`, which gives the per-stage split.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use serde::Serialize;

use super::counted::{self, Counted};
use super::{fixtures, nginx, prod, tools, STREAM_MODEL};
use crate::load::{MODEL, TOKEN};
use crate::opts::Opts;
use crate::procs::{Pinning, Proc};
use crate::{setup, sysstat};

/// Requests sent before counting starts: pools, caches, first-use paths.
pub(super) const WARMUP: u64 = 300;

/// One proxy, one load, its count.
#[derive(Debug, Serialize)]
pub struct Row {
    pub phase: &'static str,
    pub target: String,
    pub requests: u64,
    pub instructions: u64,
    pub per_request: f64,
    /// The scale phase's points: connections of the load, and the
    /// gateway's RSS (KiB) measured without valgrind, after start and
    /// after the same load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conns: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_kib: Option<u64>,
}

/// How to start one proxy: its name, executable and arguments.
pub(super) struct Under {
    pub name: String,
    pub exe: PathBuf,
    pub args: Vec<String>,
}

pub fn run(opts: &Opts, pin: Pinning, machine: sysstat::Machine) -> Result<()> {
    println!(
        "callgrind: {} x{} ({}); proxies on CPU {:?}, nginx + load on CPU {:?}",
        machine.cpu_model, machine.cores, machine.kernel, pin.proxy_cpu, pin.load_cpu
    );
    let tools = tools::ensure(opts.wants("production"))?;
    let valgrind =
        tools::find("valgrind").context("valgrind not found (apt-get install valgrind)")?;
    if opts.build {
        setup::build()?;
    }
    let paths = setup::Paths::locate(opts.gateway_bin.as_deref())?;
    let tmp = nginx::TempDir::new("switchyard-bench-callgrind")?;
    // The scale phase's 10,000 streams need as many upstream connections.
    let scale = super::scale::wanted(opts);
    let conns = if !scale.is_empty() {
        super::scale::MAX_CONNS + 1024
    } else {
        nginx::CONNECTIONS
    };
    let upstream = nginx::Nginx::start_sized(&tools.nginx, tmp.path(), pin.load_cpu, conns)?;
    let out = &paths.out_dir;
    let total = opts.requests.unwrap_or(4000);
    let bare = |name: &str, runtime: &str, work: &[&str]| Under {
        name: name.to_string(),
        exe: paths.bin_dir.join("bare-proxy"),
        args: ["--listen", "127.0.0.1:0", "--upstream"]
            .map(String::from)
            .into_iter()
            .chain([
                upstream.addr.to_string(),
                "--runtime".into(),
                runtime.into(),
            ])
            .chain(work.iter().map(|w| w.to_string()))
            .collect(),
    };
    let config = out.join("gateway-callgrind.toml");
    std::fs::write(&config, super::plain_config(opts, upstream.addr)?)?;
    let gateway = |name: &str, config: &Path| Under {
        name: name.to_string(),
        exe: paths.gateway.clone(),
        args: vec![
            "serve".into(),
            "--config".into(),
            config.display().to_string(),
        ],
    };
    let env = Env {
        valgrind: &valgrind,
        out,
        pin,
        total,
    };
    let mut rows = Vec::new();
    for (phase, stream) in [(super::THROUGHPUT, false), (super::STREAMS, true)] {
        let short = if stream { "streams" } else { "throughput" };
        if !opts.wants(short) {
            continue;
        }
        let (model, expected) = if stream {
            (STREAM_MODEL, fixtures::stream())
        } else {
            (MODEL, fixtures::completion())
        };
        let body = Bytes::from(fixtures::request(model, stream));
        for under in [
            bare("lean", "current", &[]),
            bare("bare", "multi", &[]),
            // The lean proxy plus the least a gateway must do (floor.rs).
            bare("floor", "current", &["--work", "floor", "--token", TOKEN]),
            gateway("gateway", &config),
        ] {
            let path = if under.name == "gateway" || !stream {
                nginx::JSON_PATH
            } else {
                nginx::STREAM_PATH
            };
            let load = Counted {
                addr: upstream.addr,
                path: path.to_string(),
                tokens: vec![TOKEN.to_string()],
                bodies: vec![body.clone()],
                expected: Bytes::from(expected.clone()),
                conns: 64,
            };
            rows.push(env.count(phase, &under, load)?);
        }
    }
    if let (true, Some(redis), Some(pg)) = (opts.wants("production"), &tools.redis, &tools.postgres)
    {
        let exes = prod::StoreExes {
            redis,
            postgres: pg,
        };
        rows.extend(production(
            opts,
            &env,
            &exes,
            tmp.path(),
            upstream.addr,
            &gateway,
        )?);
    }
    if !scale.is_empty() {
        let gw = &paths.gateway;
        rows.extend(super::scale::count(&scale, &env, gw, upstream.addr, pin)?);
    }
    for p in ["idle_streams", "cores"] {
        if opts.named(p) {
            println!("\n{p}: measured without --callgrind only (RSS and wall clock); skipped");
        }
    }
    print(&rows);
    let scale = super::scale_report::from_counts(&rows);
    super::scale::print(&scale);
    for c in super::scale::checks(&scale) {
        let verdict = if c.pass { "PASS" } else { "FAIL" };
        println!("  {verdict} {:<42} {}", c.target, c.measured);
    }
    let path = opts
        .out
        .clone()
        .map_or_else(|| out.join("callgrind-nginx.json"), Into::into);
    std::fs::write(&path, serde_json::to_string_pretty(&rows)?)?;
    println!("\nresults written to {}", path.display());
    Ok(())
}

/// The production variants (those `--variant` names, or all), each under
/// callgrind with its wrk rotation's tokens and bodies.
fn production(
    opts: &Opts,
    env: &Env,
    exes: &prod::StoreExes,
    dir: &Path,
    upstream: std::net::SocketAddr,
    gateway: &dyn Fn(&str, &Path) -> Under,
) -> Result<Vec<Row>> {
    let (redis, pg) = prod::start_stores(exes, dir, env.pin.load_cpu)?;
    let url = pg.url();
    let stores = prod::Stores {
        redis: Some(redis.addr),
        postgres: Some(&url),
    };
    let mut rows = Vec::new();
    for v in prod::VARIANTS.iter().filter(|v| opts.wants_variant(v.name)) {
        let path = env.out.join(format!("gateway-callgrind-{}.toml", v.name));
        std::fs::write(&path, for_valgrind(prod::config(v, upstream, stores)))?;
        let rot = prod::rotation(v);
        let load = Counted {
            addr: upstream,
            path: nginx::JSON_PATH.to_string(),
            tokens: rot.tokens,
            bodies: rot.bodies.into_iter().map(Bytes::from).collect(),
            expected: Bytes::from(fixtures::completion()),
            conns: 64,
        };
        rows.push(env.count(prod::PRODUCTION, &gateway(v.name, &path), load)?);
    }
    Ok(rows)
}

pub(super) struct Env<'a> {
    valgrind: &'a Path,
    pub out: &'a Path,
    pub pin: Pinning,
    /// Requests counted per proxy (`--requests`).
    pub total: u64,
}

impl Env<'_> {
    /// [`Env::count_n`] of `--requests` requests.
    fn count(&self, phase: &'static str, under: &Under, load: Counted) -> Result<Row> {
        self.count_n(phase, under, load, (WARMUP, self.total))
    }

    /// Starts `under` under callgrind, sends `warmup` requests (over at
    /// most 64 of the load's connections) and then `total` counted ones,
    /// and reads the count.
    pub(super) fn count_n(
        &self,
        phase: &'static str,
        under: &Under,
        mut load: Counted,
        (warmup, total): (u64, u64),
    ) -> Result<Row> {
        let dump = self
            .out
            .join(format!("callgrind-{phase}-{}.out", under.name));
        clear_dumps(&dump);
        let mut args = vec![
            "--tool=callgrind".to_string(),
            "--instr-atstart=no".into(),
            format!("--callgrind-out-file={}", dump.display()),
            under.exe.display().to_string(),
        ];
        args.extend(under.args.iter().cloned());
        let log = self.out.join(format!("callgrind-{}.log", under.name));
        let proc = Proc::start_within(
            "proxy under callgrind",
            self.valgrind,
            &args,
            self.pin.proxy_cpu,
            log,
            // 100,000 users' config takes a while to read under valgrind.
            Duration::from_secs(300),
        )?;
        load.addr = proc.addr;
        let warm = Counted {
            conns: load.conns.min(64),
            ..load.clone()
        };
        counted::all_ok(&counted::run(&warm, warmup)?, warmup)?;
        control(proc.pid, "-i", "on")?;
        let t = counted::run(&load, total)?;
        control(proc.pid, "-i", "off")?;
        counted::all_ok(&t, total)?;
        control(proc.pid, "-d", "counted")?;
        let instructions = read_total(&dump)?;
        drop(proc);
        let row = Row {
            phase,
            target: under.name.clone(),
            requests: total,
            instructions,
            per_request: instructions as f64 / total as f64,
            conns: None,
            idle_kib: None,
            after_kib: None,
        };
        println!(
            "  {:<24} {:<8} {:>9.0} instructions/request ({} requests)",
            row.phase, row.target, row.per_request, row.requests
        );
        Ok(row)
    }
}

/// `callgrind_control FLAG [ARG] PID`.
fn control(pid: u32, flag: &str, arg: &str) -> Result<()> {
    let status = Command::new("callgrind_control")
        .arg(flag)
        .arg(arg)
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .context("running callgrind_control")?;
    if !status.success() {
        bail!("callgrind_control {flag} {arg} {pid} failed");
    }
    Ok(())
}

/// Dumps of earlier runs under this name (callgrind numbers each one).
fn dumps(dump: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (dump.parent(), dump.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(&name))
        })
        .collect()
}

fn clear_dumps(dump: &Path) {
    for p in dumps(dump) {
        let _ = std::fs::remove_file(p);
    }
}

/// The `totals:` line of the dump callgrind_control made (its `summary:`
/// line stays 0 when instrumentation started off).
fn read_total(dump: &Path) -> Result<u64> {
    let found = dumps(dump);
    let file = found
        .iter()
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .with_context(|| format!("no callgrind dump at {}*", dump.display()))?;
    let text = std::fs::read_to_string(file)?;
    text.lines()
        .find_map(|l| l.strip_prefix("totals:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no totals line in {}", file.display()))
}

fn print(rows: &[Row]) {
    println!(
        "\n{:<24} {:<8} {:>12} {:>8}",
        "phase", "target", "instr/req", "vs lean"
    );
    for r in rows {
        let lean = rows
            .iter()
            .find(|l| l.phase == r.phase && l.target == "lean")
            .or_else(|| {
                rows.iter()
                    .find(|l| l.phase == r.phase && l.target == "base")
            })
            // A scale curve: against its first point.
            .or_else(|| rows.iter().find(|l| l.phase == r.phase));
        let vs = lean.map_or("-".into(), |l| {
            format!("{:.2}x", r.per_request / l.per_request)
        });
        println!(
            "{:<24} {:<8} {:>12.0} {:>8}",
            r.phase, r.target, r.per_request, vs
        );
    }
}

/// A config this crate generated, as a count needs it (production
/// variants, scale points; not the plain config, which may be an older
/// build's `--gateway-config`):
/// - Redis calls wait up to 10 s: under valgrind the gateway runs ~50 times
///   slower, and the default 100 ms bound made calls time out, so the count
///   measured the store's failure path instead of its calls;
/// - no config watcher: its full read (the file read and SHA-256 hashed)
///   runs on a timer whatever the load, costs in proportion to the file
///   (100k users: 3.6 MB, 228M instructions with valgrind's software
///   SHA-256), and whether one falls into the counted window depends only
///   on how long valgrind takes.
pub(super) fn for_valgrind(config: String) -> String {
    config.replace("[state]\n", "[state]\ntimeout = \"10s\"\n") + "\n[reload]\nwatch = false\n"
}
