//! Checks `[health]` and the per-provider probe overrides.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::super::checker::Checker;
use super::super::health::*;
use super::super::raw::RawProvider;
use super::super::raw_health::{RawHealth, RawPenalties, RawProbe, RawSmart};

pub(super) fn health(
    c: &mut Checker,
    raw: &RawHealth,
    providers: &IndexMap<String, RawProvider>,
) -> HealthConfig {
    let d = HealthConfig::default();
    let p = "health";
    let open_cooldown = c.duration(
        format!("{p}.open_cooldown"),
        raw.open_cooldown.as_ref(),
        d.open_cooldown,
    );
    let max_open_cooldown = c.duration(
        format!("{p}.max_open_cooldown"),
        raw.max_open_cooldown.as_ref(),
        d.max_open_cooldown.max(open_cooldown),
    );
    if max_open_cooldown < open_cooldown {
        c.error(
            format!("{p}.max_open_cooldown"),
            "must not be shorter than open_cooldown",
        );
    }
    let probe = probe(c, "health.probe", &raw.probe, &ProbeConfig::default());
    let provider_probes: HashMap<String, ProbeConfig> = providers
        .iter()
        .filter_map(|(id, rp)| {
            let over = rp.probe.as_ref()?;
            Some((
                id.clone(),
                self::probe(c, &format!("providers.{id}.probe"), over, &probe),
            ))
        })
        .collect();
    HealthConfig {
        failure_threshold: at_least_one(
            c,
            &format!("{p}.failure_threshold"),
            raw.failure_threshold,
            d.failure_threshold,
        ),
        error_rate_threshold: share(
            c,
            &format!("{p}.error_rate_threshold"),
            raw.error_rate_threshold,
            d.error_rate_threshold,
            false,
        ),
        min_requests: at_least_one(
            c,
            &format!("{p}.min_requests"),
            raw.min_requests,
            d.min_requests,
        ),
        window: c.duration(format!("{p}.window"), raw.window.as_ref(), d.window),
        open_cooldown,
        max_open_cooldown,
        rate_limit_cooldown: c.duration(
            format!("{p}.rate_limit_cooldown"),
            raw.rate_limit_cooldown.as_ref(),
            d.rate_limit_cooldown,
        ),
        max_cooldown: c.duration(
            format!("{p}.max_cooldown"),
            raw.max_cooldown.as_ref(),
            d.max_cooldown,
        ),
        auth_cooldown: c.duration(
            format!("{p}.auth_cooldown"),
            raw.auth_cooldown.as_ref(),
            d.auth_cooldown,
        ),
        probe,
        provider_probes,
        smart: smart(c, &raw.smart),
    }
}

/// Reads probe keys over `base` (the defaults, or `[health.probe]` for a provider).
fn probe(c: &mut Checker, path: &str, raw: &RawProbe, base: &ProbeConfig) -> ProbeConfig {
    let kind = match raw.kind.as_deref() {
        None => base.kind,
        Some(name) => ProbeKind::parse(name).unwrap_or_else(|| {
            let known = ProbeKind::NAMES.join(", ");
            c.error(
                format!("{path}.kind"),
                format!("unknown probe kind {name:?} (known: {known})"),
            );
            base.kind
        }),
    };
    ProbeConfig {
        kind,
        interval: c.duration(
            format!("{path}.interval"),
            raw.interval.as_ref(),
            base.interval,
        ),
        timeout: c.duration(
            format!("{path}.timeout"),
            raw.timeout.as_ref(),
            base.timeout,
        ),
        failure_threshold: at_least_one(
            c,
            &format!("{path}.failure_threshold"),
            raw.failure_threshold,
            base.failure_threshold,
        ),
    }
}

fn smart(c: &mut Checker, raw: &RawSmart) -> SmartConfig {
    let d = SmartConfig::default();
    let p = "health.smart";
    let initial_confidence = share(
        c,
        &format!("{p}.initial_confidence"),
        raw.initial_confidence,
        d.initial_confidence,
        false,
    );
    let min_confidence = share(
        c,
        &format!("{p}.min_confidence"),
        raw.min_confidence,
        d.min_confidence,
        false,
    );
    if min_confidence > initial_confidence {
        c.error(
            format!("{p}.min_confidence"),
            "must not be greater than initial_confidence",
        );
    }
    SmartConfig {
        initial_confidence,
        min_confidence,
        success_reward: share(
            c,
            &format!("{p}.success_reward"),
            raw.success_reward,
            d.success_reward,
            true,
        ),
        recovery_half_life: c.duration(
            format!("{p}.recovery_half_life"),
            raw.recovery_half_life.as_ref(),
            d.recovery_half_life,
        ),
        explore_ratio: share(
            c,
            &format!("{p}.explore_ratio"),
            raw.explore_ratio,
            d.explore_ratio,
            true,
        ),
        penalties: penalties(c, &raw.penalties),
    }
}

fn penalties(c: &mut Checker, raw: &RawPenalties) -> Penalties {
    let d = Penalties::default();
    let mut one = |key: &str, v: Option<f64>, default: f64| {
        share(
            c,
            &format!("health.smart.penalties.{key}"),
            v,
            default,
            true,
        )
    };
    Penalties {
        auth: one("auth", raw.auth, d.auth),
        connect: one("connect", raw.connect, d.connect),
        timeout: one("timeout", raw.timeout, d.timeout),
        server_error: one("server_error", raw.server_error, d.server_error),
        rate_limited: one("rate_limited", raw.rate_limited, d.rate_limited),
        stream_broken: one("stream_broken", raw.stream_broken, d.stream_broken),
    }
}

fn at_least_one(c: &mut Checker, path: &str, value: Option<u32>, default: u32) -> u32 {
    match value {
        Some(0) => {
            c.error(path, "must be at least 1");
            default
        }
        Some(v) => v,
        None => default,
    }
}

/// A number in [0, 1] (or (0, 1] when zero is not allowed).
fn share(c: &mut Checker, path: &str, value: Option<f64>, default: f64, zero_ok: bool) -> f64 {
    let Some(v) = value else { return default };
    let low_ok = if zero_ok { v >= 0.0 } else { v > 0.0 };
    if low_ok && v <= 1.0 {
        return v;
    }
    let range = if zero_ok {
        "from 0 to 1"
    } else {
        "greater than 0 and at most 1"
    };
    c.error(path, format!("must be a number {range}, got {v}"));
    default
}
