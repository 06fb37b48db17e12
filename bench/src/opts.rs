//! Command-line options of `switchyard-bench`.

use std::time::Duration;

use anyhow::{bail, Result};

pub const USAGE: &str =
    "usage: switchyard-bench [--upstream mock|nginx] [--quick] [--no-build] [--only PHASE]... [--perf] [--out FILE.json]
  --upstream U mock (default): the in-house mock upstream and load generator, with the
               chunk-integrity and memory phases; nginx: the fast-upstream mode, nginx as
               the upstream and wrk as the load generator (installed with apt-get when
               missing), against a lean current-thread proxy, the bare proxy and the gateway
  --quick      a few seconds per phase (default: full, 10 s per phase)
  --no-build   use the release binaries already in target/release
  --only P     run only phase P (latency, stream_latency, throughput, streams; nginx mode:
               latency, throughput, streams, production); repeatable. nginx mode also has
               phases that run only when named: scale (CPU and memory as users, backends
               and concurrent streams grow; one curve: scale_users, scale_backends,
               scale_streams), idle_streams (memory per idle open stream),
               cores (64 connections, gateway on 1 core vs 2; not under --callgrind)
  --perf       record the gateway and the bare proxy with `perf record -g` during each phase
               (target/bench/perf-PHASE-TARGET.data)
  --callgrind  nginx mode: instead of the timed phases, count each proxy's instructions per
               request under valgrind's callgrind (throughput, streams, production; `--only`)
  --requests N requests counted per proxy under --callgrind (default 4000)
  --variant V  under --callgrind, count only production variant V (base, users, models,
               limits, redis, ledger, ledger_pg); repeatable
  --gateway-bin B  run this gateway binary instead of target/release/switchyard (A/B runs)
  --gateway-config C  nginx mode: the plain gateway's config file instead of the generated
               one (an older build's, which refuses keys it predates; `UPSTREAM` is replaced
               by nginx's address)
  --settle S   seconds after the load to read the gateway's memory with its upstream pool still warm
               (default 2 quick, 5 full); \"after\" is read once the pool has closed those connections
  --out F      write the JSON results to F (default target/bench/results.json,
               nginx mode target/bench/results-nginx.json)";

/// Which upstream and load generator a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    /// The in-house mock and load generator (`mock-upstream`, `load.rs`).
    Mock,
    /// nginx with fixed answers, wrk as the load generator.
    Nginx,
}

pub struct Opts {
    pub quick: bool,
    pub build: bool,
    pub perf: bool,
    pub only: Vec<String>,
    pub out: Option<String>,
    pub gateway_bin: Option<String>,
    pub gateway_config: Option<String>,
    pub settle: Option<u64>,
    pub upstream: Upstream,
    pub callgrind: bool,
    pub requests: Option<u64>,
    /// `--variant`: the production variants counted under --callgrind.
    pub variants: Vec<String>,
}

impl Opts {
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Opts> {
        let mut o = Opts {
            quick: false,
            build: true,
            perf: false,
            only: Vec::new(),
            out: None,
            gateway_bin: None,
            gateway_config: None,
            settle: None,
            upstream: Upstream::Mock,
            callgrind: false,
            requests: None,
            variants: Vec::new(),
        };
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--no-build" => o.build = false,
                "--perf" => o.perf = true,
                "--callgrind" => o.callgrind = true,
                "--requests" => o.requests = it.next().and_then(|s| s.parse().ok()),
                "--only" => o.only.extend(it.next()),
                "--variant" => o.variants.extend(it.next()),
                "--out" => o.out = it.next(),
                "--gateway-bin" => o.gateway_bin = it.next(),
                "--gateway-config" => o.gateway_config = it.next(),
                "--settle" => o.settle = it.next().and_then(|s| s.parse().ok()),
                "--upstream" => {
                    o.upstream = match it.next().as_deref() {
                        Some("mock") => Upstream::Mock,
                        Some("nginx") => Upstream::Nginx,
                        _ => bail!("--upstream takes mock or nginx\n{USAGE}"),
                    }
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other}\n{USAGE}"),
            }
        }
        Ok(o)
    }

    /// Whether the phase called `name` (without its `_Nconn` suffix) runs.
    pub fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }

    /// Whether the production variant `name` is counted (`--variant`; all without one).
    pub fn wants_variant(&self, name: &str) -> bool {
        self.variants.is_empty() || self.variants.iter().any(|v| v == name)
    }

    /// Whether a phase that only runs when asked for (`--only NAME`) runs:
    /// the scale curves take many minutes, more than the default run should.
    pub fn named(&self, name: &str) -> bool {
        self.only.iter().any(|o| o == name)
    }

    /// (warmup, measured) time of each phase.
    pub fn secs(&self) -> (Duration, Duration) {
        if self.quick {
            (Duration::from_millis(500), Duration::from_secs(3))
        } else {
            (Duration::from_secs(2), Duration::from_secs(10))
        }
    }

    /// How long the gateway may take to give memory back after the load.
    pub fn settle(&self) -> Duration {
        let default = if self.quick { 2 } else { 5 };
        Duration::from_secs(self.settle.unwrap_or(default))
    }

    /// How many times the 1-connection rounds may repeat to find a quiet one.
    pub fn rounds(&self) -> usize {
        if self.quick {
            3
        } else {
            6
        }
    }

    /// Rounds of each load phase (throughput, streams); the best is kept.
    pub fn load_rounds(&self) -> usize {
        if self.quick {
            3
        } else {
            5
        }
    }

    pub fn mode(&self) -> &'static str {
        if self.quick {
            "quick"
        } else {
            "full"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_filters() {
        let o = Opts::parse(
            ["--quick", "--only", "throughput"]
                .map(String::from)
                .into_iter(),
        )
        .unwrap();
        assert!(o.quick && o.build && o.wants("throughput") && !o.wants("latency"));
        assert!(o.named("throughput") && !o.named("scale"));
        assert!(o.upstream == Upstream::Mock);
        assert!(Opts::parse(["--bogus"].map(String::from).into_iter()).is_err());
        let o = Opts::parse(["--upstream", "nginx"].map(String::from).into_iter()).unwrap();
        assert!(o.upstream == Upstream::Nginx);
        assert!(Opts::parse(["--upstream", "x"].map(String::from).into_iter()).is_err());
    }
}
