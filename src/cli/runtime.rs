//! The async runtime every command runs on, and how a server is run on it.
//!
//! With one worker a multi-threaded runtime has nothing to balance, and on
//! the benchmark's one core it cost more than a current-thread one: the
//! same requests made the kernel send the loader's core 0.26-0.43
//! wake-up interrupts a request instead of 0.15-0.18 (the gateway's writes
//! to its peers come less bunched), ~3 us of kernel time a request
//! (docs/benchmarks.md, fifth round). So a
//! process allowed one CPU (affinity, cgroup quota, or
//! `TOKIO_WORKER_THREADS=1`) gets a current-thread runtime; more CPUs get
//! the multi-threaded one with a worker each.

use std::future::Future;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use switchyard::telemetry;

/// Which scheduler a runtime of `workers` threads gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

fn flavor(workers: usize) -> Flavor {
    if workers <= 1 {
        Flavor::CurrentThread
    } else {
        Flavor::MultiThread
    }
}

/// The variable tokio's multi-threaded runtime reads its worker count from.
const WORKERS_VAR: &str = "TOKIO_WORKER_THREADS";

/// The worker count tokio's multi-threaded runtime would pick: its
/// `TOKIO_WORKER_THREADS`, else the CPUs this process may use. tokio
/// panics on a value that is not a whole number above 0; it is refused
/// here first, by name.
fn workers(env: Option<&str>, cpus: Option<usize>) -> Result<usize> {
    match env {
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("{WORKERS_VAR} must be a whole number above 0, not {v:?}"),
        },
        None => Ok(cpus.unwrap_or(1)),
    }
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    // Not UTF-8 cannot be a number: refused like any other text.
    let env = std::env::var_os(WORKERS_VAR).map(|v| v.to_string_lossy().into_owned());
    let cpus = std::thread::available_parallelism().ok().map(|n| n.get());
    let mut builder = match flavor(workers(env.as_deref(), cpus)?) {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
    };
    builder
        .enable_all()
        // Workers batch their log lines and write them when they go idle.
        .on_thread_park(|| {
            telemetry::writer::flush_worker();
            crate::release_idle_memory();
        })
        .on_thread_stop(telemetry::writer::flush_worker)
        .build()
        .context("starting the async runtime")
}

/// Runs a server as a task of the runtime rather than in `block_on`
/// itself: on a multi-threaded runtime the accept loop then allocates on
/// the same thread as the connections, so the workers' idle purge reaches
/// all of its memory (the main thread, parked in `block_on`, never purges
/// its own cache).
pub(super) fn on_worker<F>(server: F) -> Result<ExitCode>
where
    F: Future<Output = Result<ExitCode>> + Send + 'static,
{
    let rt = runtime()?;
    let ended = rt.block_on(async { tokio::spawn(server).await });
    // A current-thread runtime's worker is this thread: the lines it
    // gathered since it last parked (the shutdown's among them).
    telemetry::writer::flush_worker();
    ended.context("the server task failed")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cpu_gets_the_current_thread_scheduler() {
        let flavor_of = |env, cpus| flavor(workers(env, cpus).unwrap());
        assert_eq!(flavor_of(None, Some(1)), Flavor::CurrentThread);
        assert_eq!(flavor_of(None, Some(2)), Flavor::MultiThread);
        assert_eq!(flavor_of(None, None), Flavor::CurrentThread);
    }

    #[test]
    fn tokio_worker_threads_decides_and_a_bad_value_is_refused_by_name() {
        assert_eq!(workers(Some("1"), Some(8)).unwrap(), 1);
        assert_eq!(workers(Some("4"), Some(1)).unwrap(), 4);
        for bad in ["0", "many", " 4", ""] {
            let e = workers(Some(bad), Some(2)).unwrap_err().to_string();
            assert!(
                e.contains("TOKIO_WORKER_THREADS") && e.contains(&format!("{bad:?}")),
                "{e}"
            );
        }
    }
}
