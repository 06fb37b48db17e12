//! One phase = one load spec against one target (the mock directly, the bare
//! proxy, the gateway), with the machine's noise and the target's CPU time
//! measured over the same window as the requests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::load::{self, Outcome, Spec};
use crate::sysstat::{cpu_split, Noise, Sample, TICKS_PER_SEC};

/// Something to send load at.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub name: &'static str,
    pub addr: SocketAddr,
    /// The process whose CPU time per request we report (none for direct).
    pub pid: Option<u32>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct PhaseResult {
    pub phase: &'static str,
    pub target: &'static str,
    pub conns: usize,
    pub stream: bool,
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub ttft_p50_us: Option<f64>,
    pub ttft_p99_us: Option<f64>,
    pub chunk_gap_p50_us: Option<f64>,
    pub chunks: u64,
    pub lost: u64,
    pub reordered: u64,
    /// utime+stime of the target process per request, microseconds.
    pub cpu_us_per_req: Option<f64>,
    /// Of `cpu_us_per_req`, the stime: the kernel's part.
    pub sys_us_per_req: Option<f64>,
    pub noise: Noise,
}

pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)])
}

fn pct_opt(v: &mut [u32], p: f64, scale: f64) -> Option<f64> {
    v.sort_unstable();
    (!v.is_empty()).then(|| percentile(v, p) / scale)
}

/// What every phase needs to know about the run.
pub struct Env {
    /// All our processes, so their CPU time is not counted as foreign.
    pub pids: Vec<u32>,
    /// Record the proxies with `perf record -g` into this folder.
    pub perf_dir: Option<PathBuf>,
}

/// Starts `perf record -g` on a proxy (gateway or bare) for the whole phase,
/// if asked: the two profiles side by side show where the gateway's extra
/// time goes.
fn perf(env: &Env, phase: &str, target: Target, spec: Spec) -> Option<Child> {
    let (dir, pid) = (env.perf_dir.as_ref()?, target.pid?);
    let secs = (spec.warmup + spec.duration).as_secs_f64();
    Command::new("perf")
        .args(["record", "-F", "999", "--call-graph", "dwarf,16384"])
        .args(["-p", &pid.to_string(), "-o"])
        .arg(dir.join(format!("perf-{phase}-{}.data", target.name)))
        .args(["--", "sleep", &format!("{secs:.1}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// Runs `spec` against `target`, measuring noise and the target's CPU time.
pub async fn run(phase: &'static str, target: Target, spec: Spec, env: &Env) -> PhaseResult {
    let pids = &env.pids[..];
    let recorder = perf(env, phase, target, spec);
    let pids_owned = pids.to_vec();
    // Sample when the counted window opens, not when the warmup starts.
    let opening = tokio::spawn(async move {
        tokio::time::sleep(spec.warmup).await;
        let cpu = target.pid.map(cpu_split);
        (Sample::take(&pids_owned), cpu)
    });
    let mut out = load::run(target.addr, spec).await;
    let after = Sample::take(pids);
    let cpu_after = target.pid.map(cpu_split);
    if let Some(mut p) = recorder {
        let _ = p.wait();
    }
    let (before, cpu_before) = match opening.await {
        Ok(x) => x,
        Err(_) => (after.clone(), cpu_after),
    };
    let cpu = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) => per_request(b, a, out.requests),
        _ => None,
    };
    summarize(
        phase,
        target,
        spec,
        &mut out,
        cpu,
        after.noise_since(&before),
    )
}

fn summarize(
    phase: &'static str,
    target: Target,
    spec: Spec,
    out: &mut Outcome,
    cpu: Option<(f64, f64)>,
    noise: Noise,
) -> PhaseResult {
    out.latency_us.sort_unstable();
    let secs = out.elapsed.as_secs_f64().max(1e-6);
    PhaseResult {
        phase,
        target: target.name,
        conns: spec.conns,
        stream: spec.stream,
        requests: out.requests,
        errors: out.errors,
        first_error: out.first_error.take(),
        per_sec: out.requests as f64 / secs,
        p50_us: percentile(&out.latency_us, 0.50),
        p99_us: percentile(&out.latency_us, 0.99),
        ttft_p50_us: pct_opt(&mut out.ttft_us, 0.50, 1.0),
        ttft_p99_us: pct_opt(&mut out.ttft_us, 0.99, 1.0),
        chunk_gap_p50_us: pct_opt(&mut out.chunk_gap_ns, 0.50, 1000.0),
        chunks: out.chunks,
        lost: out.lost,
        reordered: out.reordered,
        cpu_us_per_req: cpu.map(|c| c.0),
        sys_us_per_req: cpu.map(|c| c.1),
        noise,
    }
}

/// (all, system) CPU microseconds a request between two (user, system)
/// tick readings; none without requests.
pub fn per_request(before: (u64, u64), after: (u64, u64), requests: u64) -> Option<(f64, f64)> {
    if requests == 0 {
        return None;
    }
    let us = |ticks: u64| ticks as f64 / TICKS_PER_SEC * 1e6 / requests as f64;
    let user = after.0.saturating_sub(before.0);
    let sys = after.1.saturating_sub(before.1);
    Some((us(user + sys), us(sys)))
}

/// A set of phases run back to back on every target, repeated (up to
/// `max_rounds`) until one round is quiet; the quietest round is kept.
pub async fn quiet_rounds(
    phase: &'static str,
    targets: &[Target],
    spec: Spec,
    env: &Env,
    max_rounds: usize,
) -> (Vec<PhaseResult>, Noise, usize) {
    let pids = &env.pids[..];
    let mut best: Option<(Vec<PhaseResult>, Noise)> = None;
    let mut rounds = 0;
    while rounds < max_rounds.max(1) {
        rounds += 1;
        let start = Sample::take(pids);
        let mut results = Vec::new();
        for &t in targets {
            let r = run(phase, t, spec, env).await;
            crate::report::print_phase(&r);
            results.push(r);
        }
        let noise = Sample::take(pids).noise_since(&start);
        println!(
            "  round {rounds}: {}{}",
            noise.describe(),
            if noise.quiet() {
                " (quiet)"
            } else {
                " (noisy)"
            }
        );
        let quiet = noise.quiet();
        let better = best.as_ref().is_none_or(|(_, n)| score(&noise) < score(n));
        if better {
            best = Some((results, noise));
        }
        if quiet {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (results, noise) = best.unwrap_or_else(|| {
        (
            Vec::new(),
            Sample::take(pids).noise_since(&Sample::take(pids)),
        )
    });
    (results, noise, rounds)
}

/// Lower is quieter: the worst CPU's steal plus half the foreign CPU.
pub fn score(n: &Noise) -> f64 {
    n.max_steal() + n.foreign_pct / 2.0
}

#[cfg(test)]
mod tests {
    use super::per_request;

    #[test]
    fn per_request_splits_ticks_into_microseconds() {
        // 150 user + 50 system ticks (2 s at USER_HZ 100) over 100k requests.
        let (all, sys) = per_request((1000, 400), (1150, 450), 100_000).unwrap();
        assert!(
            (all - 20.0).abs() < 1e-9 && (sys - 5.0).abs() < 1e-9,
            "{all} {sys}"
        );
        assert_eq!(per_request((0, 0), (5, 5), 0), None);
    }
}
