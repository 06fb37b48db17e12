//! Budgets in Redis: one Lua script (`budget.lua`) checks every window of a
//! request and reserves in all of them atomically, so instances sharing a
//! server never together reserve past a budget. Settlements are sent after
//! the response, in the background. A reservation of an instance that died
//! before settling stays counted until its window ends (erring toward
//! refusing, never toward overspending).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};

use redis::Script;

use super::Shared;
use crate::budget::{judge, window_key, Scope, Store, StoreCall, Verdict};
use crate::config::OnError;

static SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("budget.lua")));

const DAY_MS: i64 = 86_400_000;

fn invocation(
    scopes: &[Arc<Scope>],
    mode: &str,
    amount: i64,
    now_ms: i64,
) -> redis::ScriptInvocation<'static> {
    let mut inv = SCRIPT.prepare_invoke();
    inv.arg(mode).arg(amount);
    for s in scopes {
        for &(span, limit) in &s.windows {
            let (key, end) = window_key(s, span, now_ms);
            inv.key(key).arg(limit).arg((end - now_ms).max(1) + DAY_MS);
        }
    }
    inv
}

/// The script's reply (the refused key's index, 0 for none, then each
/// window's count before this request) as the verdict; `amount` is `None`
/// for a peek.
fn verdict(
    scopes: &[Arc<Scope>],
    reply: &[i64],
    amount: Option<u64>,
    now_ms: i64,
) -> Result<Verdict, ()> {
    let Some((&refused, counts)) = reply.split_first() else {
        return Err(());
    };
    let windows: usize = scopes.iter().map(|s| s.windows.len()).sum();
    if counts.len() < windows {
        return Err(());
    }
    let used: Vec<u64> = counts.iter().map(|&c| c.max(0) as u64).collect();
    let mut v = judge(scopes, &used, amount, now_ms);
    // The script decided whether it reserved; the verdict follows it.
    match usize::try_from(refused) {
        Ok(0) | Err(_) => v.refusal = None,
        Ok(i) if v.refusal.is_none() => {
            let held = used.get(i - 1).copied().unwrap_or(0);
            v.refuse_at(i - 1, held, amount.unwrap_or(0));
        }
        Ok(_) => {}
    }
    Ok(v)
}

impl Store for Shared {
    fn admit<'a>(&'a self, scopes: &'a [Arc<Scope>], amount: u64, now_ms: i64) -> StoreCall<'a> {
        Box::pin(async move {
            let inv = invocation(scopes, "admit", amount.min(i64::MAX as u64) as i64, now_ms);
            let mut conn = self.conn();
            let reply: Vec<i64> = self
                .call("budget", inv.invoke_async(&mut conn))
                .await
                .map_err(|_| ())?;
            verdict(scopes, &reply, Some(amount), now_ms)
        })
    }

    fn peek<'a>(&'a self, scopes: &'a [Arc<Scope>], now_ms: i64) -> StoreCall<'a> {
        Box::pin(async move {
            let inv = invocation(scopes, "peek", 0, now_ms);
            let mut conn = self.conn();
            let reply: Vec<i64> = self
                .call("budget", inv.invoke_async(&mut conn))
                .await
                .map_err(|_| ())?;
            verdict(scopes, &reply, None, now_ms)
        })
    }

    fn settle(self: Arc<Self>, keys: Vec<String>, delta: i64) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            let mut inv = SCRIPT.prepare_invoke();
            inv.arg("settle").arg(delta);
            for k in keys {
                inv.key(k);
            }
            let mut conn = self.conn();
            let _: Result<i64, _> = self.call("budget", inv.invoke_async(&mut conn)).await;
        });
    }

    fn seed<'a>(
        &'a self,
        seeds: Vec<(String, u64, u64)>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if seeds.is_empty() {
                return;
            }
            let mut inv = SCRIPT.prepare_invoke();
            inv.arg("seed");
            for (key, value, ttl) in seeds {
                inv.key(key).arg(value).arg(ttl);
            }
            let mut conn = self.conn();
            let _: Result<i64, _> = self.call("budget", inv.invoke_async(&mut conn)).await;
        })
    }

    fn on_error(&self) -> OnError {
        self.on_error
    }
}
