//! Turns phase results into the numbers the issue asks for, judges them
//! against the targets, and prints them.

use serde::Serialize;

use crate::phases::PhaseResult;
use crate::sysstat::Noise;

pub const LATENCY: &str = "latency_1conn";
pub const THROUGHPUT: &str = "throughput_64conn";
pub const STREAM_LATENCY: &str = "stream_1conn";
pub const STREAM_LOAD: &str = "stream_256conn";

/// Gateway resident memory, KiB.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Memory {
    pub idle_kib: u64,
    pub peak_kib: u64,
    /// `--settle` seconds after the load: the upstream pool still holds
    /// the load's connections.
    pub warm_kib: u64,
    /// Once the pool has closed them (or the wait gave up).
    pub after_kib: u64,
    /// How long after `warm` the pool took to drain; `None` if it did not.
    pub drained_after_secs: Option<f64>,
}

/// One target of the issue, judged.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub target: String,
    pub measured: String,
    pub pass: bool,
}

fn find<'a>(all: &'a [PhaseResult], phase: &str, target: &str) -> Option<&'a PhaseResult> {
    all.iter().find(|r| r.phase == phase && r.target == target)
}

fn check(checks: &mut Vec<Check>, target: &str, measured: String, pass: bool) {
    checks.push(Check {
        target: target.to_string(),
        measured,
        pass,
    });
}

/// The targets. `quiet` says whether the latency rounds kept were quiet.
pub fn evaluate(all: &[PhaseResult], mem: Memory, quiet: bool) -> Vec<Check> {
    let mut c = Vec::new();
    throughput_checks(&mut c, all);
    latency_checks(&mut c, all, quiet);
    stream_checks(&mut c, all);
    let idle = mem.idle_kib as f64 / 1024.0;
    let after = mem.after_kib as f64 / 1024.0;
    check(
        &mut c,
        "memory idle <= 15 MiB",
        format!("{idle:.1} MiB"),
        idle <= 15.0,
    );
    let back = after <= idle * 1.10 && mem.drained_after_secs.is_some();
    let drained = mem
        .drained_after_secs
        .map_or("pool not drained".into(), |s| {
            format!("pool drained in {s:.0} s")
        });
    let m = format!(
        "{after:.1} MiB after vs {idle:.1} idle ({drained}; peak {:.1}, warm {:.1})",
        mem.peak_kib as f64 / 1024.0,
        mem.warm_kib as f64 / 1024.0
    );
    check(&mut c, "memory after load within 10% of idle", m, back);
    c
}

fn throughput_checks(c: &mut Vec<Check>, all: &[PhaseResult]) {
    let (Some(d), Some(g)) = (
        find(all, THROUGHPUT, "direct"),
        find(all, THROUGHPUT, "gateway"),
    ) else {
        return;
    };
    let r = g.per_sec / d.per_sec;
    check(
        c,
        "64 conns: >= 45% of direct",
        format!(
            "{:.0}% ({:.0} vs {:.0} req/s)",
            r * 100.0,
            g.per_sec,
            d.per_sec
        ),
        r >= 0.45,
    );
    check(
        c,
        "64 conns: zero errors",
        format!("{} errors", g.errors),
        g.errors == 0,
    );
    let Some(b) = find(all, THROUGHPUT, "bare") else {
        return;
    };
    let r = g.per_sec / b.per_sec;
    check(
        c,
        "64 conns: >= 75% of bare proxy",
        format!(
            "{:.0}% ({:.0} vs {:.0} req/s)",
            r * 100.0,
            g.per_sec,
            b.per_sec
        ),
        r >= 0.75,
    );
    if let (Some(gc), Some(bc)) = (g.cpu_us_per_req, b.cpu_us_per_req) {
        let r = gc / bc;
        check(
            c,
            "CPU per request <= 1.5x bare proxy",
            format!("{r:.2}x ({gc:.1} vs {bc:.1} us)"),
            r <= 1.5,
        );
    }
}

fn latency_checks(c: &mut Vec<Check>, all: &[PhaseResult], quiet: bool) {
    let (Some(d), Some(g), Some(b)) = (
        find(all, LATENCY, "direct"),
        find(all, LATENCY, "gateway"),
        find(all, LATENCY, "bare"),
    ) else {
        return;
    };
    let note = if quiet {
        ""
    } else {
        " [no quiet round: noisy]"
    };
    let (g50, b50) = (g.p50_us - d.p50_us, b.p50_us - d.p50_us);
    let (g99, b99) = (g.p99_us - d.p99_us, b.p99_us - d.p99_us);
    let m = format!(
        "added p50 {g50:.0} us vs bare {b50:.0} us (+{:.0}){note}",
        g50 - b50
    );
    check(
        c,
        "1 conn: added p50 within 50 us of bare",
        m,
        g50 - b50 <= 50.0,
    );
    let m = format!(
        "added p99 {g99:.0} us vs bare {b99:.0} us (+{:.0}){note}",
        g99 - b99
    );
    check(
        c,
        "1 conn: added p99 within 200 us of bare",
        m,
        g99 - b99 <= 200.0,
    );
}

fn stream_checks(c: &mut Vec<Check>, all: &[PhaseResult]) {
    if let (Some(d), Some(g)) = (
        find(all, STREAM_LOAD, "direct"),
        find(all, STREAM_LOAD, "gateway"),
    ) {
        let r = g.per_sec / d.per_sec;
        let m = format!(
            "{:.0}% ({:.0} vs {:.0} streams/s)",
            r * 100.0,
            g.per_sec,
            d.per_sec
        );
        check(c, "streams: >= 40% of direct", m, r >= 0.40);
        let bad = g.lost + g.reordered + g.errors;
        let m = format!(
            "{} chunks: {} lost, {} reordered, {} errors",
            g.chunks, g.lost, g.reordered, g.errors
        );
        check(
            c,
            "256 streams: no chunk lost or reordered",
            m,
            bad == 0 && g.chunks > 0,
        );
    }
}

/// Derived figures for the table and the JSON: gateway/bare minus direct.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Added {
    pub target: String,
    pub p50_us: f64,
    pub p99_us: f64,
    pub ttft_p50_us: Option<f64>,
    pub chunk_gap_p50_us: Option<f64>,
}

pub fn added(all: &[PhaseResult], target: &str) -> Option<Added> {
    let (d, t) = (find(all, LATENCY, "direct")?, find(all, LATENCY, target)?);
    let sub = |a: Option<f64>, b: Option<f64>| Some(a? - b?);
    let (sd, st) = (
        find(all, STREAM_LATENCY, "direct"),
        find(all, STREAM_LATENCY, target),
    );
    Some(Added {
        target: target.to_string(),
        p50_us: t.p50_us - d.p50_us,
        p99_us: t.p99_us - d.p99_us,
        ttft_p50_us: sub(
            st.and_then(|r| r.ttft_p50_us),
            sd.and_then(|r| r.ttft_p50_us),
        ),
        chunk_gap_p50_us: sub(
            st.and_then(|r| r.chunk_gap_p50_us),
            sd.and_then(|r| r.chunk_gap_p50_us),
        ),
    })
}

pub fn print_phase(r: &PhaseResult) {
    let extra = match (r.ttft_p50_us, r.chunk_gap_p50_us) {
        (Some(t), Some(g)) => format!(
            " ttft p50 {t:.0}us chunk gap p50 {g:.1}us lost {} reordered {}",
            r.lost, r.reordered
        ),
        _ => String::new(),
    };
    let cpu = r
        .cpu_us_per_req
        .map_or(String::new(), |c| format!(" cpu {c:.1}us/req"));
    println!(
        "  {:<18} {:<8} {:>9.0}/s p50 {:>7.0}us p99 {:>7.0}us err {}{cpu}{extra}  [{}]",
        r.phase,
        r.target,
        r.per_sec,
        r.p50_us,
        r.p99_us,
        r.errors,
        r.noise.describe()
    );
    if let Some(e) = &r.first_error {
        println!("    first error: {e}");
    }
}

pub fn print_summary(
    all: &[PhaseResult],
    checks: &[Check],
    mem: Memory,
    latency_noise: &Option<Noise>,
) {
    println!(
        "\n{:<18} {:<8} {:>10} {:>9} {:>9} {:>10} {:>7}",
        "phase", "target", "per sec", "p50 us", "p99 us", "cpu us/req", "errors"
    );
    for r in all {
        let cpu = r.cpu_us_per_req.map_or("-".into(), |c| format!("{c:.1}"));
        println!(
            "{:<18} {:<8} {:>10.0} {:>9.0} {:>9.0} {:>10} {:>7}",
            r.phase, r.target, r.per_sec, r.p50_us, r.p99_us, cpu, r.errors
        );
    }
    println!(
        "\nadded over direct (latency rounds: {})",
        latency_noise
            .as_ref()
            .map_or("not run".into(), Noise::describe)
    );
    for a in ["bare", "gateway"].iter().filter_map(|t| added(all, t)) {
        let f = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x:.1}"));
        println!(
            "  {:<8} p50 {:>6.1} us  p99 {:>6.1} us  ttft p50 {:>6} us  per chunk {:>6} us",
            a.target,
            a.p50_us,
            a.p99_us,
            f(a.ttft_p50_us),
            f(a.chunk_gap_p50_us)
        );
    }
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "gateway RSS: idle {:.1} MiB, peak {:.1} MiB, warm pool {:.1} MiB, after {:.1} MiB",
        mib(mem.idle_kib),
        mib(mem.peak_kib),
        mib(mem.warm_kib),
        mib(mem.after_kib)
    );
    println!("\ntargets:");
    for c in checks {
        println!(
            "  {} {:<42} {}",
            if c.pass { "PASS" } else { "FAIL" },
            c.target,
            c.measured
        );
    }
}
