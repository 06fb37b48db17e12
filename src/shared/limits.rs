//! Exact rate limits in Redis (`state.limits = "exact"`): one Lua script (`limits.lua`) checks and takes from
//! every window of a request atomically, so the limit holds exactly however
//! many instances share it.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::Script;

use super::finishes::Finish;
use super::{Shared, StoreError};
use crate::config::Kind;
use crate::config::OnError;
use crate::limits::gcra::Status;
use crate::limits::{Limited, Refusal, Scope, Store, StoreCall, Verdict};

pub(super) static SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("window.lua"),
        include_str!("limits.lua")
    ))
});

/// How long a concurrency slot is held if its instance never frees it (it
/// died): longer than any request should run.
const LEASE: Duration = Duration::from_secs(15 * 60);

/// One key of a scope: a window, or the scope's concurrency set.
enum Part<'a> {
    Window(&'a crate::config::Window),
    Concurrency(u64),
}

fn parts(scope: &Scope) -> impl Iterator<Item = Part<'_>> {
    let windows = scope.windows.iter().map(Part::Window);
    windows.chain(scope.max_concurrent.map(Part::Concurrency))
}

pub(super) fn invocation(
    scopes: &[Arc<Scope>],
    mode: &str,
    amount: i64,
    lease: &str,
) -> redis::ScriptInvocation<'static> {
    let mut inv = SCRIPT.prepare_invoke();
    inv.arg(mode)
        .arg(amount)
        .arg(lease)
        .arg(LEASE.as_millis() as u64);
    let mut spec = String::with_capacity(32 * scopes.len());
    let mut b = itoa::Buffer::new();
    for s in scopes {
        // `Scope::keys` has one key per part, in the same order.
        for (part, key) in parts(s).zip(&s.keys) {
            inv.key(key.as_str());
            let (kind, n, p) = match part {
                Part::Window(w) => {
                    let kind = if w.kind == Kind::Requests { "r " } else { "t " };
                    (kind, w.limit, w.period.as_millis() as u64)
                }
                Part::Concurrency(max) => ("c ", max, 0),
            };
            spec.push_str(kind);
            spec.push_str(b.format(n));
            spec.push(' ');
            spec.push_str(b.format(p));
            spec.push(' ');
        }
    }
    inv.arg(spec);
    inv
}

/// The script's reply: a string of integers.
fn integers(reply: &str) -> Result<Vec<i64>, StoreError> {
    reply
        .split_ascii_whitespace()
        .map(|v| v.parse().map_err(|_| StoreError::Reply("not an integer")))
        .collect()
}

impl Store for Shared {
    fn admit<'a>(&'a self, scopes: &'a [Arc<Scope>], tokens: u64, lease: &'a str) -> StoreCall<'a> {
        Box::pin(async move { self.admit(scopes, tokens, lease).await.map_err(|_| ()) })
    }

    fn peek<'a>(&'a self, scopes: &'a [Arc<Scope>]) -> StoreCall<'a> {
        Box::pin(async move { self.peek(scopes).await.map_err(|_| ()) })
    }

    fn finish(self: Arc<Self>, scopes: Vec<Arc<Scope>>, lease: String, delta: Option<i64>) {
        Shared::finish(&self, scopes, lease, delta);
    }

    fn on_error(&self) -> OnError {
        self.on_error
    }
}

impl Shared {
    pub async fn admit(
        &self,
        scopes: &[Arc<Scope>],
        tokens: u64,
        lease: &str,
    ) -> Result<Verdict, StoreError> {
        let inv = invocation(scopes, "admit", tokens.min(i64::MAX as u64) as i64, lease);
        let mut conn = self.conn();
        let reply: String = self.call("admit", inv.invoke_async(&mut conn)).await?;
        verdict(scopes, &integers(&reply)?)
    }

    pub async fn peek(&self, scopes: &[Arc<Scope>]) -> Result<Verdict, StoreError> {
        let inv = invocation(scopes, "peek", 0, "");
        let mut conn = self.conn();
        let reply: String = self.call("peek", inv.invoke_async(&mut conn)).await?;
        verdict(scopes, &integers(&reply)?)
    }

    /// Frees the lease and corrects the token windows, beside the request
    /// (batched with other finishes: `finishes`): the response is already
    /// over, and a failure only costs precision.
    pub fn finish(self: &Arc<Self>, scopes: Vec<Arc<Scope>>, lease: String, delta: Option<i64>) {
        let needs_call = delta.is_some() || scopes.iter().any(|s| s.max_concurrent.is_some());
        if !needs_call {
            return;
        }
        let delta = delta.unwrap_or(0);
        let f = Finish {
            scopes,
            lease,
            delta,
        };
        self.finishes.send(self, f);
    }
}

/// Reads the script's reply back into window statuses and a refusal.
fn verdict(scopes: &[Arc<Scope>], reply: &[i64]) -> Result<Verdict, StoreError> {
    let (refused, wait) = match reply {
        [r, w, ..] => (*r, *w),
        _ => return Err(StoreError::Reply("too short")),
    };
    let mut v = Verdict::default();
    let mut i = 0;
    for s in scopes {
        for part in parts(s) {
            let at = 2 + 3 * i;
            let Some(row) = reply.get(at..at + 3) else {
                return Err(StoreError::Reply("missing key"));
            };
            i += 1;
            let limited = match part {
                Part::Window(w) => {
                    v.statuses.push(Status {
                        window: *w,
                        remaining: row[0].max(0) as u64,
                        reset_ms: row[1].max(0) as u64,
                        retry_after_ms: row[2].max(0) as u64,
                    });
                    Limited::Window(*w)
                }
                Part::Concurrency(max) => Limited::Concurrency { max },
            };
            if refused == i as i64 {
                v.refuse(Refusal {
                    limited,
                    model: s.model.clone(),
                    retry_after_ms: wait.max(0) as u64,
                });
            }
        }
    }
    Ok(v)
}
