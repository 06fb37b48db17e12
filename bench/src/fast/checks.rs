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
    if let Some((g, l)) = pair(THROUGHPUT) {
        if let (Some(gc), Some(lc)) = (g.cpu_us_per_req, l.cpu_us_per_req) {
            let r = gc / lc;
            let m = format!("{r:.2}x ({gc:.1} vs {lc:.1} us)");
            check(&mut c, "64 conns: CPU/req <= 1.3x lean", m, r <= 1.3);
        }
        let r = g.per_sec / l.per_sec;
        let m = format!(
            "{:.0}% ({:.0} vs {:.0} req/s)",
            r * 100.0,
            g.per_sec,
            l.per_sec
        );
        check(&mut c, "64 conns: >= 80% of lean", m, r >= 0.80);
        let m = format!("{} errors", g.errors);
        check(&mut c, "64 conns: zero errors", m, g.errors == 0);
    }
    if let Some((g, l)) = pair(STREAMS) {
        let r = g.per_sec / l.per_sec;
        let m = format!(
            "{:.0}% ({:.0} vs {:.0} streams/s)",
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

pub fn print_summary(
    all: &[PhaseResult],
    ratios: &[Ratio],
    checks: &[Check],
    latency: &Option<Noise>,
) {
    println!(
        "\n{:<24} {:<8} {:>9} {:>7} {:>7} {:>8} {:>7} {:>9} {:>8} {:>7}  steal% / foreign%",
        "phase",
        "target",
        "per sec",
        "p50 us",
        "p99 us",
        "cpu us",
        "errors",
        "vs lean",
        "cpu x",
        "p50 +us"
    );
    for r in all {
        let ratio = ratios
            .iter()
            .find(|x| x.phase == r.phase && x.target == r.target);
        let cpu = r.cpu_us_per_req.map_or("-".into(), |c| format!("{c:.1}"));
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
            "{:<24} {:<8} {:>9.0} {:>7.0} {:>7.0} {:>8} {:>7} {:>9} {:>8} {:>7}  [{}] / {:.0}",
            r.phase,
            r.target,
            r.per_sec,
            r.p50_us,
            r.p99_us,
            cpu,
            r.errors,
            rate,
            cpux,
            p50,
            steal.join(" "),
            r.noise.foreign_pct
        );
    }
    println!(
        "(direct's cpu is nginx's own; latency rounds: {})",
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
