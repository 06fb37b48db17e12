//! Turns the raw TOML structs into runtime types, collecting every error with
//! the TOML path it belongs to.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use super::checker::Checker;
use super::health::AllDownPolicy;
use super::protocol;
use super::raw::{RawConfig, RawProvider, RawSettings};
use super::secret::expand_env;
use super::types::*;
use super::{ConfigError, Env, Secret};

mod health;
mod limits;
mod models;
mod server;
mod usage;
#[cfg(test)]
mod usage_tests;
mod users;

use models::models;
use users::{metrics, users};

/// Far above any chat answer (a long one is well under 1 MiB), well below
/// what a few concurrent ones could cost in memory.
const DEFAULT_MAX_RESPONSE: u64 = 32 * 1024 * 1024;

pub fn validate(
    raw: RawConfig,
    env: &Env,
    dir: Option<&std::path::Path>,
) -> Result<Config, Vec<ConfigError>> {
    let mut c = Checker::new(env);
    let server = server::server(&mut c, &raw.server);
    let settings = settings(&mut c, &raw.settings);
    let providers = providers(&mut c, &raw.providers, &settings.timeouts);
    let prices = usage::prices(&mut c, &raw.prices, &raw.usage, dir);
    let models = models(&mut c, &raw.models, &providers, &prices);
    let users = users(&mut c, &raw.users, &models);
    // An empty or half-written file must never take the gateway from
    // everyone: one that serves no one or nothing is a mistake.
    if models.is_empty() {
        c.error(
            "models",
            "no models to serve: every request would get 404; add a [models.NAME] table (one with `enabled = false` does not count)",
        );
    }
    if raw.users.is_empty() {
        c.error(
            "users",
            "no users: every request would get 401; add a [users.ID] table",
        );
    }
    let metrics = metrics(&mut c, &raw.metrics);
    let health = health::health(&mut c, &raw.health, &raw.providers);
    let state = limits::state(&mut c, &raw.state);
    let reload = limits::reload(&mut c, &raw.reload);
    let usage = usage::usage(&mut c, &raw.usage, dir, &models);
    if c.errors.is_empty() {
        Ok(Config {
            server,
            settings,
            providers,
            models,
            users,
            metrics,
            health,
            state,
            reload,
            usage,
        })
    } else {
        Err(c.errors)
    }
}

fn settings(c: &mut Checker, raw: &RawSettings) -> Settings {
    let max_attempts = raw.max_attempts.unwrap_or(3);
    if max_attempts == 0 {
        c.error("settings.max_attempts", "must be at least 1");
    }
    let timeouts = timeouts(
        c,
        "settings",
        [
            &raw.connect_timeout,
            &raw.first_token_timeout,
            &raw.idle_timeout,
            &raw.request_timeout,
            &raw.pool_idle_timeout,
        ],
        &Timeouts::default(),
    );
    let request_deadline = raw
        .request_deadline
        .as_ref()
        .map(|d| c.duration("settings.request_deadline".into(), Some(d), Duration::MAX));
    let all_backends_down = match raw.all_backends_down.as_deref() {
        None => AllDownPolicy::TryAnyway,
        Some(name) => AllDownPolicy::parse(name).unwrap_or_else(|| {
            c.error(
                "settings.all_backends_down",
                format!("unknown policy {name:?} (known: try_anyway, fail)"),
            );
            AllDownPolicy::TryAnyway
        }),
    };
    let shutdown_grace = c.duration(
        "settings.shutdown_grace".into(),
        raw.shutdown_grace.as_ref(),
        Duration::from_secs(30),
    );
    let max_response_bytes = raw.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE);
    if max_response_bytes == 0 {
        c.error("settings.max_response_bytes", "must be greater than zero");
    }
    Settings {
        max_attempts,
        timeouts,
        request_deadline,
        all_backends_down,
        shutdown_grace,
        max_response_bytes: usize::try_from(max_response_bytes).unwrap_or(usize::MAX),
    }
}

/// Reads `[connect, first_token, idle, request, pool_idle]` over `base`.
fn timeouts(c: &mut Checker, path: &str, raw: [&Option<String>; 5], base: &Timeouts) -> Timeouts {
    Timeouts {
        connect: c.duration(
            format!("{path}.connect_timeout"),
            raw[0].as_ref(),
            base.connect,
        ),
        first_token: c.duration(
            format!("{path}.first_token_timeout"),
            raw[1].as_ref(),
            base.first_token,
        ),
        idle: c.duration(format!("{path}.idle_timeout"), raw[2].as_ref(), base.idle),
        request: c.duration(
            format!("{path}.request_timeout"),
            raw[3].as_ref(),
            base.request,
        ),
        pool_idle: c.duration(
            format!("{path}.pool_idle_timeout"),
            raw[4].as_ref(),
            base.pool_idle,
        ),
    }
}

fn providers(
    c: &mut Checker,
    raw: &IndexMap<String, RawProvider>,
    base: &Timeouts,
) -> IndexMap<String, Arc<Provider>> {
    raw.iter()
        .map(|(id, p)| (id.clone(), Arc::new(provider(c, id, p, base))))
        .collect()
}

/// A provider table's own keys, for "unknown field" errors.
const PROVIDER_KEYS: &[&str] = &[
    "name",
    "backend_type",
    "base_url",
    "api_key",
    "headers",
    "models",
    "connect_timeout",
    "first_token_timeout",
    "idle_timeout",
    "request_timeout",
    "pool_idle_timeout",
    "enabled",
    "probe",
];

fn provider(c: &mut Checker, id: &str, p: &RawProvider, base: &Timeouts) -> Provider {
    let path = format!("providers.{id}");
    let (spec, protocol) =
        protocol::provider(c, &path, &p.backend_type, &p.protocol, PROVIDER_KEYS).unwrap_or_else(
            || {
                // Checked against the default protocol, so its other errors still show.
                let spec = &crate::protocol::PROTOCOLS[0];
                let mut options = crate::protocol::Options::new(&p.protocol);
                (spec, (spec.new)(&mut options))
            },
        );
    let base_url = base_url(c, &format!("{path}.base_url"), &p.base_url);
    let base_url = (spec.base_url)(&base_url);
    // An empty key (e.g. "${KEY:-}") means no credentials at all, not an empty header.
    let api_key = p
        .api_key
        .as_ref()
        .map(|k| c.secret(format!("{path}.api_key"), k))
        .filter(|k| !k.expose().is_empty());
    let headers = p
        .headers
        .iter()
        .map(|(name, value)| {
            let hpath = format!("{path}.headers.{name}");
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                c.error(hpath.clone(), "invalid header name");
            }
            (name.to_ascii_lowercase(), c.secret(hpath, value))
        })
        .collect();
    let raw_timeouts = [
        &p.connect_timeout,
        &p.first_token_timeout,
        &p.idle_timeout,
        &p.request_timeout,
        &p.pool_idle_timeout,
    ];
    let timeouts = timeouts(c, &path, raw_timeouts, base);
    let models = p.models.clone();
    Provider {
        id: id.to_string(),
        name: p.name.clone().unwrap_or_else(|| id.to_string()),
        protocol,
        base_url,
        api_key,
        headers,
        models,
        timeouts,
        enabled: p.enabled.unwrap_or(true),
    }
}

/// Expands and checks the scheme; [`protocol::normalise_base_url`] shapes the path.
fn base_url(c: &mut Checker, path: &str, raw: &str) -> String {
    let url = match expand_env(raw, c.env) {
        Ok(u) => u,
        Err(e) => {
            c.error(path, e);
            return String::new();
        }
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        c.error(
            path,
            format!(
                "must start with http:// or https://, got {:?}",
                super::redact_url(&url)
            ),
        );
    }
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next());
    if authority.is_some_and(|a| a.contains('@')) {
        c.error(
            path,
            "credentials in the URL are not sent; put them in the provider's `headers`",
        );
    } else if authority.is_some_and(|a| !a.is_ascii()) {
        c.error(path, "write the host in its ASCII (punycode) form");
    }
    url
}
