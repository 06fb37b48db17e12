//! The production-config phase: the throughput load (64 connections,
//! non-streaming) at gateways that add one production feature at a time,
//! so each feature's cost shows as microseconds of CPU per request:
//!
//! | variant | config |
//! | --- | --- |
//! | `base` | 1 user, 1 model with 1 backend |
//! | `users` | 1,000 users (each request another token) |
//! | `models` | and 50 models with 4 backends each (each request another model) |
//! | `limits` | and per-user rate limits (requests and tokens per minute, concurrency), in memory |
//! | `redis` | and Redis (a real `redis-server`, CPU 0) as the state store, limits exact (a round trip per request) |
//! | `synced` | Redis with `state.limits = "synced"` instead (decided in memory, reconciled every 100 ms) |
//! | `ledger` | and the usage ledger (SQLite, a file beside the config; off in the others) |
//!
//! Every variant gets the same wrk script, which cycles through tokens and
//! models per request (one token and one model for `base`), so the load
//! side costs the same. The limits are far above the load: a 429 would
//! be an error.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::{fixtures, measure, nginx, Ctx, Target};
use crate::phases::PhaseResult;
use crate::procs::{Pinning, Proc};
use crate::report::Check;
use crate::sysstat::status_kib;

pub const PRODUCTION: &str = "fast_production_64conn";

/// One gateway config of the phase.
#[derive(Clone, Copy, Debug)]
pub(super) struct Variant {
    pub name: &'static str,
    what: &'static str,
    users: usize,
    models: usize,
    backends: usize,
    limits: bool,
    redis: bool,
    /// With `redis`: `state.limits = "synced"` (else exact).
    synced: bool,
    /// The usage ledger (SQLite, a file beside the config); off before.
    ledger: bool,
}

pub(super) const VARIANTS: [Variant; 7] = [
    Variant {
        name: "base",
        what: "1 user, 1 model, 1 backend",
        users: 1,
        models: 1,
        backends: 1,
        limits: false,
        redis: false,
        synced: false,
        ledger: false,
    },
    Variant {
        name: "users",
        what: "+ 1,000 users (token lookup)",
        users: 1000,
        models: 1,
        backends: 1,
        limits: false,
        redis: false,
        synced: false,
        ledger: false,
    },
    Variant {
        name: "models",
        what: "+ 50 models x 4 backends",
        users: 1000,
        models: 50,
        backends: 4,
        limits: false,
        redis: false,
        synced: false,
        ledger: false,
    },
    Variant {
        name: "limits",
        what: "+ per-user rate limits (memory)",
        users: 1000,
        models: 50,
        backends: 4,
        limits: true,
        redis: false,
        synced: false,
        ledger: false,
    },
    Variant {
        name: "redis",
        what: "+ Redis state store",
        users: 1000,
        models: 50,
        backends: 4,
        limits: true,
        redis: true,
        synced: false,
        ledger: false,
    },
    Variant {
        name: "synced",
        what: "+ Redis, limits synced (not exact)",
        users: 1000,
        models: 50,
        backends: 4,
        limits: true,
        redis: true,
        synced: true,
        ledger: false,
    },
    Variant {
        name: "ledger",
        what: "+ usage ledger (SQLite file)",
        users: 1000,
        models: 50,
        backends: 4,
        limits: true,
        redis: true,
        synced: true,
        ledger: true,
    },
];

impl Variant {
    /// `users` users and one model with `backends` backends, no other
    /// feature on: a point of the scale curves.
    pub(super) fn plain(users: usize, backends: usize) -> Variant {
        Variant {
            name: "scale",
            what: "scale curve point",
            users,
            models: 1,
            backends,
            limits: false,
            redis: false,
            synced: false,
            ledger: false,
        }
    }
}

fn token(i: usize) -> String {
    format!("bench-token-{i}")
}

fn model(i: usize) -> String {
    format!("bench-model-{i}")
}

/// The variant's gateway config; every backend is nginx's chat completion.
pub(super) fn config(v: &Variant, upstream: SocketAddr, redis: Option<SocketAddr>) -> String {
    let mut c = String::from("[server]\nlisten = \"127.0.0.1:0\"\n\n");
    if !v.ledger {
        c += "[usage]\nstore = \"off\"\n\n";
    }
    if let (true, Some(r)) = (v.redis, redis) {
        c += &format!("[state]\nbackend = \"redis\"\nurl = \"redis://{r}\"\n");
        if v.synced {
            c += "limits = \"synced\"\n";
        }
        c.push('\n');
    }
    for b in 0..v.backends {
        c += &format!(
            "[providers.nginx{b}]\nbackend_type = \"openai\"\nbase_url = \"http://{upstream}/v1\"\napi_key = \"bench-upstream-key\"\n\n"
        );
    }
    for m in 0..v.models {
        let name = model(m);
        c += &format!("[models.{name}]\n");
        for b in 0..v.backends {
            c += &format!(
                "[[models.{name}.backends]]\nprovider = \"nginx{b}\"\nmodel = \"nginx-model\"\n"
            );
        }
        c.push('\n');
    }
    for u in 0..v.users {
        c += &format!("[users.u{u}]\ntoken = \"{}\"\n", token(u));
        if v.limits {
            c += &format!(
                "[users.u{u}.rate_limit]\nrequests_per_minute = 100000000\ntokens_per_minute = 10000000000\nmax_concurrent = 1000\n"
            );
        }
    }
    c
}

/// The wrk rotation for a variant: its tokens and one body per model.
pub(super) fn rotation(v: &Variant) -> super::wrk::Rotate {
    super::wrk::Rotate {
        tokens: (0..v.users).map(token).collect(),
        bodies: (0..v.models)
            .map(|m| fixtures::request(&model(m), false))
            .collect(),
    }
}

/// `redis-server` on a free port, no persistence; killed on drop.
pub(super) struct Redis {
    pid: u32,
    pub addr: SocketAddr,
    child: Child,
}

impl Redis {
    pub(super) fn start(exe: &Path, dir: &Path, cpu: Option<usize>) -> Result<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut cmd = match cpu {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(c.to_string()).arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().context("starting redis-server")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait()? {
                bail!("redis-server exited with {status}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("redis-server did not listen on {addr} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

/// One variant's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub variant: &'static str,
    pub what: &'static str,
    pub idle_kib: u64,
    pub per_sec: f64,
    pub cpu_us_per_req: Option<f64>,
    /// CPU per request minus the previous variant's: this feature's cost.
    pub feature_us: Option<f64>,
    pub vs_base: Option<f64>,
    pub errors: u64,
    pub result: PhaseResult,
}

/// Starts every variant's gateway (and Redis), runs the rounds, and
/// returns one row per variant, in order.
pub fn run(
    ctx: &Ctx,
    redis_exe: &Path,
    upstream: SocketAddr,
    gateway_exe: &Path,
    out: &Path,
    pin: Pinning,
    rounds: usize,
) -> Result<Vec<Row>> {
    let redis = Redis::start(redis_exe, ctx.dir, pin.load_cpu)?;
    println!("redis-server on {} (pid {})", redis.addr, redis.pid);
    let mut gateways = Vec::new();
    for v in &VARIANTS {
        let path = out.join(format!("gateway-prod-{}.toml", v.name));
        std::fs::write(&path, config(v, upstream, Some(redis.addr)))?;
        let args = [
            "serve".to_string(),
            "--config".into(),
            path.display().to_string(),
        ];
        let log = out.join(format!("gateway-prod-{}.log", v.name));
        gateways.push(Proc::start(
            "gateway",
            gateway_exe,
            &args,
            pin.proxy_cpu,
            log,
        )?);
    }
    std::thread::sleep(Duration::from_secs(1));
    let idle: Vec<u64> = gateways
        .iter()
        .map(|g| status_kib(g.pid, "VmRSS:").unwrap_or(0))
        .collect();
    let mut ctx = ctx.clone();
    ctx.pids.push(redis.pid);
    ctx.pids.extend(gateways.iter().map(|g| g.pid));
    ctx.logs.extend(gateways.iter());
    let targets: Vec<(Variant, Target)> = VARIANTS
        .iter()
        .zip(&gateways)
        .map(|(v, g)| {
            let t = Target {
                name: v.name,
                addr: g.addr,
                pid: g.pid,
                gateway: true,
            };
            (*v, t)
        })
        .collect();
    let expected = fixtures::completion();
    let mut by_variant: Vec<Vec<PhaseResult>> = targets.iter().map(|_| Vec::new()).collect();
    let mut round = 0;
    while round < rounds || (round < 2 * rounds && !super::all_quiet(&by_variant)) {
        round += 1;
        for (i, (v, t)) in targets.iter().enumerate() {
            let load = super::wrk::Load {
                url: format!("http://{}{}", t.addr, nginx::JSON_PATH),
                body: fixtures::request(&model(0), false),
                conns: 64,
                duration: ctx.duration,
                events: 0,
                rotate: Some(rotation(v)),
            };
            let r = measure(&ctx, PRODUCTION, *t, &load, &expected)?;
            super::checks::print_phase(&r);
            by_variant[i].push(r);
        }
        println!("  round {round} done");
    }
    for g in &mut gateways {
        if !g.alive() {
            bail!(
                "a gateway died in the production phase; see {}",
                g.log.display()
            );
        }
    }
    let best: Vec<PhaseResult> = by_variant
        .into_iter()
        .filter_map(super::best_quiet_round)
        .collect();
    let base = best.first().and_then(|r| r.cpu_us_per_req);
    let mut rows = Vec::new();
    let mut prev: Option<f64> = None;
    for ((v, _), (r, idle_kib)) in targets.iter().zip(best.into_iter().zip(idle)) {
        let cpu = r.cpu_us_per_req;
        rows.push(Row {
            variant: v.name,
            what: v.what,
            idle_kib,
            per_sec: r.per_sec,
            cpu_us_per_req: cpu,
            feature_us: cpu.zip(prev).map(|(c, p)| c - p),
            vs_base: cpu.zip(base).map(|(c, b)| c / b),
            errors: r.errors,
            result: r,
        });
        prev = cpu;
    }
    Ok(rows)
}

pub fn print(rows: &[Row]) {
    println!(
        "\n{:<8} {:<34} {:>8} {:>7} {:>9} {:>8} {:>6} {:>9}",
        "variant", "config", "req/s", "cpu us", "+us feat", "vs base", "errors", "idle MiB"
    );
    let f = |v: Option<f64>, p: usize| v.map_or("-".into(), |x| format!("{x:.p$}"));
    for r in rows {
        println!(
            "{:<8} {:<34} {:>8.0} {:>7} {:>9} {:>8} {:>6} {:>9.1}",
            r.variant,
            r.what,
            r.per_sec,
            f(r.cpu_us_per_req, 1),
            f(r.feature_us, 1),
            f(r.vs_base, 2),
            r.errors,
            r.idle_kib as f64 / 1024.0
        );
    }
}

/// The target: the full production config within 15% of the plain
/// config's CPU per request (same load), and no errors.
pub fn checks(rows: &[Row]) -> Vec<Check> {
    let (Some(base), Some(full)) = (rows.first(), rows.last()) else {
        return Vec::new();
    };
    let mut c = Vec::new();
    if let (Some(b), Some(f)) = (base.cpu_us_per_req, full.cpu_us_per_req) {
        let noisy = if base.result.noise.quiet() && full.result.noise.quiet() {
            ""
        } else {
            " [noisy]"
        };
        c.push(Check {
            target: "production config: CPU/req <= 1.15x plain".into(),
            measured: format!("{:.2}x ({f:.1} vs {b:.1} us){noisy}", f / b),
            pass: f <= b * 1.15,
        });
    }
    let errors: u64 = rows.iter().map(|r| r.errors).sum();
    c.push(Check {
        target: "production config: zero errors".into(),
        measured: format!("{errors} errors"),
        pass: errors == 0,
    });
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_config_is_accepted() {
        let up = "127.0.0.1:9".parse().unwrap();
        let redis = Some("127.0.0.1:6379".parse().unwrap());
        for v in &VARIANTS {
            let text = config(v, up, redis);
            let c = switchyard::config::parse(&text, &|_| None)
                .unwrap_or_else(|e| panic!("{}: {e:?}", v.name));
            assert_eq!(c.models.len(), v.models, "{}", v.name);
            assert!(c.models.contains_key(&model(v.models - 1)));
            assert_eq!(rotation(v).tokens.len(), v.users);
        }
    }

    #[test]
    fn the_valgrind_form_waits_for_redis_and_watches_nothing() {
        let up = "127.0.0.1:9".parse().unwrap();
        let redis = Some("127.0.0.1:6379".parse().unwrap());
        for v in &VARIANTS {
            let text = super::super::callgrind::for_valgrind(config(v, up, redis));
            let c = switchyard::config::parse(&text, &|_| None)
                .unwrap_or_else(|e| panic!("{}: {e:?}", v.name));
            assert!(!c.reload.watch, "{}", v.name);
            let want = if v.redis { 10_000 } else { 100 };
            assert_eq!(c.state.timeout.as_millis(), want, "{}", v.name);
        }
    }
}
