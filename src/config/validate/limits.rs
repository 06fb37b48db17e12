//! Checks user tokens and digests, `[users.ID.rate_limit]`, `[state]` and `[reload]`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use super::super::checker::Checker;
use super::super::limits::*;
use super::super::raw::RawUser;
use super::super::raw_limits::{RawLimits, RawRateLimit, RawReload, RawState};
use super::super::secret::{digest_from_hex, token_digest};
use super::super::types::Model;

/// The SHA-256 of the user's token, from `token` or `token_sha256` (exactly
/// one must be set); `seen` catches two users with the same token.
pub(super) fn user_digest(
    c: &mut Checker,
    path: &str,
    u: &RawUser,
    seen: &mut HashSet<[u8; 32]>,
) -> [u8; 32] {
    let (digest, key) = match (&u.token, &u.token_sha256) {
        (Some(token), None) => {
            let token = c.secret(format!("{path}.token"), token);
            if token.expose().is_empty() {
                c.error(format!("{path}.token"), "must not be empty");
                return [0; 32];
            }
            (token_digest(token.expose()), "token")
        }
        (None, Some(hex)) => {
            let hex = c.secret(format!("{path}.token_sha256"), hex);
            match digest_from_hex(hex.expose()) {
                Some(d) => (d, "token_sha256"),
                None => {
                    let hint = "must be 64 hexadecimal characters (see `switchyard hash-token`)";
                    c.error(format!("{path}.token_sha256"), hint);
                    return [0; 32];
                }
            }
        }
        _ => {
            c.error(
                path.to_string(),
                "set exactly one of `token` or `token_sha256`",
            );
            return [0; 32];
        }
    };
    if !seen.insert(digest) {
        c.error(
            format!("{path}.{key}"),
            "this token is already used by another user",
        );
    }
    digest
}

pub(super) fn rate_limit(
    c: &mut Checker,
    path: &str,
    raw: Option<&RawRateLimit>,
    models: &IndexMap<String, Arc<Model>>,
) -> RateLimit {
    let Some(raw) = raw else {
        return RateLimit::default();
    };
    per_model(c, path, (&raw.own(), &raw.models), models, limits)
}

/// A user's limits of one kind: `own` over all models, then each of
/// `per_model` (which must name a model), each checked by `check`.
pub(in crate::config) fn per_model<R, L>(
    c: &mut Checker,
    path: &str,
    (own, per_model): (&R, &IndexMap<String, R>),
    models: &IndexMap<String, Arc<Model>>,
    mut check: impl FnMut(&mut Checker, &str, &R) -> L,
) -> PerModel<L> {
    let all = check(c, path, own);
    let mut out = IndexMap::new();
    for (name, l) in per_model {
        let mpath = format!("{path}.models.{name}");
        if !models.contains_key(name) {
            c.error(mpath.clone(), format!("unknown model {name:?}"));
        }
        out.insert(name.clone(), check(c, &mpath, l));
    }
    PerModel { all, models: out }
}

fn limits(c: &mut Checker, path: &str, raw: &RawLimits) -> Limits {
    let mut positive = |key: &str, v: Option<u64>| {
        if v == Some(0) {
            let hint = "must be at least 1 (leave the key out for no limit)";
            c.error(format!("{path}.{key}"), hint);
        }
        v.filter(|&n| n > 0)
    };
    Limits {
        requests_per_minute: positive("requests_per_minute", raw.requests_per_minute),
        requests_per_hour: positive("requests_per_hour", raw.requests_per_hour),
        requests_per_day: positive("requests_per_day", raw.requests_per_day),
        tokens_per_minute: positive("tokens_per_minute", raw.tokens_per_minute),
        tokens_per_day: positive("tokens_per_day", raw.tokens_per_day),
        max_concurrent: positive("max_concurrent", raw.max_concurrent),
    }
}

pub(super) fn state(c: &mut Checker, raw: &RawState) -> StateConfig {
    let d = StateConfig::default();
    let backend = match (raw.backend.as_deref(), &raw.url) {
        (None | Some("memory"), None) => StateBackend::Memory,
        (None | Some("memory"), Some(_)) => {
            c.error("state.url", "only used with backend = \"redis\"");
            StateBackend::Memory
        }
        (Some("redis"), None) => {
            c.error("state.url", "required with backend = \"redis\"");
            StateBackend::Memory
        }
        (Some("redis"), Some(url)) => StateBackend::Redis {
            url: redis_url(c, url),
        },
        (Some(other), _) => {
            c.error(
                "state.backend",
                format!("unknown backend {other:?} (known: memory, redis)"),
            );
            StateBackend::Memory
        }
    };
    let on_error = match raw.on_error.as_deref() {
        None | Some("fail_open") => OnError::FailOpen,
        Some("fail_closed") => OnError::FailClosed,
        Some(other) => {
            c.error(
                "state.on_error",
                format!("unknown policy {other:?} (known: fail_open, fail_closed)"),
            );
            OnError::FailOpen
        }
    };
    let prefix = raw.prefix.clone().unwrap_or(d.prefix);
    if prefix.is_empty() {
        c.error("state.prefix", "must not be empty");
    }
    let limits = limits_mode(c, raw, &backend);
    StateConfig {
        backend,
        limits,
        timeout: c.duration("state.timeout".into(), raw.timeout.as_ref(), d.timeout),
        on_error,
        prefix,
        sync_interval: c.duration(
            "state.sync_interval".into(),
            raw.sync_interval.as_ref(),
            d.sync_interval,
        ),
    }
}

/// How long a synced instance decides alone by default: short enough that
/// a burst spread over instances overshoots little, long enough that one
/// round trip serves hundreds of requests.
const LIMITS_INTERVAL: Duration = Duration::from_millis(100);

fn limits_mode(c: &mut Checker, raw: &RawState, backend: &StateBackend) -> LimitsMode {
    let interval = raw.limits_interval.as_ref();
    if raw.limits.is_some() && *backend == StateBackend::Memory {
        c.error("state.limits", "only used with backend = \"redis\"");
    }
    match raw.limits.as_deref() {
        None | Some("exact") => {
            if interval.is_some() {
                c.error(
                    "state.limits_interval",
                    "only used with limits = \"synced\"",
                );
            }
            LimitsMode::Exact
        }
        Some("synced") => {
            let every = c.duration("state.limits_interval".into(), interval, LIMITS_INTERVAL);
            LimitsMode::Synced { interval: every }
        }
        Some(other) => {
            c.error(
                "state.limits",
                format!("unknown mode {other:?} (known: exact, synced)"),
            );
            LimitsMode::Exact
        }
    }
}

/// A `redis://` URL (plain TCP) or a Unix socket; TLS is not built in.
fn redis_url(c: &mut Checker, raw: &str) -> super::Secret {
    let url = c.secret("state.url".into(), raw);
    let text = url.expose();
    let ok = ["redis://", "redis+unix://", "unix://"]
        .iter()
        .any(|s| text.starts_with(s));
    if !ok {
        let shown = redact_url(text);
        c.error(
            "state.url",
            format!("must start with redis:// or unix:// (TLS is not supported), got {shown:?}"),
        );
    }
    url
}

pub(super) fn reload(c: &mut Checker, raw: &RawReload) -> ReloadConfig {
    let d = ReloadConfig::default();
    ReloadConfig {
        watch: raw.watch.unwrap_or(d.watch),
        debounce: c.duration("reload.debounce".into(), raw.debounce.as_ref(), d.debounce),
        allow_replace_all: raw.allow_replace_all.unwrap_or(d.allow_replace_all),
    }
}
