//! `mock-upstream`: the mock as a standalone process, for benchmarks.
//!
//! ```text
//! mock-upstream --listen 127.0.0.1:0 --chunks 64 --chunk-delay 0ms
//! ```
//!
//! Prints `listening on http://ADDR` once bound, then serves until SIGINT or
//! SIGTERM. Requests are never recorded, so memory stays flat under load.

use std::process::ExitCode;

use mock_upstream::{parse_duration, Fault, MockConfig, MockServer};

const USAGE: &str = "usage: mock-upstream [--listen ADDR] [--chunks N] [--chunk-delay DURATION] [--name NAME] [--fault SPEC]";

struct Args {
    listen: String,
    config: MockConfig,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen = "127.0.0.1:0".to_string();
    let mut config = MockConfig::new("mock");
    config.record = false;
    let mut fault = Fault::default();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--listen" => listen = value,
            "--name" => config.name = value,
            "--chunks" => {
                let n = value.parse().map_err(|e| format!("--chunks: {e}"))?;
                config.chunks = Some(n);
            }
            "--chunk-delay" => fault.chunk_delay = parse_duration(&value)?,
            // The `x-mock-fault` syntax, e.g. `close_after=2`; before --chunk-delay.
            "--fault" => fault = Fault::parse(&value)?,
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    config.fault = fault;
    Ok(Args { listen, config })
}

async fn run(args: Args) -> std::io::Result<()> {
    let server = MockServer::bind(&args.listen, args.config).await?;
    // The benchmark reads this line to learn the port.
    println!("listening on {}", server.url());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime.and_then(|rt| rt.block_on(run(args))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-upstream: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse_args(s.split_whitespace().map(str::to_string))
    }

    #[test]
    fn parses_flags() {
        let a = args("--listen 127.0.0.1:9 --chunks 64 --chunk-delay 2ms").unwrap();
        assert_eq!(a.listen, "127.0.0.1:9");
        assert_eq!(a.config.chunks, Some(64));
        assert!(!a.config.record);
        assert_eq!(a.config.fault.chunk_delay.as_millis(), 2);
        assert!(args("--chunks").is_err());
        assert!(args("--bogus 1").is_err());
    }
}
