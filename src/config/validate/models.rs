//! `[models.NAME]` and their backends.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use indexmap::IndexMap;

use super::super::checker::Checker;
use super::super::prices::{Price, PriceTable};
use super::super::protocol;
use super::super::raw::{RawBackend, RawModel};
use super::super::routing::{Affinity, AffinityMode, Hedge};
use super::super::types::*;
use crate::protocol::{Api, Support};

pub(super) fn models(
    c: &mut Checker,
    raw: &IndexMap<String, RawModel>,
    providers: &IndexMap<String, Arc<Provider>>,
    prices: &PriceTable,
) -> IndexMap<String, Arc<Model>> {
    let mut out = IndexMap::new();
    for (key, m) in raw {
        if m.enabled == Some(false) {
            continue;
        }
        let name = m.name.clone().unwrap_or_else(|| key.clone());
        let model = model(
            c,
            &format!("models.{key}"),
            name.clone(),
            m,
            (providers, prices),
        );
        if out.insert(name.clone(), Arc::new(model)).is_some() {
            c.error(
                format!("models.{key}.name"),
                format!("model name {name:?} is used twice"),
            );
        }
    }
    out
}

fn model(
    c: &mut Checker,
    path: &str,
    name: String,
    m: &RawModel,
    known: (&IndexMap<String, Arc<Provider>>, &PriceTable),
) -> Model {
    let strategy_name = m.strategy.as_deref().unwrap_or("weighted_random");
    let strategy = Strategy::parse(strategy_name).unwrap_or_else(|| {
        let known = Strategy::NAMES.join(", ");
        c.error(
            format!("{path}.strategy"),
            format!("unknown strategy {strategy_name:?} (known: {known})"),
        );
        Strategy::WeightedRandom
    });
    let kind = kind(c, path, m.kind.as_deref());
    if m.backends.is_empty() {
        c.error(
            format!("{path}.backends"),
            "a model needs at least one backend",
        );
    }
    let mut seen = HashSet::new();
    let mut backends = Vec::new();
    for (i, b) in m.backends.iter().enumerate() {
        let bpath = format!("{path}.backends[{i}]");
        if let Some(backend) = backend(c, &bpath, b, known) {
            if kind == ModelKind::Embeddings {
                embeds(c, &bpath, &backend);
            }
            if !seen.insert(backend.id.clone()) {
                let hint =
                    "two backends of one provider in one model must each set a distinct `id`";
                c.error(
                    format!("{bpath}.id"),
                    format!("duplicate backend id {:?}; {hint}", backend.id),
                );
            }
            backends.push(Arc::new(backend));
        }
    }
    let (affinity, hedge) = routing(c, path, m);
    Model {
        name,
        strategy,
        affinity,
        hedge,
        kind,
        backends,
    }
}

/// `affinity`, `affinity_ttl` and `hedge_after`.
fn routing(c: &mut Checker, path: &str, m: &RawModel) -> (Affinity, Option<Hedge>) {
    let mut affinity = Affinity::default();
    if let Some(name) = &m.affinity {
        match AffinityMode::parse(name) {
            Some(mode) => affinity.mode = mode,
            None => c.error(
                format!("{path}.affinity"),
                format!("unknown affinity {name:?} (known: {})", AffinityMode::NAMES),
            ),
        }
    }
    let ttl_path = format!("{path}.affinity_ttl");
    affinity.ttl = c.duration(ttl_path, m.affinity_ttl.as_ref(), affinity.ttl);
    let hedge = match m.hedge_after.as_deref() {
        None => None,
        Some("p95") => Some(Hedge::P95),
        Some(_) => {
            let d = c.duration(
                format!("{path}.hedge_after"),
                m.hedge_after.as_ref(),
                Duration::ZERO,
            );
            (!d.is_zero()).then_some(Hedge::After(d))
        }
    };
    (affinity, hedge)
}

fn kind(c: &mut Checker, path: &str, kind: Option<&str>) -> ModelKind {
    match kind {
        None | Some("chat") => ModelKind::Chat,
        Some("embeddings") => ModelKind::Embeddings,
        Some(other) => {
            c.error(
                format!("{path}.kind"),
                format!("unknown model kind {other:?} (known: chat, embeddings)"),
            );
            ModelKind::Chat
        }
    }
}

/// An embeddings model's backends must have an embeddings API: one without
/// could never serve it, so it is a config error rather than a backend
/// skipped on every request.
fn embeds(c: &mut Checker, path: &str, backend: &Backend) {
    let protocol = &backend.provider.protocol;
    if protocol.support(Api::Embeddings) == Support::None {
        c.error(
            format!("{path}.provider"),
            format!(
                "provider {:?} speaks {}, which has no embeddings API; an embeddings model cannot use it",
                backend.provider.id,
                protocol.name()
            ),
        );
    }
}

/// A backend table's own keys, for "unknown field" errors.
const BACKEND_KEYS: &[&str] = &[
    "id",
    "provider",
    "model",
    "weight",
    "priority",
    "tags",
    "billing_mode",
    "enabled",
    "price",
];

fn backend(
    c: &mut Checker,
    path: &str,
    b: &RawBackend,
    (providers, prices): (&IndexMap<String, Arc<Provider>>, &PriceTable),
) -> Option<Backend> {
    let Some(provider) = providers.get(&b.provider) else {
        c.error(
            format!("{path}.provider"),
            format!("unknown provider {:?}", b.provider),
        );
        return None;
    };
    let weight = b.weight.unwrap_or(1.0);
    if !(weight > 0.0 && weight.is_finite()) {
        c.error(
            format!("{path}.weight"),
            format!("must be a number greater than 0, got {weight}"),
        );
    }
    if b.model.is_empty() {
        c.error(format!("{path}.model"), "must not be empty");
    }
    if !provider.models.is_empty() && !provider.models.contains(&b.model) {
        let listed = provider.models.join(", ");
        c.error(
            format!("{path}.model"),
            format!(
                "provider {:?} does not list model {:?} (it lists: {listed})",
                b.provider, b.model
            ),
        );
    }
    let billing_mode = match b.billing_mode.as_deref() {
        None | Some("per_token") => BillingMode::PerToken,
        Some("per_request") => BillingMode::PerRequest,
        Some(other) => {
            c.error(
                format!("{path}.billing_mode"),
                format!("unknown billing mode {other:?} (known: per_token, per_request)"),
            );
            BillingMode::PerToken
        }
    };
    let price = price(c, path, b, billing_mode, prices);
    let spec = provider.protocol.spec();
    let address = protocol::address(c, path, spec, &b.model, &b.protocol, BACKEND_KEYS);
    let id = b.id.clone().unwrap_or_else(|| b.provider.clone());
    if id.is_empty() {
        c.error(format!("{path}.id"), "must not be empty");
    }
    Some(Backend {
        id_header: HeaderValue::from_str(&id).ok(),
        id,
        provider: provider.clone(),
        upstream_model: b.model.clone(),
        address,
        weight,
        priority: b.priority.unwrap_or(1),
        tags: b.tags.clone(),
        billing_mode,
        enabled: b.enabled.unwrap_or(true) && provider.enabled,
        price,
    })
}

/// The backend's own `price` over its model's, or its model's.
fn price(
    c: &mut Checker,
    path: &str,
    b: &RawBackend,
    mode: BillingMode,
    prices: &PriceTable,
) -> Option<Arc<Price>> {
    let table = prices.lookup(&b.model);
    let Some(own) = &b.price else {
        return table;
    };
    let ppath = format!("{path}.price");
    if own.per_request.is_some() != (mode == BillingMode::PerRequest) {
        let hint = "set `per_request` exactly when billing_mode = \"per_request\"";
        c.error(format!("{ppath}.per_request"), hint);
    }
    Some(Arc::new(super::usage::price_over(
        c,
        &ppath,
        table.as_deref(),
        own,
    )))
}
