//! The `switchyard` binary: parses the command line and hands off to the library.

mod cli;

/// mimalloc instead of glibc malloc: allocation was ~14% of the gateway's
/// CPU under load in perf. `no_thp` keeps transparent huge pages off its
/// arenas, which otherwise put idle memory at 15.5 MiB instead of 8.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Gives memory freed under load back to the system once the gateway is
/// quiet: called as a runtime worker goes idle (tokio's park hook), it
/// collects only when the worker's previous park was a second or more ago,
/// so never under load, where parks come microseconds apart and a forced
/// collection per second measurably slowed 256 concurrent streams. After a
/// burst, the next wake-up (the upstream pool closing idle connections, a
/// probe) finds the worker quiet and returns the memory. mimalloc otherwise
/// gives it back only when the program next calls into it after its purge
/// delay.
pub fn release_idle_memory() {
    use std::cell::Cell;
    use std::time::{Duration, Instant};
    thread_local! {
        static PREVIOUS_PARK: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    let previous = PREVIOUS_PARK.replace(Some(now));
    if previous.is_none_or(|p| now.duration_since(p) >= Duration::from_secs(1)) {
        // SAFETY: mi_collect takes no pointers; it frees and purges this
        // thread's unused pages.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}

fn main() -> std::process::ExitCode {
    cli::main()
}
