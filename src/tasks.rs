//! The one owner of the gateway's background tasks: active probes, the
//! reload watcher and SIGHUP handler, the shared-state sync, the metrics
//! listener. Each runs until it ends or the gateway stops: [`Tasks::stop`]
//! cancels every task (a group's and its children's), and
//! [`Tasks::drain`] waits for them to finish.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A group of tasks that stop together; cheap to clone.
#[derive(Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl Tasks {
    /// Runs `work` until it ends or the group stops. Outside a Tokio
    /// runtime (a config check, a unit test) nothing runs.
    pub fn spawn<F>(&self, name: &'static str, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::debug!(task = name, "no runtime: background task not started");
            return;
        }
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => tracing::debug!(task = name, "background task stopped"),
                _ = work => {}
            }
        });
    }

    /// Runs `work` to its end even after the group stops: for a task that
    /// watches [`Tasks::stopped`] itself and must finish its work first (the
    /// usage ledger's writer flushes its queue). [`Tasks::drain`] waits for it.
    pub fn spawn_until_done<F>(&self, name: &'static str, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::debug!(task = name, "no runtime: background task not started");
            return;
        }
        self.tracker.spawn(work);
    }

    /// A group inside this one: stopped with it, or on its own.
    pub fn child(&self) -> Tasks {
        Tasks {
            tracker: self.tracker.clone(),
            cancel: self.cancel.child_token(),
        }
    }

    /// Resolves when the group is stopped: for tasks that end cleanly
    /// (a listener's graceful shutdown) rather than being dropped.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        self.cancel.clone().cancelled_owned()
    }

    pub fn stop(&self) {
        self.cancel.cancel();
    }

    pub fn is_stopped(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Stops every task and waits, at most `limit`, for them to end.
    pub async fn drain(&self, limit: Duration) {
        self.stop();
        self.tracker.close();
        if tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.tracker.len(),
                "background tasks still running at shutdown"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn stopping_a_group_ends_its_tasks_and_its_children() {
        let tasks = Tasks::default();
        let probes = tasks.child();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<&str>(4);
        for (group, name) in [(&tasks, "top"), (&probes, "child")] {
            let tx = tx.clone();
            group.spawn(name, async move {
                let _keep = tx;
                std::future::pending::<()>().await;
            });
        }
        drop(tx);
        probes.stop();
        assert!(probes.is_stopped() && !tasks.is_stopped());
        tasks.drain(Duration::from_secs(1)).await;
        assert!(
            rx.recv().await.is_none(),
            "every task ended and dropped its sender"
        );
    }
}
