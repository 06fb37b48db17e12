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
    let mut spec = String::with_capacity(pushes.len() * 48);
    for p in pushes {
        let s = p.scope;
        for ((w, key), taken) in s.windows.iter().zip(&s.keys).zip(&p.taken) {
            inv.key(key.as_str());
            put(&mut spec, w.limit, w.period.as_millis() as u64, *taken);
        }
        if let Some(key) = &s.held_key {
            inv.key(key.as_str());
            put(&mut spec, 0, 0, p.held.min(i64::MAX as u64) as i64);
        }
    }
    inv.arg(spec);
    inv
}

/// Appends one key's three integers to the packed spec.
fn put(spec: &mut String, n: u64, p: u64, amount: i64) {
    let mut b = itoa::Buffer::new();
    spec.push_str(b.format(n));
    spec.push(' ');
    spec.push_str(b.format(p));
    spec.push(' ');
    spec.push_str(b.format(amount));
    spec.push(' ');
}

/// Splits the script's reply (one integer per key) into one view per push.
fn views(pushes: &[Push<'_>], reply: &str) -> Option<Vec<Pulled>> {
    let mut values = reply
        .split_ascii_whitespace()
        .map(|v| v.parse::<i64>().ok());
    let mut next = || values.next().flatten().map(|v| v.max(0));
    let mut out = Vec::with_capacity(pushes.len());
    for p in pushes {
        let s = p.scope;
        let used = (0..s.windows.len())
            .map(|_| next().map(|u| u as u128))
            .collect::<Option<Vec<_>>>()?;
        let elsewhere = match s.held_key {
            Some(_) => next()? as u64,
            None => 0,
        };
        out.push(Pulled { used, elsewhere });
    }
    next().is_none().then_some(out)
}

impl Reconcile for Shared {
    fn reconcile<'a>(&'a self, pushes: &'a [Push<'a>]) -> BoxFuture<'a, Result<Vec<Pulled>, ()>> {
        Box::pin(async move {
            let inv = invocation(self, pushes);
            let mut conn = self.conn();
            let reply: String = self
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
