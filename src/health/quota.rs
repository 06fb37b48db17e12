//! What an upstream's rate-limit headers say is left of its quota, read on
//! every answer, so a backend that is about to refuse is routed around
//! before it answers 429.
//!
//! OpenAI sends `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`
//! (resets as Go durations, "6m0s"); Anthropic sends
//! `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
//! (resets as RFC 3339 times).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;

use super::cooldown::go_duration;
use crate::clock;

/// One limit's reading: what is left of how much, and when it refills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Left {
    pub remaining: u64,
    pub limit: Option<u64>,
    pub reset: Option<Duration>,
}

impl Left {
    /// The share still there, when the limit is known.
    fn share(&self) -> Option<f64> {
        let limit = self.limit.filter(|&l| l > 0)?;
        Some((self.remaining as f64 / limit as f64).clamp(0.0, 1.0))
    }
}

/// The requests and tokens left, as far as the headers tell.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub requests: Option<Left>,
    /// The scarcest token limit (Anthropic reports input and output apart).
    pub tokens: Option<Left>,
}

/// The `remaining`, `limit` and `reset` header names of one limit. Static,
/// so reading them costs no allocation on every answer.
type Names = [&'static str; 3];

const OPENAI_REQUESTS: Names = [
    "x-ratelimit-remaining-requests",
    "x-ratelimit-limit-requests",
    "x-ratelimit-reset-requests",
];
const ANTHROPIC_REQUESTS: Names = [
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-requests-reset",
];
const TOKENS: [Names; 4] = [
    [
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-reset-tokens",
    ],
    [
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-reset",
    ],
    [
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-limit",
        "anthropic-ratelimit-input-tokens-reset",
    ],
    [
        "anthropic-ratelimit-output-tokens-remaining",
        "anthropic-ratelimit-output-tokens-limit",
        "anthropic-ratelimit-output-tokens-reset",
    ],
];

/// Reads the headers of one answer; `None` when they carry no quota.
pub fn read(headers: &HeaderMap) -> Option<Reading> {
    // Most answers carry none of these headers: one pass over the names
    // says so before the twelve lookups, each of which would parse and
    // hash its name.
    let quota_named =
        |n: &str| n.starts_with("x-ratelimit-") || n.starts_with("anthropic-ratelimit-");
    if !headers.keys().any(|k| quota_named(k.as_str())) {
        return None;
    }
    let requests = left(headers, OPENAI_REQUESTS).or_else(|| left(headers, ANTHROPIC_REQUESTS));
    let tokens = TOKENS
        .iter()
        .filter_map(|names| left(headers, *names))
        .min_by_key(|l| l.remaining);
    (requests.is_some() || tokens.is_some()).then_some(Reading { requests, tokens })
}

fn left(headers: &HeaderMap, [remaining, limit, reset]: Names) -> Option<Left> {
    let get = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    let remaining = get(remaining)?.parse::<u64>().ok()?;
    let limit = get(limit).and_then(|v| v.parse::<u64>().ok());
    let reset = get(reset).and_then(reset_in);
    Some(Left {
        remaining,
        limit,
        reset,
    })
}

/// A reset as a duration ("6m0s", "20ms", "1.5") or an RFC 3339 time.
fn reset_in(text: &str) -> Option<Duration> {
    if let Some(d) = go_duration(text) {
        return Some(d);
    }
    let at = humantime::parse_rfc3339_weak(text).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// What a backend's last answers said of its quota: kept in atomics, read
/// by every pick.
#[derive(Debug)]
pub struct Quota {
    /// The share of the scarcer limit left, as f32 bits; 1.0 when unknown.
    share: AtomicU32,
    /// Tokens left until `tokens_reset` (clock ms); `u64::MAX` when unknown.
    tokens: AtomicU64,
    /// When the last reading stops holding (clock ms).
    until: AtomicU64,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            share: AtomicU32::new(1.0f32.to_bits()),
            tokens: AtomicU64::new(u64::MAX),
            until: AtomicU64::new(0),
        }
    }
}

/// How long a reading without a reset time is trusted.
const UNTIMED: Duration = Duration::from_secs(60);

impl Quota {
    /// Keeps `r`; returns how long the backend has no requests left, when
    /// it has none (the caller cools it down that long).
    pub fn observe(&self, r: &Reading, now: u64) -> Option<Duration> {
        let share = [r.requests, r.tokens]
            .iter()
            .flatten()
            .filter_map(Left::share)
            .fold(1.0f64, f64::min);
        let reset = [r.requests, r.tokens]
            .iter()
            .flatten()
            .filter_map(|l| l.reset)
            .max()
            .unwrap_or(UNTIMED);
        self.share.store((share as f32).to_bits(), Relaxed);
        let tokens = r.tokens.map_or(u64::MAX, |t| t.remaining);
        self.tokens.store(tokens, Relaxed);
        self.until.store(clock::after(now, reset), Relaxed);
        let exhausted = r.requests.filter(|q| q.remaining == 0)?;
        Some(exhausted.reset.unwrap_or(UNTIMED))
    }

    /// The share of its quota the backend has left now, in (0, 1]: weighted
    /// strategies multiply its weight by it. A floor keeps a nearly
    /// exhausted backend pickable; an exhausted one is cooling down.
    pub fn share(&self, now: u64) -> f64 {
        self.reported(now).max(0.01)
    }

    /// The share as the upstream reported it (1.0 when unknown or expired).
    pub fn reported(&self, now: u64) -> f64 {
        if self.until.load(Relaxed) <= now {
            return 1.0;
        }
        f64::from(f32::from_bits(self.share.load(Relaxed)))
    }

    /// Whether the backend reported fewer tokens left than `needed`.
    pub fn short_of(&self, needed: u64, now: u64) -> bool {
        self.until.load(Relaxed) > now && self.tokens.load(Relaxed) < needed
    }

    /// When the last reading stops holding (clock ms).
    pub fn until(&self) -> u64 {
        self.until.load(Relaxed)
    }

    /// Tokens left as last reported, while that report holds.
    pub fn tokens_left(&self, now: u64) -> Option<u64> {
        let t = self.tokens.load(Relaxed);
        (self.until.load(Relaxed) > now && t != u64::MAX).then_some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn reads_openai_and_anthropic_headers() {
        let h = headers(&[
            ("x-ratelimit-limit-requests", "100"),
            ("x-ratelimit-remaining-requests", "25"),
            ("x-ratelimit-reset-requests", "30s"),
            ("x-ratelimit-remaining-tokens", "900"),
        ]);
        let r = read(&h).unwrap();
        assert_eq!(
            r.requests,
            Some(Left {
                remaining: 25,
                limit: Some(100),
                reset: Some(Duration::from_secs(30))
            })
        );
        assert_eq!(r.tokens.unwrap().remaining, 900);
        let at = humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(60));
        let h = headers(&[
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", &at.to_string()),
            ("anthropic-ratelimit-input-tokens-remaining", "5000"),
            ("anthropic-ratelimit-output-tokens-remaining", "700"),
        ]);
        let r = read(&h).unwrap();
        let reset = r.requests.unwrap().reset.unwrap();
        assert!(reset > Duration::from_secs(55) && reset <= Duration::from_secs(60));
        assert_eq!(r.tokens.unwrap().remaining, 700, "the scarcest token limit");
        assert_eq!(read(&HeaderMap::new()), None);
    }

    #[test]
    fn share_scales_weight_until_the_reading_expires() {
        let q = Quota::default();
        assert_eq!(q.share(1000), 1.0);
        let r = Reading {
            requests: Some(Left {
                remaining: 10,
                limit: Some(40),
                reset: Some(Duration::from_secs(2)),
            }),
            tokens: None,
        };
        assert_eq!(q.observe(&r, 1000), None, "requests are left");
        assert_eq!(q.share(1000), 0.25);
        assert_eq!(q.share(3000), 1.0, "the reading expired at its reset");
        let out = Reading {
            requests: Some(Left {
                remaining: 0,
                limit: Some(40),
                reset: Some(Duration::from_secs(30)),
            }),
            tokens: Some(Left {
                remaining: 50,
                limit: None,
                reset: None,
            }),
        };
        assert_eq!(q.observe(&out, 5000), Some(Duration::from_secs(30)));
        assert!(q.short_of(51, 5000) && !q.short_of(50, 5000));
        assert_eq!(q.tokens_left(5000), Some(50));
    }
}
