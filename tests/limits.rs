//! Per-user rate limits over real HTTP, with the in-memory store and with a
//! real `redis-server` (started by the test on a free port; exact and
//! synced modes): exact under
//! concurrency, OpenAI's headers and 429 body, corrections, and nothing
//! spent by refused requests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod common_redis;

#[path = "limits/accounting.rs"]
mod accounting;
#[path = "limits/exact.rs"]
mod exact;

use std::time::Duration;

use common::{backend, provider, user};
use common_redis::Redis;
use mock_upstream::MockServer;

/// Where the counters live for one test.
pub enum Store {
    Memory,
    Redis(Redis),
    /// Redis with `limits = "synced"`: one instance decides in memory,
    /// so it must admit exactly what the memory store admits.
    Synced(Redis),
}

impl Store {
    pub fn redis() -> Store {
        Store::Redis(Redis::start())
    }

    pub fn synced() -> Store {
        Store::Synced(Redis::start())
    }

    fn toml(&self) -> String {
        match self {
            Store::Memory => String::new(),
            Store::Redis(r) => format!("[state]\nbackend = \"redis\"\nurl = \"{}\"\n", r.url()),
            Store::Synced(r) => format!(
                "[state]\nbackend = \"redis\"\nurl = \"{}\"\nlimits = \"synced\"\n",
                r.url()
            ),
        }
    }
}

/// Models `m` and `n` on one mock, and the test user with `limits`.
pub fn limited(store: &Store, mock: &MockServer, limits: &str) -> String {
    let mut t = store.toml();
    t += &provider("a", mock, "");
    t += "[models.m]\n";
    t += &backend("m", "a", "");
    t += "[models.n]\n";
    t += &backend("n", "a", "id = \"a2\"");
    t += &user();
    t + "allowed_models = [\"m\", \"n\"]\n" + limits
}

/// Polls `check` every 10 ms for up to 10 s.
pub async fn eventually(check: impl Fn() -> bool) -> bool {
    for _ in 0..1000 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
