//! Requests that resume state a backend keeps: a Responses request's
//! `previous_response_id` names a response stored at the account that
//! produced it, and any other account answers `previous_response_not_found`
//! (its `conversation`, likewise, one kept at one account).
//! Each such state id an answer carries is remembered beside the
//! conversations (the affinity table, shared through Redis when the state
//! is) with the backend that holds it; a request naming it goes to that
//! backend and nowhere else. When that backend is out of rotation the
//! request cannot be replayed elsewhere (its earlier turns live only there),
//! so it is refused with a 409 that says so. An id the gateway never saw (or
//! forgot) is routed as usual: the backend's own answer is the truth.

use std::time::Duration;

use crate::clock;
use crate::config::User;
use crate::error::{echo, EdgeError};
use crate::health::Availability;
use crate::protocol::{Api, Request};
use crate::routing::{Affinities, Key, Known, Route};

/// How long a state id is remembered after its last use. Stored responses
/// outlive conversations' cache value by far (OpenAI keeps them 30 days);
/// a day covers a working session that pauses, within the table's bound.
pub const STATE_TTL: Duration = Duration::from_secs(24 * 3600);

/// A state id, per model and user: a user learns nothing of the ids of
/// others (nor where they live) by naming them.
fn key(route: &Route, user: &User, id: &str) -> Key {
    let scoped = format!("{}\n{id}", user.id);
    Key::new(&route.model.name, "state", scoped.as_bytes())
}

/// The state `req` resumes, if its API has any: a stored response, else a
/// conversation (OpenAI's Conversations API, an id or `{"id": ...}`), which
/// lives at one account too.
fn named(req: &Request) -> Option<(&'static str, String)> {
    if req.api != Api::Responses {
        return None;
    }
    let previous = req.get::<String>("previous_response_id");
    match previous {
        Some(id) => Some(("previous_response_id", id)),
        None => conversation(req).map(|id| ("conversation", id)),
    }
}

fn conversation(req: &Request) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Conversation {
        Id(String),
        Object { id: String },
    }
    match req.get::<Conversation>("conversation")? {
        Conversation::Id(id) | Conversation::Object { id } => Some(id),
    }
}

/// The slot that must serve `req`, when it resumes state the gateway saw
/// a backend of this route create; an error when that backend cannot.
pub async fn lookup(
    table: &Affinities,
    route: &Route,
    user: &User,
    req: &Request,
) -> Result<Option<usize>, EdgeError> {
    let Some((field, id)) = named(req) else {
        return Ok(None);
    };
    let key = key(route, user, &id);
    let Known::Backend(backend) = table.lookup(key, STATE_TTL).await else {
        return Ok(None);
    };
    // Named again: kept another day from now, here and in Redis.
    table.record(key, &backend, STATE_TTL);
    let Some(i) = route.visible(&backend, user) else {
        let why = "at a backend that is no longer one of this model's you may use".to_string();
        return Err(unavailable(field, &id, why, None));
    };
    let slot = &route.slots[i];
    if !slot.serving() {
        return Err(unavailable(
            field,
            &id,
            format!("at backend {backend:?}, which is disabled"),
            None,
        ));
    }
    match slot.stats.availability_for(clock::now_ms(), 0) {
        Availability::Up | Availability::Trial => {
            tracing::debug!(model = %route.model.name, backend = %backend, field,
                "request resumes state kept at one backend");
            Ok(Some(i))
        }
        Availability::Down { until } => {
            let wait = until.saturating_sub(clock::now_ms());
            let why = format!(
                "at backend {backend:?}, which is down (circuit open, cooling down or out of quota)"
            );
            Err(unavailable(field, &id, why, Some(wait)))
        }
    }
}

fn unavailable(field: &'static str, id: &str, why: String, wait_ms: Option<u64>) -> EdgeError {
    let message = format!(
        "{field} {:?} is stored {why}; the conversation cannot continue elsewhere. \
         Retry later, or send the whole conversation as input without {field}",
        echo(id)
    );
    EdgeError::ResumeUnavailable {
        message,
        param: field,
        retry_after: wait_ms.map(|ms| Duration::from_millis(ms.max(1000))),
    }
}

/// After dispatch: the state the answer created lives at slot `i`, unless
/// the request asked not to store it (`store: false`, as Codex sends).
pub fn remember(
    table: &Affinities,
    route: &Route,
    user: &User,
    req: &Request,
    i: usize,
    state: &str,
) {
    if req.get::<bool>("store") == Some(false) {
        return;
    }
    let backend = &route.slots[i].backend.id;
    table.record(key(route, user, state), backend, STATE_TTL);
    if let Some(conv) = conversation(req) {
        table.record(key(route, user, &conv), backend, STATE_TTL);
    }
}
