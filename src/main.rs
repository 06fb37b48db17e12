//! The `switchyard` binary: parses the command line and hands off to the library.

mod cli;

/// jemalloc instead of glibc malloc: allocation was ~14% of the gateway's
/// CPU under load in perf with glibc. jemalloc rather than mimalloc because
/// of what stays resident after a burst: the few blocks that outlive it (a
/// metrics series, a timer, a grown table) each pin the allocator page they
/// landed in, and mimalloc's pages are 64 KiB where jemalloc's small-object
/// slabs are a few 4 KiB pages. Measured after 256 streams and 64
/// connections, once the upstream pool drained: mimalloc +1.2 to +1.4 MiB
/// over idle, jemalloc +0.7 MiB (see docs/benchmarks.md).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Gives memory freed under load back to the system once the gateway is
/// quiet: called as a runtime worker goes idle (tokio's park hook), it
/// acts only when the worker's previous park was a second or more ago, so
/// never under load, where parks come microseconds apart. After a burst, the
/// next wake-up (the upstream pool closing idle connections, a probe) finds
/// the worker quiet and returns the memory. Without it jemalloc returns
/// freed pages only as later allocations pass its decay time, which an idle
/// gateway never makes, and each thread's cache keeps its freed blocks.
pub fn release_idle_memory() {
    use std::cell::Cell;
    use std::time::{Duration, Instant};
    thread_local! {
        static PREVIOUS_PARK: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    let previous = PREVIOUS_PARK.replace(Some(now));
    if previous.is_none_or(|p| now.duration_since(p) >= Duration::from_secs(1)) {
        // This thread's cached blocks back to their slabs, then every
        // arena's unused pages back to the system (4096 is jemalloc's
        // MALLCTL_ARENAS_ALL). Failures only mean memory stays resident.
        mallctl_run(c"thread.tcache.flush");
        mallctl_run(c"arena.4096.purge");
    }
}

/// Runs a jemalloc control that takes and returns nothing.
// The one place unsafe is allowed: jemalloc's control interface is C.
#[allow(unsafe_code)]
fn mallctl_run(name: &std::ffi::CStr) {
    use std::ptr::null_mut;
    // SAFETY: `name` is NUL-terminated; the controls used here read and
    // write no value, so all four pointers are null and the length is 0.
    unsafe { tikv_jemalloc_sys::mallctl(name.as_ptr(), null_mut(), null_mut(), null_mut(), 0) };
}

fn main() -> std::process::ExitCode {
    cli::main()
}
