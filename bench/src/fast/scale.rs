//! The scale phase (`--only scale`): CPU per request and memory as the
//! gateway's config and load grow, one curve at a time, each point a
//! fresh gateway:
//!
//! | curve | points | config | load |
//! | --- | --- | --- | --- |
//! | `scale_users` | 10, 1k, 10k, 100k | that many users, 1 model, 1 backend | 64 conns, each request the next user's token |
//! | `scale_backends` | 1, 10, 100, 500 | 1 user, 1 model with that many backends (all nginx) | 64 conns; `weighted_random` picks any backend |
//! | `scale_streams` | 10, 100, 1k, 10k | the plain config | that many concurrent 20-event streams |
//!
//! Under `--callgrind` each point is counted as the other phases are
//! (instructions per request); without it, wrk gives CPU time per request
//! (one round per point, with its steal and foreign CPU). Memory is read
//! without valgrind either way: RSS after start, and after the load.
//! The issue asks that nothing on the hot path grow linearly with users
//! or backends: the checks compare the last point of those curves with
//! the first.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use bytes::Bytes;
use serde::Serialize;

use super::callgrind::{self, Under};
use super::counted::{self, Counted};
use super::{fixtures, nginx, prod, wrk, STREAM_MODEL};
use crate::load::TOKEN;
use crate::procs::{Pinning, Proc};
use crate::report::Check;
use crate::sysstat::{status_kib, Noise};

pub const USERS: &str = "scale_users";
pub const BACKENDS: &str = "scale_backends";
pub const STREAMS: &str = "scale_streams";
/// The most connections a point opens (the streams curve's last).
pub const MAX_CONNS: usize = 10_000;
/// What the largest stream counts become when the open-files limit
/// cannot be raised to fit 10,000: each stream holds two sockets in the
/// proxy (client and upstream), and this VM's hard limit is 20,000.
const CAPPED: (usize, &str) = (9_500, "9.5k");

/// The largest number of concurrent streams the open-files limit allows
/// (10,000 or [`CAPPED`]), and its label.
pub(super) fn most_streams() -> (usize, &'static str) {
    let fits = super::tools::nofile().is_some_and(|n| n >= 2 * MAX_CONNS as u64 + 512);
    if fits {
        (MAX_CONNS, "10k")
    } else {
        CAPPED
    }
}
/// The config watcher's full read (the file read and SHA-256 hashed),
/// left out of the counts: a timer runs it every 10 s whatever the load,
/// its cost grows with the config file (100k users: 3.6 MB, 228M
/// instructions with valgrind's software SHA-256), and whether one falls
/// into the counted window depends only on how long valgrind takes.
/// `--toggle-collect` turns collection off inside it.
const WATCHER: &str = "*reload::watch::Seen::read_with*";
/// How much worse than the first point the last of the users and
/// backends curves may be: "flat", not "linear" (linear would be 10,000x
/// and 500x).
const FLAT: f64 = 1.2;

/// One point of a curve: its size, and that size as a label.
#[derive(Clone, Copy, Debug)]
pub(super) struct Point {
    pub curve: &'static str,
    pub n: usize,
    pub label: &'static str,
}

const fn point(curve: &'static str, n: usize, label: &'static str) -> Point {
    Point { curve, n, label }
}

/// Every point, the streams curve's last as [`most_streams`] allows.
pub(super) fn points() -> [Point; 12] {
    let mut all = POINTS;
    let (n, label) = most_streams();
    all[11] = point(STREAMS, n, label);
    all
}

const POINTS: [Point; 12] = [
    point(USERS, 10, "10"),
    point(USERS, 1_000, "1k"),
    point(USERS, 10_000, "10k"),
    point(USERS, 100_000, "100k"),
    point(BACKENDS, 1, "1"),
    point(BACKENDS, 10, "10"),
    point(BACKENDS, 100, "100"),
    point(BACKENDS, 500, "500"),
    point(STREAMS, 10, "10"),
    point(STREAMS, 100, "100"),
    point(STREAMS, 1_000, "1k"),
    point(STREAMS, MAX_CONNS, "10k"),
];

impl Point {
    fn streams(&self) -> bool {
        self.curve == STREAMS
    }

    pub fn conns(&self) -> usize {
        if self.streams() {
            self.n
        } else {
            64
        }
    }

    /// Requests of a counted run: `total`, and at least one per
    /// connection, so that every stream of the point is open at once.
    pub fn requests(&self, total: u64) -> u64 {
        total.max(self.conns() as u64)
    }

    /// Requests before the count: the usual warmup, and for the backends
    /// curve 20 per backend, so that every backend has been picked (and
    /// its metric series made) before counting: making a series copies
    /// the map of all series seen so far (`telemetry::seen::Seen::with`),
    /// a one-time cost per backend that a short warmup would spread over
    /// the counted requests of the larger points.
    pub fn warmup(&self) -> u64 {
        if self.curve == BACKENDS {
            callgrind::WARMUP.max(20 * self.n as u64)
        } else {
            callgrind::WARMUP
        }
    }

    /// The point's gateway config.
    pub fn config(&self, upstream: SocketAddr) -> String {
        match self.curve {
            USERS => prod::config(&prod::Variant::plain(self.n, 1), upstream, None),
            BACKENDS => prod::config(&prod::Variant::plain(1, self.n), upstream, None),
            // The default limit is 10,000 client connections: the last
            // point must not queue in the backlog.
            _ => super::gateway_config(upstream).replacen(
                "[server]\n",
                "[server]\nmax_connections = 30000\n",
                1,
            ),
        }
    }

    /// The tokens and bodies the load cycles through.
    pub fn rotation(&self) -> wrk::Rotate {
        match self.curve {
            USERS => prod::rotation(&prod::Variant::plain(self.n, 1)),
            BACKENDS => prod::rotation(&prod::Variant::plain(1, self.n)),
            _ => wrk::Rotate {
                tokens: vec![TOKEN.to_string()],
                bodies: vec![fixtures::request(STREAM_MODEL, true)],
            },
        }
    }

    pub fn expected(&self) -> String {
        if self.streams() {
            fixtures::stream()
        } else {
            fixtures::completion()
        }
    }

    fn counted(&self, addr: SocketAddr) -> Counted {
        let rot = self.rotation();
        Counted {
            addr,
            path: nginx::JSON_PATH.to_string(),
            tokens: rot.tokens,
            bodies: rot.bodies.into_iter().map(Bytes::from).collect(),
            expected: Bytes::from(self.expected()),
            conns: self.conns(),
        }
    }

    fn config_path(&self, out: &Path, mode: &str) -> std::path::PathBuf {
        out.join(format!("gateway-{mode}-{}-{}.toml", self.curve, self.label))
    }
}

/// One point's figures, whichever way they were measured.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub curve: &'static str,
    pub n: usize,
    pub label: String,
    pub conns: usize,
    pub requests: u64,
    /// Under `--callgrind`.
    pub instr_per_req: Option<f64>,
    /// Without it (wall clock, see `noise`).
    pub cpu_us_per_req: Option<f64>,
    pub per_sec: Option<f64>,
    pub errors: u64,
    pub idle_kib: u64,
    pub after_kib: u64,
    pub noise: Option<Noise>,
}

/// Starts the point's gateway, as it ships (no valgrind), on the proxies' CPU.
fn start(p: &Point, config: &Path, exe: &Path, out: &Path, pin: Pinning) -> Result<Proc> {
    let args = [
        "serve".to_string(),
        "--config".into(),
        config.display().to_string(),
    ];
    let log = out.join(format!("gateway-{}-{}.log", p.curve, p.label));
    let g = Proc::start("gateway", exe, &args, pin.proxy_cpu, log)?;
    // Let start-up work (first health state, the config's own allocations)
    // finish before the idle figure.
    std::thread::sleep(Duration::from_secs(1));
    Ok(g)
}

/// RSS once the load's client connections have closed (the upstream pool
/// still holds its idle ones).
fn rss_after(g: &mut Proc) -> Result<u64> {
    std::thread::sleep(Duration::from_millis(500));
    if !g.alive() {
        bail!("a gateway died in the scale phase; see {}", g.log.display());
    }
    Ok(status_kib(g.pid, "VmRSS:").unwrap_or(0))
}

/// Every point under callgrind; each point's memory is read from a run
/// of the same load without valgrind first.
pub(super) fn count(
    env: &callgrind::Env,
    exe: &Path,
    upstream: SocketAddr,
    pin: Pinning,
) -> Result<Vec<callgrind::Row>> {
    println!("\nscale curves (a fresh gateway per point):");
    let mut rows = Vec::new();
    for p in &points() {
        let config = p.config_path(env.out, "callgrind-scale");
        std::fs::write(&config, p.config(upstream))?;
        let total = p.requests(env.total);
        let mut g = start(p, &config, exe, env.out, pin)?;
        let idle = status_kib(g.pid, "VmRSS:").unwrap_or(0);
        counted::all_ok(&counted::run(&p.counted(g.addr), total)?, total)?;
        let after = rss_after(&mut g)?;
        drop(g);
        let under = Under {
            name: p.label.to_string(),
            exe: exe.to_path_buf(),
            args: vec![
                "serve".into(),
                "--config".into(),
                config.display().to_string(),
            ],
            valgrind: vec![format!("--toggle-collect={WATCHER}")],
        };
        let counts = (p.warmup(), total);
        let mut row = env.count_n(p.curve, &under, p.counted(upstream), counts)?;
        row.conns = Some(p.conns());
        row.idle_kib = Some(idle);
        row.after_kib = Some(after);
        rows.push(row);
    }
    Ok(rows)
}

/// The scale rows of a callgrind run, as [`Row`]s.
pub(super) fn from_counts(rows: &[callgrind::Row]) -> Vec<Row> {
    rows.iter()
        .filter_map(|r| {
            let p = points()
                .into_iter()
                .find(|p| p.curve == r.phase && p.label == r.target)?;
            Some(Row {
                curve: p.curve,
                n: p.n,
                label: p.label.to_string(),
                conns: r.conns.unwrap_or(0),
                requests: r.requests,
                instr_per_req: Some(r.per_request),
                cpu_us_per_req: None,
                per_sec: None,
                errors: 0,
                idle_kib: r.idle_kib.unwrap_or(0),
                after_kib: r.after_kib.unwrap_or(0),
                noise: None,
            })
        })
        .collect()
}

/// Every point with wrk: a warmup run and one measured run each.
pub(super) fn run_timed(
    ctx: &super::Ctx,
    exe: &Path,
    upstream: SocketAddr,
    out: &Path,
) -> Result<Vec<Row>> {
    println!("\nscale curves (a fresh gateway per point, one round each):");
    let mut rows = Vec::new();
    for p in &points() {
        let config = p.config_path(out, "scale");
        std::fs::write(&config, p.config(upstream))?;
        let mut g = start(p, &config, exe, out, ctx.pin)?;
        let idle = status_kib(g.pid, "VmRSS:").unwrap_or(0);
        let target = super::Target {
            name: p.label,
            addr: g.addr,
            pid: g.pid,
            gateway: true,
        };
        let rot = p.rotation();
        let load = wrk::Load {
            url: format!("http://{}{}", g.addr, nginx::JSON_PATH),
            body: rot.bodies[0].clone(),
            conns: p.conns(),
            duration: ctx.duration,
            events: if p.streams() { fixtures::EVENTS } else { 0 },
            rotate: (!p.streams()).then_some(rot),
        };
        let mut c = ctx.clone();
        c.pids.push(g.pid);
        c.logs.push(&g);
        let r = super::measure(&c, p.curve, target, &load, &p.expected())?;
        super::checks::print_phase(&r);
        drop(c);
        let after = rss_after(&mut g)?;
        rows.push(Row {
            curve: p.curve,
            n: p.n,
            label: p.label.to_string(),
            conns: p.conns(),
            requests: r.requests,
            instr_per_req: None,
            cpu_us_per_req: r.cpu_us_per_req,
            per_sec: Some(r.per_sec),
            errors: r.errors,
            idle_kib: idle,
            after_kib: after,
            noise: Some(r.noise),
        });
    }
    Ok(rows)
}

/// The figure a row is judged by: instructions if counted, else CPU time.
fn cost(r: &Row) -> Option<f64> {
    r.instr_per_req.or(r.cpu_us_per_req)
}

fn first<'a>(rows: &'a [Row], curve: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.curve == curve)
}

pub fn print(rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    println!(
        "\n{:<15} {:>6} {:>6} {:>8} {:>10} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9}",
        "curve",
        "n",
        "conns",
        "requests",
        "instr/req",
        "cpu us",
        "vs first",
        "req/s",
        "errors",
        "idle MiB",
        "after MiB"
    );
    let f = |v: Option<f64>, p: usize| v.map_or("-".into(), |x| format!("{x:.p$}"));
    for r in rows {
        let vs = first(rows, r.curve)
            .and_then(|b| Some(cost(r)? / cost(b)?))
            .map(|x| format!("{x:.2}x"));
        println!(
            "{:<15} {:>6} {:>6} {:>8} {:>10} {:>8} {:>8} {:>8} {:>6} {:>9.1} {:>9.1}",
            r.curve,
            r.label,
            r.conns,
            r.requests,
            f(r.instr_per_req, 0),
            f(r.cpu_us_per_req, 1),
            vs.unwrap_or("-".into()),
            f(r.per_sec, 0),
            r.errors,
            r.idle_kib as f64 / 1024.0,
            r.after_kib as f64 / 1024.0,
        );
    }
}

/// The last point of the users and backends curves against the first;
/// zero errors over all points.
pub fn checks(rows: &[Row]) -> Vec<Check> {
    let mut c = Vec::new();
    for (curve, what) in [(USERS, "users"), (BACKENDS, "backends")] {
        let (Some(a), Some(b)) = (first(rows, curve), rows.iter().rfind(|r| r.curve == curve))
        else {
            continue;
        };
        let (Some(x), Some(y)) = (cost(a), cost(b)) else {
            continue;
        };
        let unit = if a.instr_per_req.is_some() {
            "instr"
        } else {
            "us"
        };
        let noisy = match (&a.noise, &b.noise) {
            (Some(m), Some(n)) if !(m.quiet() && n.quiet()) => " [noisy]",
            _ => "",
        };
        c.push(Check {
            target: format!("scale: {} {what} <= {FLAT}x of {}", b.label, a.label),
            measured: format!("{:.2}x ({y:.1} vs {x:.1} {unit}/req){noisy}", y / x),
            pass: y <= x * FLAT,
        });
    }
    let errors: u64 = rows.iter().map(|r| r.errors).sum();
    if !rows.is_empty() {
        c.push(Check {
            target: "scale: zero errors".into(),
            measured: format!("{errors} errors"),
            pass: errors == 0,
        });
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_config_is_accepted() {
        let up = "127.0.0.1:9".parse().unwrap();
        for p in points().iter().filter(|p| p.n <= 1000) {
            let text = p.config(up);
            let c = switchyard::config::parse(&text, &|_| None)
                .unwrap_or_else(|e| panic!("{} {}: {e:?}", p.curve, p.label));
            assert!(!c.models.is_empty());
            assert!(!p.rotation().tokens.is_empty());
        }
    }
}
