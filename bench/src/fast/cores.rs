//! The two-cores phase (`--only cores`): the throughput load (64
//! connections, non-streaming) at the gateway pinned to one core and at
//! the gateway free to use both, to show that it scales with cores; the
//! lean proxy on one core and, with one runtime per core (`--runtime
//! per-core`), on both, for comparison. nginx and wrk stay on CPU 0, so on
//! two cores the proxy shares CPU 0 with them: the figures say how much a
//! second core gives when the load side already uses it. Wall clock only,
//! with each round's steal and foreign CPU like the other timed phases.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Result;

use super::{load_phase, Ctx, Target};
use crate::phases::PhaseResult;
use crate::procs::Proc;
use crate::setup::Paths;

pub const CORES: &str = "fast_cores_64conn";
/// The gateway free to use both cores.
pub const GATEWAY_2: &str = "gw-2core";
/// The lean proxy, one current-thread runtime per core, on both.
pub const LEAN_2: &str = "lean-2c";

/// Starts `exe args` on both CPUs (the bench pins itself, and a child
/// would inherit that) or, without pinning, wherever the system likes.
fn start_both(
    ctx: &Ctx,
    name: &'static str,
    exe: &Path,
    args: &[String],
    log: &Path,
) -> Result<Proc> {
    match (ctx.pin.proxy_cpu, ctx.pin.load_cpu) {
        (Some(a), Some(b)) => {
            let cpus = format!("{},{}", a.min(b), a.max(b));
            Proc::start_on_cpus(name, exe, args, &cpus, log.to_path_buf())
        }
        _ => Proc::start(name, exe, args, None, log.to_path_buf()),
    }
}

/// `lean` and `gateway` are the run's pinned ones (on the proxies' CPU);
/// the two-core ones are started here from the same binaries and config.
pub(super) fn run(
    ctx: &Ctx,
    lean: Target,
    gateway: Target,
    paths: &Paths,
    config: &Path,
    upstream: SocketAddr,
    rounds: usize,
) -> Result<Vec<PhaseResult>> {
    let out = &paths.out_dir;
    let lean_args = ["--listen", "127.0.0.1:0", "--upstream"]
        .map(String::from)
        .into_iter()
        .chain([upstream.to_string(), "--runtime".into(), "per-core".into()])
        .collect::<Vec<_>>();
    let exe = paths.bin_dir.join("bare-proxy");
    let lean2 = start_both(ctx, LEAN_2, &exe, &lean_args, &out.join("lean-2core.log"))?;
    let gw_args = [
        "serve".to_string(),
        "--config".into(),
        config.display().to_string(),
    ];
    let log = out.join("gateway-2core.log");
    let gw2 = start_both(ctx, "gateway", &paths.gateway, &gw_args, &log)?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let mut c = ctx.clone();
    c.pids.extend([lean2.pid, gw2.pid]);
    c.logs.push(&gw2);
    let two = |name, p: &Proc| Target {
        name,
        addr: p.addr,
        pid: p.pid,
        gateway: name == GATEWAY_2,
    };
    let targets = [lean, two(LEAN_2, &lean2), gateway, two(GATEWAY_2, &gw2)];
    load_phase(&c, CORES, &targets, 64, false, rounds)
}
