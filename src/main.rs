//! The `switchyard` binary: parses the command line and hands off to the library.

mod cli;

/// mimalloc instead of glibc malloc: allocation was ~14% of the gateway's
/// CPU under load in perf. `no_thp` keeps transparent huge pages off its
/// arenas, which otherwise put idle memory at 15.5 MiB instead of 8.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
