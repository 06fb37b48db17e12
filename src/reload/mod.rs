//! Live config reload: on a change of the file ([`watch`]), on SIGHUP, and
//! on `POST /admin/reload`.
//!
//! The file is read until it holds still: two reads `reload.debounce`
//! apart must be the same bytes, so a writer that pauses mid-file is not
//! loaded half-written. It is validated next (a file with no users or no
//! models is invalid), and a config that would remove every user or every
//! model of the running one is refused unless it says
//! `reload.allow_replace_all = true`. On an error the running config keeps
//! serving and the errors (each with its TOML path) are logged and
//! returned. A valid one is swapped in atomically ([`AppState::install`]):
//! requests already running finish on the old config, new ones get the new
//! one, and health state and rate-limit counters of unchanged backends and
//! users carry over. Settings read only at start (listen addresses, the
//! state store, the usage ledger's store) log a warning that a restart is
//! needed.

mod watch;

pub use watch::{watch, POLL_INTERVAL};

use std::path::Path;
use std::time::Duration;

use crate::config::{self, Config, ConfigError, ConfigErrors};
use crate::state::AppState;
use crate::telemetry::metrics::ResultLabels;

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("this gateway was not started from a config file")]
    NoFile,
    #[error("{} error(s) in the new config; the old one keeps serving", .0.0.len())]
    Invalid(ConfigErrors),
}

/// Reads of a file that keeps changing before a reload gives up on it.
const MAX_READS: u32 = 20;

impl AppState {
    /// Reads, validates and installs the config file. `source` says what
    /// asked (`file`, `sighup`, `admin`) for the log.
    pub async fn reload(&self, source: &'static str) -> Result<(), ReloadError> {
        let Some(path) = self.config_path() else {
            return Err(ReloadError::NoFile);
        };
        let _one_at_a_time = self.reloading().lock().await;
        let quiet = self.snapshot().config.reload.debounce;
        let result = settled(&path, quiet)
            .await
            .and_then(|text| config::parse(&text, &|k| std::env::var(k).ok()))
            .and_then(|new| self.swap(new));
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.metrics()
            .config_reloads
            .get_or_create(&ResultLabels { result: outcome })
            .inc();
        match result {
            Ok(()) => {
                tracing::info!(target: "switchyard::reload", source, path = %path.display(),
                    "config reloaded");
                Ok(())
            }
            Err(errors) => {
                for e in &errors.0 {
                    tracing::error!(target: "switchyard::reload", source, path = %e.path,
                        "config reload rejected: {}", e.message);
                }
                Err(ReloadError::Invalid(errors))
            }
        }
    }

    fn swap(&self, mut new: Config) -> Result<(), ConfigErrors> {
        let old = self.snapshot().config.clone();
        if !new.reload.allow_replace_all {
            keeps_some_of(&old, &new)?;
        }
        warn_restart_needed(&old, &new);
        // The store connections, the ledger's writer and the watcher were
        // set up at start: keep their settings, so the snapshot says what
        // is running (key names, policies, where rows go).
        new.state = old.state.clone();
        new.reload = config::ReloadConfig {
            allow_replace_all: new.reload.allow_replace_all,
            ..old.reload
        };
        new.usage.store = old.usage.store.clone();
        new.usage.retention = old.usage.retention;
        new.usage.max_pending_rows = old.usage.max_pending_rows;
        self.install(new)
            .map_err(|message| ConfigErrors(vec![error("(config)", message)]))
    }
}

fn error(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        message: message.into(),
    }
}

/// The file's text, once two reads `quiet` apart agree.
async fn settled(path: &Path, quiet: Duration) -> Result<String, ConfigErrors> {
    let read = || {
        std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors(vec![error(path.display().to_string(), e.to_string())]))
    };
    let mut text = read()?;
    for _ in 0..MAX_READS {
        tokio::time::sleep(quiet).await;
        let again = read()?;
        if again == text {
            return Ok(text);
        }
        text = again;
    }
    let message = format!(
        "the file was still changing after {MAX_READS} reads {quiet:?} apart; write it to a \
         temporary file and rename that over it (docs/operations.md)"
    );
    Err(ConfigErrors(vec![error(
        path.display().to_string(),
        message,
    )]))
}

/// A config that shares no user, or no model, with the running one is what
/// a wrong file (another deployment's, a template) looks like: refused
/// unless the new file says that is meant.
fn keeps_some_of(old: &Config, new: &Config) -> Result<(), ConfigErrors> {
    let mut found = Vec::new();
    if !old.users.is_empty() && !old.users.keys().any(|id| new.users.contains_key(id)) {
        found.push(replaced("users", "user", old.users.keys()));
    }
    if !old.models.is_empty() && !old.models.keys().any(|m| new.models.contains_key(m)) {
        found.push(replaced("models", "model", old.models.keys()));
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(found))
    }
}

fn replaced<'a>(path: &str, what: &str, old: impl Iterator<Item = &'a String>) -> ConfigError {
    let names: Vec<&str> = old.take(5).map(String::as_str).collect();
    error(
        path,
        format!(
            "this reload would remove every {what} of the running config ({}{}); if that is \
             meant, set `allow_replace_all = true` under [reload] in the new file",
            names.join(", "),
            if names.len() == 5 { ", ..." } else { "" }
        ),
    )
}

/// Settings a running process cannot change.
fn warn_restart_needed(old: &Config, new: &Config) {
    let (o, n) = (&old.reload, &new.reload);
    let (oc, nc) = (&old.server.connections, &new.server.connections);
    let (u, v) = (&old.usage, &new.usage);
    let fixed = [
        ("server.listen", old.server.listen != new.server.listen),
        (
            "server.header_timeout, keep_alive_timeout, send_timeout, max_connections",
            (oc.header, oc.keep_alive, oc.send, oc.max_connections)
                != (nc.header, nc.keep_alive, nc.send, nc.max_connections),
        ),
        ("metrics.listen", old.metrics.listen != new.metrics.listen),
        ("state", old.state != new.state),
        ("reload", o.watch != n.watch || o.debounce != n.debounce),
        ("usage.store", u.store != v.store),
        ("usage.retention", u.retention != v.retention),
        (
            "usage.max_pending_rows",
            u.max_pending_rows != v.max_pending_rows,
        ),
    ];
    for (key, changed) in fixed {
        if changed {
            tracing::warn!(target: "switchyard::reload", key,
                "[{key}] changed: this takes effect only after a restart; the rest of the new config is live");
        }
    }
}
