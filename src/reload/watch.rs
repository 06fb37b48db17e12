//! Watching the config file. Its contents are polled every
//! [`POLL_INTERVAL`] rather than watched with inotify: inotify only sees a
//! directory, and then every write to any file beside the config (a log
//! file, say) wakes the watcher, which measurably costs CPU per request.
//! Reading the path also follows replacements that inotify misses: editors
//! renaming a new file over the old one, and Kubernetes swapping the
//! symlinked directory of a ConfigMap. A file that cannot be read (deleted,
//! say) is logged once until it can be read again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::state::AppState;

/// How often the watcher reads the config file.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Reloads when the file changes, under the gateway's tasks (it stops with
/// them). The reload itself waits until the file holds still.
pub fn watch(state: AppState, path: PathBuf) {
    let tasks = state.tasks().clone();
    tasks.spawn("config watcher", poll(state, path));
}

async fn poll(state: AppState, path: PathBuf) {
    let mut seen = digest(&path).ok();
    let mut unreadable = false;
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = match digest(&path) {
            Ok(now) => now,
            Err(e) => {
                if !unreadable {
                    tracing::warn!(target: "switchyard::reload", path = %path.display(), error = %e,
                        "cannot read the config file; the running config keeps serving");
                }
                unreadable = true;
                continue;
            }
        };
        if std::mem::take(&mut unreadable) {
            tracing::info!(target: "switchyard::reload", path = %path.display(),
                "the config file can be read again");
        }
        if seen == Some(now) {
            continue;
        }
        let _ = state.reload("file").await;
        // What the reload read (or refused): not retried until it changes.
        seen = digest(&path).ok();
    }
}

fn digest(path: &Path) -> std::io::Result<[u8; 32]> {
    use sha2::Digest;
    std::fs::read(path).map(|b| sha2::Sha256::digest(&b).into())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const CONFIG: &str = "[providers.p]\nbase_url = \"http://127.0.0.1:9\"\n[health.probe]\nkind = \"none\"\n[models.m]\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"x\"\n[users.u]\ntoken = \"t\"\n";

    /// A deleted file is one warning, however many polls see it missing,
    /// and one line when it is back.
    #[tokio::test(start_paused = true)]
    async fn a_missing_file_is_logged_once_per_incident() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, CONFIG).unwrap();
        let config = crate::config::parse(CONFIG, &|_| None).unwrap();
        let state = AppState::new(config).unwrap();
        state.set_config_path(path.clone());
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        watch(state.clone(), path.clone());
        // The watcher has read the file once before it goes.
        tokio::time::sleep(POLL_INTERVAL).await;
        std::fs::remove_file(&path).unwrap();
        tokio::time::sleep(POLL_INTERVAL * 20).await;
        std::fs::write(&path, CONFIG).unwrap();
        tokio::time::sleep(POLL_INTERVAL * 4).await;
        state.tasks().stop();
        let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            logs.matches("cannot read the config file").count(),
            1,
            "{logs}"
        );
        assert_eq!(logs.matches("can be read again").count(), 1, "{logs}");
        assert!(
            !logs.contains("config reloaded"),
            "the same file again: {logs}"
        );
    }
}
