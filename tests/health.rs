//! Backend health over real HTTP: a gateway in-process in front of mock
//! upstreams with injected faults. Cooldowns and probe intervals are long and
//! pass at once with `skip`, which moves Tokio's clock while no request is in
//! flight; every other wait is a bounded poll. Request, first-token and idle
//! timeouts stay on real time: they race real socket I/O, which a paused
//! clock would jump over.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_health;

#[path = "health/admin.rs"]
mod admin;
#[path = "health/bounds.rs"]
mod bounds;
#[path = "health/passive.rs"]
mod passive;
#[path = "health/probes.rs"]
mod probes;
#[path = "health/process.rs"]
mod process;
#[path = "health/shutdown.rs"]
mod shutdown;
#[path = "health/streams.rs"]
mod streams;

use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
