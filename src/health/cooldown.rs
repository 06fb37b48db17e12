//! Cooldowns: a backend that said "not now" (429) or rejected our key
//! (401/403) gets no traffic until a deadline, kept in one atomic.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;

use crate::clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CooldownReason {
    RateLimited,
    Auth,
    /// Another instance opened its circuit for this backend (shared state).
    CircuitOpen,
    /// The upstream's rate-limit headers said no requests are left until
    /// their reset, before any 429.
    Quota,
}

impl CooldownReason {
    /// In the order of their codes (1-based) in the cooldown's atomic.
    const ALL: [CooldownReason; 4] = [
        CooldownReason::RateLimited,
        CooldownReason::Auth,
        CooldownReason::CircuitOpen,
        CooldownReason::Quota,
    ];

    /// The name in `/admin/backends` and in the shared store.
    pub fn name(self) -> &'static str {
        match self {
            CooldownReason::RateLimited => "rate_limited",
            CooldownReason::Auth => "auth",
            CooldownReason::CircuitOpen => "circuit_open",
            CooldownReason::Quota => "quota",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    fn code(self) -> u8 {
        Self::ALL
            .iter()
            .position(|r| *r == self)
            .map_or(1, |i| i as u8 + 1)
    }

    fn from_code(code: u8) -> Self {
        let i = usize::from(code.max(1) - 1);
        Self::ALL
            .get(i)
            .copied()
            .unwrap_or(CooldownReason::RateLimited)
    }
}

#[derive(Debug, Default)]
pub struct Cooldown {
    /// Milliseconds (see [`clock`]); 0 or past means not cooling down.
    until: AtomicU64,
    /// [`CooldownReason::code`].
    reason: AtomicU8,
}

impl Cooldown {
    pub fn until(&self) -> u64 {
        self.until.load(Relaxed)
    }

    pub fn active(&self, now: u64) -> Option<CooldownReason> {
        if self.until() <= now {
            return None;
        }
        Some(CooldownReason::from_code(self.reason.load(Relaxed)))
    }

    /// Cools down for `d` from `now`, never shortening a longer cooldown.
    /// True when the backend was not cooling down before (a transition). A
    /// zero `d` (an upstream saying "retry after 0") is no cooldown at all.
    pub fn start(&self, now: u64, d: Duration, reason: CooldownReason) -> bool {
        if d.is_zero() {
            return false;
        }
        let code = reason.code();
        let until = clock::after(now, d);
        let prev = self.until.fetch_max(until, Relaxed);
        if until >= prev {
            self.reason.store(code, Relaxed);
        }
        prev <= now
    }

    /// Ends an auth cooldown early (a probe got through with the key). True
    /// when one was active.
    pub fn end_auth(&self, now: u64) -> bool {
        if self.active(now) != Some(CooldownReason::Auth) {
            return false;
        }
        let until = self.until();
        self.until
            .compare_exchange(until, 0, Relaxed, Relaxed)
            .is_ok()
    }
}

/// How long a rate-limited upstream asks us to wait: `retry-after-ms`,
/// `Retry-After` (seconds or an HTTP date), else the OpenAI-style
/// `x-ratelimit-reset-requests` / `-tokens` durations ("6m0s", "1s", "20ms").
pub fn rate_limit_delay(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return seconds(ms / 1000.0);
    }
    if let Some(v) = get("retry-after") {
        if let Ok(s) = v.parse::<f64>() {
            return seconds(s);
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some(at.duration_since(SystemTime::now()).unwrap_or_default());
        }
    }
    let reset = |kind: &str| get(&format!("x-ratelimit-reset-{kind}")).and_then(go_duration);
    let exhausted = |kind: &str| get(&format!("x-ratelimit-remaining-{kind}")) == Some("0");
    let (requests, tokens) = (reset("requests"), reset("tokens"));
    // Wait for the limit that ran out; when the headers do not say which,
    // the sooner reset, since a 429 then just cools the backend down again.
    match (exhausted("requests"), exhausted("tokens")) {
        (true, false) if requests.is_some() => requests,
        (false, true) if tokens.is_some() => tokens,
        (true, true) => requests.max(tokens),
        _ => match (requests, tokens) {
            (Some(r), Some(t)) => Some(r.min(t)),
            (r, t) => r.or(t),
        },
    }
}

fn seconds(s: f64) -> Option<Duration> {
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(1e9)))
}

/// A Go-style duration as OpenAI sends it: "6m0s", "1.5s", "20ms", "1h2m";
/// a bare number is seconds.
pub fn go_duration(text: &str) -> Option<Duration> {
    if text.is_empty() {
        return None;
    }
    if let Ok(s) = text.parse::<f64>() {
        return seconds(s);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    seconds(total)
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
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(go_duration("6m0s"), Some(ms(360_000)));
        assert_eq!(go_duration("1s"), Some(ms(1000)));
        assert_eq!(go_duration("20ms"), Some(ms(20)));
        assert_eq!(go_duration("1h2m3.5s"), Some(ms(3_723_500)));
        assert_eq!(go_duration("2"), Some(ms(2000)));
        for bad in ["", "s", "5x", "1..2s", "-1s"] {
            assert_eq!(go_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn header_precedence() {
        let ms = Duration::from_millis;
        let h = headers(&[("retry-after-ms", "250"), ("retry-after", "9")]);
        assert_eq!(rate_limit_delay(&h), Some(ms(250)));
        assert_eq!(
            rate_limit_delay(&headers(&[("retry-after", "2")])),
            Some(ms(2000))
        );
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let d = rate_limit_delay(&headers(&[("retry-after", &date)])).unwrap();
        assert!(
            d > Duration::from_secs(110) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        let both = [
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ];
        assert_eq!(rate_limit_delay(&headers(&both)), Some(ms(1000)));
        let tokens_out = [both[0], both[1], ("x-ratelimit-remaining-tokens", "0")];
        assert_eq!(rate_limit_delay(&headers(&tokens_out)), Some(ms(360_000)));
        assert_eq!(rate_limit_delay(&HeaderMap::new()), None);
    }

    #[test]
    fn cooldown_never_shortens_and_reports_transitions() {
        let c = Cooldown::default();
        assert!(c.start(
            1000,
            Duration::from_millis(500),
            CooldownReason::RateLimited
        ));
        assert!(!c.start(
            1100,
            Duration::from_millis(100),
            CooldownReason::RateLimited
        ));
        assert_eq!(c.until(), 1500);
        assert_eq!(c.active(1499), Some(CooldownReason::RateLimited));
        assert_eq!(c.active(1500), None);
        assert!(
            !c.end_auth(1200),
            "a rate-limit cooldown is not ended by a probe"
        );
        assert!(c.start(2000, Duration::from_secs(60), CooldownReason::Auth));
        assert!(c.end_auth(2001));
        assert_eq!(c.active(2002), None);
    }
}
