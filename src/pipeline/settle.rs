//! The admission's end: the response body settles the request's token
//! and budget reservations with the usage the upstream reported, when its
//! last frame leaves (before the client sees the end) or when it is
//! dropped early.

use std::sync::Arc;

use axum::response::Response;

use crate::budget::Reservation;
use crate::limits::Admission;
use crate::telemetry::RequestRecord;

/// What an admitted request holds until its response ends.
#[derive(Default)]
pub struct Held {
    pub limits: Option<Admission>,
    pub budget: Option<Reservation>,
}

/// `resp` with `held` kept by its body.
pub fn hold(resp: Response, held: Held, record: Arc<RequestRecord>) -> Response {
    if held.limits.is_none() && held.budget.is_none() {
        return resp;
    }
    let succeeded = resp.status().is_success();
    resp.map(|inner| {
        crate::body::on_end(inner, move |_| {
            let (used, cost) = record.read(|f| (f.usage.map(|u| u.total()), f.cost_usd()));
            if let Some(admission) = held.limits {
                admission.finish(used, succeeded);
            }
            if let Some(reservation) = held.budget {
                reservation.finish(cost, succeeded);
            }
        })
    })
}
