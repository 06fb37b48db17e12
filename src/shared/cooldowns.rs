//! Backend cooldowns and open circuits shared between instances.
//!
//! When this instance opens a circuit or starts a cooldown, it writes
//! `{prefix}:cooldown:{provider}:{upstream model}` with the reason and a PX
//! expiry equal to the cooldown (never shortening a longer one already
//! there). Every `state.sync_interval`, a background task reads those keys
//! for the current backends in one round trip and cools down locally the
//! backends another instance reported, so requests never wait on Redis.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::Script;
use tokio::sync::mpsc;

use super::{Shared, StoreError};
use crate::health::{Announcement, BackendStats, CooldownReason, Sink};
use crate::tasks::Tasks;

/// Sets the key unless a longer cooldown is already there.
static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local left = redis.call('PTTL', KEYS[1])
         if left < tonumber(ARGV[2]) then
           redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
         end
         return 0",
    )
});

/// For each key: its remaining ms (<= 0: none) and its value.
static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local out = {}
         for i, k in ipairs(KEYS) do
           out[2 * i - 1] = redis.call('PTTL', k)
           out[2 * i] = redis.call('GET', k) or ''
         end
         return out",
    )
});

impl Shared {
    fn cooldown_key(&self, provider: &str, upstream_model: &str) -> String {
        format!("{}:cooldown:{provider}:{upstream_model}", self.prefix)
    }

    /// A sink for the health registry: announcements queue up and one task
    /// writes them, so the request that caused one never waits.
    pub fn announcer(self: &Arc<Self>, tasks: &Tasks) -> Box<Sink> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Announcement>();
        let shared = self.clone();
        tasks.spawn("cooldown announcer", async move {
            while let Some(a) = rx.recv().await {
                let _ = shared.write(&a).await;
            }
        });
        Box::new(move |a| {
            let _ = tx.send(a);
        })
    }

    async fn write(&self, a: &Announcement) -> Result<i64, StoreError> {
        let ttl = a.ttl.as_millis().max(1) as u64;
        let mut inv = WRITE.prepare_invoke();
        inv.key(self.cooldown_key(&a.provider, &a.upstream_model))
            .arg(format!("{}|{}", a.reason.name(), self.instance))
            .arg(ttl);
        let mut conn = self.conn();
        self.call("announce", inv.invoke_async(&mut conn)).await
    }

    /// Reads other instances' cooldowns every `sync_interval`, for the
    /// backends `watched` lists then, until it lists none (the gateway is gone).
    pub async fn sync_loop<F>(self: Arc<Self>, watched: F)
    where
        F: Fn() -> Option<(Duration, Vec<Watched>)> + Send,
    {
        while let Some((every, targets)) = watched() {
            let _ = self.sync(&targets).await;
            drop(targets);
            tokio::time::sleep(every).await;
        }
    }

    /// One round: applies every cooldown another instance reported.
    pub async fn sync(&self, targets: &[Watched]) -> Result<(), StoreError> {
        if targets.is_empty() {
            return Ok(());
        }
        let mut inv = READ.prepare_invoke();
        for t in targets {
            inv.key(self.cooldown_key(&t.provider, &t.upstream_model));
        }
        let mut conn = self.conn();
        let reply: Vec<redis::Value> = self.call("sync", inv.invoke_async(&mut conn)).await?;
        for (t, pair) in targets.iter().zip(reply.chunks(2)) {
            let [ttl, value] = pair else { continue };
            let ttl: i64 = redis::from_redis_value(ttl.clone()).unwrap_or(0);
            let value: String = redis::from_redis_value(value.clone()).unwrap_or_default();
            self.apply(t, ttl, &value);
        }
        Ok(())
    }

    fn apply(&self, t: &Watched, ttl_ms: i64, value: &str) {
        let Some((reason, instance)) = value.split_once('|') else {
            return;
        };
        let Some(reason) = CooldownReason::parse(reason) else {
            return;
        };
        if ttl_ms <= 0 || instance == self.instance {
            return;
        }
        let ttl = Duration::from_millis(ttl_ms as u64);
        if t.stats.apply_shared(ttl, reason) {
            tracing::warn!(target: "switchyard::health", provider = %t.provider,
                upstream_model = %t.upstream_model, reason = reason.name(), cooldown_ms = ttl_ms,
                "backend cooling down: another instance reported it down");
        }
    }
}

/// One (provider, upstream model) whose cooldowns other instances may report.
pub struct Watched {
    pub provider: String,
    pub upstream_model: String,
    pub stats: Arc<BackendStats>,
}
