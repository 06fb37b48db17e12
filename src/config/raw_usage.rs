//! `[usage]`, `[prices."MODEL"]`, a backend's `price` and
//! `[users.ID.budget]` as written in TOML.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsage {
    pub store: Option<String>,
    pub retention: Option<String>,
    pub max_pending_rows: Option<u64>,
    pub prices_file: Option<String>,
}

/// One model's price (USD per million tokens), or a backend's own.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    pub input_per_mtok: Option<f64>,
    pub cached_input_per_mtok: Option<f64>,
    pub cache_write_per_mtok: Option<f64>,
    pub output_per_mtok: Option<f64>,
    pub reasoning_per_mtok: Option<f64>,
    /// Only in a backend's `price`, with `billing_mode = "per_request"`.
    pub per_request: Option<f64>,
    pub max_output_tokens: Option<u64>,
}

/// `[users.ID.budget]`, and `[users.ID.budget.models.MODEL]` with the same keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub usd_per_day: Option<f64>,
    pub usd_per_month: Option<f64>,
    #[serde(default)]
    pub models: IndexMap<String, RawBudgetLimits>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudgetLimits {
    pub usd_per_day: Option<f64>,
    pub usd_per_month: Option<f64>,
}
