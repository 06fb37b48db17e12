//! The scale phase (`--only scale`): CPU per request and memory as the
//! gateway's config and load grow, one curve at a time, each point a
//! fresh gateway:
//!
//! | curve | points | config | load |
//! | --- | --- | --- | --- |
//! | `scale_users` | 10, 1k, 10k, 100k | that many users, 1 model, 1 backend | 64 conns, each request the next user's token |
//! | `scale_backends` | 1, 10, 100, 500 | 1 user, 1 model with that many backends (all nginx) | 64 conns; `weighted_random` picks any backend |
//! | `scale_streams` | 10, 100, 1k, 10k | the plain config | that many concurrent 20-event streams |
//!
//! Under `--callgrind` each point is counted as the other phases are
//! (instructions per request); without it, wrk gives CPU time per request
//! (one round per point, with its steal and foreign CPU). Memory is read
//! without valgrind either way: RSS after start, and after the load.
//! The issue asks that nothing on the hot path grow linearly with users
//! or backends: the checks compare the last point of those curves with
//! the first.

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;

use super::callgrind;
use super::counted::Counted;
use super::{fixtures, nginx, prod, wrk, STREAM_MODEL};
use crate::load::TOKEN;

pub use super::scale_report::{checks, print, Row};
pub(super) use super::scale_run::{count, run_timed};

pub const USERS: &str = "scale_users";
pub const BACKENDS: &str = "scale_backends";
pub const STREAMS: &str = "scale_streams";
/// The most connections a point opens (the streams curve's last).
pub const MAX_CONNS: usize = 10_000;
/// What the largest stream counts become when the open-files limit
/// cannot be raised to fit 10,000: each stream holds two sockets in the
/// proxy (client and upstream), and this VM's hard limit is 20,000.
const CAPPED: (usize, &str) = (9_500, "9.5k");

/// The largest number of concurrent streams the open-files limit allows
/// (10,000 or [`CAPPED`]), and its label.
pub(super) fn most_streams() -> (usize, &'static str) {
    let fits = super::tools::nofile().is_some_and(|n| n >= 2 * MAX_CONNS as u64 + 512);
    if fits {
        (MAX_CONNS, "10k")
    } else {
        CAPPED
    }
}

/// One point of a curve: its size, and that size as a label.
#[derive(Clone, Copy, Debug)]
pub(super) struct Point {
    pub curve: &'static str,
    pub n: usize,
    pub label: &'static str,
}

const fn point(curve: &'static str, n: usize, label: &'static str) -> Point {
    Point { curve, n, label }
}

/// The points `--only` asks for: every curve with `scale`, one with its
/// name (`scale_users`, `scale_backends`, `scale_streams`).
pub(super) fn wanted(opts: &crate::opts::Opts) -> Vec<Point> {
    let all = opts.named("scale");
    points()
        .into_iter()
        .filter(|p| all || opts.named(p.curve))
        .collect()
}

/// Every point, the streams curve's last as [`most_streams`] allows.
pub(super) fn points() -> [Point; 12] {
    let mut all = POINTS;
    let (n, label) = most_streams();
    all[11] = point(STREAMS, n, label);
    all
}

const POINTS: [Point; 12] = [
    point(USERS, 10, "10"),
    point(USERS, 1_000, "1k"),
    point(USERS, 10_000, "10k"),
    point(USERS, 100_000, "100k"),
    point(BACKENDS, 1, "1"),
    point(BACKENDS, 10, "10"),
    point(BACKENDS, 100, "100"),
    point(BACKENDS, 500, "500"),
    point(STREAMS, 10, "10"),
    point(STREAMS, 100, "100"),
    point(STREAMS, 1_000, "1k"),
    point(STREAMS, MAX_CONNS, "10k"),
];

impl Point {
    pub fn streams(&self) -> bool {
        self.curve == STREAMS
    }

    pub fn conns(&self) -> usize {
        if self.streams() {
            self.n
        } else {
            64
        }
    }

    /// Requests of a counted run: `total`, and at least one per
    /// connection, so that every stream of the point is open at once.
    pub fn requests(&self, total: u64) -> u64 {
        total.max(self.conns() as u64)
    }

    /// Requests before the count: the usual warmup, and for the backends
    /// curve 20 per backend, so that every backend has been picked (and
    /// its metric series made) before counting: making a series copies
    /// the map of all series seen so far (`telemetry::seen::Seen::with`),
    /// a one-time cost per backend that a short warmup would spread over
    /// the counted requests of the larger points.
    pub fn warmup(&self) -> u64 {
        if self.curve == BACKENDS {
            callgrind::WARMUP.max(20 * self.n as u64)
        } else {
            callgrind::WARMUP
        }
    }

    /// The point's gateway config.
    pub fn config(&self, upstream: SocketAddr) -> String {
        match self.curve {
            USERS => prod::config(
                &prod::Variant::plain(self.n, 1),
                upstream,
                prod::Stores::default(),
            ),
            BACKENDS => prod::config(
                &prod::Variant::plain(1, self.n),
                upstream,
                prod::Stores::default(),
            ),
            // The default limit is 10,000 client connections: the last
            // point must not queue in the backlog. Under valgrind, 10,000
            // connections opened at once wait longer than the default 10 s
            // for their request head to be read.
            _ => super::gateway_config(upstream).replacen(
                "[server]\n",
                "[server]\nmax_connections = 30000\nheader_timeout = \"300s\"\n",
                1,
            ),
        }
    }

    /// The tokens and bodies the load cycles through.
    pub fn rotation(&self) -> wrk::Rotate {
        match self.curve {
            USERS => prod::rotation(&prod::Variant::plain(self.n, 1)),
            BACKENDS => prod::rotation(&prod::Variant::plain(1, self.n)),
            _ => wrk::Rotate {
                tokens: vec![TOKEN.to_string()],
                bodies: vec![fixtures::request(STREAM_MODEL, true)],
            },
        }
    }

    pub fn expected(&self) -> String {
        if self.streams() {
            fixtures::stream()
        } else {
            fixtures::completion()
        }
    }

    pub fn counted(&self, addr: SocketAddr) -> Counted {
        let rot = self.rotation();
        Counted {
            addr,
            path: nginx::JSON_PATH.to_string(),
            tokens: rot.tokens,
            bodies: rot.bodies.into_iter().map(Bytes::from).collect(),
            expected: Bytes::from(self.expected()),
            conns: self.conns(),
        }
    }

    pub fn config_path(&self, out: &Path, mode: &str) -> std::path::PathBuf {
        out.join(format!("gateway-{mode}-{}-{}.toml", self.curve, self.label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_config_is_accepted() {
        let up = "127.0.0.1:9".parse().unwrap();
        for p in points().iter().filter(|p| p.n <= 1000) {
            let text = callgrind::for_valgrind(p.config(up));
            let c = switchyard::config::parse(&text, &|_| None)
                .unwrap_or_else(|e| panic!("{} {}: {e:?}", p.curve, p.label));
            assert!(!c.models.is_empty());
            assert!(!p.rotation().tokens.is_empty());
        }
    }
}
