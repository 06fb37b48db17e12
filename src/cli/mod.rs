//! Command-line interface: `serve`, `demo`, `check-config`, `init`,
//! `hash-token`, and the operator tools `check`, `monitor`, `bench`,
//! `usage`.

mod files;
mod live;
mod ops;
mod remote;
mod runtime;
mod usage;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use runtime::{on_worker, runtime};
use switchyard::config::{self, Config};
#[cfg(feature = "demo")]
use switchyard::demo::{self, Demo};
use switchyard::state::AppState;
use switchyard::{server, telemetry};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "An OpenAI-compatible LLM gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway with a config file.
    Serve {
        #[arg(long, env = "SWITCHYARD_CONFIG", default_value = "config.toml")]
        config: PathBuf,
    },
    /// Run the gateway with built-in mock backends: no config, no API keys.
    // Kept, hidden, in builds without the mocks so that it can say why it
    // is missing instead of clap's "unrecognized subcommand".
    #[cfg_attr(not(feature = "demo"), command(hide = true))]
    Demo {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
    },
    /// Validate a config file and print a summary, or every error found.
    CheckConfig { path: PathBuf },
    /// Probe every backend of a model with a pinned 1-token request; exit 1 if any is unhealthy.
    Check {
        #[command(flatten)]
        target: remote::Target,
        /// Backend ids (default: every backend the user may pin).
        #[arg(long, num_args = 1..)]
        backends: Vec<String>,
        #[arg(long)]
        streaming: bool,
        #[arg(long)]
        json: bool,
    },
    /// Repeat `check` every interval.
    Monitor {
        #[command(flatten)]
        target: remote::Target,
        #[arg(long, num_args = 1..)]
        backends: Vec<String>,
        /// Seconds between checks.
        #[arg(long, default_value_t = 60.0)]
        interval: f64,
        /// Stop after this many checks.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Latency of every backend over several rounds: success rate, avg/min/max/p50.
    Bench {
        #[command(flatten)]
        target: remote::Target,
        #[arg(long, num_args = 1..)]
        backends: Vec<String>,
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        #[arg(long)]
        streaming: bool,
    },
    /// Spend and tokens from the usage ledger, as a table (admins: every
    /// user; others: their own, with their budgets).
    Usage {
        #[command(flatten)]
        gateway: remote::Gateway,
        #[command(flatten)]
        report: usage::Report,
    },
    /// Read a token from standard input and print its SHA-256, for `token_sha256`.
    HashToken,
    /// Write a commented example config.
    Init {
        #[arg(long, default_value = "config.toml")]
        output: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::CheckConfig { path } => files::check_config(&path),
        Command::Init { output, force } => files::init(&output, force),
        Command::HashToken => live::hash_token(),
        Command::Serve { config } => on_worker(async move { serve(&config).await }),
        Command::Demo { listen } => on_worker(async move { run_demo(&listen).await }),
        Command::Check {
            target,
            backends,
            streaming,
            json,
        } => runtime().and_then(|rt| rt.block_on(ops::check(target, backends, streaming, json))),
        Command::Monitor {
            target,
            backends,
            interval,
            count,
        } => {
            let every = std::time::Duration::from_secs_f64(interval.max(0.0));
            runtime().and_then(|rt| rt.block_on(ops::monitor(target, backends, every, count)))
        }
        Command::Bench {
            target,
            backends,
            rounds,
            streaming,
        } => runtime()
            .and_then(|rt| rt.block_on(ops::bench(target, backends, rounds.max(1), streaming))),
        Command::Usage { gateway, report } => {
            runtime().and_then(|rt| rt.block_on(usage::usage(gateway, report)))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(path: &Path) -> Result<ExitCode> {
    telemetry::init_logging();
    if !path.exists() {
        let demo = if cfg!(feature = "demo") {
            "\n  Try the gateway with built-in mock backends: switchyard demo"
        } else {
            ""
        };
        bail!(
            "no config file at {}.{demo}\n  Write an example config to edit:              switchyard init",
            path.display()
        );
    }
    let config = match config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{} has errors:\n{errors}", path.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let listener = bind(&config.server.listen).await?;
    println!("Switchyard listening on http://{}", listener.local_addr()?);
    run(listener, config, Some(path)).await
}

async fn bind(addr: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (is another process using that port? set [server].listen or pass another address)")
    })
}

/// Serves `config`; with the file it came from, reloads it on SIGHUP and,
/// with `[reload] watch`, when it changes.
async fn run(listener: TcpListener, config: Config, path: Option<&Path>) -> Result<ExitCode> {
    report_proxy_variables();
    let metrics_listen = config.metrics.listen.clone();
    let reload = config.reload;
    let state = AppState::new(config).map_err(anyhow::Error::msg)?;
    if let Some(addr) = metrics_listen {
        let metrics_listener = bind(&addr).await?;
        println!(
            "Metrics on http://{}/metrics",
            metrics_listener.local_addr()?
        );
        // Owned by the gateway's tasks: it closes when the server stops.
        let metrics = server::serve_metrics(metrics_listener, state.clone());
        state.tasks().spawn("metrics listener", metrics);
    }
    if let Some(path) = path {
        live::start(&state, path, reload);
    }
    server::serve(listener, state, shutdown_signal())
        .await
        .context("serving")?;
    Ok(ExitCode::SUCCESS)
}

/// Says which proxy variables upstream connections follow: the names only,
/// since a proxy URL can carry credentials.
fn report_proxy_variables() {
    let set: Vec<&str> = switchyard::upstream::PROXY_VARIABLES
        .into_iter()
        .filter(|n| std::env::var_os(n).is_some())
        .collect();
    if !set.is_empty() {
        tracing::info!(
            variables = set.join(","),
            "upstream connections go through the proxy these variables name (NO_PROXY honoured)"
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received");
}

#[cfg(not(feature = "demo"))]
async fn run_demo(_listen: &str) -> Result<ExitCode> {
    bail!("this build of switchyard has no demo (the `demo` cargo feature, on by default, was left out); run `switchyard serve` with a config, or rebuild with `--features demo`")
}

#[cfg(feature = "demo")]
async fn run_demo(listen: &str) -> Result<ExitCode> {
    telemetry::init_logging();
    let listener = bind(listen).await?;
    let addr = listener.local_addr()?;
    let demo = Demo::start(&addr.to_string()).await?;
    print_banner(&addr.to_string(), &demo);
    run(listener, demo.config.clone(), None).await
}

#[cfg(feature = "demo")]
fn print_banner(addr: &str, demo: &Demo) {
    let backends: Vec<&str> = demo.mocks.iter().map(|(n, _)| *n).collect();
    let url = format!("http://{addr}");
    println!("Switchyard DEMO: mock backends, no API keys, nothing leaves this machine.");
    println!("  models:   gpt-4o, gpt-4o-mini, text-embedding-3-small (embeddings)");
    println!(
        "  backends: {} (problematic_backend always answers HTTP 500, broken_stream breaks its streams)",
        backends.join(", ")
    );
    println!("  token:    {}", demo::TOKEN);
    println!("Try:");
    println!(
        "  curl -s {url}/v1/models -H 'Authorization: Bearer {}'",
        demo::TOKEN
    );
    println!(
        "  curl -s {url}/v1/chat/completions -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \\\n    -d '{{\"model\": \"gpt-4o\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}], \"backend\": \"anthropic_claude\"}}'",
        demo::TOKEN
    );
    println!("  python3 examples/backend_health_checker.py --url {url} check");
    println!("Switchyard listening on {url}");
}
