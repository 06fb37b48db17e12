//! Synced rate limits in Redis (`state.limits = "synced"`): one script
//! (`synced.lua`) per batch of scopes adds what this instance took and
//! answers what every instance has used. See `crate::limits::synced`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::LazyLock;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::Script;

use super::Shared;
use crate::config::OnError;
use crate::limits::synced::{Pulled, Push, Reconcile};

static SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("window.lua"),
        include_str!("synced.lua")
    ))
});

/// How long an instance's count of held slots outlives its last sync: a
/// few rounds, so a slow round does not drop it, and never under a second.
pub(super) fn slot_lease(interval: Duration) -> Duration {
    (interval * 3).max(Duration::from_secs(1))
}

fn invocation(shared: &Shared, pushes: &[Push<'_>]) -> redis::ScriptInvocation<'static> {
    let mut inv = SCRIPT.prepare_invoke();
    inv.arg(shared.instance.as_str())
        .arg(shared.slot_lease.as_millis() as u64);
    for p in pushes {
        let s = p.scope;
        for ((w, key), taken) in s.windows.iter().zip(&s.keys).zip(&p.taken) {
            inv.key(key.as_str());
            inv.arg("w")
                .arg(w.limit)
                .arg(w.period.as_millis() as u64)
                .arg(*taken);
        }
        if let Some(key) = &s.held_key {
            inv.key(key.as_str());
            inv.arg("c").arg(0).arg(0).arg(p.held);
        }
    }
    inv
}

/// Splits the script's reply back into one view per push.
fn views(pushes: &[Push<'_>], reply: &[i64]) -> Option<Vec<Pulled>> {
    let mut at = 0;
    let mut out = Vec::with_capacity(pushes.len());
    for p in pushes {
        let windows = p.scope.windows.len();
        let used = reply.get(at..at + windows)?;
        at += windows;
        let elsewhere = match p.scope.held_key {
            Some(_) => {
                at += 1;
                *reply.get(at - 1)?
            }
            None => 0,
        };
        out.push(Pulled {
            used: used.iter().map(|&u| u.max(0) as u128).collect(),
            elsewhere: elsewhere.max(0) as u64,
        });
    }
    (at == reply.len()).then_some(out)
}

impl Reconcile for Shared {
    fn reconcile<'a>(&'a self, pushes: &'a [Push<'a>]) -> BoxFuture<'a, Result<Vec<Pulled>, ()>> {
        Box::pin(async move {
            let inv = invocation(self, pushes);
            let mut conn = self.conn();
            let reply: Vec<i64> = self
                .call("sync limits", inv.invoke_async(&mut conn))
                .await
                .map_err(|_| ())?;
            views(pushes, &reply).ok_or(())
        })
    }

    fn on_error(&self) -> OnError {
        self.on_error
    }

    fn failing(&self) -> bool {
        self.failing.load(Relaxed)
    }
}
