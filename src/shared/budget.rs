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
use crate::budget::{window_key, Refusal, Scope, Status, Store, StoreCall, Verdict};
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

/// The script's reply as window statuses, `amount` counted in each.
fn verdict(scopes: &[Arc<Scope>], reply: &[i64], amount: u64, now_ms: i64) -> Result<Verdict, ()> {
    let Some((&refused, counts)) = reply.split_first() else {
        return Err(());
    };
    let mut v = Verdict::default();
    let mut i = 0;
    for s in scopes {
        for &(span, limit) in &s.windows {
            let used = counts.get(i).copied().ok_or(())?.max(0) as u64;
            i += 1;
            let end = span.at(now_ms).1;
            let status = Status {
                model: s.model.clone(),
                span,
                limit,
                remaining: limit.saturating_sub(used.saturating_add(amount)),
                reset_ms: (end - now_ms).max(0) as u64,
            };
            if refused == i as i64 {
                v.refusal = Some(Refusal {
                    status: status.clone(),
                    remaining: limit.saturating_sub(used),
                    cost: amount,
                });
            }
            v.statuses.push(status);
        }
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
            verdict(scopes, &reply, amount, now_ms)
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
            verdict(scopes, &reply, 0, now_ms)
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
