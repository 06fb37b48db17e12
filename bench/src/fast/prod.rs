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
//! | `synced` | `limits` with Redis and `state.limits = "synced"` (decided in memory, reconciled every 100 ms) |
//! | `ledger` | `synced` and the usage ledger in SQLite (a file beside the config; off before) |
//! | `ledger_pg` | `synced` and the usage ledger in PostgreSQL (a real server, CPU 0) instead |
//!
//! Each variant's feature cost is against the variant it adds to (`after`):
//! the previous one, but for `synced`, which is `redis` with the other
//! limits mode (against `limits`), and `ledger_pg`, which adds its ledger
//! to `synced` as `ledger` does. The ledgers build on synced limits, the
//! mode that keeps Redis out of the request; `redis` shows what exact
//! limits cost instead. PostgreSQL is the production store (several instances
//! share one ledger), so `ledger_pg`, the last variant, is the full
//! production config that the 15% check measures; `ledger` stays beside it
//! because SQLite is the default store, and all of its work (the database
//! engine included) is the gateway's CPU, whereas PostgreSQL's server runs
//! on the other core, as it would on another machine.
//!
//! Every variant gets the same wrk script, which cycles through tokens and
//! models per request (one token and one model for `base`), so the load
//! side costs the same. The limits are far above the load: a 429 would
//! be an error.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Serialize;

use super::servers::{Postgres, Redis};
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
    /// The usage ledger's store; `None`: off.
    ledger: Option<Ledger>,
    /// The variant this one adds its feature to.
    pub after: &'static str,
}

/// Where a variant's usage ledger is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ledger {
    /// A file beside the config (the default store).
    Sqlite,
    /// The benchmark's PostgreSQL server.
    Postgres,
}

/// The servers a variant's config points at.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Stores<'a> {
    pub redis: Option<SocketAddr>,
    /// The PostgreSQL URL.
    pub postgres: Option<&'a str>,
}

pub(super) const VARIANTS: [Variant; 8] = [
    Variant {
        name: "base",
        what: "1 user, 1 model, 1 backend",
        users: 1,
        models: 1,
        backends: 1,
        limits: false,
        redis: false,
        synced: false,
        ledger: None,
        after: "",
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
        ledger: None,
        after: "base",
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
        ledger: None,
        after: "users",
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
        ledger: None,
        after: "models",
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
        ledger: None,
        after: "limits",
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
        ledger: None,
        after: "limits",
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
        ledger: Some(Ledger::Sqlite),
        after: "synced",
    },
    Variant {
        name: "ledger_pg",
        what: "+ usage ledger (PostgreSQL server)",
        users: 1000,
        models: 50,
        backends: 4,
        limits: true,
        redis: true,
        synced: true,
        ledger: Some(Ledger::Postgres),
        after: "synced",
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
            ledger: None,
            after: "",
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
pub(super) fn config(v: &Variant, upstream: SocketAddr, stores: Stores) -> String {
    let mut c = String::from("[server]\nlisten = \"127.0.0.1:0\"\n\n");
    match (v.ledger, stores.postgres) {
        (None, _) => c += "[usage]\nstore = \"off\"\n\n",
        (Some(Ledger::Sqlite), _) => {}
        (Some(Ledger::Postgres), Some(url)) => c += &format!("[usage]\nstore = \"{url}\"\n\n"),
        // Only a config check has no server.
        (Some(Ledger::Postgres), None) => {
            c += "[usage]\nstore = \"postgres://127.0.0.1:9/none\"\n\n"
        }
    }
    if let (true, Some(r)) = (v.redis, stores.redis) {
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

/// The executables of the production phase's stores.
pub struct StoreExes<'a> {
    pub redis: &'a Path,
    /// PostgreSQL's binaries folder.
    pub postgres: &'a Path,
}

/// Starts Redis and PostgreSQL (on the load's CPU) for the production variants.
pub(super) fn start_stores(
    exes: &StoreExes,
    dir: &Path,
    cpu: Option<usize>,
) -> Result<(Redis, Postgres)> {
    let redis = Redis::start(exes.redis, dir, cpu)?;
    println!("redis-server on {} (pid {})", redis.addr, redis.pid);
    let pg = Postgres::start(exes.postgres, dir, cpu)?;
    println!("postgres on 127.0.0.1:{}", pg.port);
    Ok((redis, pg))
}

/// Starts every variant's gateway (and the stores), runs the rounds, and
/// returns one row per variant, in order.
pub fn run(
    ctx: &Ctx,
    exes: &StoreExes,
    upstream: SocketAddr,
    gateway_exe: &Path,
    out: &Path,
    pin: Pinning,
    rounds: usize,
) -> Result<Vec<Row>> {
    let (redis, pg) = start_stores(exes, ctx.dir, pin.load_cpu)?;
    let url = pg.url();
    let stores = Stores {
        redis: Some(redis.addr),
        postgres: Some(&url),
    };
    let mut gateways = Vec::new();
    for v in &VARIANTS {
        let path = out.join(format!("gateway-prod-{}.toml", v.name));
        std::fs::write(&path, config(v, upstream, stores))?;
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
    // The gateways have connected (their writers migrate at start).
    ctx.pids.extend(pg.pids());
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
    let cpu_of: Vec<(&str, Option<f64>)> = targets
        .iter()
        .zip(&best)
        .map(|((v, _), r)| (v.name, r.cpu_us_per_req))
        .collect();
    let mut rows = Vec::new();
    for ((v, _), (r, idle_kib)) in targets.iter().zip(best.into_iter().zip(idle)) {
        let cpu = r.cpu_us_per_req;
        let after = cpu_of.iter().find(|(n, _)| *n == v.after).and_then(|c| c.1);
        rows.push(Row {
            variant: v.name,
            what: v.what,
            idle_kib,
            per_sec: r.per_sec,
            cpu_us_per_req: cpu,
            feature_us: cpu.zip(after).map(|(c, p)| c - p),
            vs_base: cpu.zip(base).map(|(c, b)| c / b),
            errors: r.errors,
            result: r,
        });
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

/// The target: the full production config (the last variant,
/// PostgreSQL's ledger) within 15% of the plain config's CPU per request
/// (same load), and no errors.
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
            target: format!(
                "production config ({}, synced limits): CPU/req <= 1.15x plain",
                full.variant
            ),
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
        let stores = Stores {
            redis: Some("127.0.0.1:6379".parse().unwrap()),
            postgres: Some("postgres://postgres@127.0.0.1:5432/postgres"),
        };
        for v in &VARIANTS {
            let text = config(v, up, stores);
            let c = switchyard::config::parse(&text, &|_| None)
                .unwrap_or_else(|e| panic!("{}: {e:?}", v.name));
            assert_eq!(c.models.len(), v.models, "{}", v.name);
            assert!(c.models.contains_key(&model(v.models - 1)));
            assert_eq!(rotation(v).tokens.len(), v.users);
            use switchyard::config::UsageStore;
            let store_ok = match v.ledger {
                None => c.usage.store == UsageStore::Off,
                Some(Ledger::Sqlite) => matches!(c.usage.store, UsageStore::Sqlite(_)),
                Some(Ledger::Postgres) => matches!(c.usage.store, UsageStore::Postgres(_)),
            };
            assert!(store_ok, "{}", v.name);
        }
    }

    #[test]
    fn each_variant_adds_to_an_earlier_one_and_the_last_is_postgres() {
        for (i, v) in VARIANTS.iter().enumerate().skip(1) {
            assert!(
                VARIANTS[..i].iter().any(|p| p.name == v.after),
                "{}",
                v.name
            );
        }
        assert_eq!(
            VARIANTS.last().map(|v| v.ledger),
            Some(Some(Ledger::Postgres))
        );
    }

    #[test]
    fn the_valgrind_form_waits_for_redis_and_watches_nothing() {
        let up = "127.0.0.1:9".parse().unwrap();
        let stores = Stores {
            redis: Some("127.0.0.1:6379".parse().unwrap()),
            postgres: Some("postgres://postgres@127.0.0.1:5432/postgres"),
        };
        for v in &VARIANTS {
            let text = super::super::callgrind::for_valgrind(config(v, up, stores));
            let c = switchyard::config::parse(&text, &|_| None)
                .unwrap_or_else(|e| panic!("{}: {e:?}", v.name));
            assert!(!c.reload.watch, "{}", v.name);
            let want = if v.redis { 10_000 } else { 100 };
            assert_eq!(c.state.timeout.as_millis(), want, "{}", v.name);
        }
    }
}
