//! `[users.ID]` and `[metrics]`.

use std::collections::HashSet;
use std::sync::Arc;

use indexmap::IndexMap;

use super::super::checker::Checker;
use super::super::raw::{RawMetrics, RawUser};
use super::super::types::*;
use super::limits;

pub(super) fn users(
    c: &mut Checker,
    raw: &IndexMap<String, RawUser>,
    models: &IndexMap<String, Arc<Model>>,
) -> IndexMap<String, Arc<User>> {
    let mut digests = HashSet::new();
    let mut out = IndexMap::new();
    for (id, u) in raw {
        let path = format!("users.{id}");
        let token_digest = limits::user_digest(c, &path, u, &mut digests);
        for (i, m) in u.allowed_models.iter().enumerate() {
            if !models.contains_key(m) {
                c.error(
                    format!("{path}.allowed_models[{i}]"),
                    format!("unknown model {m:?}"),
                );
            }
        }
        let rate_limit = limits::rate_limit(
            c,
            &format!("{path}.rate_limit"),
            u.rate_limit.as_ref(),
            models,
        );
        let budget = super::usage::budget(c, &format!("{path}.budget"), u.budget.as_ref(), models);
        let user = User {
            id: id.clone(),
            name: u.name.clone().unwrap_or_else(|| id.clone()),
            token_digest,
            allowed_models: u.allowed_models.clone(),
            tags: u.tags.clone(),
            enabled: u.enabled.unwrap_or(true),
            allow_backend_pin: u.allow_backend_pin.unwrap_or(true),
            admin: u.admin.unwrap_or(false),
            rate_limit,
            budget,
        };
        out.insert(id.clone(), Arc::new(user));
    }
    out
}

pub(super) fn metrics(c: &mut Checker, raw: &RawMetrics) -> MetricsConfig {
    let access = match raw.access.as_deref() {
        None => Access::Open,
        Some(name) => Access::parse(name).unwrap_or_else(|| {
            c.error(
                "metrics.access",
                format!("unknown access {name:?} (known: {})", Access::KNOWN),
            );
            Access::Open
        }),
    };
    MetricsConfig {
        access,
        listen: raw.listen.clone(),
    }
}
