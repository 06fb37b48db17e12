//! Stage 3, resolution: the model, the user's permission for it, and a
//! `backend` pin. Everything that can refuse a request before it spends
//! any quota.

use crate::config::{ModelKind, User};
use crate::dispatch;
use crate::error::{echo, EdgeError};
use crate::protocol::Request;
use crate::routing::Route;
use crate::state::Snapshot;
use crate::telemetry::RequestRecord;

/// The request's route, and the pinned backend's index if it named one.
pub fn resolve<'s>(
    snap: &'s Snapshot,
    user: &User,
    req: &Request,
    record: &RequestRecord,
) -> Result<(&'s Route, Option<usize>), EdgeError> {
    let route = snap.models.get(&req.model);
    record.update(|f| {
        f.model = Some(echo(&req.model).into_owned());
        f.model_known = route.is_some();
        f.stream = req.stream;
    });
    // A model this user may not use is answered as one that does not exist
    // (as OpenAI does, and as `/v1/models/{id}` does): a 403 would tell
    // them it is there.
    let Some(route) = route.filter(|_| user.may_use(&req.model)) else {
        return Err(EdgeError::model_not_found(&req.model));
    };
    kind(route, req)?;
    let pinned = match &req.backend {
        Some(id) => Some(dispatch::pin(route, user, id)?),
        None => None,
    };
    record.update(|f| f.pinned = pinned.is_some());
    if req.backend.is_some() {
        // The request's own log line records the pin (`pinned`, `backend`); this is detail.
        tracing::debug!(target: "switchyard::pin", request_id = %record.id, user = %user.id,
            model = %req.model, backend = req.backend.as_deref(), "request pinned to a backend");
    }
    Ok((route, pinned))
}

/// An embeddings model takes only embeddings calls, and the reverse.
fn kind(route: &Route, req: &Request) -> Result<(), EdgeError> {
    let model = &route.model;
    let embeddings = model.kind == ModelKind::Embeddings;
    if embeddings == req.api.embeds() {
        return Ok(());
    }
    let message = if embeddings {
        format!(
            "`{}` is an embeddings model: call /v1/embeddings, not {}",
            model.name,
            req.api.path()
        )
    } else {
        format!(
            "`{}` is a chat model: /v1/embeddings needs a model with kind = \"embeddings\"",
            model.name
        )
    };
    Err(EdgeError::bad_request(
        message,
        Some("model"),
        Some("model_kind_mismatch"),
    ))
}
