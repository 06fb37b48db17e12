//! The scale phase's figures: one row per point, whichever way it was
//! measured, printed as one table, and the checks that the users and
//! backends curves stay flat.

use serde::Serialize;

use super::callgrind;
use super::scale::{points, BACKENDS, USERS};
use crate::report::Check;
use crate::sysstat::Noise;

/// How much worse than the first point the last of the users and
/// backends curves may be: "flat", not "linear" (linear would be 10,000x
/// and 500x).
const FLAT: f64 = 1.2;

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
        let (unit, prec) = if a.instr_per_req.is_some() {
            ("instr", 0)
        } else {
            ("us", 1)
        };
        let noisy = match (&a.noise, &b.noise) {
            (Some(m), Some(n)) if !(m.quiet() && n.quiet()) => " [noisy]",
            _ => "",
        };
        c.push(Check {
            target: format!("scale: {} {what} <= {FLAT}x of {}", b.label, a.label),
            measured: format!("{:.2}x ({y:.prec$} vs {x:.prec$} {unit}/req){noisy}", y / x),
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
