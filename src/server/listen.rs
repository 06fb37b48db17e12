//! The accept loop: at most `server.max_connections` connections at once
//! (more wait in the listen backlog, logged once per incident), each served
//! by [`conn::serve`]; and the connections still open when it stops.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::{Id, JoinError, JoinSet};

use super::conn::{self, Conn, Serving};

/// How long to wait after an accept error (out of descriptors, say) before
/// accepting again, so the loop does not spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The connections being served: their tasks, and how to wake each.
#[derive(Default)]
pub(super) struct Open {
    tasks: JoinSet<()>,
    conns: HashMap<Id, Arc<Conn>>,
}

impl Open {
    pub(super) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Drops what is kept of an ended connection (its task ended or panicked).
    fn forget(&mut self, ended: Result<(Id, ()), JoinError>) {
        let id = ended.map_or_else(|e| e.id(), |(id, ())| id);
        self.conns.remove(&id);
    }

    /// Wakes every connection, to look at the shutdown phase.
    pub(super) fn wake_all(&self) {
        for conn in self.conns.values() {
            conn.wake();
        }
    }

    /// Waits, at most `limit`, until every connection has closed; whether they all did.
    pub(super) async fn closed_within(&mut self, limit: Duration) -> bool {
        let all = async {
            while let Some(done) = self.tasks.join_next_with_id().await {
                self.forget(done);
            }
        };
        tokio::time::timeout(limit, all).await.is_ok()
    }
}

/// Accepts connections until `stop` resolves; returns those still open
/// (dropping them closes them). Ended connections are reaped as they end,
/// so their tasks' memory goes back at once.
pub(super) async fn accept_until(
    listener: TcpListener,
    serving: Serving,
    stop: impl Future<Output = ()>,
) -> Open {
    let max = serving.limits.max_connections;
    let mut open = Open::default();
    let mut stop = std::pin::pin!(stop);
    let (mut full, mut failing) = (false, false);
    loop {
        let at_limit = open.len() >= max;
        if at_limit != full {
            full = at_limit;
            if full {
                tracing::warn!(target: "switchyard::server", max_connections = max,
                    "connection limit reached: new connections wait in the listen backlog until one closes (server.max_connections)");
            } else {
                tracing::info!(target: "switchyard::server", open = open.len(),
                    "below the connection limit again: accepting");
            }
        }
        let accepted = tokio::select! {
            biased;
            _ = stop.as_mut() => return open,
            Some(done) = open.tasks.join_next_with_id(), if !open.tasks.is_empty() => {
                open.forget(done);
                continue;
            }
            accepted = listener.accept(), if !full => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(target: "switchyard::server", error = %e,
                        "cannot accept connections (out of file descriptors? see server.max_connections)");
                }
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        failing = false;
        let _ = stream.set_nodelay(true);
        let conn = Conn::new();
        let task = open
            .tasks
            .spawn(conn::serve(stream, conn.clone(), serving.clone()));
        open.conns.insert(task.id(), conn);
    }
}
