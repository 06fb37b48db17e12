//! Checks `[usage]`, the price table (defaults, `prices_file`,
//! `[prices."MODEL"]`) and `[users.ID.budget]`.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::super::checker::Checker;
use super::super::prices::{Price, PriceTable};
use super::super::raw_usage::{RawBudget, RawBudgetLimits, RawPrice, RawUsage};
use super::super::types::Model;
use super::super::usage::*;

const DEFAULT_PRICES: &str = include_str!("../prices.toml");
const DEFAULT_FILE: &str = "switchyard-usage.db";
const DEFAULT_MAX_PENDING: u64 = 100_000;

/// The shipped table, then the LiteLLM file, then `[prices]`.
pub(super) fn prices(
    c: &mut Checker,
    raw: &IndexMap<String, RawPrice>,
    usage: &RawUsage,
    dir: Option<&Path>,
) -> PriceTable {
    let mut table = PriceTable::default();
    match toml::from_str::<IndexMap<String, RawPrice>>(DEFAULT_PRICES) {
        Ok(defaults) => {
            for (model, p) in &defaults {
                table.insert(model, price_over(c, "", None, p));
            }
        }
        // Never reaches a user: a test parses the shipped table.
        Err(e) => c.error("prices", format!("the built-in price table: {e}")),
    }
    if let Some(file) = &usage.prices_file {
        litellm(c, &mut table, &resolve(dir, file));
    }
    for (model, p) in raw {
        let path = format!("prices.{model}");
        if p.per_request.is_some() {
            c.error(
                format!("{path}.per_request"),
                "only a backend's own `price` can be per request (with billing_mode = \"per_request\")",
            );
        }
        let base = table.get(model).cloned();
        table.insert(model, price_over(c, &path, base.as_deref(), p));
    }
    table
}

fn resolve(dir: Option<&Path>, file: &str) -> std::path::PathBuf {
    match dir {
        Some(d) if Path::new(file).is_relative() => d.join(file),
        _ => file.into(),
    }
}

/// `raw`'s fields over `base`'s. Without either, cached input and cache
/// writes cost what input costs and reasoning what output costs.
pub(super) fn price_over(
    c: &mut Checker,
    path: &str,
    base: Option<&Price>,
    raw: &RawPrice,
) -> Price {
    let mut usd = |key: &str, v: Option<f64>| {
        let ok = v.is_none_or(|x| x.is_finite() && x >= 0.0);
        if !ok {
            c.error(format!("{path}.{key}"), "must be a number, 0 or more");
        }
        v.filter(|_| ok)
    };
    let input = usd("input_per_mtok", raw.input_per_mtok);
    let output = usd("output_per_mtok", raw.output_per_mtok);
    let cached = usd("cached_input_per_mtok", raw.cached_input_per_mtok);
    let write = usd("cache_write_per_mtok", raw.cache_write_per_mtok);
    let reasoning = usd("reasoning_per_mtok", raw.reasoning_per_mtok);
    let per_request = usd("per_request", raw.per_request);
    let input = input.or(base.map(|b| b.input)).unwrap_or(0.0);
    let output = output.or(base.map(|b| b.output)).unwrap_or(0.0);
    Price {
        input,
        cached_input: cached.or(base.map(|b| b.cached_input)).unwrap_or(input),
        cache_write: write.or(base.map(|b| b.cache_write)).unwrap_or(input),
        output,
        reasoning: reasoning.or(base.map(|b| b.reasoning)).unwrap_or(output),
        per_request: per_request.or(base.and_then(|b| b.per_request)),
        max_output_tokens: raw
            .max_output_tokens
            .or(base.and_then(|b| b.max_output_tokens)),
    }
}

/// LiteLLM's `model_prices_and_context_window.json`: USD per token by
/// model; an entry under `provider/model` also prices `model` unless that
/// has its own entry.
fn litellm(c: &mut Checker, table: &mut PriceTable, file: &Path) {
    let path = "usage.prices_file";
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return c.error(path, format!("cannot read {}: {e}", file.display())),
    };
    let entries: IndexMap<String, Value> = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            return c.error(
                path,
                format!("{} is not LiteLLM's JSON: {e}", file.display()),
            )
        }
    };
    let mut short = Vec::new();
    for (model, v) in &entries {
        let per_mtok = |key: &str| v.get(key).and_then(Value::as_f64).map(|x| x * 1e6);
        let Some(input) = per_mtok("input_cost_per_token") else {
            continue;
        };
        let output = per_mtok("output_cost_per_token").unwrap_or(0.0);
        let price = Price {
            input,
            cached_input: per_mtok("cache_read_input_token_cost").unwrap_or(input),
            cache_write: per_mtok("cache_creation_input_token_cost").unwrap_or(input),
            output,
            reasoning: per_mtok("output_cost_per_reasoning_token").unwrap_or(output),
            per_request: None,
            max_output_tokens: v
                .get("max_output_tokens")
                .or_else(|| v.get("max_tokens"))
                .and_then(Value::as_u64),
        };
        if let Some((_, name)) = model.rsplit_once('/') {
            short.push((name.to_string(), price.clone()));
        }
        table.insert(model, price);
    }
    for (name, price) in short {
        if !entries.contains_key(&name) {
            table.insert(&name, price);
        }
    }
}

pub(super) fn usage(
    c: &mut Checker,
    raw: &RawUsage,
    dir: Option<&Path>,
    models: &IndexMap<String, Arc<Model>>,
) -> UsageConfig {
    let store = match raw.store.as_deref() {
        None => UsageStore::Sqlite(dir.map(|d| d.join(DEFAULT_FILE))),
        Some(text) => store(c, text, dir),
    };
    let retention = raw
        .retention
        .as_ref()
        .map(|r| c.duration("usage.retention".into(), Some(r), std::time::Duration::MAX));
    let max_pending = raw.max_pending_rows.unwrap_or(DEFAULT_MAX_PENDING);
    if max_pending == 0 {
        c.error("usage.max_pending_rows", "must be at least 1");
    }
    let mut unpriced: Vec<String> = models
        .values()
        .flat_map(|m| &m.backends)
        .filter(|b| b.price.is_none())
        .map(|b| b.upstream_model.clone())
        .collect();
    unpriced.sort();
    unpriced.dedup();
    UsageConfig {
        store,
        retention,
        max_pending_rows: max_pending as usize,
        unpriced,
    }
}

fn store(c: &mut Checker, raw: &str, dir: Option<&Path>) -> UsageStore {
    let text = c.secret("usage.store".into(), raw);
    let url = text.expose();
    if url == "off" {
        return UsageStore::Off;
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return UsageStore::Postgres(text);
    }
    if matches!(url, "sqlite::memory:" | "sqlite://:memory:") {
        return UsageStore::Sqlite(None);
    }
    match url.strip_prefix("sqlite://").filter(|p| !p.is_empty()) {
        Some(file) => UsageStore::Sqlite(Some(resolve(dir, file))),
        None => {
            let shown = super::super::redact_url(url);
            c.error(
                "usage.store",
                format!(
                    "must be sqlite://PATH, sqlite::memory:, postgres://... or off, got {shown:?}"
                ),
            );
            UsageStore::Off
        }
    }
}

pub(super) fn budget(
    c: &mut Checker,
    path: &str,
    raw: Option<&RawBudget>,
    models: &IndexMap<String, Arc<Model>>,
) -> Budget {
    let Some(raw) = raw else {
        return Budget::default();
    };
    let own = RawBudgetLimits {
        usd_per_day: raw.usd_per_day,
        usd_per_month: raw.usd_per_month,
    };
    super::limits::per_model(c, path, (&own, &raw.models), models, limits)
}

fn limits(c: &mut Checker, path: &str, raw: &RawBudgetLimits) -> BudgetLimits {
    let mut positive = |key: &str, v: Option<f64>| {
        let ok = v.is_none_or(|x| x.is_finite() && x > 0.0);
        if !ok {
            let hint = "must be a number of USD above 0 (leave the key out for no budget)";
            c.error(format!("{path}.{key}"), hint);
        }
        v.filter(|_| ok)
    };
    BudgetLimits {
        usd_per_day: positive("usd_per_day", raw.usd_per_day),
        usd_per_month: positive("usd_per_month", raw.usd_per_month),
    }
}
