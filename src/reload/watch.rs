//! Watching the config file. Its contents are polled every
//! [`POLL_INTERVAL`] rather than watched with inotify: inotify only sees a
//! directory, and then every write to any file beside the config (a log
//! file, say) wakes the watcher, which measurably costs CPU per request.
//! Reading the path also follows replacements that inotify misses: editors
//! renaming a new file over the old one, and Kubernetes swapping the
//! symlinked directory of a ConfigMap. Each poll compares the file's
//! metadata, and reads and hashes its bytes only when that changed (or
//! every [`FULL_READ_EVERY`] polls). A file that cannot be read (deleted,
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
    let mut seen = Seen::read(&path).ok();
    let mut unreadable = false;
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for polls in 1u64.. {
        tick.tick().await;
        let now = match Seen::read_if_changed(&path, seen.as_ref(), polls % FULL_READ_EVERY == 0) {
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
        if seen.as_ref().map(|s| s.digest) == Some(now.digest) {
            seen = Some(now);
            continue;
        }
        let _ = state.reload("file").await;
        // What the reload read (or refused): not retried until it changes.
        seen = Seen::read(&path).ok();
    }
}

/// Polls between two full reads: the file's metadata (size, modification
/// time, inode: a rename over it or a symlink swap changes the inode) is
/// compared each time, its bytes hashed only when that changed, and at
/// least every this many polls for file systems whose times are coarse.
const FULL_READ_EVERY: u64 = 20;

/// What the watcher last saw of the file.
#[derive(Clone, PartialEq)]
struct Seen {
    stamp: Stamp,
    digest: [u8; 32],
}

#[derive(Clone, PartialEq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(path: &Path) -> std::io::Result<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        Ok(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            inode: m.ino(),
        })
    }
}

impl Seen {
    fn read(path: &Path) -> std::io::Result<Seen> {
        Seen::read_with(path, Stamp::of(path)?)
    }

    fn read_with(path: &Path, stamp: Stamp) -> std::io::Result<Seen> {
        use sha2::Digest;
        let bytes = std::fs::read(path)?;
        Ok(Seen {
            stamp,
            digest: sha2::Sha256::digest(&bytes).into(),
        })
    }

    /// The file now: `last` again when its metadata did not change (and no
    /// full read is due), else read and hashed.
    fn read_if_changed(path: &Path, last: Option<&Seen>, full: bool) -> std::io::Result<Seen> {
        let stamp = Stamp::of(path)?;
        match last {
            Some(l) if !full && l.stamp == stamp => Ok(l.clone()),
            _ => Seen::read_with(path, stamp),
        }
    }
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

    #[test]
    fn a_change_of_the_same_length_is_seen_and_an_unchanged_file_is_not_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "aaaa").unwrap();
        let first = Seen::read(&path).unwrap();
        let again = Seen::read_if_changed(&path, Some(&first), false).unwrap();
        assert!(again == first);
        // A rename over the file, of the same length: another inode.
        let other = dir.path().join("d.toml");
        std::fs::write(&other, "bbbb").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let now = Seen::read_if_changed(&path, Some(&first), false).unwrap();
        assert!(now.digest != first.digest);
        let full = Seen::read_if_changed(&path, Some(&now), true).unwrap();
        assert!(
            full == now,
            "a full read of an unchanged file finds the same"
        );
    }
}
