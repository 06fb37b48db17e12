//! The fast-upstream mode's figures against the lean bare proxy, and the
//! issue's targets for that mode, judged.

use serde::Serialize;

use super::{LATENCY, LEAN, STREAMS, THROUGHPUT};
use crate::phases::PhaseResult;
use crate::report::Check;
use crate::sysstat::Noise;

/// One target's figures in one phase, next to the lean proxy's.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    pub phase: &'static str,
    pub target: &'static str,
    /// Requests (or streams) per second over the lean proxy's.
    pub rate_vs_lean: f64,
    /// CPU per request over the lean proxy's (proxies only).
    pub cpu_vs_lean: Option<f64>,
    /// p50 and p99 minus the lean proxy's, microseconds.
    pub p50_minus_lean_us: f64,
    pub p99_minus_lean_us: f64,
}

fn find<'a>(all: &'a [PhaseResult], phase: &str, target: &str) -> Option<&'a PhaseResult> {
    all.iter().find(|r| r.phase == phase && r.target == target)
}

/// Every target of every phase against the lean proxy of the same phase.
pub fn ratios(all: &[PhaseResult]) -> Vec<Ratio> {
    all.iter()
        .filter_map(|r| {
            let lean = find(all, r.phase, LEAN)?;
            let cpu = match (r.cpu_us_per_req, lean.cpu_us_per_req) {
                (Some(c), Some(l)) if r.target != "direct" && l > 0.0 => Some(c / l),
                _ => None,
            };
            Some(Ratio {
                phase: r.phase,
                target: r.target,
                rate_vs_lean: r.per_sec / lean.per_sec,
                cpu_vs_lean: cpu,
                p50_minus_lean_us: r.p50_us - lean.p50_us,
                p99_minus_lean_us: r.p99_us - lean.p99_us,
            })
        })
        .collect()
}

fn check(c: &mut Vec<Check>, target: &str, measured: String, pass: bool) {
    c.push(Check {
        target: target.to_string(),
        measured,
        pass,
    });
}

/// The fast-mode targets that these phases measure. `quiet`: the
/// one-connection round kept was quiet.
pub fn evaluate(all: &[PhaseResult], idle_kib: u64, quiet: bool) -> Vec<Check> {
    let mut c = Vec::new();
    let pair = |phase| Some((find(all, phase, "gateway")?, find(all, phase, LEAN)?));
    // A figure from a round that was not quiet says so.
    let noisy = |g: &PhaseResult, l: &PhaseResult| {
        if g.noise.quiet() && l.noise.quiet() {
            ""
        } else {
            " [noisy]"
        }
    };
    if let Some((g, l)) = pair(THROUGHPUT) {
        let n = noisy(g, l);
        if let (Some(gc), Some(lc)) = (g.cpu_us_per_req, l.cpu_us_per_req) {
            let r = gc / lc;
            let m = format!("{r:.2}x ({gc:.1} vs {lc:.1} us){n}");
            check(&mut c, "64 conns: CPU/req <= 1.3x lean", m, r <= 1.3);
        }
        let r = g.per_sec / l.per_sec;
        let m = format!(
            "{:.0}% ({:.0} vs {:.0} req/s){n}",
            r * 100.0,
            g.per_sec,
            l.per_sec
        );
        check(&mut c, "64 conns: >= 80% of lean", m, r >= 0.80);
        let m = format!("{} errors", g.errors);
        check(&mut c, "64 conns: zero errors", m, g.errors == 0);
    }
    if let Some((g, l)) = pair(STREAMS) {
        let n = noisy(g, l);
        let r = g.per_sec / l.per_sec;
        let m = format!(
            "{:.0}% ({:.0} vs {:.0} streams/s){n}",
            r * 100.0,
            g.per_sec,
            l.per_sec
        );
        check(&mut c, "64 streams: >= 75% of lean", m, r >= 0.75);
        let m = format!(
            "{} events intact; {} lost, {} reordered, {} errors",
            g.chunks, g.lost, g.reordered, g.errors
        );
        let clean = g.lost + g.reordered + g.errors == 0 && g.chunks > 0;
        check(&mut c, "64 streams: no event lost or reordered", m, clean);
    }
    if let (Some((g, l)), Some(d)) = (pair(LATENCY), find(all, LATENCY, "direct")) {
        let note = if quiet {
            ""
        } else {
            " [no quiet round: noisy]"
        };
        let (ga, la) = (g.p50_us - d.p50_us, l.p50_us - d.p50_us);
        let m = format!(
            "added p50 {ga:.0} us vs lean {la:.0} us (+{:.0}){note}",
            ga - la
        );
        check(
            &mut c,
            "1 conn: added p50 within 30 us of lean",
            m,
            ga - la <= 30.0,
        );
    }
    let idle = idle_kib as f64 / 1024.0;
    let m = format!("{idle:.1} MiB");
    check(&mut c, "gateway idle memory <= 12 MiB", m, idle <= 12.0);
    c
}

fn pcts(v: &[f64]) -> String {
    let v: Vec<String> = v.iter().map(|x| format!("{x:.0}")).collect();
    v.join(" ")
}

/// One run as it ends: the figures, then per CPU how busy it was (which
/// side was saturated), steal and foreign CPU.
pub fn print_phase(r: &PhaseResult) {
    let cpu = r.cpu_us_per_req.map_or(String::new(), |c| {
        // The target's own share of its CPU over the run.
        let util = c * r.per_sec / 1e4;
        let sys = r
            .sys_us_per_req
            .map_or(String::new(), |s| format!("sys {s:.1}, "));
        format!(" cpu {c:.1}us/req ({sys}{util:.0}% of a CPU)")
    });
    println!(
        "  {:<22} {:<8} {:>7.0}/s p50 {:>6.0}us p99 {:>6.0}us err {}{cpu}  busy% [{}] steal% [{}] foreign {:.0}%",
        r.phase,
        r.target,
        r.per_sec,
        r.p50_us,
        r.p99_us,
        r.errors,
        pcts(&r.noise.busy_pct),
        pcts(&r.noise.steal_pct),
        r.noise.foreign_pct,
    );
    if let Some(e) = &r.first_error {
        println!("    first error: {e}");
    }
}

pub fn print_summary(
    all: &[PhaseResult],
    ratios: &[Ratio],
    checks: &[Check],
    latency: &Option<Noise>,
) {
    println!(
        "\n{:<22} {:<8} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>5} {:>6}  {:<9} {:<9} foreign%",
        "phase",
        "target",
        "per sec",
        "p50us",
        "p99us",
        "cpu us",
        "sys us",
        "errors",
        "vs lean",
        "cpu x",
        "p50+us",
        "busy%",
        "steal%",
    );
    for r in all {
        let ratio = ratios
            .iter()
            .find(|x| x.phase == r.phase && x.target == r.target);
        let cpu = r.cpu_us_per_req.map_or("-".into(), |c| format!("{c:.1}"));
        let sys = r.sys_us_per_req.map_or("-".into(), |c| format!("{c:.1}"));
        let (rate, cpux, p50) = ratio.map_or(("-".into(), "-".into(), "-".into()), |x| {
            (
                format!("{:.0}%", x.rate_vs_lean * 100.0),
                x.cpu_vs_lean.map_or("-".into(), |c| format!("{c:.2}")),
                format!("{:+.0}", x.p50_minus_lean_us),
            )
        });
        let steal: Vec<String> = r
            .noise
            .steal_pct
            .iter()
            .map(|s| format!("{s:.1}"))
            .collect();
        println!(
            "{:<22} {:<8} {:>8.0} {:>6.0} {:>6.0} {:>6} {:>6} {:>6} {:>7} {:>5} {:>6}  {:<9} {:<9} {:.0}",
            r.phase,
            r.target,
            r.per_sec,
            r.p50_us,
            r.p99_us,
            cpu,
            sys,
            r.errors,
            rate,
            cpux,
            p50,
            pcts(&r.noise.busy_pct),
            steal.join(" "),
            r.noise.foreign_pct
        );
    }
    println!(
        "(direct's cpu is nginx's own; busy% and steal% per CPU, 0 then 1; latency rounds: {})",
        latency.as_ref().map_or("not run".into(), Noise::describe)
    );
    println!("\ntargets (fast-upstream mode, against the lean bare proxy):");
    for c in checks {
        println!(
            "  {} {:<42} {}",
            if c.pass { "PASS" } else { "FAIL" },
            c.target,
            c.measured
        );
    }
}
