//! `switchyard-bench`: the gateway's end-to-end benchmark.
//!
//! Starts the mock upstream, a bare pass-through proxy and the gateway as
//! release-built processes (proxies pinned to CPU 0, mock and this load
//! generator to CPU 1), drives the same load at all three, and reports added
//! latency, throughput, streaming integrity, CPU per request and memory.
//! It is a measuring tool: it prints PASS/FAIL per target and exits 0 unless
//! it could not run.
//!
//! `--upstream nginx` is the fast-upstream mode ([`fast`]): nginx as the
//! upstream and wrk as the load generator on CPU 0, the proxies on CPU 1.
//!
//! ```text
//! cargo run --release -p switchyard-bench -- --quick
//! cargo run --release -p switchyard-bench -- --upstream nginx --quick
//! ```

mod fast;
mod load;
mod opts;
mod phases;
mod procs;
mod report;
mod setup;
mod sse_check;
mod sysstat;

use std::time::Duration;

use anyhow::{bail, Result};

use crate::opts::{Opts, Upstream};

use crate::load::Spec;
use crate::phases::{PhaseResult, Target};
use crate::procs::Pinning;
use crate::report::{Memory, LATENCY, STREAM_LATENCY, STREAM_LOAD, THROUGHPUT};
use crate::sysstat::status_kib;

const CHUNKS: usize = 64;

#[derive(serde::Serialize)]
struct Results {
    machine: sysstat::Machine,
    pinning: Pinning,
    mode: &'static str,
    phase_secs: f64,
    latency_rounds: usize,
    latency_noise: Option<sysstat::Noise>,
    latency_quiet: bool,
    phases: Vec<PhaseResult>,
    added: Vec<report::Added>,
    memory: Memory,
    checks: Vec<report::Check>,
}

fn main() -> Result<()> {
    let opts = Opts::parse(std::env::args().skip(1))?;
    let machine = sysstat::machine();
    if opts.upstream == Upstream::Nginx {
        // The load side is CPU 0 here (wrk and nginx), the proxies CPU 1.
        let pin = Pinning::detect_and_pin_self(machine.cores, 0);
        return fast::run(&opts, pin, machine);
    }
    let pin = Pinning::detect_and_pin_self(machine.cores, 1);
    println!(
        "machine: {} x{} ({}); pinning: proxies on CPU {:?}, mock + load on CPU {:?}",
        machine.cpu_model, machine.cores, machine.kernel, pin.proxy_cpu, pin.load_cpu
    );
    if opts.build {
        setup::build()?;
    }
    let paths = setup::Paths::locate(opts.gateway_bin.as_deref())?;
    // One thread: the load generator shares its CPU with the mock.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = rt.block_on(bench(&opts, &paths, pin, machine))?;
    let out = opts
        .out
        .clone()
        .map_or_else(|| paths.out_dir.join("results.json"), Into::into);
    std::fs::write(&out, serde_json::to_string_pretty(&results)?)?;
    println!("\nresults written to {}", out.display());
    Ok(())
}

async fn bench(
    opts: &Opts,
    paths: &setup::Paths,
    pin: Pinning,
    machine: sysstat::Machine,
) -> Result<Results> {
    let mut running = setup::start(paths, pin, CHUNKS, "0ms")?;
    let targets = [
        Target {
            name: "direct",
            addr: running.mock.addr,
            pid: None,
        },
        Target {
            name: "bare",
            addr: running.bare.addr,
            pid: Some(running.bare.pid),
        },
        Target {
            name: "gateway",
            addr: running.gateway.addr,
            pid: Some(running.gateway.pid),
        },
    ];
    tokio::time::sleep(Duration::from_secs(1)).await;
    let gw = running.gateway.pid;
    let idle_kib = status_kib(gw, "VmRSS:").unwrap_or(0);
    let idle_fds = sysstat::open_fds(gw).unwrap_or(0);
    println!("gateway idle RSS {:.1} MiB", idle_kib as f64 / 1024.0);
    let env = phases::Env {
        pids: running.pids(),
        perf_dir: opts.perf.then(|| paths.out_dir.clone()),
    };
    let (all, latency_noise, latency_rounds) = run_phases(opts, &targets, &env, &running).await;
    let peak_kib = status_kib(gw, "VmHWM:").unwrap_or(0);
    tokio::time::sleep(opts.settle()).await;
    let warm_kib = status_kib(gw, "VmRSS:").unwrap_or(0);
    let drained_after = pool_drained(gw, idle_fds).await;
    let after_kib = status_kib(gw, "VmRSS:").unwrap_or(0);
    if !running.gateway.alive() {
        bail!(
            "the gateway died during the run; see {}",
            running.gateway.log.display()
        );
    }
    let memory = Memory {
        idle_kib,
        peak_kib,
        warm_kib,
        after_kib,
        drained_after_secs: drained_after.map(|d| d.as_secs_f64()),
    };
    let latency_quiet = latency_noise.as_ref().is_some_and(sysstat::Noise::quiet);
    let checks = report::evaluate(&all, memory, latency_quiet);
    report::print_summary(&all, &checks, memory, &latency_noise);
    let added = ["bare", "gateway"]
        .iter()
        .filter_map(|t| report::added(&all, t))
        .collect();
    Ok(Results {
        machine,
        pinning: pin,
        mode: opts.mode(),
        phase_secs: opts.secs().1.as_secs_f64(),
        latency_rounds,
        latency_noise,
        latency_quiet,
        phases: all,
        added,
        memory,
        checks,
    })
}

/// Waits until the gateway has closed the idle upstream connections the
/// load left in its pool (its open descriptors are back to the idle count):
/// `pool_idle_timeout` (30 s by default) up to twice over. `None` if that
/// did not happen within [`POOL_DRAIN_LIMIT`].
async fn pool_drained(pid: u32, idle_fds: usize) -> Option<Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < POOL_DRAIN_LIMIT {
        if sysstat::open_fds(pid).is_some_and(|n| n <= idle_fds) {
            // The worker gives freed memory back when it next goes idle.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

/// Two default pool idle timeouts and some slack.
const POOL_DRAIN_LIMIT: Duration = Duration::from_secs(70);

/// The phases `opts` asks for, in order: (results, latency rounds' noise, rounds run).
async fn run_phases(
    opts: &Opts,
    targets: &[Target],
    env: &phases::Env,
    running: &setup::Running,
) -> (Vec<PhaseResult>, Option<sysstat::Noise>, usize) {
    let (warmup, duration) = opts.secs();
    let spec = |conns, stream| Spec {
        conns,
        stream,
        chunks: CHUNKS,
        warmup,
        duration,
    };
    let mut all = Vec::new();
    let mut latency_noise = None;
    let mut latency_rounds = 0;
    if opts.wants("latency") {
        println!("\n1 connection, non-streaming (repeated until a round is quiet):");
        let (r, noise, rounds) =
            phases::quiet_rounds(LATENCY, targets, spec(1, false), env, opts.rounds()).await;
        all.extend(r);
        (latency_noise, latency_rounds) = (Some(noise), rounds);
        running.gateway.truncate_log();
    }
    if opts.wants("stream_latency") {
        println!("\n1 connection, {CHUNKS}-chunk streams:");
        let rounds = opts.rounds();
        let (r, _, _) =
            phases::quiet_rounds(STREAM_LATENCY, targets, spec(1, true), env, rounds).await;
        all.extend(r);
        running.gateway.truncate_log();
    }
    if opts.wants("throughput") {
        println!("\n64 connections, non-streaming:");
        let rounds = opts.load_rounds();
        all.extend(load_phase(THROUGHPUT, targets, spec(64, false), env, running, rounds).await);
    }
    if opts.wants("streams") {
        println!("\n256 concurrent {CHUNKS}-chunk streams:");
        let rounds = opts.load_rounds();
        all.extend(load_phase(STREAM_LOAD, targets, spec(256, true), env, running, rounds).await);
    }
    (all, latency_noise, latency_rounds)
}

/// A load phase: `rounds` rounds, each at every target in turn (so a burst
/// of noise hits one round, not one target). Per target the best round (the
/// highest throughput) is reported, as `timeit` keeps the fastest run: on
/// this VM interference only ever slows a round down, and much of it shows
/// neither as steal nor as another process. The errors and lost or
/// reordered chunks of all rounds are reported with it. The gateway's request log is
/// emptied after each run so a long run does not fill the disk.
async fn load_phase(
    name: &'static str,
    targets: &[Target],
    spec: Spec,
    env: &phases::Env,
    running: &setup::Running,
    rounds: usize,
) -> Vec<PhaseResult> {
    let mut by_target: Vec<Vec<PhaseResult>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        for (i, &t) in targets.iter().enumerate() {
            let r = phases::run(name, t, spec, env).await;
            report::print_phase(&r);
            by_target[i].push(r);
            running.gateway.truncate_log();
        }
        println!("  round {round} of {rounds} done");
    }
    by_target.into_iter().filter_map(best_round).collect()
}

/// The highest-throughput round, carrying every round's failures.
pub(crate) fn best_round(mut rounds: Vec<PhaseResult>) -> Option<PhaseResult> {
    rounds.sort_by(|a, b| a.per_sec.total_cmp(&b.per_sec));
    let (errors, lost, reordered) = rounds.iter().fold((0, 0, 0), |(e, l, r), x| {
        (e + x.errors, l + x.lost, r + x.reordered)
    });
    let first_error = rounds.iter().find_map(|x| x.first_error.clone());
    let chunks = rounds.iter().map(|x| x.chunks).sum();
    let mut chosen = rounds.pop()?;
    chosen.errors = errors;
    chosen.lost = lost;
    chosen.reordered = reordered;
    chosen.chunks = chunks;
    chosen.first_error = first_error;
    Some(chosen)
}
