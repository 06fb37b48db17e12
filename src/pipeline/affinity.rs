//! Conversation affinity around dispatch: which backend the request's
//! conversation used last (tried first by dispatch), and, once a backend
//! answered, remembering it and counting what happened
//! (`switchyard_affinity_total{model,result}`: hit, new, moved, expired).
//! A `backend` pin always wins: pinned requests neither use nor move a
//! conversation.

use axum::http::HeaderMap;

use crate::protocol::Request;
use crate::routing::{conversation, Affinities, Key, Known, Route};
use crate::telemetry::metrics::AffinityLabels;
use crate::telemetry::Metrics;

/// A request's conversation, as the table knew it before dispatch.
pub struct Conversation {
    key: Key,
    known: Known,
    /// The slot of the backend it used last, while that is in this route.
    pub sticky: Option<usize>,
}

/// Looks the request's conversation up, if affinity is on and it has one.
pub async fn lookup(
    table: &Affinities,
    route: &Route,
    headers: &HeaderMap,
    req: &Request,
) -> Option<Conversation> {
    let session = headers
        .get(conversation::SESSION_HEADER)
        .and_then(|v| v.to_str().ok());
    let key = conversation::key(&route.model.affinity, session, req)?;
    let known = table.lookup(key, route.model.affinity.ttl).await;
    let sticky = match &known {
        Known::Backend(id) => route.slots.iter().position(|s| *s.backend.id == **id),
        _ => None,
    };
    Some(Conversation { key, known, sticky })
}

/// After dispatch: `answered_by` is the slot that answered, if one did.
pub fn settle(
    table: &Affinities,
    metrics: &Metrics,
    route: &Route,
    conv: Conversation,
    answered_by: Option<usize>,
) {
    let Some(i) = answered_by else { return };
    let result = match (&conv.known, conv.sticky) {
        (_, Some(s)) if s == i => "hit",
        (Known::Backend(_), _) => "moved",
        (Known::Expired, _) => "expired",
        (Known::Unknown, _) => "new",
    };
    let backend = &route.slots[i].backend.id;
    table.record(conv.key, backend, route.model.affinity.ttl);
    metrics
        .affinity
        .get_or_create(&AffinityLabels {
            model: route.model.name.clone(),
            result,
        })
        .inc();
}
