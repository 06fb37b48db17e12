//! The state's side of the usage ledger: budget windows rebuilt from it at
//! start, and models without a price named once.

use std::sync::Arc;

use super::AppState;
use crate::budget::UserBudget;
use crate::config::Config;

impl AppState {
    /// Waits, at most `limit` each, for the ledger's schema and then
    /// rebuilds this month's budget windows from its rows, so a restart
    /// does not reset spend. False when the store did not answer in time.
    pub async fn prepare(&self, limit: std::time::Duration) -> bool {
        if !self.ledger().ready(limit).await {
            return false;
        }
        let snap = self.snapshot();
        let Some(store) = self.ledger().store() else {
            return true;
        };
        let plans: Vec<Arc<UserBudget>> = snap.budgets.values().cloned().collect();
        if plans.is_empty() {
            return true;
        }
        let now = crate::calendar::unix_ms();
        let month = crate::calendar::Date::of(now).first_of_month().to_string();
        match tokio::time::timeout(limit, store.spend_since(&month)).await {
            Ok(Ok(spend)) => {
                self.budgets().rebuild(&plans, &spend, now).await;
                true
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "switchyard::usage", error = %e, "budgets not rebuilt from the usage ledger");
                false
            }
            Err(_) => false,
        }
    }
}

/// Logs each upstream model without a price once: at start, then those a
/// reload newly brings.
pub(super) fn flag_unpriced(new: &Config, old: Option<&Config>) {
    for model in &new.usage.unpriced {
        if old.is_some_and(|o| o.usage.unpriced.contains(model)) {
            continue;
        }
        tracing::warn!(target: "switchyard::usage", upstream_model = %model,
            "no price for this upstream model: its requests cost 0 in the usage ledger and budgets (set [prices.\"{model}\"])");
    }
}
