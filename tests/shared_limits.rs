//! The limiter and a real `redis-server`, without HTTP. Synced limits
//! (`state.limits = "synced"`): two limiters, each with its own connection, registry and instance id
//! (two gateways' worth of state), decide in memory and learn what the
//! other took when they sync. Syncs are driven one round at a time, so
//! nothing here depends on timing. Exact limits: the calls that free
//! slots after the requests, batched beside them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_redis;

use std::sync::Arc;

use common_redis::Redis;
use prometheus_client::metrics::counter::Counter;
use switchyard::config::{self, Config};
use switchyard::limits::synced::{Due, Reconcile, Synced};
use switchyard::limits::{Admission, LimitRegistry, Limiter, Scope, Store};
use switchyard::scopes::Decision;
use switchyard::shared::Shared;

fn config(redis: &Redis, limits: &str) -> Config {
    config_in(redis, "synced", limits)
}

fn config_in(redis: &Redis, mode: &str, limits: &str) -> Config {
    let text = format!(
        "[state]\nbackend = \"redis\"\nurl = \"{}\"\nlimits = \"{mode}\"\n\n\
         [providers.p]\nbackend_type = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key = \"k\"\n\n\
         [models.m]\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"m\"\n\n\
         [users.u]\ntoken = \"t\"\n[users.u.rate_limit]\n{limits}\n",
        redis.url()
    );
    config::parse(&text, &|_| None).unwrap()
}

/// One gateway's limits: its own store connection, counters and syncer.
struct Node {
    limiter: Limiter,
    synced: Arc<Synced>,
    due: Due,
    scopes: Vec<Arc<Scope>>,
}

impl Node {
    fn new(cfg: &Config) -> Node {
        let shared = Shared::connect(&cfg.state, Counter::default())
            .unwrap()
            .unwrap();
        let (synced, due) = Synced::new(shared as Arc<dyn Reconcile>);
        let plans = LimitRegistry::default().plans(cfg);
        Node {
            limiter: Limiter::synced(synced.clone()),
            synced,
            due,
            scopes: plans["u"].scopes("m"),
        }
    }

    /// Admits one request reserving `tokens`; the hold when admitted.
    async fn admit(&self, tokens: u64) -> Option<Admission> {
        match self.limiter.admit(self.scopes.clone(), tokens).await {
            Decision::Admitted(_, hold) => Some(hold),
            Decision::Refused(_) => None,
            _ => panic!("the store did not fail"),
        }
    }

    /// How many of `n` requests are admitted (their holds dropped at once).
    async fn admitted(&self, n: usize) -> usize {
        let mut ok = 0;
        for _ in 0..n {
            ok += usize::from(self.admit(1).await.is_some());
        }
        ok
    }

    async fn sync(&mut self) {
        self.synced.sync(&mut self.due).await;
    }
}

#[tokio::test]
async fn a_window_spent_on_one_instance_is_spent_on_the_other_after_a_sync() {
    let redis = Redis::start();
    let cfg = config(&redis, "requests_per_minute = 10\n");
    let (mut a, mut b) = (Node::new(&cfg), Node::new(&cfg));
    assert_eq!(a.admitted(6).await, 6);
    assert_eq!(b.admitted(1).await, 1, "B decides alone until it syncs");
    a.sync().await;
    b.sync().await;
    assert_eq!(b.admitted(10).await, 3, "B sees A's 6 and its own 1");
    assert_eq!(
        a.admitted(10).await,
        4,
        "A synced before B pushed: the overshoot is what B admitted since"
    );
    b.sync().await;
    a.sync().await;
    assert_eq!(a.admitted(10).await, 0, "14 used of 10");
    assert_eq!(b.admitted(10).await, 0);
}

#[tokio::test]
async fn token_corrections_are_pushed_too() {
    let redis = Redis::start();
    let cfg = config(&redis, "tokens_per_minute = 1000\n");
    let (mut a, mut b) = (Node::new(&cfg), Node::new(&cfg));
    let hold = a.admit(900).await.expect("900 of 1000 fit");
    hold.finish(Some(100), true);
    assert!(b.admit(1).await.is_some(), "B decides alone until it syncs");
    a.sync().await;
    b.sync().await;
    assert!(
        b.admit(950).await.is_none(),
        "B sees A's 100 (900 reserved, corrected to 100) and its own 1"
    );
    assert!(b.admit(850).await.is_some(), "100 + 1 + 850 fit in 1000");
}

#[tokio::test]
async fn slots_held_elsewhere_are_taken_here_until_freed() {
    let redis = Redis::start();
    let cfg = config(&redis, "max_concurrent = 3\n");
    let (mut a, mut b) = (Node::new(&cfg), Node::new(&cfg));
    let on_a = vec![a.admit(1).await.unwrap(), a.admit(1).await.unwrap()];
    a.sync().await;
    assert!(
        b.admit(1).await.is_some(),
        "B has not synced: it knows nothing of A"
    );
    b.sync().await;
    let b1 = b.admit(1).await.expect("A holds 2 of 3: one is free");
    assert!(b.admit(1).await.is_none(), "A's 2 and B's 1 fill 3");
    drop(on_a);
    a.sync().await;
    b.sync().await;
    let b2 = b.admit(1).await.expect("A freed its slots");
    let b3 = b.admit(1).await.expect("B may hold all 3");
    assert!(b.admit(1).await.is_none(), "B holds 3 of 3");
    drop((b1, b2, b3));
}

#[tokio::test]
async fn exact_finishes_free_their_slots_even_after_the_server_lost_the_script() {
    let redis = Redis::start();
    let cfg = config_in(&redis, "exact", "max_concurrent = 2\n");
    let shared = Shared::connect(&cfg.state, Counter::default())
        .unwrap()
        .unwrap();
    let limiter = Limiter::new(Some(shared as Arc<dyn Store>));
    let scopes = LimitRegistry::default().plans(&cfg)["u"].scopes("m");
    let admit = || async { limiter.admit(scopes.clone(), 1).await };
    let held = [admit().await, admit().await];
    assert!(held.iter().all(|d| matches!(d, Decision::Admitted(..))));
    assert!(matches!(admit().await, Decision::Refused(_)), "2 of 2 held");
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    drop(held);
    // The finishes go out beside the requests: wait for their effect.
    let mut freed = false;
    for _ in 0..500 {
        let held: u64 = redis::cmd("ZCARD")
            .arg("switchyard:rl:u:*:inflight")
            .query_async(&mut conn)
            .await
            .unwrap();
        freed = held == 0;
        if freed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(freed, "both leases were freed in Redis");
    let again = [admit().await, admit().await];
    assert!(again.iter().all(|d| matches!(d, Decision::Admitted(..))));
}
