//! Running the scale phase's points: under callgrind, or timed with wrk.
//! Each point is a fresh gateway; its memory is read without valgrind.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};

use super::callgrind::{self, Under};
use super::counted;
use super::scale::{Point, Row};
use super::{fixtures, nginx, wrk};
use crate::procs::{Pinning, Proc};
use crate::sysstat::status_kib;

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
    points: &[Point],
    env: &callgrind::Env,
    exe: &Path,
    upstream: SocketAddr,
    pin: Pinning,
) -> Result<Vec<callgrind::Row>> {
    println!("\nscale curves (a fresh gateway per point):");
    let mut rows = Vec::new();
    for p in points {
        let config = p.config_path(env.out, "callgrind-scale");
        std::fs::write(&config, callgrind::for_valgrind(p.config(upstream)))?;
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

/// Every point with wrk: a warmup run and one measured run each.
pub(super) fn run_timed(
    points: &[Point],
    ctx: &super::Ctx,
    exe: &Path,
    upstream: SocketAddr,
    out: &Path,
) -> Result<Vec<Row>> {
    println!("\nscale curves (a fresh gateway per point, one round each):");
    let mut rows = Vec::new();
    for p in points {
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
