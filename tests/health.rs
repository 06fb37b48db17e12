//! Backend health over real HTTP: a gateway in-process in front of mock
//! upstreams with injected faults. Cooldowns are short and every wait is a
//! bounded poll; the only fixed sleeps wait out a configured cooldown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_health;

#[path = "health/admin.rs"]
mod admin;
#[path = "health/passive.rs"]
mod passive;
#[path = "health/probes.rs"]
mod probes;
#[path = "health/shutdown.rs"]
mod shutdown;
#[path = "health/streams.rs"]
mod streams;

use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
