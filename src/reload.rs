//! Live config reload: on a change of the file (polled with `notify`, with
//! a debounce), on SIGHUP, and on `POST /admin/reload`.
//!
//! The new file is validated first; if it has errors the running config
//! keeps serving and the errors (each with its TOML path) are logged and
//! returned. A valid one is swapped in atomically ([`AppState::install`]):
//! requests already running finish on the old config, new ones get the new
//! one, and health state and rate-limit counters of unchanged backends and
//! users carry over. Settings read only at start (listen addresses, the
//! state store, the usage ledger's store) log a warning that a restart is
//! needed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{PollWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

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

impl AppState {
    /// Reads, validates and installs the config file. `source` says what
    /// asked (`file`, `sighup`, `admin`) for the log.
    pub async fn reload(&self, source: &'static str) -> Result<(), ReloadError> {
        let Some(path) = self.config_path() else {
            return Err(ReloadError::NoFile);
        };
        let _one_at_a_time = self.reloading().lock().await;
        let result = match config::load(&path) {
            Ok(new) => self.swap(new),
            Err(errors) => Err(errors),
        };
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
        warn_restart_needed(&old, &new);
        // The store connections, the ledger's writer and the watcher were
        // set up at start: keep their settings, so the snapshot says what
        // is running (key names, policies, where rows go).
        new.state = old.state.clone();
        new.reload = old.reload;
        new.usage.store = old.usage.store.clone();
        new.usage.retention = old.usage.retention;
        new.usage.max_pending_rows = old.usage.max_pending_rows;
        self.install(new).map_err(|message| {
            ConfigErrors(vec![ConfigError {
                path: "(config)".into(),
                message,
            }])
        })
    }
}

/// Settings a running process cannot change.
fn warn_restart_needed(old: &Config, new: &Config) {
    let (u, v) = (&old.usage, &new.usage);
    let fixed = [
        ("server.listen", old.server.listen != new.server.listen),
        ("metrics.listen", old.metrics.listen != new.metrics.listen),
        ("state", old.state != new.state),
        ("reload", old.reload != new.reload),
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

/// How often the watcher looks at the config file.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Watches the config file and reloads once it has been quiet for
/// `debounce`. The file is polled (read every [`POLL_INTERVAL`]) rather
/// than watched with inotify: inotify only sees a directory, and then every
/// write to any file beside the config (a log file, say) wakes the watcher,
/// which measurably costs CPU per request. Polling the path also follows
/// replacements that inotify misses: editors renaming a new file over the
/// old one, and Kubernetes swapping the symlinked directory of a ConfigMap.
/// The watcher stops when the returned handle is dropped.
pub fn watch(state: AppState, path: PathBuf, debounce: Duration) -> notify::Result<PollWatcher> {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = move |event: notify::Result<notify::Event>| {
        if matches!(event, Ok(ref e) if !e.kind.is_access()) {
            let _ = tx.send(());
        }
    };
    let config = notify::Config::default()
        .with_poll_interval(POLL_INTERVAL)
        // mtimes are compared in whole seconds: two saves within one
        // second would look unchanged without comparing the (small) contents.
        .with_compare_contents(true)
        .with_follow_symlinks(true);
    let mut watcher = PollWatcher::new(handler, config)?;
    watcher.watch(&path, RecursiveMode::NonRecursive)?;
    let tasks = state.tasks().clone();
    tasks.spawn("config watcher", debounced(state, path, debounce, rx));
    Ok(watcher)
}

async fn debounced(
    state: AppState,
    path: PathBuf,
    quiet: Duration,
    mut rx: mpsc::UnboundedReceiver<()>,
) {
    let mut last = contents(&path);
    while rx.recv().await.is_some() {
        // Wait until no event came for `quiet`: a save is often several writes.
        while let Ok(Some(())) = tokio::time::timeout(quiet, rx.recv()).await {}
        let now = contents(&path);
        if now.is_none() || now == last {
            continue;
        }
        last = now;
        let _ = state.reload("file").await;
    }
}

fn contents(path: &Path) -> Option<[u8; 32]> {
    use sha2::Digest;
    std::fs::read(path)
        .ok()
        .map(|b| sha2::Sha256::digest(&b).into())
}
