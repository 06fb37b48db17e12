//! The usage ledger's store, prices and per-user budgets: documented in
//! docs/configuration.md and docs/operations.md.

use std::path::PathBuf;
use std::time::Duration;

use super::Secret;

/// `[usage]`.
#[derive(Debug, Clone)]
pub struct UsageConfig {
    pub store: UsageStore,
    /// Rows older than this are deleted in the background; `None` keeps all.
    pub retention: Option<Duration>,
    /// Rows held in memory while the store is unreachable; past it new rows
    /// are dropped (and counted).
    pub max_pending_rows: usize,
    /// Upstream models some backend uses that have no price (they cost 0).
    pub unpriced: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UsageStore {
    Off,
    /// A file, or in memory (`None`: `sqlite::memory:`, the demo and configs without a file).
    Sqlite(Option<PathBuf>),
    /// `postgres://...`; the URL may hold a password.
    Postgres(Secret),
}

impl UsageStore {
    /// The store as logs and summaries may show it.
    pub fn shown(&self) -> String {
        match self {
            UsageStore::Off => "off".into(),
            UsageStore::Sqlite(None) => "sqlite::memory:".into(),
            UsageStore::Sqlite(Some(p)) => format!("sqlite://{}", p.display()),
            UsageStore::Postgres(url) => super::redact_url(url.expose()),
        }
    }
}

/// One scope's spend limits in USD; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BudgetLimits {
    pub usd_per_day: Option<f64>,
    pub usd_per_month: Option<f64>,
}

impl BudgetLimits {
    pub fn is_empty(&self) -> bool {
        self.usd_per_day.is_none() && self.usd_per_month.is_none()
    }
}

/// `[users.ID.budget]`: `all` covers every model, `models` one model each (both apply).
pub type Budget = super::PerModel<BudgetLimits>;
