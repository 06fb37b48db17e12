//! Requests that resume state a backend keeps: a Responses request's
//! `previous_response_id` names a response stored at the account that
//! produced it, and any other account answers `previous_response_not_found`.
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

fn key(model: &str, id: &str) -> Key {
    Key::new(model, "state", id.as_bytes())
}

/// The state `req` resumes, if its API has any.
fn named(req: &Request) -> Option<String> {
    match req.api {
        Api::Responses => req.get::<String>("previous_response_id"),
        _ => None,
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
    let Some(id) = named(req) else {
        return Ok(None);
    };
    let Known::Backend(backend) = table.lookup(key(&route.model.name, &id), STATE_TTL).await else {
        return Ok(None);
    };
    let slot = route.visible(&backend, user);
    let why = match slot.map(|i| (i, &route.slots[i])) {
        None => "is no longer a backend of this model you may use",
        Some((_, s)) if !s.serving() => "is disabled",
        Some((i, s)) => match s.stats.availability_for(clock::now_ms(), 0) {
            Availability::Up | Availability::Trial => return Ok(Some(i)),
            Availability::Down { until } => {
                let wait = until.saturating_sub(clock::now_ms());
                return Err(unavailable(&id, &backend, "is down", Some(wait)));
            }
        },
    };
    Err(unavailable(&id, &backend, why, None))
}

fn unavailable(id: &str, backend: &str, why: &str, wait_ms: Option<u64>) -> EdgeError {
    let message = format!(
        "previous_response_id {:?} is stored at backend {backend:?}, which {why}; the \
         conversation cannot continue elsewhere. Retry later, or send the whole \
         conversation as input without previous_response_id",
        echo(id)
    );
    EdgeError::ResumeUnavailable {
        message,
        retry_after: wait_ms.map(|ms| Duration::from_millis(ms.max(1000))),
    }
}

/// After dispatch: the state the answer created lives at slot `i`.
pub fn remember(table: &Affinities, route: &Route, i: usize, state: &str) {
    let backend = &route.slots[i].backend.id;
    table.record(key(&route.model.name, state), backend, STATE_TTL);
}
