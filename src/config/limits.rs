//! Per-user rate limits, the shared state store and live reload settings.
//! Documented in docs/configuration.md and docs/operations.md.

use std::time::Duration;

use indexmap::IndexMap;

use super::Secret;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Requests,
    Tokens,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Requests => "requests",
            Kind::Tokens => "tokens",
        }
    }
}

/// One rate window: at most `limit` per `period`, as a burst of `limit`
/// refilled evenly over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub kind: Kind,
    pub period: Duration,
    pub limit: u64,
}

impl Window {
    /// A short stable name for keys and messages: `rpm`, `rph`, `rpd`, `tpm`, `tpd`.
    pub fn code(&self) -> &'static str {
        let long = self.period.as_secs();
        match (self.kind, long) {
            (Kind::Requests, 60) => "rpm",
            (Kind::Requests, 3600) => "rph",
            (Kind::Requests, _) => "rpd",
            (Kind::Tokens, 60) => "tpm",
            (Kind::Tokens, _) => "tpd",
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// One set of limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub requests_per_minute: Option<u64>,
    pub requests_per_hour: Option<u64>,
    pub requests_per_day: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub tokens_per_day: Option<u64>,
    pub max_concurrent: Option<u64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// The rate windows that are set, requests first.
    pub fn windows(&self) -> Vec<Window> {
        let all = [
            (Kind::Requests, MINUTE, self.requests_per_minute),
            (Kind::Requests, HOUR, self.requests_per_hour),
            (Kind::Requests, DAY, self.requests_per_day),
            (Kind::Tokens, MINUTE, self.tokens_per_minute),
            (Kind::Tokens, DAY, self.tokens_per_day),
        ];
        all.into_iter()
            .filter_map(|(kind, period, limit)| {
                limit.map(|limit| Window {
                    kind,
                    period,
                    limit,
                })
            })
            .collect()
    }
}

/// A user's limits of one kind: `all` covers every model of the user,
/// `models` add limits for one model each (both apply).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerModel<L> {
    pub all: L,
    pub models: IndexMap<String, L>,
}

impl<L: Default + PartialEq> PerModel<L> {
    /// No limit anywhere: every key was left out.
    pub fn is_empty(&self) -> bool {
        let none = L::default();
        self.all == none && self.models.values().all(|l| *l == none)
    }
}

/// `[users.ID.rate_limit]`.
pub type RateLimit = PerModel<Limits>;

/// `[state]`: where limit counters and backend cooldowns live.
#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig {
    pub backend: StateBackend,
    /// Bound on every call to the store.
    pub timeout: Duration,
    pub on_error: OnError,
    /// Prepended to every key, so several fleets can share one server.
    pub prefix: String,
    /// How often cooldowns and open circuits reported by other instances are read.
    pub sync_interval: Duration,
    /// How rate limits use the shared store.
    pub limits: LimitsMode,
}

/// `state.limits`: whether each request asks the shared store, or each
/// instance decides in memory and reconciles beside the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitsMode {
    /// One atomic call per request (and one after it): N instances admit
    /// exactly the limit, at the price of a round trip in every request.
    Exact,
    /// Decided in memory; every `interval` each instance pushes what it took
    /// and reads back what all took. Between two syncs the instances can
    /// together pass a window by what the others admitted meanwhile.
    Synced { interval: Duration },
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            backend: StateBackend::Memory,
            timeout: Duration::from_millis(100),
            on_error: OnError::FailOpen,
            prefix: "switchyard".to_string(),
            sync_interval: Duration::from_secs(1),
            limits: LimitsMode::Exact,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StateBackend {
    /// Per process.
    Memory,
    /// Shared by every instance using the same server; the URL may hold a password.
    Redis { url: Secret },
}

/// What a request does when the shared store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Serve it without the shared limits.
    FailOpen,
    /// Answer 503.
    FailClosed,
}

/// `[reload]`: reloading the config file when it changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReloadConfig {
    pub watch: bool,
    /// How long the file must stay the same before it is loaded.
    pub debounce: Duration,
    /// This file may replace every user or every model of the running
    /// config: read from the new file at each reload, never carried over.
    pub allow_replace_all: bool,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        ReloadConfig {
            watch: true,
            // Long enough for a writer that pauses mid-file to resume, short
            // enough that a reload is still seen at once.
            debounce: Duration::from_secs(1),
            allow_replace_all: false,
        }
    }
}

/// The URL with credentials and query string (where keys hide) replaced,
/// for logs, errors and summaries.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "[redacted]".to_string();
    };
    // Everything before the last `@` is credentials, whatever characters the password holds.
    let rest = match rest.rfind('@') {
        Some(at) => format!("[redacted]@{}", &rest[at + 1..]),
        None => rest.to_string(),
    };
    match rest.split_once('?') {
        Some((path, _)) => format!("{scheme}://{path}?[redacted]"),
        None => format!("{scheme}://{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_in_urls() {
        assert_eq!(
            redact_url("redis://:hunter2@10.0.0.1:6379/0"),
            "redis://[redacted]@10.0.0.1:6379/0"
        );
        assert_eq!(
            redact_url("redis://user:p/@ss@h/1"),
            "redis://[redacted]@h/1"
        );
        assert_eq!(redact_url("redis://127.0.0.1:1"), "redis://127.0.0.1:1");
        assert_eq!(redact_url("nonsense"), "[redacted]");
    }
}
