//! What `serve` adds for a running gateway: reloads on SIGHUP and on file
//! change, and `hash-token`.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use switchyard::config::{hex, token_digest, ReloadConfig};
use switchyard::state::AppState;

/// Remembers the config path and starts the reload triggers.
pub fn start(state: &AppState, path: &Path, reload: ReloadConfig) {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    state.set_config_path(path.clone());
    spawn_sighup(state.clone());
    if reload.watch {
        tracing::info!(path = %path.display(), "watching the config file for changes");
        switchyard::reload::watch(state.clone(), path);
    }
}

#[cfg(unix)]
fn spawn_sighup(state: AppState) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: reload with POST /admin/reload instead");
        return;
    };
    let tasks = state.tasks().clone();
    tasks.spawn("sighup reload", async move {
        while hup.recv().await.is_some() {
            let _ = state.reload("sighup").await;
        }
    });
}

#[cfg(not(unix))]
fn spawn_sighup(_state: AppState) {}

/// Reads one token from standard input (so it stays out of shell history and
/// `ps`) and prints its SHA-256 in hex.
pub fn hash_token() -> Result<ExitCode> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Paste the token, then press Enter and Ctrl-D:");
    }
    let mut text = String::new();
    stdin
        .lock()
        .read_to_string(&mut text)
        .context("reading the token from standard input")?;
    let token = text.trim_end_matches(['\n', '\r']).trim();
    if token.is_empty() {
        bail!("no token on standard input: e.g. `printf %s \"$TOKEN\" | switchyard hash-token`");
    }
    if token.contains('\n') {
        bail!("standard input holds more than one line; give one token");
    }
    println!("{}", hex(&token_digest(token)));
    Ok(ExitCode::SUCCESS)
}
