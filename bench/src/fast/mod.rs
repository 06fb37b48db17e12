//! The fast-upstream mode (`--upstream nginx`): an upstream and a load
//! generator that are much faster than any proxy, so the proxies' own cost
//! decides the figures.
//!
//! - nginx (one process, fixed answers from a generated config in a temp
//!   folder) and wrk (one thread, a Lua script that checks every body) run
//!   on CPU 0;
//! - the proxy under test runs on CPU 1: nginx itself (direct), the lean
//!   bare proxy (`bare-proxy --runtime current`), today's multi-threaded
//!   bare proxy, and the gateway (`switchyard serve`, request log at INFO
//!   to a file, metrics on).
//!
//! Phases: 64 connections non-streaming (throughput, CPU per request from
//! `/proc/PID/stat`), 64 concurrent 20-event streams (rate, every event
//! checked), one connection non-streaming (p50/p99, repeated until a round
//! is quiet). Figures are judged against the lean proxy of the same run.

mod callgrind;
mod checks;
mod cores;
mod counted;
mod fixtures;
mod hold;
mod nginx;
mod prod;
mod scale;
mod scale_report;
mod scale_run;
mod servers;
mod tools;
mod wrk;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::load::{MODEL, TOKEN};
use crate::opts::Opts;
use crate::phases::{score, PhaseResult};
use crate::procs::{Pinning, Proc};
use crate::sysstat::{self, cpu_split, status_kib, Noise, Sample};
use crate::{report, setup};

pub const THROUGHPUT: &str = "fast_throughput_64conn";
pub const STREAMS: &str = "fast_streams_64";
pub const LATENCY: &str = "fast_latency_1conn";
/// The lean bare proxy: what every figure is judged against.
pub const LEAN: &str = "lean";
/// The gateway's model for streams: its backend's base URL is nginx's
/// streaming location.
pub(crate) const STREAM_MODEL: &str = "bench-stream";

/// Something wrk sends load at.
#[derive(Clone, Copy, Debug)]
struct Target {
    name: &'static str,
    addr: SocketAddr,
    /// The process whose CPU time per request is reported (nginx for direct).
    pid: u32,
    /// The gateway routes by model, so it gets the OpenAI path for both.
    gateway: bool,
}

impl Target {
    fn url(&self, stream: bool) -> String {
        let path = match (self.gateway, stream) {
            (false, true) => nginx::STREAM_PATH,
            _ => nginx::JSON_PATH,
        };
        format!("http://{}{path}", self.addr)
    }
}

/// One model per nginx location, one user, request log and metrics as the
/// gateway ships (INFO, on). The usage ledger is off: it is a production
/// feature, measured as one step of the production phase (as the issue
/// lists it), and the baseline figures predate it.
pub(crate) fn gateway_config(upstream: SocketAddr) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"

[usage]
store = "off"

[providers.nginx]
backend_type = "openai"
base_url = "http://{upstream}/v1"
api_key = "bench-upstream-key"

[providers.nginx_stream]
backend_type = "openai"
base_url = "http://{upstream}/stream/v1"
api_key = "bench-upstream-key"

[models.{MODEL}]
[[models.{MODEL}.backends]]
provider = "nginx"
model = "nginx-model"

[models.{STREAM_MODEL}]
[[models.{STREAM_MODEL}.backends]]
provider = "nginx_stream"
model = "nginx-model"

[users.bench]
token = "{TOKEN}"
"#
    )
}

/// The plain gateway's config: `--gateway-config`'s file (`UPSTREAM`
/// replaced by nginx's address) or [`gateway_config`].
pub(crate) fn plain_config(opts: &Opts, upstream: SocketAddr) -> Result<String> {
    Ok(match &opts.gateway_config {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {path}"))?
            .replace("UPSTREAM", &upstream.to_string()),
        None => gateway_config(upstream),
    })
}

#[derive(serde::Serialize)]
struct Results {
    machine: sysstat::Machine,
    pinning: Pinning,
    upstream: &'static str,
    mode: &'static str,
    phase_secs: f64,
    latency_rounds: usize,
    latency_noise: Option<Noise>,
    latency_quiet: bool,
    gateway_idle_kib: u64,
    phases: Vec<PhaseResult>,
    ratios: Vec<checks::Ratio>,
    production: Vec<prod::Row>,
    /// `--only scale`: the users, backends and streams curves.
    scale: Vec<scale::Row>,
    /// `--only idle_streams`: memory per idle open stream.
    idle_streams: Vec<hold::Row>,
    checks: Vec<report::Check>,
}

/// What every phase needs.
#[derive(Clone)]
struct Ctx<'a> {
    wrk: &'a Path,
    /// Scripts go here (the nginx temp folder).
    dir: &'a Path,
    pin: Pinning,
    /// All our processes, so their CPU time is not counted as foreign.
    pids: Vec<u32>,
    warmup: Duration,
    duration: Duration,
    /// Gateways whose request logs are emptied after each run.
    logs: Vec<&'a Proc>,
    perf_dir: Option<PathBuf>,
}

/// Open files the scale and idle-streams phases need: 10,000 streams are
/// 20,000 sockets in a proxy and 10,000 in the load and the upstream each.
const NOFILE: u64 = 65_536;

pub fn run(opts: &Opts, pin: Pinning, machine: sysstat::Machine) -> Result<()> {
    let points = scale::wanted(opts);
    if !points.is_empty() || opts.named("idle_streams") {
        let n = tools::raise_nofile(NOFILE);
        println!("open files limit {n} (children inherit it)");
    }
    if opts.callgrind {
        return callgrind::run(opts, pin, machine);
    }
    println!(
        "machine: {} x{} ({}); pinning: proxies on CPU {:?}, nginx + wrk on CPU {:?}",
        machine.cpu_model, machine.cores, machine.kernel, pin.proxy_cpu, pin.load_cpu
    );
    let tools = tools::ensure(opts.wants("production"))?;
    if opts.build {
        setup::build()?;
    }
    let paths = setup::Paths::locate(opts.gateway_bin.as_deref())?;
    let tmp = nginx::TempDir::new("switchyard-bench-nginx")?;
    let conns = if !points.is_empty() {
        scale::MAX_CONNS + 1024
    } else {
        nginx::CONNECTIONS
    };
    let mut upstream = nginx::Nginx::start_sized(&tools.nginx, tmp.path(), pin.load_cpu, conns)?;
    println!(
        "nginx on {} (pid {}, config in {})",
        upstream.addr,
        upstream.pid,
        tmp.path().display()
    );
    let out = &paths.out_dir;
    let bare = |name, runtime: &str, work: &[&str]| {
        let addr = upstream.addr.to_string();
        let base = [
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &addr,
            "--runtime",
            runtime,
        ];
        let args: Vec<String> = base.iter().chain(work).map(|a| a.to_string()).collect();
        Proc::start(
            name,
            &paths.bin_dir.join("bare-proxy"),
            &args,
            pin.proxy_cpu,
            out.join(format!("{name}.log")),
        )
    };
    let lean = bare("lean", "current", &[])?;
    let multi = bare("bare", "multi", &[])?;
    // The lean proxy plus the least work a gateway must do (floor.rs).
    let floor_work = ["--work", "floor", "--token", crate::load::TOKEN];
    let floor = bare("floor", "current", &floor_work)?;
    let config = out.join("gateway-nginx.toml");
    std::fs::write(&config, plain_config(opts, upstream.addr)?)?;
    let gw_args = [
        "serve".to_string(),
        "--config".into(),
        config.display().to_string(),
    ];
    let mut gateway = Proc::start(
        "gateway",
        &paths.gateway,
        &gw_args,
        pin.proxy_cpu,
        out.join("gateway-nginx.log"),
    )?;
    std::thread::sleep(Duration::from_secs(1));
    let idle_kib = status_kib(gateway.pid, "VmRSS:").unwrap_or(0);
    println!("gateway idle RSS {:.1} MiB", idle_kib as f64 / 1024.0);
    let target = |name, p: &Proc, gateway| Target {
        name,
        addr: p.addr,
        pid: p.pid,
        gateway,
    };
    let targets = [
        Target {
            name: "direct",
            addr: upstream.addr,
            pid: upstream.pid,
            gateway: false,
        },
        target(LEAN, &lean, false),
        target("bare", &multi, false),
        target("floor", &floor, false),
        target("gateway", &gateway, true),
    ];
    let (warmup, duration) = if opts.quick {
        (Duration::from_secs(1), Duration::from_secs(3))
    } else {
        (Duration::from_secs(2), Duration::from_secs(10))
    };
    let ctx = Ctx {
        wrk: &tools.wrk,
        dir: tmp.path(),
        pin,
        pids: vec![upstream.pid, lean.pid, multi.pid, floor.pid, gateway.pid],
        warmup,
        duration,
        logs: vec![&gateway],
        perf_dir: opts.perf.then(|| out.clone()),
    };
    let mut all = Vec::new();
    let (mut latency_noise, mut latency_rounds) = (None, 0);
    if opts.wants("latency") {
        println!("\n1 connection, non-streaming (repeated until a round is quiet):");
        let (r, noise, rounds) = quiet_rounds(&ctx, LATENCY, &targets, opts.rounds())?;
        all.extend(r);
        (latency_noise, latency_rounds) = (Some(noise), rounds);
    }
    if opts.wants("throughput") {
        println!("\n64 connections, non-streaming:");
        all.extend(load_phase(
            &ctx,
            THROUGHPUT,
            &targets,
            64,
            false,
            opts.load_rounds(),
        )?);
    }
    if opts.wants("streams") {
        println!("\n64 concurrent {}-event streams:", fixtures::EVENTS);
        all.extend(load_phase(
            &ctx,
            STREAMS,
            &targets,
            64,
            true,
            opts.load_rounds(),
        )?);
    }
    let mut production = Vec::new();
    if opts.wants("production") {
        if let (Some(redis), Some(postgres)) = (&tools.redis, &tools.postgres) {
            println!("\nproduction config, 64 connections, non-streaming (one feature more per variant):");
            let rounds = opts.load_rounds();
            let exes = prod::StoreExes { redis, postgres };
            production = prod::run(&ctx, &exes, upstream.addr, &paths.gateway, out, pin, rounds)?;
        }
    }
    if opts.named("cores") {
        println!("\n64 connections, non-streaming, on 1 core and on 2:");
        let (lean, gw) = (targets[1], targets[4]);
        let (addr, rounds) = (upstream.addr, opts.load_rounds());
        all.extend(cores::run(&ctx, lean, gw, &paths, &config, addr, rounds)?);
    }
    let scale = if !points.is_empty() {
        scale::run_timed(&points, &ctx, &paths.gateway, upstream.addr, out)?
    } else {
        Vec::new()
    };
    let idle_streams = if opts.named("idle_streams") {
        hold::run(&paths, &paths.gateway, pin)?
    } else {
        Vec::new()
    };
    if !gateway.alive() {
        bail!(
            "the gateway died during the run; see {}",
            gateway.log.display()
        );
    }
    if !upstream.alive() {
        bail!(
            "nginx died during the run; see {}",
            upstream.error_log.display()
        );
    }
    let latency_quiet = latency_noise.as_ref().is_some_and(Noise::quiet);
    let ratios = checks::ratios(&all);
    let mut checks = checks::evaluate(&all, idle_kib, latency_quiet);
    checks.extend(prod::checks(&production));
    checks.extend(scale::checks(&scale));
    checks.extend(hold::checks(&idle_streams));
    if !production.is_empty() {
        prod::print(&production);
    }
    scale::print(&scale);
    checks::print_summary(&all, &ratios, &checks, &latency_noise);
    let results = Results {
        machine,
        pinning: pin,
        upstream: "nginx",
        mode: opts.mode(),
        phase_secs: duration.as_secs_f64(),
        latency_rounds,
        latency_noise,
        latency_quiet,
        gateway_idle_kib: idle_kib,
        phases: all,
        ratios,
        production,
        scale,
        idle_streams,
        checks,
    };
    let path = opts
        .out
        .clone()
        .map_or_else(|| out.join("results-nginx.json"), Into::into);
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    println!("\nresults written to {}", path.display());
    Ok(())
}

/// `rounds` rounds, each at every target in turn, then up to `rounds` more
/// while some target has had no quiet round (steal <= 5%, foreign CPU
/// <= 10%): other people's compiles on either CPU take time from wrk,
/// nginx or the proxy and slow a round down without showing as steal.
/// Per target the best quiet round is kept (the best round if none was
/// quiet), carrying every round's errors.
fn load_phase(
    ctx: &Ctx,
    phase: &'static str,
    targets: &[Target],
    conns: usize,
    stream: bool,
    rounds: usize,
) -> Result<Vec<PhaseResult>> {
    let mut by_target: Vec<Vec<PhaseResult>> = targets.iter().map(|_| Vec::new()).collect();
    let mut round = 0;
    while round < rounds || (round < 2 * rounds && !all_quiet(&by_target)) {
        round += 1;
        for (i, &t) in targets.iter().enumerate() {
            let r = run_one(ctx, phase, t, conns, stream)?;
            checks::print_phase(&r);
            by_target[i].push(r);
        }
        let extra = if round > rounds {
            " (extra: a target had no quiet round)"
        } else {
            ""
        };
        println!("  round {round} done{extra}");
    }
    Ok(by_target.into_iter().filter_map(best_quiet_round).collect())
}

pub(crate) fn all_quiet(by_target: &[Vec<PhaseResult>]) -> bool {
    by_target
        .iter()
        .all(|rs| rs.iter().any(|r| r.noise.quiet()))
}

/// The highest-rate quiet round (any round if none was quiet), with the
/// errors, intact, lost and reordered events of all rounds.
pub(crate) fn best_quiet_round(rounds: Vec<PhaseResult>) -> Option<PhaseResult> {
    let (errors, lost, reordered) = rounds.iter().fold((0, 0, 0), |(e, l, r), x| {
        (e + x.errors, l + x.lost, r + x.reordered)
    });
    let first_error = rounds.iter().find_map(|x| x.first_error.clone());
    let chunks = rounds.iter().map(|x| x.chunks).sum();
    let any_quiet = rounds.iter().any(|r| r.noise.quiet());
    let mut chosen = rounds
        .into_iter()
        .filter(|r| r.noise.quiet() || !any_quiet)
        .max_by(|a, b| a.per_sec.total_cmp(&b.per_sec))?;
    chosen.errors = errors;
    chosen.lost = lost;
    chosen.reordered = reordered;
    chosen.chunks = chunks;
    chosen.first_error = first_error;
    Some(chosen)
}

/// One-connection rounds at every target, repeated (up to `max_rounds`)
/// until one is quiet; the quietest is kept.
fn quiet_rounds(
    ctx: &Ctx,
    phase: &'static str,
    targets: &[Target],
    max_rounds: usize,
) -> Result<(Vec<PhaseResult>, Noise, usize)> {
    let mut best: Option<(Vec<PhaseResult>, Noise)> = None;
    let mut rounds = 0;
    while rounds < max_rounds.max(1) {
        rounds += 1;
        let start = Sample::take(&ctx.pids);
        let mut results = Vec::new();
        for &t in targets {
            let r = run_one(ctx, phase, t, 1, false)?;
            checks::print_phase(&r);
            results.push(r);
        }
        let noise = Sample::take(&ctx.pids).noise_since(&start);
        let quiet = noise.quiet();
        println!(
            "  round {rounds}: {}{}",
            noise.describe(),
            if quiet { " (quiet)" } else { " (noisy)" }
        );
        if best.as_ref().is_none_or(|(_, n)| score(&noise) < score(n)) {
            best = Some((results, noise));
        }
        if quiet {
            break;
        }
    }
    let (results, noise) = best.context("no latency round ran")?;
    Ok((results, noise, rounds))
}

/// `perf record` of a proxy for `secs`, if asked (`--perf`).
fn perf(ctx: &Ctx, phase: &str, t: Target, secs: u64) -> Option<Child> {
    let dir = ctx.perf_dir.as_ref()?;
    if t.name == "direct" {
        return None;
    }
    Command::new("perf")
        .args(["record", "-F", "999", "--call-graph", "dwarf,16384"])
        .args(["-p", &t.pid.to_string(), "-o"])
        .arg(dir.join(format!("perf-{phase}-{}.data", t.name)))
        .args(["--", "sleep", &secs.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// One wrk run at one target: a warmup run, then the measured one, with
/// the target's CPU time and the machine's steal over the measured run.
fn run_one(
    ctx: &Ctx,
    phase: &'static str,
    t: Target,
    conns: usize,
    stream: bool,
) -> Result<PhaseResult> {
    let (model, expected, events) = if stream {
        (STREAM_MODEL, fixtures::stream(), fixtures::EVENTS)
    } else {
        (MODEL, fixtures::completion(), 0)
    };
    let load = wrk::Load {
        url: t.url(stream),
        body: fixtures::request(model, stream),
        conns,
        duration: ctx.duration,
        events,
        rotate: None,
    };
    measure(ctx, phase, t, &load, &expected)
}

/// Runs `load` at `t` (a warmup run, then the measured one) and checks
/// every response against `expected`.
fn measure(
    ctx: &Ctx,
    phase: &'static str,
    t: Target,
    load: &wrk::Load,
    expected: &str,
) -> Result<PhaseResult> {
    let (conns, events, stream) = (load.conns, load.events, load.events > 0);
    let script = ctx.dir.join(format!("{phase}-{}.lua", t.name));
    std::fs::write(&script, wrk::script(load, expected))?;
    let warm = wrk::Load {
        duration: ctx.warmup,
        ..load.clone()
    };
    wrk::run(ctx.wrk, &script, &warm, ctx.pin.load_cpu)?;
    let recorder = perf(ctx, phase, t, ctx.duration.as_secs());
    let before = Sample::take(&ctx.pids);
    let cpu_before = cpu_split(t.pid);
    let rep = wrk::run(ctx.wrk, &script, load, ctx.pin.load_cpu)?;
    let cpu_after = cpu_split(t.pid);
    let noise = Sample::take(&ctx.pids).noise_since(&before);
    if let Some(mut p) = recorder {
        let _ = p.wait();
    }
    for p in &ctx.logs {
        p.truncate_log();
    }
    let secs = rep.duration.as_secs_f64().max(1e-6);
    let cpu = crate::phases::per_request(cpu_before, cpu_after, rep.requests);
    let first_error = rep.first_bad.clone().or_else(|| {
        (rep.socket_errors > 0).then(|| {
            format!(
                "{} socket errors (connect, read, write or timeout)",
                rep.socket_errors
            )
        })
    });
    Ok(PhaseResult {
        phase,
        target: t.name,
        conns,
        stream,
        requests: rep.requests,
        errors: rep.errors(),
        first_error,
        per_sec: rep.ok as f64 / secs,
        p50_us: rep.p50_us,
        p99_us: rep.p99_us,
        ttft_p50_us: None,
        ttft_p99_us: None,
        chunk_gap_p50_us: None,
        chunks: rep.ok * events as u64,
        lost: rep.lost,
        reordered: rep.reordered,
        cpu_us_per_req: cpu.map(|c| c.0),
        sys_us_per_req: cpu.map(|c| c.1),
        noise,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn gateway_accepts_the_config() {
        let text = super::gateway_config("127.0.0.1:9".parse().unwrap());
        let config = switchyard::config::parse(&text, &|_| None).unwrap();
        assert!(config.models.contains_key(crate::load::MODEL));
        assert!(config.models.contains_key(super::STREAM_MODEL));
    }
}
